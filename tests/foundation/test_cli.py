"""The optkit command: every foundation command, exit codes, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import optkit
from optkit.cli.main import main
from optkit.solvers import read_results
from tests.foundation.handmade import caching_instance, caching_solution


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and optkit.__version__ in out


def test_no_arguments_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([], capsys)
    assert code == 0 and "generate" in out and "evaluate" in out


@pytest.mark.parametrize("family,preset", [("caching", "edgeaigc"), ("scheduling", "smcoedge")])
def test_generate_validate_info(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], family: str, preset: str
) -> None:
    out_dir = tmp_path / "set"
    code, out, _ = run(
        [
            "generate",
            family,
            "--preset",
            preset,
            "--size",
            "tiny",
            "--count",
            "2",
            "--seed",
            "5",
            "--out",
            str(out_dir),
        ],
        capsys,
    )
    assert code == 0 and "wrote 2" in out
    files = sorted(out_dir.glob("*.json"))
    assert [f.name for f in files] == [f"{preset}-tiny-s5-000.json", f"{preset}-tiny-s5-001.json"]
    code, out, _ = run(["validate", str(out_dir)], capsys)
    assert code == 0 and "2 valid, 0 invalid" in out
    code, out, _ = run(["info", str(files[0])], capsys)
    assert code == 0 and files[0].stem in out and "servers" in out


def test_solve_evaluate_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(
        [
            "generate",
            "caching",
            "--preset",
            "t2drl",
            "--size",
            "small",
            "--count",
            "2",
            "--out",
            str(tmp_path / "c"),
        ],
        capsys,
    )
    run(
        [
            "generate",
            "scheduling",
            "--preset",
            "amcoedge",
            "--size",
            "tiny",
            "--out",
            str(tmp_path / "s"),
        ],
        capsys,
    )
    results = tmp_path / "results.jsonl"
    code, out, _ = run(
        [
            "solve",
            str(tmp_path / "c"),
            str(tmp_path / "s"),
            "-m",
            "no-cache",
            "-m",
            "local",
            "--out",
            str(results),
        ],
        capsys,
    )
    assert code == 0 and "no-cache:equal" in out and "local" in out
    records = read_results(results)
    assert len(records) == 3 and {r["method"] for r in records} == {"no-cache:equal", "local"}
    assert all(r["feasible"] and r["status"] == "feasible" for r in records)
    code, _, _ = run(
        ["solve", str(tmp_path / "c"), "-m", "no-cache", "--solutions", str(tmp_path / "sols")],
        capsys,
    )
    assert code == 0
    inst = tmp_path / "c" / "t2drl-small-s0-000.json"
    sol = tmp_path / "sols" / "t2drl-small-s0-000.json"
    code, out, _ = run(["evaluate", str(inst), str(sol), "--json"], capsys)
    report = json.loads(out)
    assert code == 0 and set(report) == {"feasible", "violations", "objective", "metrics"}
    assert report["objective"] == pytest.approx(records[0]["objective"])
    code, out, _ = run(["evaluate", str(inst), str(sol)], capsys)
    assert code == 0 and "hit ratio" in out and "feasible" in out


def test_evaluate_infeasible_lists_violations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "i.json").write_text(json.dumps(caching_instance()))
    bad = caching_solution()
    bad["requests"][0]["steps"] = 30
    (tmp_path / "s.json").write_text(json.dumps(bad))
    code, out, _ = run(["evaluate", str(tmp_path / "i.json"), str(tmp_path / "s.json")], capsys)
    assert code == 1 and "sum to 30 > step_capacity 25" in out
    code, out, _ = run(
        ["validate", str(tmp_path / "s.json"), "--instance", str(tmp_path / "i.json")], capsys
    )
    assert code == 1 and "step_capacity 25" in out and "0 valid, 1 invalid" in out


@pytest.mark.parametrize(
    "args,message",
    [
        (["evaluate", "missing.json", "missing.json"], "optkit: missing.json: no such file"),
        (["info", "nope.json"], "optkit: nope.json: no such file"),
        (
            ["generate", "caching", "--preset", "nope", "--out", "x"],
            "optkit: unknown caching preset 'nope' (known: t2drl, edgeaigc)",
        ),
        (
            ["generate", "caching", "--preset", "t2drl", "--size", "huge", "--out", "x"],
            "optkit generate: Invalid value for '--size'",
        ),
        (
            ["generate", "caching", "--preset", "t2drl", "--count", "0", "--out", "x"],
            "optkit generate: Invalid value for '--count'",
        ),
        (["frobnicate"], "optkit: No such command 'frobnicate'"),
        (["solve", "BADJSON", "-m", "no-cache"], "invalid JSON"),
        (
            ["solve", "INSTANCE", "-m", "bogus"],
            "optkit: unknown method 'bogus' for the caching family",
        ),
        (
            ["solve", "INSTANCE", "-m", "no-cache:optimalish"],
            "optkit: unknown variant 'no-cache:optimalish'",
        ),
        (
            ["solve", "INSTANCE", "--time-limit", "-1", "-m", "no-cache"],
            "optkit solve: Invalid value for '--time-limit'",
        ),
    ],
)
def test_user_errors_are_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "inst.json").write_text(json.dumps(caching_instance()))
    args = [
        str(tmp_path / "bad.json")
        if a == "BADJSON"
        else str(tmp_path / "inst.json")
        if a == "INSTANCE"
        else a
        for a in args
    ]
    code, _, err = run(args, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err


def test_validate_reports_every_rule_of_every_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = caching_instance()
    bad = caching_instance()
    bad["requests"][1]["model"] = 9
    bad["frames"] = 0
    (tmp_path / "good.json").write_text(json.dumps(good))
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    (tmp_path / "broken.json").write_text("[1,")
    code, out, err = run(["validate", str(tmp_path)], capsys)
    assert code == 1 and not err
    assert (
        f"{tmp_path / 'bad.json'}: requests[1].model: 9 is not a model index (instance has 2 models)"
        in out
    )
    assert f"{tmp_path / 'bad.json'}: frames: 0 must be >= 1" in out
    assert f"{tmp_path / 'broken.json'}: line 1 column 4: invalid JSON" in out
    assert "1 valid, 2 invalid" in out


def test_console_script_has_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "optkit",
            "evaluate",
            str(tmp_path / "a.json"),
            str(tmp_path / "b.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"optkit: {tmp_path / 'a.json'}: no such file"


def test_solve_resume_skips_recorded_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(
        [
            "generate",
            "caching",
            "--preset",
            "t2drl",
            "--size",
            "tiny",
            "--count",
            "3",
            "--out",
            str(tmp_path / "c"),
        ],
        capsys,
    )
    results = tmp_path / "r.jsonl"
    first = tmp_path / "c" / "t2drl-tiny-s0-000.json"
    run(["solve", str(first), "-m", "no-cache", "--out", str(results)], capsys)
    code, _, err = run(
        ["solve", str(tmp_path / "c"), "-m", "no-cache:equal", "--out", str(results), "--resume"],
        capsys,
    )
    assert code == 0 and "resuming: 1 of 3 runs already in" in err
    assert [r["instance"] for r in read_results(results)] == [
        f"t2drl-tiny-s0-00{i}" for i in range(3)
    ]
    code, _, err = run(["solve", str(first), "-m", "no-cache", "--resume"], capsys)
    assert code == 2 and "--resume needs --out" in err


def test_durations_keep_their_digits_from_microseconds_to_seconds() -> None:
    from optkit.cli.common import seconds

    assert [seconds(v) for v in (None, 2e-5, 0.0123, 2.5)] == ["-", "20.0 µs", "12.3 ms", "2.50 s"]
