"""The scheduling papers' learned systems (references §3), as agents on the ``scheduling`` env.

- ``smcoedge`` — SMCoEdge's top-k DQN (Xu et al., TMC 2024; code ``TopkDQN.py``): the
  Q-network has one output per server, the k servers with the largest Q-values are the task's
  subset (ε-greedy: a uniform random k-subset). Each selected server gets its own target: the
  i-th selected server (ranked by the online Q(s)) is regressed on r + γ·(i-th largest
  Q_target(s')). The env runs with ``action=k-subset`` (exactly k servers, k = 3 as in the
  authors' ``main.py``, or fewer when there are fewer servers: min(3, servers), as the
  ``smcoedge`` preset), so it plays SMCoEdge instances (``exact_servers``) and, with k fixed,
  AMCoEdge ones, as the AMCoEdge paper compares it. *Assumed*: the acting rank order is not
  stored in replay (the subset is), so the rank at update time comes from the online network.
- ``drlcoedge`` — DRLCoEdge as AMCoEdge's ``Baselines/DRLCoEdge`` re-implements it (not the
  original DDPG): a DQN choosing one partner server besides the task's local one (the local
  one: alone); the env's ``action=partner``; fractions by water-filling (the authors' CWA).
- ``ddrl-amsa`` — diffusion SAC (:mod:`optkit.drl.agents.diffusion_sac`) choosing a server
  subset out of every allowed one (AMCoEdge's action space), fractions by water-filling. The
  name "DDRL-AMSA" appears in no public source; the public descendant is LAD-TS, whose agent
  defaults it takes where they fit (γ 0.95, lr 1e-4 / 1e-3 / 3e-4, α 0.05 learned, 5 steps).
  *optkit's choices*, measured on the small presets: widths 64 (LAD-TS: 20), a 20 000
  transition buffer (LAD-TS: 1 000), rewards
  times 100 (make-spans here are ~10 ms: unscaled, the entropy bonus would drown them), and
  observations standardised by running statistics (on ``smcoedge`` small, 8 000 steps: held-out
  cost 0.106 with, 0.129 without). The DQN systems get the same reward scale and
  normalisation, so the comparison is of the learners, not of the input scaling.

Reward everywhere is the env's −cost_n (make-span, or φ·T_dl for a failed task with the
instance's φ; the authors' code uses −2·T_dl for SMCoEdge / DRLCoEdge and −10·T_dl for
AMCoEdge). The DQN constants are the authors' (``main.py``: 2 × 20 hidden units, Adam 1e-3,
γ = 0.9, memory 1024, batch 32, learning from step 200 every 10 steps, target replaced every
200 learning steps, ε-greedy reaching 0.99 greedy after ~1000 learning steps).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from math import comb
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from optkit.drl.agents.diffusion_sac import DiffusionSAC, DiffusionSACConfig, RunningNorm
from optkit.drl.agents.dqn import DQN, DQNConfig
from optkit.drl.common import mlp
from optkit.drl.replay import Batch
from optkit.errors import OptkitError
from optkit.solvers.scheduling.online_methods import DEFAULT_K


@dataclass(frozen=True)
class CoEdgeDQNConfig(DQNConfig):
    hidden: tuple[int, ...] = (20, 20)
    """widths of the hidden layers (the authors': 2 × 20)"""
    learning_rate: float = 1e-3
    """Adam learning rate (the authors': 1e-3)"""
    gamma: float = 0.9
    """discount factor (the authors': 0.9)"""
    buffer_size: int = 1024
    """replay memory (the authors': 1024)"""
    batch_size: int = 32
    """transitions per gradient step (the authors': 32)"""
    learning_starts: int = 200
    """env steps before learning starts (the authors': 200)"""
    train_frequency: int = 10
    """env steps between learning calls (the authors': 10)"""
    target_network_frequency: int = 200
    """gradient steps between target copies (the authors': 200)"""
    end_e: float = 0.01
    """final exploration ε (the authors' greedy probability reaches 0.99)"""
    exploration_steps: int = 10_000
    """env steps of linearly falling ε (the authors': +0.001 greedy per learning step)"""
    reward_scale: float = 100.0
    """rewards (−seconds) times this enter replay (optkit's: make-spans are ~10 ms here)"""
    normalise_obs: bool = True
    """standardise observations by running statistics of the training ones (optkit's)"""


class _CoEdgeDQN(DQN):
    """A DQN whose replay holds rewards times ``reward_scale`` and whose Q-networks start with
    the running observation normaliser (shared by the online and target networks)."""

    family = "scheduling"
    config: CoEdgeDQNConfig

    def __init__(
        self,
        observation_space: gym.spaces.Space,
        action_space: gym.spaces.Space,
        config: CoEdgeDQNConfig,
        device: torch.device,
        seed: int,
    ) -> None:
        super().__init__(observation_space, action_space, config, device, seed)
        self.norm = RunningNorm(self.obs_dim, config.normalise_obs).to(device)
        self.q, self.q_target = self.wrap(self.q), self.wrap(self.q_target)

    def wrap(self, net: nn.Module) -> nn.Sequential:
        return nn.Sequential(self.norm, net)

    def remember(
        self, obs: np.ndarray, action: Any, reward: float, next_obs: np.ndarray, terminated: bool
    ) -> None:
        self.norm.observe(np.asarray(obs, np.float32).reshape(-1))
        super().remember(obs, action, reward * self.config.reward_scale, next_obs, terminated)


class DRLCoEdge(_CoEdgeDQN):
    """DQN over partner servers (see the module doc)."""

    name = "drlcoedge"
    Config = CoEdgeDQNConfig
    config: CoEdgeDQNConfig

    @classmethod
    def env_options(cls, config: Any) -> dict[str, Any]:
        return {"action": "partner"}


@dataclass(frozen=True)
class SMCoEdgeConfig(CoEdgeDQNConfig):
    k: int | None = None
    """servers per task (None: min(3, servers), as the smcoedge preset; the authors' k = 3)"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.k is not None and self.k < 1:
            raise OptkitError(f"k must be >= 1, got {self.k}")


class SMCoEdge(_CoEdgeDQN):
    """Top-k DQN (see the module doc): Q-values per server; the env's action is the index of
    the chosen k-subset in ``itertools.combinations(range(servers), k)``."""

    name = "smcoedge"
    Config = SMCoEdgeConfig
    config: SMCoEdgeConfig

    @classmethod
    def env_options(cls, config: Any) -> dict[str, Any]:
        # without k the env takes min(3, servers), the same rule as below
        return {"action": "k-subset"} if config.k is None else {"action": "k-subset", "k": config.k}

    def __init__(
        self,
        observation_space: gym.spaces.Space,
        action_space: gym.spaces.Space,
        config: SMCoEdgeConfig,
        device: torch.device,
        seed: int,
    ) -> None:
        n = int(getattr(action_space, "n", 0))
        # the scheduling env observes 4 values per server and one more (its module doc)
        width = int(np.prod(getattr(observation_space, "shape", None) or (0,)))
        servers = (width - 1) // 4
        k = config.k if config.k is not None else min(DEFAULT_K, servers)
        if width != 4 * servers + 1 or not 1 <= k <= servers or comb(servers, k) != n:
            raise OptkitError(
                f"agent smcoedge (k = {k}) needs the scheduling env's k-subset action with k = {k}, "
                f"got {action_space}"
            )
        super().__init__(observation_space, action_space, config, device, seed)
        self.servers, self.k = servers, k
        self.subsets = list(itertools.combinations(range(servers), k))
        self.index = {s: i for i, s in enumerate(self.subsets)}
        # the Q-network scores servers, not subsets
        self.q = self.wrap(mlp(self.obs_dim, config.hidden, servers)).to(device)
        self.q_target = self.wrap(mlp(self.obs_dim, config.hidden, servers)).to(device)
        self.q_target.load_state_dict(self.q.state_dict())
        self.optimiser = torch.optim.Adam(self.q.parameters(), lr=config.learning_rate)
        self.members = torch.as_tensor(self.subsets, device=device)  # [subsets, k]

    def random_action(self) -> Any:
        return int(self.rng.integers(len(self.subsets)))

    def act(self, obs: np.ndarray, step: int = 0, explore: bool = False) -> Any:
        if explore and self.rng.random() < self.epsilon(step):
            return self.random_action()
        with torch.no_grad():
            q = self.q(self.obs_tensor(obs))[0]
        top = torch.topk(q, self.k).indices.tolist()
        return self.index[tuple(sorted(int(j) for j in top))]

    def update(self, batch: Batch) -> dict[str, float]:
        c = self.config
        chosen = self.members[batch.actions.long()]  # [batch, k] servers, ascending
        q_all = self.q(batch.obs)
        q = q_all.gather(1, chosen)
        # rank the chosen servers by the online Q (largest first), as the acting top-k did
        order = q.detach().argsort(dim=1, descending=True)
        q = q.gather(1, order)
        with torch.no_grad():
            next_top = torch.topk(self.q_target(batch.next_obs), self.k, dim=1).values
            not_done = (1.0 - batch.terminated).unsqueeze(1)
            target = batch.rewards.unsqueeze(1) + c.gamma * not_done * next_top
        loss = F.mse_loss(q, target)
        self.optimiser.zero_grad()
        loss.backward()
        if c.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.q.parameters(), c.max_grad_norm)
        self.optimiser.step()
        if (self.updates + 1) % c.target_network_frequency == 0:
            self.q_target.load_state_dict(self.q.state_dict())
        return {"losses/td": loss.item(), "losses/q_values": q.mean().item()}


@dataclass(frozen=True)
class DDRLAMSAConfig(DiffusionSACConfig):
    hidden: tuple[int, ...] = (64, 64)
    """widths of the hidden layers (optkit's; LAD-TS: 20)"""
    buffer_size: int = 20_000
    """replay capacity (optkit's; LAD-TS: 1000)"""
    batch_size: int = 64
    """transitions per gradient step (LAD-TS: 64)"""
    learning_starts: int = 300
    """env steps before learning (LAD-TS: 300)"""
    reward_scale: float = 100.0
    """rewards (−seconds) times this enter replay (optkit's: make-spans are ~10 ms here)"""
    normalise_obs: bool = True
    """standardise observations by running statistics of the training ones (optkit's)"""
    logits: str = "standardised"
    """softmax(L·standardised x_0) (optkit's, measured here; diffusion-sac: softmax(x_0))"""
    target_entropy: float | None = -1.0
    """target entropy in nats (LAD-TS: −1, an annealed α; measured here)"""


class DDRLAMSA(DiffusionSAC):
    """Diffusion SAC over the allowed server subsets (see the module doc)."""

    name = "ddrl-amsa"
    family = "scheduling"
    Config = DDRLAMSAConfig
    config: DDRLAMSAConfig
