"""The caching compositions (t2drl, t2drl-ddpg, edgeaigc-td3, hybrid, hybrid-td3) through the real entry
points with tiny budgets: ``optkit train`` writes one run directory holding both agents,
``optkit solve --method policy:DIR`` plays it, every decision is scored by ``optkit.evaluate``,
and no policy beats the proven optimum."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import optkit
from optkit.cli.main import main
from optkit.drl.checkpoint import CHECKPOINT, POLICY, RUN
from optkit.drl.compose import (
    COMPOSITIONS,
    CompositionTrainer,
    make_composition_config,
)
from optkit.drl.envs import CachingEpisode, EnvSpec, fixed, make_optkit_env
from optkit.drl.envs.caching import exact_allocation, lfu_cache
from optkit.drl.evaluation import rollout
from optkit.drl.policy import load_policy
from optkit.errors import OptkitError
from optkit.gaps import policy_gap
from optkit.solvers.caching.allocation import allocate_slot
from tests.cli_helpers import cli

# tiny networks and an early start: the smoke runs exercise learning on both timescales
TINY = {
    "frame.hidden": "16",
    "frame.batch_size": "8",
    "frame.learning_starts": "4",
    "slot.hidden": "16",
    "slot.batch_size": "8",
    "slot.learning_starts": "10",
}


def tiny_sets(name: str) -> list[str]:
    out = []
    for key, value in TINY.items():
        if key.startswith("slot.") and COMPOSITIONS[name].slot_agent == "exact":
            continue
        out += ["--set", f"{key}={value}"]
    return out


def tiny_instances(count: int = 3, seed: int = 7) -> list[optkit.CachingInstance]:
    return optkit.generate("caching", "t2drl", "tiny", seed=seed, count=count)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each composition trained 40 slots on t2drl tiny through ``optkit train``."""
    runs = {}
    base = tmp_path_factory.mktemp("runs")
    for name in COMPOSITIONS:
        out = base / name
        args = ["train", name, "--family", "caching", "--preset", "t2drl", "--size", "tiny"]
        args += ["--steps", "40", "--eval-count", "2", "--out", str(out), "-q", *tiny_sets(name)]
        try:
            main(args)
        except SystemExit as exc:
            assert not exc.code, exc
        runs[name] = out
    return runs


def test_train_writes_one_run_directory_with_both_agents(trained: dict[str, Path]) -> None:
    for name, out in trained.items():
        assert (out / CHECKPOINT).exists() and (out / POLICY).exists() and (out / RUN).exists()
        data = torch.load(out / POLICY, weights_only=True)
        assert data["composition"] is True and data["agent"] == name
        assert data["env"]["name"] == "caching-two-timescale"
        assert set(data["agent_state"]) >= {"frame", "slot"}
        assert (data["agent_state"]["slot"] is None) == (COMPOSITIONS[name].slot_agent == "exact")


def test_solve_with_the_trained_policy_is_feasible_and_scored_by_evaluate(
    trained: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    instance = tiny_instances(1, seed=3)[0]
    path = tmp_path / "inst.json"
    optkit.save(instance, path)
    for name, out in trained.items():
        results = tmp_path / f"{name}.jsonl"
        code, _, err = cli(
            ["solve", str(path), "--method", f"policy:{out}", "--out", str(results)], capsys
        )
        assert code == 0, err
        result = optkit.solve(instance, f"policy:{out}")
        assert result.status.value == "feasible"
        assert result.solution is not None
        ev = optkit.evaluate(instance, result.solution)
        assert ev.feasible and ev.objective == result.objective
        # same command, same decisions
        again = optkit.solve(instance, f"policy:{out}")
        assert again.objective == result.objective


def test_policy_round_trip_plays_as_the_trainer(trained: dict[str, Path]) -> None:
    for name, out in trained.items():
        trainer = CompositionTrainer.resume(out)
        policy = load_policy(out)
        for instance in tiny_instances(2, seed=11):
            mine = trainer.joint.solve(instance, "x")
            theirs = policy.play(instance, "x")
            assert optkit.evaluate(instance, mine).objective == pytest.approx(
                optkit.evaluate(instance, theirs).objective, abs=0.0
            ), name


def test_resume_continues_the_same_run(tmp_path: Path) -> None:
    """40 slots then a resume to 80 ends with the weights of one run of 80."""
    from optkit.drl.compose import new_composition_run
    from optkit.drl.setup import Choices

    def run(out: Path, steps: int) -> CompositionTrainer:
        choices = Choices(
            agent="t2drl",
            steps=steps,
            family="caching",
            preset="t2drl",
            size="tiny",
            hyperparameters=dict(TINY),
            eval_count=1,
            device="cpu",
        )
        trainer = CompositionTrainer(new_composition_run(choices), out)
        trainer.run(handle_sigint=False)
        return trainer

    whole = run(tmp_path / "a", 80)
    run(tmp_path / "b", 40)
    resumed = CompositionTrainer.resume(tmp_path / "b", 80)
    resumed.run(handle_sigint=False)
    assert resumed.step == whole.step and resumed.episodes == whole.episodes
    for side in ("frame", "slot"):
        a = getattr(whole.joint, side).networks()
        b = getattr(resumed.joint, side).networks()
        for key in a:
            for (k, va), (_, vb) in zip(
                a[key].state_dict().items(), b[key].state_dict().items(), strict=True
            ):
                assert torch.equal(va, vb), (side, key, k)


def test_exact_allocation_rule_is_allocate_slot() -> None:
    """The env's ``exact`` rule plays each slot at the value allocate_slot proves optimal, and
    the episode's return is the evaluator's objective."""
    for instance in tiny_instances(3):
        ep = CachingEpisode(instance)
        total = 0.0
        while not ep.done:
            total += ep.begin_frame(lfu_cache(ep))
            while not ep.frame_done:
                best = allocate_slot(ep.c, ep.slot, ep.cache[ep.frame]).value
                played = ep.play_slot(*exact_allocation(ep))
                assert played == pytest.approx(best, rel=1e-12, abs=1e-12)
                total += played
        objective = optkit.evaluate(instance, ep.solution("x")).objective
        assert objective == pytest.approx(total, rel=1e-9, abs=1e-9)


def test_exact_allocation_is_an_env_rule_of_the_frame_env() -> None:
    """``caching-frame`` with ``allocation=exact`` (DDQN on it is the hybrid): an episode's
    return is the objective of its solution."""
    instance = tiny_instances(1, seed=5)[0]
    env = make_optkit_env(
        EnvSpec("caching-frame", None, {"allocation": "exact"}), source=fixed(instance)
    )
    total, _ = rollout(env, _FirstAction(), options={"instance": instance})
    objective = optkit.evaluate(instance, env.solution("x")).objective
    assert objective == pytest.approx(total, rel=1e-9, abs=1e-9)


class _FirstAction:
    def act(self, obs: np.ndarray, step: int = 0, explore: bool = False) -> int:
        return 1


def test_no_policy_beats_the_proven_optimum(trained: dict[str, Path]) -> None:
    """Every caching heuristic and every trained composition: gap ≥ 0 (up to 1e-9) against the
    enumerated optimum, which bnb matches."""
    methods = [
        *(
            f"{h}:{a}"
            for h in ("lfu", "lru", "random", "popularity-oracle")
            for a in ("optimal", "equal")
        ),
        "no-cache:equal",
        "no-cache:optimal",
        *(f"policy:{out}" for out in trained.values()),
    ]
    for instance in tiny_instances(3, seed=21):
        optimum = optkit.solve(instance, "enumerate").objective
        assert optimum is not None
        proven = optkit.solve(instance, "bnb").objective
        assert proven == pytest.approx(optimum, rel=1e-6, abs=1e-6)
        for method in methods:
            value = optkit.solve(instance, method).objective
            assert value is not None, method
            gap = policy_gap(value, optimum, "max")
            if gap is None:  # |optimum| ~ 0: compare values
                assert value <= optimum + 1e-9, method
            else:
                assert gap >= -1e-9, (method, value, optimum)


def test_composition_hyperparameters_are_prefixed() -> None:
    config = make_composition_config("t2drl", {"slot.denoising_steps": "4", "frame.gamma": "0.9"})
    assert config.slot is not None and config.slot.denoising_steps == 4  # type: ignore[attr-defined]
    assert config.frame.gamma == 0.9
    assert config.slot.gamma == 0.0  # the slot problem is a contextual bandit
    with pytest.raises(OptkitError, match=r"write frame\.KEY or slot\.KEY"):
        make_composition_config("t2drl", {"gamma": "0.5"})
    with pytest.raises(OptkitError, match="no slot agent"):
        make_composition_config("hybrid", {"slot.tau": "0.1"})
    with pytest.raises(OptkitError, match="unknown hyperparameter"):
        make_composition_config("edgeaigc-td3", {"frame.nope": "1"})


def test_composition_cli_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(
        [
            "train",
            "t2drl",
            "--family",
            "scheduling",
            "--preset",
            "smcoedge",
            "--steps",
            "5",
            "--out",
            str(tmp_path / "x"),
        ],
        capsys,
    )
    assert code == 2 and "caching composition" in err and "Traceback" not in err
    code, _, err = cli(
        ["train", "hybrid", "--env", "caching-slot", "--steps", "5", "--out", str(tmp_path / "y")],
        capsys,
    )
    assert code == 2 and "--env does not apply" in err
    np.testing.assert_equal(
        sorted(COMPOSITIONS), ["edgeaigc-td3", "hybrid", "hybrid-td3", "t2drl", "t2drl-ddpg"]
    )
