"""Diffusion SAC learns a trivially learnable discrete toy (asserted with a margin), with and
without the latent-action start, and resumes as the uninterrupted run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from optkit.drl.agents import make_config
from optkit.drl.envs import EnvSpec, make_env
from optkit.drl.evaluation import rollout
from optkit.drl.train import RunSpec, Trainer, TrainSettings
from tests.drl.drl_toys import DISCRETE_ID

FAST = {
    "hidden": "64,64",
    "batch_size": 64,
    "learning_starts": 200,
    "buffer_size": 5000,
    "actor_learning_rate": 1e-3,
}


def spec(steps: int, seed: int = 0, **extra: str) -> RunSpec:
    return RunSpec(
        "diffusion-sac",
        make_config("diffusion-sac", {**FAST, **extra}),
        EnvSpec(f"gym:{DISCRETE_ID}"),
        TrainSettings(steps=steps, seed=seed, device="cpu", eval_every=steps, eval_episodes=5),
    )


def greedy_return(trainer: Trainer, episodes: int = 20) -> float:
    env = make_env(trainer.run_spec.env)
    return float(np.mean([rollout(env, trainer.agent, seed=500 + i)[0] for i in range(episodes)]))


@pytest.mark.parametrize("latent", ["false", "true"])
def test_diffusion_sac_learns_the_matching_toy(latent: str, tmp_path: Path) -> None:
    """Optimal return 8, random play 2."""
    trainer = Trainer(spec(1000, latent_start=latent), tmp_path)
    before = greedy_return(trainer)
    trainer.run(handle_sigint=False)
    after = greedy_return(trainer)
    assert after >= 7.0, (before, after)


def test_greedy_action_is_deterministic_and_leaves_the_torch_rng() -> None:
    trainer_spec = spec(10)
    trainer = Trainer(trainer_spec, Path("unused-never-written"))
    obs = np.eye(5, dtype=np.float32)[1]
    state = torch.get_rng_state()
    actions = {trainer.agent.act(obs, explore=False) for _ in range(5)}
    assert len(actions) == 1
    assert torch.equal(state, torch.get_rng_state())
