"""SAC for continuous actions (Haarnoja et al. 2018, with the automatically tuned temperature
of "SAC: algorithms and applications"): a squashed-Gaussian actor maximising Q − α·log π,
twin critics with an entropy term in the target, α learned towards a target entropy of
−(action dimensions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch.nn import functional as F

from optkit.drl.agents.base import Agent, OffPolicyConfig
from optkit.drl.agents.networks import QCritic, SoftActorCritic, SquashedGaussianActor
from optkit.drl.common import ActionScaler
from optkit.drl.replay import Batch


@dataclass(frozen=True)
class SACConfig(OffPolicyConfig):
    policy_learning_rate: float = 3e-4
    """Adam learning rate of the actor (and of the temperature)"""
    q_learning_rate: float = 1e-3
    """Adam learning rate of the critics"""
    tau: float = 0.005
    """target network update rate"""
    policy_frequency: int = 2
    """gradient steps between actor updates (each then runs policy_frequency times)"""
    alpha: float = 0.2
    """entropy temperature α (its start value when autotune is on)"""
    autotune: bool = True
    """learn α towards the target entropy −(action dimensions)"""


class SAC(SoftActorCritic, Agent):
    name = "sac"
    discrete = False
    Config = SACConfig
    config: SACConfig
    actor: SquashedGaussianActor

    def __init__(
        self,
        observation_space: gym.spaces.Space,
        action_space: gym.spaces.Space,
        config: SACConfig,
        device: torch.device,
        seed: int,
    ) -> None:
        super().__init__(observation_space, action_space, config, device, seed)
        self.scaler = ActionScaler(self.action_space.low, self.action_space.high).to(device)
        h = config.hidden
        self.build_soft(
            SquashedGaussianActor(self.obs_dim, self.action_dim, h).to(device),
            QCritic(self.obs_dim, self.action_dim, h).to(device),
            QCritic(self.obs_dim, self.action_dim, h).to(device),
            config.alpha,
            (config.policy_learning_rate, config.q_learning_rate, config.policy_learning_rate),
            device,
        )
        self.target_entropy = -float(self.action_dim)

    @property
    def alpha(self) -> float:
        return float(self.temperature().item())

    def act(self, obs: np.ndarray, step: int = 0, explore: bool = False) -> Any:
        if explore and step < self.config.learning_starts:
            return self.random_action()
        with torch.no_grad():
            if explore:
                unit, _, _ = self.actor.sample(self.obs_tensor(obs))
            else:  # the deterministic policy: tanh of the mean, no draw
                unit = torch.tanh(self.actor(self.obs_tensor(obs))[0])
        return self.scaler.to_env(unit[0].cpu().numpy())

    def update(self, batch: Batch) -> dict[str, float]:
        c = self.config
        alpha = self.temperature().detach()
        actions = self.scaler.to_unit(batch.actions)
        with torch.no_grad():
            next_actions, next_log_pi, _ = self.actor.sample(batch.next_obs)
            next_q = torch.min(
                self.q1_target(batch.next_obs, next_actions),
                self.q2_target(batch.next_obs, next_actions),
            )
            soft_value = next_q - alpha * next_log_pi
            target = batch.rewards + c.gamma * (1.0 - batch.terminated) * soft_value
        q1, q2 = self.q1(batch.obs, actions), self.q2(batch.obs, actions)
        q_loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        self.q_optimiser.zero_grad()
        q_loss.backward()
        self.q_optimiser.step()
        out = {"losses/q": q_loss.item(), "losses/q_values": q1.mean().item()}
        if (self.updates + 1) % c.policy_frequency == 0:
            for _ in range(c.policy_frequency):  # delayed, then caught up (as CleanRL)
                pi, log_pi, _ = self.actor.sample(batch.obs)
                q_pi = torch.min(self.q1(batch.obs, pi), self.q2(batch.obs, pi))
                actor_loss = (alpha * log_pi - q_pi).mean()
                self.actor_optimiser.zero_grad()
                actor_loss.backward()
                self.actor_optimiser.step()
                if c.autotune:
                    alpha_loss = -(
                        self.temperature() * (log_pi.detach() + self.target_entropy)
                    ).mean()
                    self.step_temperature(alpha_loss)
                    alpha = self.temperature().detach()
            out["losses/actor"] = actor_loss.item()
            out["losses/alpha"] = float(alpha)
        self.update_targets(c.tau)
        return out
