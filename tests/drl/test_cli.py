"""The real entry points with tiny budgets: ``optkit train`` writes a run directory that
``optkit solve --method policy:DIR`` uses like any method; user errors are one line, exit 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import optkit
from optkit.drl.checkpoint import CHECKPOINT, POLICY, RUN
from optkit.solvers import read_results
from tests.cli_helpers import cli

TINY = [
    "--set",
    "learning_starts=20",
    "--set",
    "batch_size=8",
    "--set",
    "buffer_size=500",
    "--set",
    "hidden=16",
]


def train(capsys, out: Path, *args: str) -> tuple[int, str, str]:
    return cli(["train", *args, "--out", str(out), "-q", "--eval-count", "2", *TINY], capsys)


@pytest.mark.parametrize(
    ("agent", "family", "preset", "env"),
    [
        ("ddqn", "caching", "t2drl", "caching-frame"),
        ("td3", "caching", "edgeaigc", "caching-slot"),
        ("sac", "caching", "t2drl", "caching-frame"),
        ("discrete-sac", "scheduling", "amcoedge", "scheduling"),
    ],
)
def test_train_then_solve_with_the_policy(
    agent, family, preset, env, tmp_path: Path, capsys
) -> None:
    run = tmp_path / "run"
    chosen = ["--env", env] if agent == "sac" else []  # the others train on their family's default
    code, _, err = train(
        capsys,
        run,
        agent,
        "--family",
        family,
        "--preset",
        preset,
        "--size",
        "tiny",
        "--steps",
        "60",
        "--eval-every",
        "30",
        *chosen,
    )
    assert code == 0, err
    for name in (CHECKPOINT, POLICY, RUN, "evaluations.jsonl"):
        assert (run / name).exists()
    summary = json.loads((run / RUN).read_text())
    assert (
        summary["env"]["name"] == env and summary["status"] == "finished" and summary["step"] == 60
    )
    evaluations = [
        json.loads(line) for line in (run / "evaluations.jsonl").read_text().splitlines()
    ]
    assert [e["step"] for e in evaluations] == [30, 60]
    assert evaluations[-1]["mean_objective"] is not None
    instances = tmp_path / "set"
    optkit.instances.generators.write_set(family, preset, "tiny", 42, 2, instances)
    results = tmp_path / "results.jsonl"
    code, _out, err = cli(
        ["solve", str(instances), "--method", f"policy:{run}", "--out", str(results)], capsys
    )
    assert code == 0, err
    records = read_results(results)
    assert [r["status"] for r in records] == ["feasible", "feasible"]
    for record in records:
        instance = optkit.load_instance(instances / f"{record['instance']}.json")
        again = optkit.solve(instance, f"policy:{run}")
        assert again.objective == record["objective"]  # deterministic, scored by evaluate


def test_policy_refuses_instances_of_other_dimensions(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    assert (
        train(
            capsys,
            run,
            "ddqn",
            "--family",
            "caching",
            "--preset",
            "t2drl",
            "--size",
            "tiny",
            "--steps",
            "30",
        )[0]
        == 0
    )
    small = optkit.generate("caching", "t2drl", "small", seed=1)[0]
    result = optkit.solve(small, f"policy:{run}")
    assert result.status == optkit.Status.ERROR
    assert (
        "was built for 1 server, 3 models, 3 users; t2drl-small-s1-000 has 1 server, 6 models, 6 users"
        in result.message
    )
    other = optkit.generate("scheduling", "amcoedge", "tiny", seed=1)[0]
    result = optkit.solve(other, f"policy:{run}")
    assert (
        "trained on caching instances; amcoedge-tiny-s1-000 is a scheduling instance"
        in result.message
    )


def test_resume_extends_a_run(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    args = ["dqn", "--family", "scheduling", "--preset", "amcoedge", "--size", "tiny"]
    assert train(capsys, run, *args, "--steps", "40")[0] == 0
    code, _, err = cli(
        ["train", "dqn", "--out", str(run), "--resume", "--steps", "80", "-q"], capsys
    )
    assert code == 0, err
    assert json.loads((run / RUN).read_text())["step"] == 80
    code, _, err = train(capsys, run, *args, "--steps", "40")
    assert code == 2 and "already holds a run" in err and "--resume" in err


T2DRL_5 = ["--family", "caching", "--preset", "t2drl", "--steps", "5"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["dqm", "--family", "caching", "--preset", "t2drl", "--steps", "5"],
            "unknown agent 'dqm' (agents: dqn, ddqn",
        ),
        (
            ["dqn", "--family", "caching", "--preset", "t2", "--steps", "5"],
            "unknown caching preset 't2' (known: t2drl, edgeaigc)",
        ),
        (["dqn", "--env", "caching-slots", "--steps", "5"], "unknown env 'caching-slots'"),
        (
            ["td3", "--family", "scheduling", "--preset", "amcoedge", "--steps", "5"],
            "agent td3 needs a continuous (Box) action space",
        ),
        (["dqn", "--family", "caching", "--preset", "edgeaigc", "--steps", "5"], "2^18 actions"),
        (
            ["dqn", "--family", "caching", "--preset", "t2drl", "--steps", "5", "--set", "lr=1"],
            "unknown hyperparameter 'lr' for dqn",
        ),
        (
            ["dqn", "--family", "caching", "--preset", "t2drl", "--steps", "5", "--eval-seed", "0"],
            "--eval-seed 0 equals --seed",
        ),
        (["dqn", "--family", "caching", "--steps", "5"], "--preset is needed"),
        (
            ["dqn", *T2DRL_5, "--set", "learning_rate=nan"],
            "hyperparameter learning_rate: 'nan' is not a finite number",
        ),
        (
            ["ddpg", *T2DRL_5, "--set", "critic_learning_rate=-1"],
            "critic_learning_rate must be > 0, got -1.0",
        ),
    ],
)
def test_user_errors_are_one_line(args, message, tmp_path: Path, capsys) -> None:
    code, _, err = cli(["train", *args, "--out", str(tmp_path / "x")], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err


def test_checkpoint_from_another_environment(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    assert (
        train(
            capsys,
            run,
            "dqn",
            "--family",
            "caching",
            "--preset",
            "t2drl",
            "--size",
            "tiny",
            "--steps",
            "20",
        )[0]
        == 0
    )
    for args, message in (
        (
            ["dqn", "--family", "scheduling"],
            "holds a checkpoint from another environment: trained with family caching, not scheduling",
        ),
        (["dqn", "--env", "scheduling"], "trained with env caching-frame, not scheduling"),
        (["dqn", "--preset", "edgeaigc"], "trained with preset t2drl, not edgeaigc"),
        (["ddqn"], "holds a dqn run, not ddqn"),
    ):
        code, _, err = cli(
            ["train", *args, "--out", str(run), "--resume", "--steps", "40", "-q"], capsys
        )
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_show_config(capsys) -> None:
    code, out, _ = cli(["train", "sac", "--show-config", "--set", "tau=0.01"], capsys)
    assert code == 0
    assert "autotune" in out and "0.01" in out and "target network update rate" in out


def test_ctrl_c_leaves_a_usable_checkpoint(tmp_path: Path) -> None:
    """SIGINT to a real `optkit train`: exit 130, a checkpoint marked interrupted, resumable."""
    run = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "optkit",
        "train",
        "dqn",
        "--env",
        "gym:CartPole-v1",
        "--steps",
        "10000000",
        "--out",
        str(run),
        "--checkpoint-every",
        "200",
        "--eval-every",
        "100000",
        "-q",
        "--set",
        "hidden=8",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while (
            not (run / CHECKPOINT).exists() and proc.poll() is None and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted at step" in err and "--resume" in err
    summary = json.loads((run / RUN).read_text())
    assert summary["status"] == "interrupted"
    step = summary["step"]
    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "optkit",
            "train",
            "dqn",
            "--out",
            str(run),
            "--resume",
            "--steps",
            str(step + 50),
            "-q",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run / RUN).read_text())["step"] == step + 50


def test_policy_method_needs_a_run_directory(tmp_path: Path, capsys) -> None:
    optkit.instances.generators.write_set("scheduling", "amcoedge", "tiny", 1, 1, tmp_path)
    files = str(tmp_path)
    code, _, err = cli(["solve", files, "--method", "policy"], capsys)
    assert (
        code == 2 and "method policy needs a training run directory: --method policy:RUN_DIR" in err
    )
    code, _, err = cli(["solve", files, "--method", f"policy:{tmp_path / 'nothing'}"], capsys)
    assert code == 2 and "no trained policy here" in err and len(err.strip().splitlines()) == 1
