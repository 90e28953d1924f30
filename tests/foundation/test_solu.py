"""Reference optima files (.solu): reading, writing, building them from results lines."""

from __future__ import annotations

import json
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
    references_from_results,
    write_solu,
)

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
    with pytest.raises(OptkitError, match=r"bnb proves 7 but scip proves 7\.1"):
        references_from_results(
            [record("x", "bnb", "optimal", 7.0), record("x", "scip", "optimal", 7.1)]
        )


def test_reference_command_writes_and_merges(tmp_path: Path) -> None:
    results = tmp_path / "r.jsonl"
    results.write_text(
        "\n".join(
            json.dumps(r)
            for r in [record("x", "bnb", "optimal", 7.0), record("y", "lfu", "feasible", 2.0)]
        )
        + "\n"
    )
    out = tmp_path / "set.solu"
    out.write_text("=opt= old 1\n=opt= x 9\n")
    runner = CliRunner()
    res = runner.invoke(cli, ["reference", str(results), "--out", str(out), "--merge"])
    assert res.exit_code == 0, res.output
    assert "2 proven optima, 1 best known" in res.output  # "old" is kept
    assert out.read_text() == "=opt= old 1\n=opt= x 7\n=best= y 2\n"
    res = runner.invoke(cli, ["reference", str(results), "--out", str(out)])
    assert out.read_text() == "=opt= x 7\n=best= y 2\n"
    res = runner.invoke(cli, ["reference", str(tmp_path / "none.jsonl"), "--out", str(out)])
    assert res.exit_code == 2 and "Traceback" not in res.output


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
