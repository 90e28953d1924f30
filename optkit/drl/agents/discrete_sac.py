"""SAC for discrete actions (Christodoulou 2019): a categorical actor, twin Q networks with one
output per action, expectations over the action distribution instead of samples, α learned
towards a target entropy of ``target_entropy_scale · log(actions)``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch.nn import functional as F

from optkit.drl.agents.base import Agent, OffPolicyConfig
from optkit.drl.agents.networks import CategoricalActor, SoftActorCritic
from optkit.drl.common import mlp
from optkit.drl.replay import Batch
from optkit.errors import OptkitError


@dataclass(frozen=True)
class DiscreteSACConfig(OffPolicyConfig):
    policy_learning_rate: float = 3e-4
    """Adam learning rate of the actor (and of the temperature)"""
    q_learning_rate: float = 3e-4
    """Adam learning rate of the Q networks"""
    tau: float = 0.005
    """target network update rate"""
    alpha: float = 0.2
    """entropy temperature α (its start value when autotune is on)"""
    autotune: bool = True
    """learn α towards the target entropy"""
    target_entropy_scale: float = 0.89
    """target entropy = scale · log(number of actions) (CleanRL's 0.89)"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.target_entropy_scale <= 1:
            raise OptkitError(
                f"target_entropy_scale must be in [0, 1], got {self.target_entropy_scale}"
            )


class DiscreteSAC(SoftActorCritic, Agent):
    name = "discrete-sac"
    discrete = True
    Config = DiscreteSACConfig
    config: DiscreteSACConfig

    def __init__(
        self,
        observation_space: gym.spaces.Space,
        action_space: gym.spaces.Space,
        config: DiscreteSACConfig,
        device: torch.device,
        seed: int,
    ) -> None:
        super().__init__(observation_space, action_space, config, device, seed)
        h, n = config.hidden, self.n_actions
        self.build_soft(
            CategoricalActor(self.obs_dim, n, h).to(device),
            mlp(self.obs_dim, h, n).to(device),
            mlp(self.obs_dim, h, n).to(device),
            config.alpha,
            (config.policy_learning_rate, config.q_learning_rate, config.policy_learning_rate),
            device,
        )
        self.target_entropy = config.target_entropy_scale * math.log(n)

    def act(self, obs: np.ndarray, step: int = 0, explore: bool = False) -> Any:
        if explore and step < self.config.learning_starts:
            return self.random_action()
        with torch.no_grad():
            probs, _ = self.actor(self.obs_tensor(obs))
        if explore:
            return int(torch.multinomial(probs[0], 1).item())
        return int(probs[0].argmax().item())

    def update(self, batch: Batch) -> dict[str, float]:
        c = self.config
        alpha = self.temperature().detach()
        with torch.no_grad():
            next_probs, next_log_probs = self.actor(batch.next_obs)
            next_q = torch.min(self.q1_target(batch.next_obs), self.q2_target(batch.next_obs))
            soft_value = (next_probs * (next_q - alpha * next_log_probs)).sum(dim=1)
            target = batch.rewards + c.gamma * (1.0 - batch.terminated) * soft_value
        taken = batch.actions.long().unsqueeze(1)
        q1 = self.q1(batch.obs).gather(1, taken).squeeze(1)
        q2 = self.q2(batch.obs).gather(1, taken).squeeze(1)
        q_loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        self.q_optimiser.zero_grad()
        q_loss.backward()
        self.q_optimiser.step()

        probs, log_probs = self.actor(batch.obs)
        with torch.no_grad():
            q = torch.min(self.q1(batch.obs), self.q2(batch.obs))
        actor_loss = (probs * (alpha * log_probs - q)).sum(dim=1).mean()
        self.actor_optimiser.zero_grad()
        actor_loss.backward()
        self.actor_optimiser.step()
        if c.autotune:
            entropy_gap = (probs.detach() * (log_probs.detach() + self.target_entropy)).sum(dim=1)
            alpha_loss = -(self.temperature() * entropy_gap).mean()
            self.step_temperature(alpha_loss)
        self.update_targets(c.tau)
        return {
            "losses/q": q_loss.item(),
            "losses/actor": actor_loss.item(),
            "losses/alpha": float(self.temperature().item()),
        }
