"""DDPG (Lillicrap et al. 2016): a deterministic actor trained through a Q critic, Gaussian
exploration noise, Polyak-averaged targets. :meth:`DDPG.make_actor` is where D3PG puts its
diffusion actor."""

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
from optkit.drl.agents.networks import DeterministicActor, QCritic
from optkit.drl.common import ActionScaler, polyak_update
from optkit.drl.replay import Batch
from optkit.errors import OptkitError


@dataclass(frozen=True)
class DDPGConfig(OffPolicyConfig):
    actor_learning_rate: float = 3e-4
    """Adam learning rate of the actor"""
    critic_learning_rate: float = 3e-4
    """Adam learning rate of the critic"""
    tau: float = 0.005
    """target network update rate"""
    exploration_noise: float = 0.1
    """std of the Gaussian exploration noise, in unit actions ([−1, 1])"""
    policy_frequency: int = 2
    """gradient steps between actor (and target) updates"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.tau <= 1:
            raise OptkitError(f"tau must be in (0, 1], got {self.tau}")
        if self.policy_frequency < 1:
            raise OptkitError(f"policy_frequency must be >= 1, got {self.policy_frequency}")


class DDPG(Agent):
    name = "ddpg"
    discrete = False
    Config = DDPGConfig
    config: DDPGConfig

    def __init__(
        self,
        observation_space: gym.spaces.Space,
        action_space: gym.spaces.Space,
        config: DDPGConfig,
        device: torch.device,
        seed: int,
    ) -> None:
        super().__init__(observation_space, action_space, config, device, seed)
        self.scaler = ActionScaler(self.action_space.low, self.action_space.high).to(device)
        self.actor = self.make_actor().to(device)
        self.critic = QCritic(self.obs_dim, self.action_dim, config.hidden).to(device)
        self.actor_target = copy.deepcopy(self.actor)
        self.critic_target = copy.deepcopy(self.critic)
        self.actor_optimiser = torch.optim.Adam(self.actor.parameters(), config.actor_learning_rate)
        self.critic_optimiser = torch.optim.Adam(
            self.critic.parameters(), config.critic_learning_rate
        )

    def make_actor(self) -> nn.Module:
        """obs → unit action in [−1, 1]^n."""
        return DeterministicActor(self.obs_dim, self.action_dim, self.config.hidden)

    def act(self, obs: np.ndarray, step: int = 0, explore: bool = False) -> Any:
        if explore and step < self.config.learning_starts:
            return self.random_action()
        with torch.no_grad():
            unit = self.actor(self.obs_tensor(obs))[0].cpu().numpy()
        if explore:
            noise = self.rng.normal(0.0, self.config.exploration_noise, unit.shape)
            unit = np.clip(unit + noise, -1.0, 1.0)
        return self.scaler.to_env(unit)

    def update(self, batch: Batch) -> dict[str, float]:
        c = self.config
        actions = self.scaler.to_unit(batch.actions)
        with torch.no_grad():
            next_q = self.critic_target(batch.next_obs, self.actor_target(batch.next_obs))
            target = batch.rewards + c.gamma * (1.0 - batch.terminated) * next_q
        q = self.critic(batch.obs, actions)
        critic_loss = F.mse_loss(q, target)
        self.critic_optimiser.zero_grad()
        critic_loss.backward()
        self.critic_optimiser.step()
        out = {"losses/critic": critic_loss.item(), "losses/q_values": q.mean().item()}
        if (self.updates + 1) % c.policy_frequency == 0:
            actor_loss = -self.critic(batch.obs, self.actor(batch.obs)).mean()
            self.actor_optimiser.zero_grad()
            actor_loss.backward()
            self.actor_optimiser.step()
            polyak_update(self.actor_target, self.actor, c.tau)
            polyak_update(self.critic_target, self.critic, c.tau)
            out["losses/actor"] = actor_loss.item()
        return out

    def networks(self) -> dict[str, nn.Module]:
        return {
            "actor": self.actor,
            "critic": self.critic,
            "actor_target": self.actor_target,
            "critic_target": self.critic_target,
        }

    def optimisers(self) -> dict[str, torch.optim.Optimizer]:
        return {"actor": self.actor_optimiser, "critic": self.critic_optimiser}
