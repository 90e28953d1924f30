"""The replay buffer every off-policy agent uses (a ring of NumPy arrays)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from optkit.drl.common import new_rng, rng_state, set_rng_state


@dataclass(frozen=True)
class Batch:
    """A sampled batch as tensors on the agent's device; ``terminated`` is 1.0 where the
    episode truly ended (no bootstrap), 0.0 otherwise (also on a time-limit truncation)."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor


class ReplayBuffer:
    """Transitions (obs, action, reward, next obs, terminated) in a ring of ``capacity``;
    uniform sampling with its own generator, so a checkpoint restores it exactly."""

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        action_shape: tuple[int, ...],
        action_dtype: type | np.dtype[Any],
        seed: int,
        device: torch.device,
    ) -> None:
        self.capacity, self.device = capacity, device
        self.obs = np.zeros((capacity, *obs_shape), np.float32)
        self.next_obs = np.zeros((capacity, *obs_shape), np.float32)
        self.actions = np.zeros((capacity, *action_shape), action_dtype)
        self.rewards = np.zeros(capacity, np.float32)
        self.terminated = np.zeros(capacity, np.float32)
        self.position, self.size = 0, 0
        self.rng = new_rng(seed)

    def __len__(self) -> int:
        return self.size

    def add(
        self, obs: np.ndarray, action: Any, reward: float, next_obs: np.ndarray, terminated: bool
    ) -> None:
        i = self.position
        self.obs[i], self.actions[i], self.rewards[i] = obs, action, reward
        self.next_obs[i], self.terminated[i] = next_obs, float(terminated)
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int) -> Batch:
        idx = self.rng.integers(0, self.size, batch_size)

        def put(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(a[idx], device=self.device)

        return Batch(
            put(self.obs),
            put(self.actions),
            put(self.rewards),
            put(self.next_obs),
            put(self.terminated),
        )

    def state_dict(self) -> dict[str, Any]:
        """The filled part of the ring as tensors, the write position and the sampler state."""
        n = self.size
        return {
            "arrays": {
                name: torch.from_numpy(getattr(self, name)[:n].copy())
                for name in ("obs", "next_obs", "actions", "rewards", "terminated")
            },
            "position": self.position,
            "size": n,
            "rng": rng_state(self.rng),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        n = int(state["size"])
        if n > self.capacity:
            raise ValueError(f"replay state holds {n} transitions, capacity is {self.capacity}")
        for name, tensor in state["arrays"].items():
            getattr(self, name)[:n] = tensor.numpy()
        self.position, self.size = int(state["position"]), n
        set_rng_state(self.rng, state["rng"])
