"""Double DQN (van Hasselt, Guez, Silver 2016): DQN whose target takes the next action's argmax
from the **online** network and its value from the **target** network, which removes the
max-operator's overestimation. (A "double" DQN that takes both from the target network is
plain DQN; that mistake is common in public code.)"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from optkit.drl.agents.dqn import DQN, DQNConfig
from optkit.drl.replay import Batch


@dataclass(frozen=True)
class DoubleDQNConfig(DQNConfig):
    """Double DQN has DQN's hyperparameters."""


class DoubleDQN(DQN):
    name = "ddqn"
    Config = DoubleDQNConfig

    def td_target(self, batch: Batch) -> torch.Tensor:
        """r + γ·(1 − done)·Q_target(s', argmax_a Q_online(s', a))."""
        best = self.q(batch.next_obs).argmax(dim=1, keepdim=True)
        next_q = self.q_target(batch.next_obs).gather(1, best).squeeze(1)
        return batch.rewards + self.config.gamma * (1.0 - batch.terminated) * next_q
