"""Reference optima files (.solu): reading, writing, building them from results lines."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import optkit
from optkit.cli.main import cli
from optkit.errors import InvalidFileError, OptkitError
from optkit.gaps import agree
from optkit.instances.solu import (
    Reference,
    read_solu,
    read_solu_folder,
    reconcile,
    references_from_results,
    write_solu,
)
from tests.cli_helpers import cli as run_cli

ROOT = Path(__file__).resolve().parents[2]
SCHED_SET = ROOT / "instances" / "scheduling-small"


def record(name: str, method: str, status: str, objective: float | None, family: str = "caching"):
    return {
        "schema": 1,
        "instance": name,
        "family": family,
        "method": method,
        "seed": 0,
        "status": status,
        "objective": objective,
        "bound": objective,
        "gap": 0.0,
        "wall_time_s": 0.1,
        "nodes": 1,
        "feasible": objective is not None,
        "metrics": {},
    }


def test_round_trip_keeps_15_digits(tmp_path: Path) -> None:
    refs = [
        Reference("b", "opt", 1.0 / 3.0),
        Reference("a", "best", -2.5e-7),
        Reference("c", "inf", None),
    ]
    path = tmp_path / "set.solu"
    write_solu(path, refs)
    assert path.read_text().splitlines()[0] == "=best= a -2.5e-07"
    back = read_solu(path)
    assert set(back) == {"a", "b", "c"}
    assert back["b"].kind == "opt" and back["b"].value is not None
    assert abs(back["b"].value - 1.0 / 3.0) < 1e-14
    assert back["c"] == Reference("c", "inf", None)
    assert read_solu_folder(tmp_path) == back


def test_every_malformed_line_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.solu"
    path.write_text("# comment\n=opt= a 1.0\n=opt= b x\n=foo= c 1\n=opt= a 2.0\n=inf= d 3\n")
    with pytest.raises(InvalidFileError) as err:
        read_solu(path)
    text = "\n".join(err.value.messages)
    assert "bad.solu:3: 'x' is not a number" in text
    assert "bad.solu:4: expected" in text
    assert "bad.solu:5: a is listed twice" in text
    assert "bad.solu:6: expected" in text


def test_a_file_that_is_not_a_solu_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "x.solu"
    path.write_text(json.dumps({"format": "optkit.caching", "version": 1}, indent=1))
    with pytest.raises(OptkitError) as err:
        read_solu(path)
    assert not isinstance(err.value, InvalidFileError)
    assert str(err.value) == f"{path}: not a .solu file (no line is '=opt= NAME VALUE', " + (
        "'=best= NAME VALUE' or '=inf= NAME')"
    )
    path.write_bytes(b"\xff\xfe" * 10)
    with pytest.raises(OptkitError, match=r"not a \.solu file \(not UTF-8 text"):
        read_solu(path)


def test_bad_solu_lines_are_capped_and_values_finite(tmp_path: Path) -> None:
    path = tmp_path / "x.solu"
    path.write_text("=opt= a nan\n=best= b inf\n" + "=opt= c\n" * 30)
    with pytest.raises(InvalidFileError) as err:
        read_solu(path)
    assert err.value.messages[:2] == [
        f"{path}:1: 'nan' is not a finite number",
        f"{path}:2: 'inf' is not a finite number",
    ]
    assert (
        len(err.value.messages) == 6
        and err.value.messages[-1] == f"{path}: … and 27 more bad lines"
    )


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(OptkitError, match="no such file"):
        read_solu(tmp_path / "none.solu")


def test_references_prefer_proofs_and_the_family_sense() -> None:
    refs = references_from_results(
        [
            record("x", "lfu", "feasible", 5.0),
            record("x", "bnb", "optimal", 7.0),
            record("x", "scip", "optimal", 7.0 + 1e-9),
            record("y", "lfu", "feasible", 5.0),
            record("y", "lru", "feasible", 6.0),
            record("z", "local", "feasible", 0.3, family="scheduling"),
            record("z", "fastest-k", "feasible", 0.2, family="scheduling"),
            record("w", "bnb", "time_limit", None),
        ]
    )
    assert refs == [
        Reference("x", "opt", 7.0),
        Reference("y", "best", 6.0),
        Reference("z", "best", 0.2),
    ]


def test_disagreeing_proofs_are_refused() -> None:
    with pytest.raises(
        OptkitError,
        match=r"x: bnb \(results line 1\) proves 7 but scip \(results line 2\) proves 7\.1",
    ):
        references_from_results(
            [record("x", "bnb", "optimal", 7.0), record("x", "scip", "optimal", 7.1)]
        )


def _results_file(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_reference_command_writes_and_merges(tmp_path: Path) -> None:
    results = _results_file(
        tmp_path / "r.jsonl",
        [record("x", "bnb", "optimal", 7.0), record("y", "lfu", "feasible", 2.0)],
    )
    out = tmp_path / "set.solu"
    # "old" is kept, x's agreeing proof is refreshed, y's proof is not replaced by a worse =best=
    out.write_text("=opt= old 1\n=opt= x 7.000000001\n=opt= y 3\n")
    runner = CliRunner()
    res = runner.invoke(cli, ["reference", str(results), "--out", str(out), "--merge"])
    assert res.exit_code == 0, res.output
    assert "3 proven optima, 0 best known" in res.output
    assert out.read_text() == "=opt= old 1\n=opt= x 7\n=opt= y 3\n"
    res = runner.invoke(cli, ["reference", str(results), "--out", str(out)])
    assert out.read_text() == "=opt= x 7\n=best= y 2\n"
    res = runner.invoke(cli, ["reference", str(tmp_path / "none.jsonl"), "--out", str(out)])
    assert res.exit_code == 2 and "Traceback" not in res.output


@pytest.mark.parametrize(
    ("status", "existing", "message"),
    [
        ("optimal", "=opt= x 9\n", r"x: bnb \(.*r\.jsonl:1\) proves 7 but .*set\.solu:1 proves 9"),
        ("optimal", "=inf= x\n", r"x: .*set\.solu:1 says it is infeasible \(=inf=\) but bnb"),
        (
            "feasible",  # a feasible 7 beats the old "proof" of 6
            "=opt= x 6\n",
            r"x: bnb \(.*r\.jsonl:1\) gives a feasible value 7, better \(maximising\) than "
            r"the optimum 6 that .*set\.solu:1 proves",
        ),
    ],
)
def test_merge_with_a_contradicting_proof_is_refused(
    status: str, existing: str, message: str, tmp_path: Path, capsys
) -> None:
    results = _results_file(tmp_path / "r.jsonl", [record("x", "bnb", status, 7.0)])
    out = tmp_path / "set.solu"
    out.write_text(existing)
    code, _, err = run_cli(["reference", str(results), "--out", str(out), "--merge"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert re.search(message, err), err
    assert out.read_text() == existing  # nothing written


def test_a_feasible_result_better_than_a_proof_is_refused() -> None:
    with pytest.raises(OptkitError) as err:
        references_from_results(
            [
                record("a", "scip", "optimal", 0.2, family="scheduling"),
                record("a", "greedy-opt", "feasible", 0.112, family="scheduling"),
            ],
            ["r.jsonl:1", "r.jsonl:2"],
        )
    assert str(err.value) == (
        "a: greedy-opt (r.jsonl:2) finds a feasible value 0.112, better (minimising) than the "
        "optimum 0.2 that scip (r.jsonl:1) proves; that proof is wrong"
    )
    # within the tolerance they agree: round-off is no contradiction
    refs = references_from_results(
        [record("a", "scip", "optimal", 7.0), record("a", "lfu", "feasible", 7.0 + 1e-9)]
    )
    assert refs == [Reference("a", "opt", 7.0)]


def test_reconcile() -> None:
    opt = Reference("a", "opt", 10.0, "s.solu:1")
    assert reconcile(opt, Reference("a", "opt", 10.0 + 1e-7, "r:1")) is opt
    assert reconcile(Reference("a", "best", 9.0, "r:1"), opt, "max") is opt
    assert reconcile(Reference("a", "best", 11.0, "r:1"), opt, "min") is opt
    with pytest.raises(
        OptkitError, match=r"a: r:1 gives a feasible value 11, better \(maximising\)"
    ):
        reconcile(Reference("a", "best", 11.0, "r:1"), opt, "max")
    low, high = Reference("a", "best", 1.0), Reference("a", "best", 2.0)
    assert reconcile(low, high, "max") is high and reconcile(low, high, "min") is low
    assert reconcile(low, high) is low  # no sense known: the first
    assert reconcile(low, Reference("a", "best", 2.0, sense="max")) == high
    inf = Reference("a", "inf", None, "s.solu:2")
    assert reconcile(inf, Reference("a", "inf", None)) is inf
    with pytest.raises(OptkitError, match=r"a: s\.solu:2 says it is infeasible \(=inf=\) but"):
        reconcile(opt, inf)


def test_solu_files_of_one_folder_that_disagree_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.solu").write_text("=opt= x 1\n=opt= y 2\n")
    (tmp_path / "b.solu").write_text("=opt= y 2.0000000001\n=best= z 3\n")
    assert read_solu_folder(tmp_path) == {
        "x": Reference("x", "opt", 1.0),
        "y": Reference("y", "opt", 2.0),
        "z": Reference("z", "best", 3.0),
    }
    (tmp_path / "c.solu").write_text("=best= z 4\n=opt= y 2.5\n")
    with pytest.raises(OptkitError, match=r"y: .*a\.solu:2 proves 2 but .*c\.solu:2 proves 2\.5"):
        read_solu_folder(tmp_path)


def test_training_references_refuse_a_best_value_beyond_a_proof(tmp_path: Path) -> None:
    """The held-out references of `optkit train` read the folder with the family's sense: an
    =best= value better than an =opt= one cannot both be right."""
    from optkit.drl.evaluation import read_references

    (tmp_path / "a.solu").write_text("=opt= y 2\n")
    (tmp_path / "b.solu").write_text("=best= y 3\n")
    assert read_references(tmp_path, "scheduling") == {"y": 2.0}  # minimising: 3 is worse
    with pytest.raises(OptkitError, match="y: "):
        read_references(tmp_path, "caching")  # maximising: 3 would beat the proof


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ([{"objective": "0.1"}], r'r\.jsonl:1: objective: "0\.1" is not a finite JSON number'),
        ([{"status": "bogus"}], r'r\.jsonl:1: status: "bogus" is not a status'),
        ([], r"r\.jsonl: no result records \(the file is empty\)"),
        (
            [{"status": "error", "objective": None, "feasible": None}],
            r"r\.jsonl: no result with a feasible objective, so no reference to write",
        ),
    ],
)
def test_reference_refuses_bad_or_empty_results(
    changes: list[dict], message: str, tmp_path: Path, capsys
) -> None:
    results = _results_file(
        tmp_path / "r.jsonl", [record("x", "bnb", "optimal", 7.0) | c for c in changes]
    )
    out = tmp_path / "set.solu"
    code, _, err = run_cli(["reference", str(results), "--out", str(out)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert re.search(message, err), err
    assert not out.exists()


def test_scheduling_reference_set_is_complete_and_reproduced() -> None:
    refs = read_solu(SCHED_SET / "scheduling-small.solu")
    names = {p.stem for p in SCHED_SET.glob("*.json")}
    assert set(refs) == names and all(r.kind == "opt" for r in refs.values())
    for name in sorted(names):
        if "tiny" not in name:
            continue  # the small ones take seconds each; bench/scheduling_exact.py covers them
        inst = optkit.load(SCHED_SET / f"{name}.json")
        result = optkit.solve(inst, method="highs", time_limit=60)
        value = refs[name].value
        assert result.status == "optimal" and value is not None
        assert agree(result.objective, value), (name, result.objective, value)
