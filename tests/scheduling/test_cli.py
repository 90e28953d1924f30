"""`optkit solve` and `optkit export` on scheduling instances."""

from __future__ import annotations

import logging
from pathlib import Path

import highspy
import pytest

import optkit
from optkit.cli.main import main
from tests.scheduling.sched_helpers import make_instance


def run(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    code = exit_info.value.code
    return int(code) if code is not None else 0


@pytest.fixture
def instance_files(tmp_path: Path) -> list[Path]:
    paths = []
    for inst in optkit.generate("scheduling", "smcoedge", "small", seed=6, count=2):
        path = tmp_path / "set" / f"{inst.name}.json"
        path.parent.mkdir(exist_ok=True)
        optkit.save(inst, path)
        paths.append(path)
    return paths


def test_solve_writes_results_and_solutions(instance_files: list[Path], tmp_path: Path) -> None:
    results, solutions = tmp_path / "results.jsonl", tmp_path / "sols"
    code = run(
        [
            "solve",
            str(instance_files[0].parent),
            "-m",
            "highs",
            "--out",
            str(results),
            "--solutions",
            str(solutions),
        ]
    )
    assert code == 0
    records = optkit.solvers.read_results(results)
    assert [r["status"] for r in records] == ["optimal", "optimal"]
    for record, path in zip(records, instance_files, strict=True):
        instance = optkit.load_instance(path)
        solution = optkit.load_solution(solutions / f"{instance.name}.json")
        evaluation = optkit.evaluate(instance, solution)
        assert evaluation.feasible
        assert evaluation.objective == record["objective"]
        assert set(record["metrics"]) == set(optkit.evaluate.__globals__["SCHEDULING_METRICS"])


def test_solve_reports_a_refusal_with_exit_1(
    instance_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["solve", str(instance_files[0]), "-m", "local"])
    assert code == 1
    assert "exact_servers" in capsys.readouterr().err


def test_bad_variant_is_one_line(
    instance_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["solve", str(instance_files[0]), "-m", "random-k:x"])
    assert code == 2
    err = capsys.readouterr().err
    assert "integer" in err and "Traceback" not in err


@pytest.mark.parametrize("fmt", ["lp", "mps", "gms", "nl"])
def test_export_writes_every_format(
    fmt: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    instance = make_instance(
        [(10.0, 400.0, 1.0), (20.0, 450.0, 0.0)],
        [(0, 0, 3.0, 0.2), (0, 1, 4.0, 0.3), (1, 0, 2.0, 0.2)],
        slots=2,
        slot_seconds=0.1,
        deadline_s=0.3,
        failure_penalty=5.0,
    )
    source = tmp_path / "hand.json"
    optkit.save(instance, source)
    target = tmp_path / f"hand.{fmt}"
    with caplog.at_level(logging.WARNING):
        assert run(["export", str(source), "--format", fmt, "--out", str(target)]) == 0
    assert target.stat().st_size > 0
    assert not [r for r in caplog.records if "does not match" in r.getMessage()]


def test_exported_mps_solved_elsewhere_gives_the_same_optimum(tmp_path: Path) -> None:
    instance = make_instance(
        [(10.0, 400.0, 1.0), (20.0, 450.0, 0.0), (15.0, 300.0, 0.0)],
        [(0, 0, 3.0, 0.2), (0, 1, 4.0, 0.3), (0, 1, 2.0, 0.2), (1, 2, 2.0, 0.2)],
        slots=2,
        slot_seconds=0.05,
        deadline_s=0.12,
        failure_penalty=3.0,
    )
    source, target = tmp_path / "hand.json", tmp_path / "hand.mps"
    optkit.save(instance, source)
    assert run(["export", str(source), "--format", "mps", "--out", str(target)]) == 0
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.readModel(str(target))
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    expected = optkit.solve(instance, "highs").objective
    assert h.getInfo().objective_function_value == pytest.approx(expected, rel=1e-7)
