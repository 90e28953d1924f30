"""Trivially learnable toy environments: a learning agent must beat random play on them by far
within a few hundred gradient steps (the tests assert learning, not only that code runs)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

DISCRETE_ID = "OptkitToyMatch-v0"
CONTINUOUS_ID = "OptkitToyTarget-v0"


class MatchContext(gym.Env):  # type: ignore[misc]
    """Observation: a one-hot context out of 4 (and the step position); reward 1 when the
    action equals the context, else 0; 8 steps per episode. Optimal return 8, random 2."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(0.0, 1.0, (5,), np.float32)
        self.action_space = gym.spaces.Discrete(4)
        self.t, self.context = 0, 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(5, np.float32)
        obs[self.context] = 1.0
        obs[4] = self.t / 8
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        self.t, self.context = 0, int(self.np_random.integers(4))
        return self._obs(), {}

    def step(self, action: int) -> Any:
        reward = 1.0 if int(action) == self.context else 0.0
        self.t += 1
        self.context = int(self.np_random.integers(4))
        return self._obs(), reward, self.t == 8, False, {}


class HitTarget(gym.Env):  # type: ignore[misc]
    """Observation x ∈ [−1, 1]²; action in [−2, 2]² (not unit bounds, to exercise the
    scaler); reward −‖a − 1.5·x‖²; 4 steps per episode. Optimal return 0, random ≈ −11."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = gym.spaces.Box(-2.0, 2.0, (2,), np.float32)
        self.t, self.x = 0, np.zeros(2, np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        self.t = 0
        self.x = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        return self.x.copy(), {}

    def step(self, action: np.ndarray) -> Any:
        reward = -float(np.sum((np.asarray(action) - 1.5 * self.x) ** 2))
        self.t += 1
        self.x = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        return self.x.copy(), reward, self.t == 4, False, {}


def register() -> None:
    for env_id, cls in ((DISCRETE_ID, MatchContext), (CONTINUOUS_ID, HitTarget)):
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=cls)
