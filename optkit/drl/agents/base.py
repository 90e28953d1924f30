"""What every agent shares: the off-policy bookkeeping around an agent's own update rule.

An agent module (one per algorithm) defines a frozen ``Config`` dataclass and a subclass of
:class:`Agent` with its networks, ``act`` and ``update``; this base class owns the replay buffer,
the learning schedule (``learning_starts``, ``train_frequency``, ``gradient_steps``), the
agent's own random generator, and the state a checkpoint needs.

The training loop talks to an agent through four calls::

    action = agent.act(obs, step, explore=True)      # one observation, the env's action
    agent.remember(obs, action, reward, next_obs, terminated)
    losses = agent.learn(step)                        # {} or namespaced losses ("losses/q")
    agent.state_dict() / agent.load_state_dict(...)   # networks, optimisers, replay, RNG
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from optkit.drl.common import new_rng, rng_state, set_rng_state
from optkit.drl.replay import Batch, ReplayBuffer
from optkit.errors import OptkitError


@dataclass(frozen=True)
class OffPolicyConfig:
    """The fields every off-policy agent has."""

    hidden: tuple[int, ...] = (256, 256)
    """widths of the hidden layers of every network"""
    gamma: float = 0.99
    """discount factor (0: one-step targets, for decisions that do not affect later states)"""
    buffer_size: int = 100_000
    """replay buffer capacity (transitions)"""
    batch_size: int = 256
    """transitions per gradient step"""
    learning_starts: int = 1_000
    """env steps of random actions before learning starts"""
    train_frequency: int = 1
    """env steps between learning calls"""
    gradient_steps: int = 1
    """gradient steps per learning call"""
    lr_anneal_steps: int = 0
    """env steps over which every learning rate falls linearly to 0 (0: constant rates)"""

    def __post_init__(self) -> None:
        if not 0 <= self.gamma <= 1:
            raise OptkitError(f"gamma must be in [0, 1], got {self.gamma}")
        for name in ("buffer_size", "batch_size", "train_frequency", "gradient_steps"):
            if getattr(self, name) < 1:
                raise OptkitError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr_anneal_steps < 0:
            raise OptkitError(f"lr_anneal_steps must be >= 0, got {self.lr_anneal_steps}")
        if self.learning_starts < 0:
            raise OptkitError(f"learning_starts must be >= 0, got {self.learning_starts}")
        if not self.hidden or min(self.hidden) < 1:
            raise OptkitError(f"hidden must list positive layer widths, got {self.hidden}")
        for field in dataclasses.fields(self):  # every agent's learning rates, however named
            rate = getattr(self, field.name)
            if field.name.endswith("learning_rate") and not rate > 0:
                raise OptkitError(f"{field.name} must be > 0, got {rate}")


class Agent(ABC):
    """Base of every agent (see the module doc). ``discrete`` says which action spaces it
    takes: ``Discrete`` (True) or a bounded ``Box`` (False)."""

    name: ClassVar[str]
    discrete: ClassVar[bool]
    Config: ClassVar[type[OffPolicyConfig]]
    #: The instance family the agent is built for (None: any env whose spaces fit it).
    family: ClassVar[str | None] = None

    def __init__(
        self,
        observation_space: gym.spaces.Space,
        action_space: gym.spaces.Space,
        config: OffPolicyConfig,
        device: torch.device,
        seed: int,
    ) -> None:
        check_spaces(self.name, self.discrete, observation_space, action_space)
        # Box or Discrete, as check_spaces made sure
        self.observation_space: Any = cast(Any, observation_space)
        self.action_space: Any = cast(Any, action_space)
        self.config, self.device = config, device
        self.obs_dim = int(np.prod(self.observation_space.shape))
        if self.discrete:
            self.n_actions = int(self.action_space.n)
            action_shape: tuple[int, ...] = ()
            action_dtype: Any = np.int64
        else:
            self.action_dim = int(np.prod(self.action_space.shape))
            action_shape, action_dtype = (self.action_dim,), np.float32
        self.rng = new_rng(seed)
        self.replay = ReplayBuffer(
            config.buffer_size,
            (self.obs_dim,),
            action_shape,
            action_dtype,
            seed=seed + 1,
            device=device,
        )
        self.updates = 0  # gradient steps taken

    @classmethod
    def env_options(cls, config: Any) -> dict[str, Any]:
        """Env options this agent needs (e.g. a scheduling action interface); ``optkit train``
        applies them under the user's own ``--env-set``."""
        del config
        return {}

    # ------------------------------------------------------------------ the agent's own part

    @abstractmethod
    def act(self, obs: np.ndarray, step: int = 0, explore: bool = False) -> Any:
        """The env action for one observation; ``explore=False`` is the trained policy
        (deterministic: greedy, or the mean action)."""

    @abstractmethod
    def update(self, batch: Batch) -> dict[str, float]:
        """One gradient step on ``batch``; returns namespaced scalars (``losses/...``)."""

    @abstractmethod
    def networks(self) -> dict[str, nn.Module]:
        """Every module whose state a checkpoint keeps (targets included)."""

    @abstractmethod
    def optimisers(self) -> dict[str, torch.optim.Optimizer]:
        """Every optimiser whose state a checkpoint keeps."""

    def extra_state(self) -> dict[str, Any]:
        """Further tensors or numbers to checkpoint (e.g. a learned temperature)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        del state

    # ------------------------------------------------------------------ shared bookkeeping

    def random_action(self) -> Any:
        """A uniform random action from the agent's own generator."""
        if self.discrete:
            return int(self.rng.integers(self.n_actions))
        low, high = self.action_space.low, self.action_space.high
        return self.rng.uniform(low, high).astype(np.float32)

    def remember(
        self, obs: np.ndarray, action: Any, reward: float, next_obs: np.ndarray, terminated: bool
    ) -> None:
        self.replay.add(
            np.asarray(obs, np.float32).reshape(-1),
            action,
            reward,
            np.asarray(next_obs, np.float32).reshape(-1),
            terminated,
        )

    def learn(self, step: int) -> dict[str, float]:
        """Gradient steps when the schedule says so (``step`` counts env steps from 0)."""
        c = self.config
        if step < c.learning_starts or step % c.train_frequency or len(self.replay) < c.batch_size:
            return {}
        if c.lr_anneal_steps:
            self._anneal(max(0.0, 1.0 - step / c.lr_anneal_steps))
        losses: dict[str, float] = {}
        for _ in range(c.gradient_steps):
            losses = self.update(self.replay.sample(c.batch_size))
            self.updates += 1
        return losses

    def _anneal(self, fraction: float) -> None:
        """Every optimiser's learning rate at ``fraction`` of its initial value."""
        for optimiser in self.optimisers().values():
            for group in optimiser.param_groups:
                group.setdefault("initial_lr", group["lr"])
                group["lr"] = group["initial_lr"] * fraction

    def obs_tensor(self, obs: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(obs, np.float32).reshape(1, -1), device=self.device)

    def state_dict(self, replay: bool = True) -> dict[str, Any]:
        """Networks, optimisers, extra state, the agent's RNG and (optionally) the replay."""
        state: dict[str, Any] = {
            "networks": {k: m.state_dict() for k, m in self.networks().items()},
            "optimisers": {k: o.state_dict() for k, o in self.optimisers().items()},
            "extra": self.extra_state(),
            "updates": self.updates,
            "rng": rng_state(self.rng),
        }
        if replay:
            state["replay"] = self.replay.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (networks alone suffice for acting)."""
        for key, module in self.networks().items():
            module.load_state_dict(state["networks"][key])
        for key, optimiser in self.optimisers().items():
            if key in state.get("optimisers", {}):
                optimiser.load_state_dict(state["optimisers"][key])
        self.load_extra_state(state.get("extra", {}))
        self.updates = int(state.get("updates", 0))
        if "rng" in state:
            set_rng_state(self.rng, state["rng"])
        if "replay" in state:
            self.replay.load_state_dict(state["replay"])


def check_spaces(
    name: str, discrete: bool, observation_space: gym.spaces.Space, action_space: gym.spaces.Space
) -> None:
    """One clear line when an agent cannot drive an env's spaces."""
    if not isinstance(observation_space, gym.spaces.Box):
        raise OptkitError(f"agent {name} needs a vector (Box) observation, got {observation_space}")
    if discrete and not isinstance(action_space, gym.spaces.Discrete):
        raise OptkitError(
            f"agent {name} needs a discrete action space, the env's is {action_space} "
            "(use ddpg, td3 or sac)"
        )
    if not discrete and not isinstance(action_space, gym.spaces.Box):
        raise OptkitError(
            f"agent {name} needs a continuous (Box) action space, the env's is {action_space} "
            "(use dqn, ddqn or discrete-sac)"
        )
