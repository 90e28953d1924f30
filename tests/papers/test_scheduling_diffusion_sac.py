"""Diffusion SAC learns a trivially learnable discrete toy (asserted with a margin), with and
without the latent-action start; its greedy action is deterministic; with two actions its
policy has a gradient and a confidence that depends on the state (CartPole's old failure)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from optkit.drl.agents import make_config
from optkit.drl.agents.diffusion_sac import DiffusionSAC, DiffusionSACConfig
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


# ---------------------------------------------------------------- two actions (CartPole's bug)

TWO_ARMS_ID = "OptkitToyTwoArms-v0"
#: one-hot states: arm 0 pays, arm 1 pays, both pay the same
STATES = np.eye(3, dtype=np.float32)


class TwoArms(gym.Env):  # type: ignore[misc]
    """One step per episode in one of three states (one-hot): in state 0 action 0 pays 1, in
    state 1 action 1 pays 1 (the other 0), in state 2 both pay ½. The soft-optimal policy picks
    the paying arm in states 0 and 1 and is uniform in state 2."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(0.0, 1.0, (3,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.state = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        self.state = int(self.np_random.integers(3))
        return STATES[self.state].copy(), {}

    def step(self, action: int) -> Any:
        reward = 0.5 if self.state == 2 else float(int(action) == self.state)
        return STATES[self.state].copy(), reward, True, False, {}


if TWO_ARMS_ID not in gym.registry:
    gym.register(id=TWO_ARMS_ID, entry_point=TwoArms)


def two_arm_agent(**extra: str) -> DiffusionSAC:
    config = make_config("diffusion-sac", {**FAST, "learning_starts": "100", **extra})
    env = gym.make(TWO_ARMS_ID)
    torch.manual_seed(0)
    agent = DiffusionSAC(env.observation_space, env.action_space, config, torch.device("cpu"), 0)
    assert isinstance(agent.config, DiffusionSACConfig)
    return agent


def test_two_action_policy_has_a_gradient_and_state_dependent_confidence() -> None:
    """The standardised map pins a two-action policy at (0.944, 0.056) in every state with a
    vanishing gradient (CartPole's old failure); the default softmax map does neither."""
    obs = torch.randn(64, 3, generator=torch.Generator().manual_seed(1))
    for logits, pinned in (("softmax", False), ("standardised", True)):
        agent = two_arm_agent(logits=logits)
        torch.manual_seed(2)
        probs, _ = agent.policy(obs)
        top = probs.detach().max(dim=1).values
        torch.manual_seed(2)
        agent.actor.zero_grad()
        agent.policy(obs)[0][:, 0].sum().backward()
        grad = math.sqrt(sum(float((p.grad**2).sum()) for p in agent.actor.parameters()))
        if pinned:
            assert float(top.max() - top.min()) < 1e-4 and grad < 1e-3, (top, grad)
        else:
            assert float(top.max() - top.min()) > 0.01 and grad > 1e-2, (top, grad)


def test_diffusion_sac_learns_two_arms_with_state_dependent_confidence(tmp_path: Path) -> None:
    """After a short training the greedy action differs between states 0 and 1 (each the paying
    arm) and the policy is near uniform where both arms pay the same — impossible for the old
    standardised two-action map, pinned at 0.944 on one arm."""
    trainer_spec = RunSpec(
        "diffusion-sac",
        make_config("diffusion-sac", {**FAST, "learning_starts": "100", "gamma": "0"}),
        EnvSpec(f"gym:{TWO_ARMS_ID}"),
        TrainSettings(steps=600, seed=0, device="cpu", eval_every=600, eval_episodes=5),
    )
    trainer = Trainer(trainer_spec, tmp_path)
    trainer.run(handle_sigint=False)
    agent = trainer.agent
    assert isinstance(agent, DiffusionSAC)
    assert [agent.act(s, explore=False) for s in STATES[:2]] == [0, 1]
    with torch.no_grad():
        probs = torch.stack(
            [agent.policy(agent.norm(torch.as_tensor(STATES)))[0] for _ in range(200)]
        ).mean(dim=0)
    assert probs[0, 0] > 0.6 and probs[1, 1] > 0.6, probs
    assert abs(float(probs[2, 0]) - 0.5) < 0.15, probs
