"""Result records, results files and the gap conventions of DESIGN §4."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import optkit
from optkit.errors import InvalidFileError, OptkitError
from optkit.gaps import agree, beats, normalised_regret, policy_gap, solver_gap
from optkit.instances import instance_from_dict
from optkit.instances.solution import CachingSolution, RequestDecision
from optkit.solvers import Status, append_results, finish, read_results
from optkit.solvers.result import RESULT_KEYS
from optkit.solvers.results_file import SHOWN_PROBLEMS
from tests.cli_helpers import cli
from tests.foundation.handmade import caching_instance, scheduling_instance


def test_record_has_exactly_the_design_keys(tmp_path: Path) -> None:
    inst = instance_from_dict(caching_instance())
    result = optkit.solve(inst, "no-cache")
    assert tuple(result.record()) == RESULT_KEYS
    path = tmp_path / "r.jsonl"
    append_results(path, result)
    append_results(path, [result, result])
    records = read_results(path)
    assert len(records) == 3 and records[0]["status"] == "feasible"
    assert records[0]["objective"] == result.objective == result.evaluation.objective  # type: ignore[union-attr]
    assert records[0]["bound"] is None and records[0]["gap"] is None


def test_results_file_with_a_foreign_line_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"schema": 1, "instance": "x"}) + "\n")
    with pytest.raises(InvalidFileError, match=r"r\.jsonl:1: missing key\(s\) family, method"):
        read_results(path)


def test_infeasible_solution_becomes_an_error_never_an_objective() -> None:
    inst = instance_from_dict(caching_instance())
    bad = CachingSolution(
        inst.name,
        "buggy",
        ((), ()),  # wrong number of frames/servers
        tuple(RequestDecision("cloud", 1.0, None) for _ in inst.requests),
    )
    result = finish(inst, "buggy", Status.OPTIMAL, solution=bad, bound=10.0)
    assert result.status is Status.ERROR
    assert result.message.startswith("buggy returned an infeasible solution: cache[0]")
    assert result.record()["feasible"] is False


def test_finish_computes_the_solver_gap_from_the_evaluated_objective() -> None:
    inst = instance_from_dict(scheduling_instance())
    result = optkit.solve(inst, "local")
    assert result.status is Status.FEASIBLE and result.objective is not None
    proven = finish(
        inst, "x", Status.OPTIMAL, solution=result.solution, bound=result.objective - 0.5
    )
    assert proven.gap == pytest.approx(0.5 / result.objective)


def test_refusal_is_an_error_result_with_the_reason() -> None:
    data = scheduling_instance()
    data["max_servers"], data["exact_servers"] = 2, True
    result = optkit.solve(instance_from_dict(data), "local")
    assert result.status is Status.ERROR and "exactly 2 (exact_servers)" in result.message


def test_gap_conventions() -> None:
    assert solver_gap(10.0, 10.0) == 0
    assert solver_gap(-5.0, -4.0) == pytest.approx(1 / 5)
    assert solver_gap(0.1, 0.2) == pytest.approx(0.1)  # denominator at least 1
    assert policy_gap(9.0, 10.0, "max") == pytest.approx(0.1)
    assert policy_gap(-11.0, -10.0, "max") == pytest.approx(0.1)
    assert policy_gap(11.0, 10.0, "min") == pytest.approx(0.1)
    assert policy_gap(1.0, 0.0, "min") is None
    assert normalised_regret(10.0, 10.0, 4.0, "max") == 0
    assert normalised_regret(4.0, 10.0, 4.0, "max") == 1
    assert normalised_regret(3.0, 2.0, 5.0, "min") == pytest.approx(1 / 3)
    assert normalised_regret(3.0, 2.0, 2.0, "min") is None
    assert agree(1.0, 1.0 + 5e-7) and not agree(1.0, 1.0 + 5e-6)
    assert agree(1e-9, 0.0)


@pytest.mark.parametrize("sense", ["maximise", "MAX", "", None, "minimize"])
def test_a_sense_other_than_max_or_min_is_refused(sense) -> None:
    # "maximise" was silently measured as minimisation
    with pytest.raises(ValueError, match=r"sense must be 'max' or 'min'"):
        policy_gap(1.0, 2.0, sense)
    with pytest.raises(ValueError, match=r"sense must be 'max' or 'min'"):
        normalised_regret(1.0, 2.0, 0.0, sense)
    with pytest.raises(ValueError, match=r"sense must be 'max' or 'min'"):
        solver_gap(1.0, 2.0, sense)
    with pytest.raises(ValueError, match=r"sense must be 'max' or 'min'"):
        beats(1.0, 2.0, sense)


def test_agree_refuses_a_negative_tolerance() -> None:
    with pytest.raises(ValueError, match="tolerance must be >= 0"):
        agree(1.0, 1.0, -1e-6)


def test_beats_means_better_beyond_the_agreement_tolerance() -> None:
    assert beats(10.1, 10.0, "max") and not beats(10.1, 10.0, "min")
    assert beats(9.9, 10.0, "min") and not beats(9.9, 10.0, "max")
    assert not beats(10.0 + 5e-6, 10.0, "max")  # within 1e-6 · 10: they agree
    assert beats(-15.2, -20.0, "max")


def _record(**changes: object) -> dict[str, object]:
    result = optkit.solve(instance_from_dict(scheduling_instance()), "local")
    record = result.record()
    record.update(changes)
    return record


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"objective": "0.1"}, 'objective: "0.1" is not a finite JSON number or null'),
        ({"status": "bogus"}, 'status: "bogus" is not a status (optimal, gap_limit,'),
        ({"schema": 2}, "schema: 2 is not 1"),
        ({"schema": True}, "schema: true is not 1"),
        ({"family": "routing"}, 'family: "routing" is not a family (caching, scheduling)'),
        ({"instance": ""}, 'instance: "" is not a non-empty string'),
        ({"seed": -1}, "seed: -1 is not an integer ≥ 0 or null"),
        ({"nodes": 2.5}, "nodes: 2.5 is not an integer ≥ 0 or null"),
        ({"bound": True}, "bound: true is not a finite JSON number or null"),
        ({"gap": -0.1}, "gap: -0.1 is not a finite JSON number ≥ 0 or null"),
        ({"wall_time_s": None}, "wall_time_s: null is not a finite JSON number ≥ 0"),
        ({"feasible": "yes"}, 'feasible: "yes" is not true, false or null'),
        ({"metrics": {"failure_rate": "0"}}, 'metrics: failure_rate: "0" is not a finite number'),
        ({"status": "optimal", "objective": None}, "status optimal needs a solution"),
        ({"feasible": False}, "status feasible needs a solution"),
        ({"status": "time_limit", "objective": None}, "feasible true needs a number objective"),
        ({"status": "error"}, "status error cannot have feasible true"),
        ({"status": "bound_only", "feasible": None}, "status bound_only has no solution"),
        ({"extra": 1}, "unknown key(s) extra"),
    ],
)
def test_every_record_rule_is_named_with_file_and_line(
    changes: dict[str, object], rule: str, tmp_path: Path
) -> None:
    path = tmp_path / "r.jsonl"
    good = json.dumps(_record())
    path.write_text(good + "\n\n" + json.dumps(_record(**changes)) + "\n")
    with pytest.raises(InvalidFileError) as err:
        read_results(path)
    (message,) = err.value.messages
    assert message.startswith(f"{path}:3: {rule}"), message


def test_an_objective_beyond_the_floats_is_not_finite(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(_record(objective=1.5)).replace("1.5", "1e400") + "\n")
    with pytest.raises(InvalidFileError, match="objective: Infinity is not a finite"):
        read_results(path)


def test_an_empty_results_file_has_no_records(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text("\n")
    assert read_results(path) == []


def _write_instance(path: Path) -> None:
    optkit.save(instance_from_dict(caching_instance()), path)


@pytest.mark.parametrize(
    ("content", "what"),
    [
        ("instance", "it is an optkit.caching instance, hand-caching"),
        ("solu", "it looks like a .solu file of reference optima"),
        ("solution", "it is an optkit solution"),
        ("lines", "no line is a result record; line 1: not a result record"),
        ("binary", "not UTF-8 text"),
    ],
)
def test_a_file_that_is_not_a_results_file_is_one_line(
    content: str, what: str, tmp_path: Path
) -> None:
    path = tmp_path / "r.jsonl"
    if content == "instance":
        _write_instance(path)
    elif content == "solu":
        path.write_text("=opt= a 1\n=best= b 2\n=inf= c\n" * 20)
    elif content == "solution":
        result = optkit.solve(instance_from_dict(caching_instance()), "no-cache")
        optkit.save(result.solution, path)
    elif content == "lines":
        path.write_text('{"step": 1}\n' * 100)
    else:
        path.write_bytes(b"\xff\xfe\x00" * 50)
    with pytest.raises(OptkitError) as err:
        read_results(path)
    assert not isinstance(err.value, InvalidFileError)
    assert str(err.value).startswith(f"{path}: not a results file (")
    assert what in str(err.value) and "\n" not in str(err.value)


def test_bad_lines_are_capped(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    lines = [json.dumps(_record())] + [json.dumps(_record(status="bogus"))] * 40
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidFileError) as err:
        read_results(path)
    messages = err.value.messages
    assert len(messages) == SHOWN_PROBLEMS + 1
    assert messages[0].startswith(f"{path}:2: status:")
    assert messages[-1] == f"{path}: … and {40 - SHOWN_PROBLEMS} more bad lines"


def test_cli_reads_of_a_non_results_file_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    instance = tmp_path / "i.json"
    _write_instance(instance)
    fake = tmp_path / "fake.jsonl"
    _write_instance(fake)
    solu = tmp_path / "set.solu"
    solu.write_text("=opt= a 1\n" * 8)
    for args in (
        ["reference", str(instance), "--out", str(tmp_path / "x.solu")],
        ["reference", str(solu), "--out", str(tmp_path / "x.solu")],
        ["solve", str(instance), "-m", "no-cache", "--out", str(fake), "--resume"],
        ["solve", str(instance), "-m", "no-cache", "--out", str(fake)],  # appending spoils it
    ):
        before = fake.read_bytes()
        code, _, err = cli(args, capsys)
        assert code == 2, args
        assert len(err.strip().splitlines()) == 1 and "not a results file" in err, err
        assert fake.read_bytes() == before
    assert not (tmp_path / "x.solu").exists()
