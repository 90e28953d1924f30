"""Result records, results files and the gap conventions of DESIGN §4."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import optkit
from optkit.errors import InvalidFileError
from optkit.gaps import agree, beats, normalised_regret, policy_gap, solver_gap
from optkit.instances import instance_from_dict
from optkit.instances.solution import CachingSolution, RequestDecision
from optkit.solvers import Status, append_results, finish, read_results
from optkit.solvers.result import RESULT_KEYS
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
    with pytest.raises(InvalidFileError, match="not a results record of schema 1"):
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
