"""``optkit gap``: references from .solu, from results lines or solved on the spot; the table,
JSON and markdown outputs; user errors are one line with exit code 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import optkit
from optkit.cli.gap import markdown, print_table
from optkit.instances.solu import Reference, write_solu
from optkit.measure import GapReport, MethodRow, measure
from optkit.solvers import append_results, finish
from tests.cli_helpers import cli


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    folder = tmp_path / "tiny"
    folder.mkdir()
    for inst in optkit.generate("scheduling", "amcoedge", "tiny", seed=11, count=3):
        optkit.save(inst, folder / f"{inst.name}.json")
    return folder


def test_references_solved_when_unknown_and_outputs(tiny: Path, tmp_path: Path, capsys) -> None:
    md = tmp_path / "gap.md"
    code, out, err = cli(
        ["gap", "greedy-opt", "local", "--instances", str(tiny), "--json", "--markdown", str(md)],
        capsys,
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["references"]["solved"] == 3  # highs, no .solu and no --reference
    rows = {row["method"]: row for row in report["rows"]}
    assert rows["local"]["mean_regret"] == pytest.approx(1.0)
    for row in rows.values():
        for name, entry in row["per_instance"].items():
            inst = optkit.load_instance(tiny / f"{name}.json")
            assert entry["objective"] == optkit.solve(inst, row["method"]).objective
            assert entry["gap"] >= -1e-6
    text = md.read_text()
    assert "| greedy-opt |" in text and "make-span" in text
    code, out, _ = cli(["gap", "greedy-opt", "--instances", str(tiny)], capsys)
    assert code == 0 and "gap to the reference optimum" in out and "3 from solved" in out


def test_references_from_solu_and_results(tiny: Path, tmp_path: Path, capsys) -> None:
    instances = [optkit.load_instance(p) for p in sorted(tiny.glob("*.json"))]
    # a .solu for the first; results lines for the others (one of them only feasible: =best=)
    optimum = optkit.solve(instances[0], "enumerate").objective
    assert optimum is not None
    write_solu(tiny / "set.solu", [Reference(instances[0].name, "opt", optimum)])
    results = tmp_path / "results.jsonl"
    append_results(results, [optkit.solve(instances[1], "enumerate")])
    append_results(results, [optkit.solve(instances[2], "local")])
    code, out, err = cli(
        ["gap", "local", "--instances", str(tiny), "--reference", str(results), "--json"], capsys
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["references"] == {"solu": 1, "results": 2, "solved": 0, "best": 1, "none": 0}
    per = report["rows"][0]["per_instance"]
    assert per[instances[0].name]["reference"] == pytest.approx(optimum, rel=1e-14)
    assert per[instances[2].name]["gap"] == pytest.approx(0.0)


def test_policies_that_refuse_some_instances_are_counted(tiny: Path, capsys) -> None:
    code, out, err = cli(["gap", "random-k:2", "fastest-k:3", "--instances", str(tiny)], capsys)
    assert code == 0
    assert "3 refused" in out and "fastest-k:3" in err


def test_foresight_bound_for_caching_sets(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "caching"
    folder.mkdir()
    for inst in optkit.generate("caching", "t2drl", "tiny", seed=3, count=2):
        optkit.save(inst, folder / f"{inst.name}.json")
    md = tmp_path / "gap.md"
    args = ["gap", "lfu", "--instances", str(folder), "--foresight", "6", "--markdown", str(md)]
    code, out, err = cli([*args, "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    f = report["foresight"]
    assert f["bounded"] == 2 and f["refused"] == 0 and f["samples"] == 6
    per = f["per_instance"]
    # lfu is blind in frame 0: over all relabellings it cannot beat the bound, and it never
    # beats the clairvoyant optimum the bound is measured against
    for row in per.values():
        assert row["exhaustive"] and row["objective_bound"] <= row["mean_optimum"] + 1e-9
    assert f["mean_gap_bound"] == pytest.approx(
        sum(r["gap_bound"] for r in per.values()) / 2, rel=1e-12
    )
    assert "no non-anticipative policy can expect a mean gap below" in md.read_text()
    code, out, err = cli(args, capsys)
    assert code == 0 and "foresight bound (6 relabellings, 2 instances)" in out


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        ("tiny", ["local", "--foresight", "3"], "--foresight applies to caching sets only"),
        ("empty", ["local"], "no instance files"),
        ("mixed", ["local"], "mixed families (caching and scheduling)"),
        ("tiny", ["no-such-method"], "unknown method 'no-such-method' for the scheduling family"),
        ("tiny", ["policy:nowhere"], "no trained policy here"),
        ("missing", ["local"], "not a folder"),
        ("tiny", ["lfu"], "lfu is a caching method; the set holds scheduling instances"),
        ("caching", ["greedy-opt"], "greedy-opt is a scheduling method; the set holds caching"),
        ("caching", ["lfu", "relax"], "relax is a relaxation: it gives a bound and no solution"),
        ("caching", ["relax-sets"], "relax-sets is a relaxation"),
        ("duplicate", ["local"], "are both instance amcoedge-tiny-s11-000"),
        ("tiny", ["local", "--time-limit", "nan"], "--time-limit"),
        ("tiny", ["local", "--time-limit", "inf"], "--time-limit"),
    ],
)
def test_user_errors_are_one_line(
    make: str, args: list[str], message: str, tiny: Path, tmp_path: Path, capsys
) -> None:
    folder = tmp_path / make
    if make == "empty":
        folder.mkdir()
    elif make == "mixed":
        shutil.copytree(tiny, folder)
        (inst,) = optkit.generate("caching", "t2drl", "tiny", seed=1)
        optkit.save(inst, folder / "c.json")
    elif make == "tiny":
        folder = tiny
    elif make == "caching":
        folder.mkdir()
        (inst,) = optkit.generate("caching", "t2drl", "tiny", seed=1)
        optkit.save(inst, folder / "c.json")
    elif make == "duplicate":
        shutil.copytree(tiny, folder)
        shutil.copy(folder / "amcoedge-tiny-s11-000.json", folder / "copy.json")
    code, _, err = cli(["gap", *args, "--instances", str(folder)], capsys)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def _optima(folder: Path) -> dict[str, float]:
    optima = {}
    for path in sorted(folder.glob("*.json")):
        result = optkit.solve(optkit.load_instance(path), "enumerate")
        assert result.status == "optimal" and result.objective is not None
        optima[result.instance] = result.objective
    return optima


def test_a_proof_that_a_feasible_run_beats_is_refused(tiny: Path, capsys) -> None:
    # scheduling minimises: twice the true optimum of the first instance is no optimum at all
    optima = _optima(tiny)
    first = min(optima)
    wrong = optima[first] * 2
    write_solu(tiny / "set.solu", [Reference(n, "opt", v) for n, v in optima.items() if n != first])
    (tiny / "wrong.solu").write_text(f"=opt= {first} {wrong!r}\n")
    code, out, err = cli(["gap", "greedy-opt", "--instances", str(tiny)], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"optkit: {first}: ") and "finds a feasible value" in err
    assert f"better (minimising) than the optimum {wrong:.15g} that {tiny / 'wrong.solu'}:1" in err
    assert err.rstrip().endswith("that proof is wrong")


def test_a_proof_from_results_that_a_policy_beats_is_refused(
    tiny: Path, tmp_path: Path, capsys
) -> None:
    optima = _optima(tiny)
    first = min(optima)
    inst = optkit.load_instance(tiny / f"{first}.json")
    proof = optkit.solve(inst, "enumerate")
    claimed = finish(inst, "scip", optkit.Status.OPTIMAL, solution=proof.solution).record()
    claimed["objective"] = optima[first] * 1.5  # a "proof" that greedy-opt beats
    results = tmp_path / "r.jsonl"
    results.write_text(json.dumps(claimed) + "\n")
    code, _, err = cli(
        ["gap", "greedy-opt", "--instances", str(tiny), "--reference", str(results)], capsys
    )
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{first}: greedy-opt finds a feasible value" in err
    assert f"scip ({results}:1) proves" in err
    # the same line against a .solu that knows the true optimum: two proofs that disagree
    write_solu(tiny / "set.solu", [Reference(first, "opt", optima[first])])
    code, _, err = cli(
        ["gap", "greedy-opt", "--instances", str(tiny), "--reference", str(results)], capsys
    )
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert (
        f"{first}: {tiny / 'set.solu'}:1 proves {optima[first]:.15g} but scip ({results}:1)" in err
    )


def test_a_best_known_reference_may_be_beaten(tiny: Path, capsys) -> None:
    optima = _optima(tiny)
    write_solu(tiny / "set.solu", [Reference(n, "best", 2 * v) for n, v in optima.items()])
    code, out, err = cli(["gap", "greedy-opt", "--instances", str(tiny), "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["references"]["best"] == 3
    row = report["rows"][0]
    assert row["mean_gap"] < 0 and all(e["gap"] < 0 for e in row["per_instance"].values())
    code, out, err = cli(["gap", "greedy-opt", "--instances", str(tiny)], capsys)
    assert code == 0 and "3 only best known: gaps to them may be negative" in out and " -" in out


def test_an_infeasible_reference_that_a_run_refutes_is_refused(tiny: Path, capsys) -> None:
    (tiny / "set.solu").write_text("=inf= amcoedge-tiny-s11-001\n")
    code, _, err = cli(["gap", "local", "--instances", str(tiny)], capsys)
    assert code == 2 and "amcoedge-tiny-s11-001: local finds a feasible value" in err
    assert "set.solu:1 says the instance is infeasible (=inf=)" in err


def test_references_and_measure_report_progress_before_each_run(tiny: Path) -> None:
    """Solving references and measuring can take minutes: each run is announced first (the CLI
    shows it as a progress bar), counting up to the loop's total."""
    from optkit.measure import references

    instances = [optkit.load_instance(p) for p in sorted(tiny.glob("*.json"))]
    seen: list[tuple[str, int, int]] = []
    refs, counts = references(instances, tiny, [], 10.0, lambda *call: seen.append(call))
    assert [(done, total) for _, done, total in seen] == [(0, 3), (1, 3), (2, 3)]
    assert all(what.startswith("reference amcoedge-tiny") for what, _, _ in seen)
    seen.clear()
    measure(["local", "greedy-opt"], instances, refs, counts, progress=lambda *c: seen.append(c))
    assert [(done, total) for _, done, total in seen] == [(i, 9) for i in range(9)]
    assert seen[-1][0] == "amcoedge-tiny-s11-002 · greedy-opt"


def test_measure_refuses_duplicate_instances_and_wrong_families(tiny: Path) -> None:
    instances = [optkit.load_instance(p) for p in sorted(tiny.glob("*.json"))]
    with pytest.raises(optkit.OptkitError, match="instance amcoedge-tiny-s11-000 is given 2 times"):
        measure(["local"], [*instances, instances[0]], {}, {})
    with pytest.raises(optkit.OptkitError, match="relax is a caching method"):
        measure(["relax"], instances, {}, {})


def test_tables_show_round_off_as_zero(capsys) -> None:
    row = MethodRow(
        method="greedy-opt",
        solved=5,
        errors=0,
        mean_gap=3.7e-4,
        median_gap=-2.46e-15,
        p95_gap=-1.33e-15,
        mean_regret=-6.84e-16,
        mean_objective=0.19,
        figures={"mean_make_span_s": 0.0129, "failure_rate": 0.0},
        time_per_decision_s=4.6e-5,
    )
    report = GapReport(
        "scheduling", 5, {"solu": 5, "results": 0, "solved": 0, "best": 0, "none": 0}, [row]
    )
    text = markdown(report)
    assert "| greedy-opt | 5 | 0.037 % | 0 % | 0 % | 0.0 | 0.19 |" in text
    assert "e-1" not in text
    print_table(report)
    out = capsys.readouterr().out
    assert "0.037 %" in out and "e-1" not in out
    assert report.to_json()["rows"][0]["median_gap"] == -2.46e-15  # --json stays exact
