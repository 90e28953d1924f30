"""The command line's guards, from a user QA pass: options and files a user gets wrong are one
line on stderr with exit code 2 (before anything runs), outputs never overwrite inputs, and
every note or refusal reads once, on one line."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

import optkit
from optkit.errors import OptkitError
from optkit.solvers import read_results
from tests.cli_helpers import cli
from tests.foundation.handmade import caching_instance

ROOT = Path(__file__).resolve().parents[2]
CACHING = ROOT / "instances" / "caching-small" / "edgeaigc-tiny-s11-000.json"
SCHEDULING = ROOT / "instances" / "scheduling-small" / "amcoedge-tiny-s21-000.json"


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# ------------------------------------------------------------------ time limits


@pytest.mark.parametrize("limit", ["inf", "nan", "1e21", "-inf", "0"])
@pytest.mark.parametrize("path", [CACHING, SCHEDULING], ids=["caching", "scheduling"])
def test_time_limit_must_be_finite_and_in_range(
    capsys: pytest.CaptureFixture[str], limit: str, path: Path
) -> None:
    code, out, err = cli(["solve", str(path), "-m", "scip", "--time-limit", limit], capsys)
    assert code == 2 and not out
    assert "Invalid value for '--time-limit'" in one_line(err)


def test_gap_option_must_be_finite(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(["solve", str(CACHING), "-m", "bnb", "--gap", "nan"], capsys)
    assert code == 2 and "Invalid value for '--gap': nan is not a finite number" in one_line(err)


def test_the_library_refuses_the_same_time_limits() -> None:
    instance = optkit.load_instance(CACHING)
    for limit in (float("nan"), float("inf"), 1e21, 0.0):
        with pytest.raises(OptkitError, match="time limit must be"):
            optkit.solve(instance, "no-cache", time_limit=limit)
    # the largest accepted limit is within every backend's range (SCIP's ends at 1e20)
    assert optkit.solve(instance, "scip", time_limit=1e9).status is optkit.Status.OPTIMAL


def test_gap_time_limit_goes_through_the_same_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for inst in optkit.generate("scheduling", "amcoedge", "tiny", seed=3, count=1):
        optkit.save(inst, tmp_path / f"{inst.name}.json")
    code, _, err = cli(
        ["gap", "local", "--instances", str(tmp_path), "--time-limit", "1e21"], capsys
    )
    assert code == 2 and "time limit must be" in one_line(err)


# ------------------------------------------------------------------ method variants


@pytest.mark.parametrize(
    "path,method",
    [
        (SCHEDULING, "greedy-opt:3"),
        (SCHEDULING, "local:x"),
        (SCHEDULING, "highs:zzz"),
        (SCHEDULING, "rand-coedge:7"),
        (SCHEDULING, "fastest-k:0"),
        (SCHEDULING, "random-k:-1"),
        (SCHEDULING, "fastest-k:x"),
        (CACHING, "lfu:"),
        (CACHING, "relax:abc"),
        (CACHING, "scip:q"),
        (CACHING, "bnb:deep"),
    ],
)
def test_unknown_variants_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], path: Path, method: str
) -> None:
    results = tmp_path / "r.jsonl"
    code, out, err = cli(["solve", str(path), "-m", method, "--out", str(results)], capsys)
    line = one_line(err)
    assert code == 2 and not out and not results.exists()
    assert line.startswith(f"optkit: unknown variant '{method}' (")
    name = method.partition(":")[0]
    assert f"{name} takes no variant" in line or f"known: {name}:" in line


def test_known_variants_run_under_their_canonical_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "r.jsonl"
    args = ["solve", str(SCHEDULING), "-m", "fastest-k:02", "-m", "random-k:1"]
    code, _, err = cli([*args, "--out", str(results)], capsys)
    assert code == 0, err
    assert [r["method"] for r in read_results(results)] == ["fastest-k:2", "random-k:1"]


# ------------------------------------------------------------------ mixed folders, resume


def test_a_folder_of_both_families_notes_what_each_method_skips(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(CACHING, tmp_path)
    shutil.copy(SCHEDULING, tmp_path)
    code, out, err = cli(["solve", str(tmp_path), "-m", "lfu"], capsys)
    assert code == 0 and "lfu:optimal" in out
    assert one_line(err) == (
        "optkit: note: skipped 1 scheduling instance(s) for lfu (a caching method)"
    )


def test_resume_with_nothing_left_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "r.jsonl"
    assert cli(["solve", str(CACHING), "-m", "no-cache", "--out", str(results)], capsys)[0] == 0
    code, out, err = cli(
        ["solve", str(CACHING), "-m", "no-cache", "--out", str(results), "--resume"], capsys
    )
    assert code == 0 and not out  # no empty table
    assert one_line(err) == f"resuming: all 1 runs are already in {results}; nothing to run"


# ------------------------------------------------------------------ outputs never overwrite inputs


def test_results_file_cannot_be_an_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "victim.json"
    shutil.copy(CACHING, victim)
    before = victim.read_bytes()
    code, out, err = cli(["solve", str(victim), "-m", "no-cache", "--out", str(victim)], capsys)
    assert code == 2 and not out
    assert f"--out: {victim} is an input file" in one_line(err)
    alias = tmp_path / "." / "victim.json"
    code, _, err = cli(["solve", str(victim), "-m", "no-cache", "--out", str(alias)], capsys)
    assert code == 2 and "is an input file" in one_line(err)
    assert victim.read_bytes() == before


def test_solution_files_cannot_overwrite_inputs_or_each_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    named = tmp_path / "a" / f"{CACHING.stem}.json"
    shutil.copy(CACHING, named)
    shutil.copy(CACHING, tmp_path / "b" / "copy.json")
    before = named.read_bytes()
    code, _, err = cli(
        ["solve", str(named), "-m", "no-cache", "--solutions", str(tmp_path / "a")], capsys
    )
    assert code == 2 and f"--solutions: {named} is an input file" in one_line(err)
    code, _, err = cli(
        ["solve", str(tmp_path / "a"), str(tmp_path / "b"), "-m", "no-cache", "--solutions",
         str(tmp_path / "sols")],
        capsys,
    )  # fmt: skip
    line = one_line(err)
    assert code == 2 and not (tmp_path / "sols").exists()
    assert f"{named} and {tmp_path / 'b' / 'copy.json'} are both instance" in line
    assert named.read_bytes() == before
    # one file named twice (a folder and a file in it) is one instance, not two
    code, _, err = cli(
        ["solve", str(tmp_path / "b"), str(tmp_path / "b" / "copy.json"), "-m", "no-cache",
         "--solutions", str(tmp_path / "sols")],
        capsys,
    )  # fmt: skip
    assert code == 0 and not err


# ------------------------------------------------------------------ messages read once, on one line


def test_a_refusal_names_the_method_once(capsys: pytest.CaptureFixture[str]) -> None:
    # edgeaigc weighs delays: its program is not linear, so highs refuses it
    code, _, err = cli(["solve", str(CACHING), "-m", "highs"], capsys)
    line = one_line(err)
    assert code == 1
    assert line.startswith(f"{CACHING.stem} · highs: the program of {CACHING.stem} is not linear")
    assert line.count("highs:") == 1


@pytest.mark.skipif(importlib.util.find_spec("gurobipy") is not None, reason="gurobipy is here")
def test_gurobi_refusal_names_the_method_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(["solve", str(CACHING), "-m", "gurobi"], capsys)
    assert code == 1
    assert one_line(err) == (
        f"{CACHING.stem} · gurobi: gurobipy is not installed (pip install gurobipy and a licence)"
    )


def test_stderr_lines_do_not_wrap_when_piped(capsys: pytest.CaptureFixture[str]) -> None:
    # local refuses the smcoedge instances (exactly 3 servers per task): a line of ~120 columns
    folder = ROOT / "instances" / "scheduling-small"
    code, _, err = cli(["gap", "local", "--instances", str(folder)], capsys)
    assert code == 0
    line = one_line(err)
    assert line.startswith("local: 3 instance(s) refused, e.g.: one server per task")
    assert len(line) > 80


# ------------------------------------------------------------------ size limits


def test_an_absurd_count_is_invalid_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = caching_instance()
    doc["frames"] = 10**12
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(doc))
    code, out, _ = cli(["validate", str(path)], capsys)
    assert code == 1
    assert f"{path}: frames: 1000000000000 is above optkit's limit of 1000000" in out
    for command in (["info"], ["solve", "-m", "no-cache"], ["export", "--format", "nl"]):
        code, out, err = cli([command[0], str(path), *command[1:]], capsys)
        assert code == 2 and "above optkit's limit" in one_line(err)


# ------------------------------------------------------------------ evaluate and validate


def test_an_instance_given_as_the_solution_is_named_as_such(
    capsys: pytest.CaptureFixture[str],
) -> None:
    other = ROOT / "instances" / "caching-small" / "t2drl-small-s11-000.json"
    code, out, err = cli(["evaluate", str(CACHING), str(other)], capsys)
    assert code == 2 and not out
    assert one_line(err) == f"{other}: format: this is an instance, a solution was expected"
    # the library says the same, as a violation
    evaluation = optkit.evaluate(optkit.load_instance(CACHING), json.loads(other.read_text()))
    assert evaluation.violations == ("format: this is an instance, a solution was expected",)


@pytest.mark.parametrize("text,rule", [("[1, 2]", "a list"), ("null", "null")])
def test_a_solution_that_is_no_object_is_a_violation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, rule: str
) -> None:
    (tmp_path / "s.json").write_text(text)
    code, out, err = cli(["evaluate", str(CACHING), str(tmp_path / "s.json")], capsys)
    assert code == 1 and not err  # was an AttributeError traceback
    assert f"{tmp_path / 's.json'}: (top level): {rule} is not an object" in out


def test_validate_exit_2_for_a_file_that_is_not_text_and_checks_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    shutil.copy(CACHING, tmp_path / "good.json")
    (tmp_path / "malformed.json").write_text('{"format": "optkit.caching", "name": "x')
    code, out, _ = cli(["validate", str(tmp_path)], capsys)
    assert code == 2
    lines = out.strip().splitlines()
    assert (
        f"{tmp_path / 'binary.json'}: not a JSON file (not UTF-8 text: byte 0, invalid start byte)"
        in lines[0]
    )
    # json's own message ends with "starting at": the position follows in front instead
    assert lines[1].startswith(f"ok  {tmp_path / 'good.json'}: caching instance")
    assert lines[2] == (
        f"{tmp_path / 'malformed.json'}: line 1 column 38: invalid JSON "
        "(a string starts here and is never closed)"
    )
    assert lines[3] == "1 valid, 1 invalid, 1 unreadable"


def test_counts_of_one_are_singular(capsys: pytest.CaptureFixture[str]) -> None:
    t2drl = ROOT / "instances" / "caching-small" / "t2drl-small-s11-000.json"
    code, out, _ = cli(["validate", str(t2drl)], capsys)
    assert code == 0 and "caching instance 't2drl-small-s11-000': 1 server, 6 models" in out
    code, out, _ = cli(["info", str(t2drl)], capsys)
    assert code == 0 and "1 server, 6 models, 6 users" in out and "1 servers" not in out


# ------------------------------------------------------------------ written files


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_files_get_the_usual_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], umask: int
) -> None:
    from optkit.drl.checkpoint import save_atomic

    previous = os.umask(umask)
    try:
        out = tmp_path / "set"
        code, _, _ = cli(
            ["generate", "scheduling", "--preset", "amcoedge", "--size", "tiny", "--out", str(out)],
            capsys,
        )
        assert code == 0
        instance = next(out.glob("*.json"))
        code, _, _ = cli(
            ["solve", str(instance), "-m", "local", "--solutions", str(tmp_path / "sols")], capsys
        )
        assert code == 0
        optkit.save(optkit.load_instance(instance), tmp_path / "saved.json")
        save_atomic({"format": "x"}, tmp_path / "run" / "policy.pt")
    finally:
        os.umask(previous)
    written = [instance, *(tmp_path / "sols").glob("*.json"), tmp_path / "saved.json"]
    written.append(tmp_path / "run" / "policy.pt")
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path


# ------------------------------------------------------------------ export


def test_export_is_one_line_whatever_the_file_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    code, out, err = cli(["export", str(CACHING)], capsys)
    assert code == 2 and not out
    assert one_line(err).startswith("optkit export: Missing option '--format'. Choose from: gms,")
    target = tmp_path / "x.json"  # an unusual extension: Pyomo warned that it does not match
    code, out, err = cli(["export", str(CACHING), "--format", "nl", "--out", str(target)], capsys)
    assert code == 0 and not err
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    col, row = tmp_path / "x.col", tmp_path / "x.row"
    assert out.strip() == f"wrote {target} (symbol map: {col}, {row})"
    assert target.read_text().startswith("g3") and col.exists() and row.exists()
    code, out, err = cli(
        ["export", str(CACHING), "--format", "gms", "--out", str(tmp_path / "a")], capsys
    )
    assert code == 0 and out.strip() == f"wrote {tmp_path / 'a'}"


def test_export_never_overwrites_its_instance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "victim.json"
    shutil.copy(CACHING, victim)
    before = victim.read_bytes()
    code, out, err = cli(["export", str(victim), "--format", "nl", "--out", str(victim)], capsys)
    assert code == 2 and not out and f"--out: {victim} is an input file" in one_line(err)
    # nl's symbol map beside the program counts too
    code, _, err = cli(
        ["export", str(victim), "--format", "nl", "--out", str(tmp_path / "victim.nl")], capsys
    )
    assert code == 0
    col = tmp_path / "victim.col"
    shutil.copy(victim, col)
    code, _, err = cli(
        ["export", str(col), "--format", "nl", "--out", str(tmp_path / "victim")], capsys
    )
    assert code == 2 and f"--out: {col} is an input file" in one_line(err)
    assert victim.read_bytes() == before == col.read_bytes()


# ------------------------------------------------------------------ help texts, round-off


def test_help_texts_say_what_the_commands_do(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["generate", "--help"], capsys)
    assert code == 0 and "-s<SEED>-<NNN>.json" in out and "000, 001" in out
    code, out, _ = cli(["export", "--help"], capsys)
    assert code == 0 and "OUT.col and OUT.row" in " ".join(out.split())
    code, out, _ = cli(["solve", "--help"], capsys)
    assert code == 0
    for usage in ("bnb[:frames|tree]", "lfu[:optimal|equal]", "fastest-k[:K]", "policy:RUN_DIR"):
        assert f"\n  {usage} " in out, usage
    methods = out[out.index("Caching methods") :].splitlines()
    # every method line and every wrapped continuation is indented under its section title
    assert all(line.startswith("  ") for line in methods if line and "methods (" not in line)


def test_round_off_below_display_precision_shows_as_zero() -> None:
    from optkit.cli.solve import results_table
    from optkit.cli.train import _eval_text
    from optkit.drl.evaluation import EvalReport

    result = optkit.Result("i", "caching", "bnb", optkit.Status.OPTIMAL, 1.0, 1.0, -1.33e-15)
    cells = [cell for column in results_table([result]).columns for cell in column.cells]
    assert "0 %" in cells
    report = EvalReport(step=1, episodes=1, mean_return=0.0, mean_objective=1.0, regret=-6.84e-16)
    assert _eval_text(report) == "eval 1.0 · regret 0.0"
    report = EvalReport(1, 1, 0.0, 1.0, gap_to_baseline=-2e-14, baseline="local")
    assert _eval_text(report) == "eval 1.0 · gap vs local 0 %"
