"""TD3 (Fujimoto, van Hoof, Meger 2018): DDPG with twin critics (the smaller target), target
policy smoothing and delayed actor updates."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import gymnasium as gym
import torch
from torch import nn
from torch.nn import functional as F

from optkit.drl.agents.ddpg import DDPG, DDPGConfig
from optkit.drl.agents.networks import QCritic
from optkit.drl.common import polyak_update
from optkit.drl.replay import Batch


@dataclass(frozen=True)
class TD3Config(DDPGConfig):
    policy_noise: float = 0.2
    """std of the target policy smoothing noise, in unit actions"""
    noise_clip: float = 0.5
    """the smoothing noise is clipped to ±noise_clip"""


class TD3(DDPG):
    name = "td3"
    Config = TD3Config
    config: TD3Config

    def __init__(
        self,
        observation_space: gym.spaces.Space,
        action_space: gym.spaces.Space,
        config: TD3Config,
        device: torch.device,
        seed: int,
    ) -> None:
        super().__init__(observation_space, action_space, config, device, seed)
        self.critic2 = QCritic(self.obs_dim, self.action_dim, config.hidden).to(device)
        self.critic2_target = copy.deepcopy(self.critic2)
        # one optimiser over both critics, as the two losses are summed
        self.critic_optimiser = torch.optim.Adam(
            [*self.critic.parameters(), *self.critic2.parameters()], config.critic_learning_rate
        )

    def update(self, batch: Batch) -> dict[str, float]:
        c = self.config
        actions = self.scaler.to_unit(batch.actions)
        with torch.no_grad():
            smoothing = (torch.randn_like(actions) * c.policy_noise).clamp(
                -c.noise_clip, c.noise_clip
            )
            next_actions = (self.actor_target(batch.next_obs) + smoothing).clamp(-1.0, 1.0)
            next_q = torch.min(
                self.critic_target(batch.next_obs, next_actions),
                self.critic2_target(batch.next_obs, next_actions),
            )
            target = batch.rewards + c.gamma * (1.0 - batch.terminated) * next_q
        q1, q2 = self.critic(batch.obs, actions), self.critic2(batch.obs, actions)
        critic_loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        self.critic_optimiser.zero_grad()
        critic_loss.backward()
        self.critic_optimiser.step()
        out = {"losses/critic": critic_loss.item(), "losses/q_values": q1.mean().item()}
        if (self.updates + 1) % c.policy_frequency == 0:  # delayed actor and target updates
            actor_loss = -self.critic(batch.obs, self.actor(batch.obs)).mean()
            self.actor_optimiser.zero_grad()
            actor_loss.backward()
            self.actor_optimiser.step()
            polyak_update(self.actor_target, self.actor, c.tau)
            polyak_update(self.critic_target, self.critic, c.tau)
            polyak_update(self.critic2_target, self.critic2, c.tau)
            out["losses/actor"] = actor_loss.item()
        return out

    def networks(self) -> dict[str, nn.Module]:
        return {
            **super().networks(),
            "critic2": self.critic2,
            "critic2_target": self.critic2_target,
        }
