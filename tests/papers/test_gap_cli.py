"""``optkit gap``: references from .solu, from results lines or solved on the spot; the table,
JSON and markdown outputs; user errors are one line with exit code 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import optkit
from optkit.instances.solu import Reference, write_solu
from optkit.solvers import append_results
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
    write_solu(tiny / "set.solu", [Reference(instances[0].name, "opt", 1.0)])
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
    assert per[instances[0].name]["reference"] == 1.0
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
    code, _, err = cli(["gap", *args, "--instances", str(folder)], capsys)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
