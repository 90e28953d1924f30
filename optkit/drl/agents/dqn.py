"""DQN (Mnih et al. 2015): ε-greedy Q-learning with a replay buffer and a target network."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from optkit.drl.agents.base import Agent, OffPolicyConfig
from optkit.drl.common import mlp, polyak_update
from optkit.drl.replay import Batch
from optkit.errors import OptkitError


@dataclass(frozen=True)
class DQNConfig(OffPolicyConfig):
    learning_rate: float = 5e-4
    """Adam learning rate"""
    tau: float = 1.0
    """target network update rate (1: copy)"""
    target_network_frequency: int = 250
    """gradient steps between target network updates"""
    start_e: float = 1.0
    """exploration ε at step 0"""
    end_e: float = 0.05
    """exploration ε after ``exploration_steps``"""
    exploration_steps: int = 10_000
    """env steps over which ε falls linearly from start_e to end_e"""
    max_grad_norm: float = 10.0
    """gradient clipping by global norm (0: none)"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.tau <= 1:
            raise OptkitError(f"tau must be in (0, 1], got {self.tau}")
        if not 0 <= self.end_e <= self.start_e <= 1:
            raise OptkitError("exploration needs 0 <= end_e <= start_e <= 1")


class DQN(Agent):
    """Deep Q-network; :meth:`td_target` is the one piece Double DQN changes."""

    name = "dqn"
    discrete = True
    Config = DQNConfig
    config: DQNConfig

    def __init__(
        self,
        observation_space: gym.spaces.Space,
        action_space: gym.spaces.Space,
        config: DQNConfig,
        device: torch.device,
        seed: int,
    ) -> None:
        super().__init__(observation_space, action_space, config, device, seed)
        self.q = mlp(self.obs_dim, config.hidden, self.n_actions).to(device)
        self.q_target = copy.deepcopy(self.q)
        self.optimiser = torch.optim.Adam(self.q.parameters(), lr=config.learning_rate)

    def epsilon(self, step: int) -> float:
        c = self.config
        fraction = min(1.0, step / max(c.exploration_steps, 1))
        return c.start_e + fraction * (c.end_e - c.start_e)

    def act(self, obs: np.ndarray, step: int = 0, explore: bool = False) -> Any:
        if explore and self.rng.random() < self.epsilon(step):
            return self.random_action()
        with torch.no_grad():
            return int(self.q(self.obs_tensor(obs)).argmax(dim=1).item())

    def td_target(self, batch: Batch) -> torch.Tensor:
        """r + γ·(1 − done)·max_a Q_target(s', a)."""
        next_q = self.q_target(batch.next_obs).max(dim=1).values
        return batch.rewards + self.config.gamma * (1.0 - batch.terminated) * next_q

    def update(self, batch: Batch) -> dict[str, float]:
        c = self.config
        with torch.no_grad():
            target = self.td_target(batch)
        q = self.q(batch.obs).gather(1, batch.actions.long().unsqueeze(1)).squeeze(1)
        loss = F.mse_loss(q, target)
        self.optimiser.zero_grad()
        loss.backward()
        if c.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(self.q.parameters(), c.max_grad_norm)
        self.optimiser.step()
        if (self.updates + 1) % c.target_network_frequency == 0:
            polyak_update(self.q_target, self.q, c.tau)
        return {"losses/td": loss.item(), "losses/q_values": q.mean().item()}

    def networks(self) -> dict[str, nn.Module]:
        return {"q": self.q, "q_target": self.q_target}

    def optimisers(self) -> dict[str, torch.optim.Optimizer]:
        return {"q": self.optimiser}
