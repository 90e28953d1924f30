"""Gymnasium environments of the caching family (DESIGN §7), views of
:class:`~optkit.drl.envs.caching_core.CachingEpisode` (actions, observations and the repair
are documented there).

- :class:`CachingSlotEnv` (``caching-slot``, short timescale): one step per slot with
  requests; the action allocates bandwidth, steps and routing. The caches come from a fixed
  *cache policy* (``lfu``: the most requested models of the last frame at each server, first
  fit; ``keep``: the initial cache) or any callable ``policy(episode) -> cache``.
- :class:`CachingFrameEnv` (``caching-frame``, long timescale): one step per frame; the action
  is the frame's cache; the frame's slots are played by a fixed *allocation rule* (``equal``,
  see :func:`equal_allocation`; ``exact``, the per-slot optimum, :func:`exact_allocation`) or
  any callable ``rule(episode) -> (server, share, steps)``.

A step's reward is its part of the objective: the utilities of the slots it plays minus
w_s · GB loaded by the frames it begins (the slot env adds the switch cost of a frame to the
step that enters it; frame 0's to the first step). So an episode's rewards sum to the
objective of :meth:`solution` as :func:`optkit.evaluate` scores it (round-off aside).
Both envs take ``options={"instance": inst}`` in ``reset`` to play a given instance.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from optkit.drl.envs.caching_core import SHARE_SCALE, CachingEpisode
from optkit.drl.envs.sources import InstanceSource
from optkit.errors import OptkitError
from optkit.instances.caching import CachingInstance
from optkit.instances.solution import CachingSolution

CachePolicy = Callable[[CachingEpisode], np.ndarray]
AllocationRule = Callable[[CachingEpisode], tuple[np.ndarray, np.ndarray, np.ndarray]]


def keep_cache(episode: CachingEpisode) -> np.ndarray:
    """Keep the cache in force (the initial cache, for ever)."""
    return episode.previous_cache.copy()


def lfu_cache(episode: CachingEpisode) -> np.ndarray:
    """At each server, the models its users requested most in the last frame (count > 0; ties
    by lower index), first fit into the storage; frame 0 keeps the initial cache."""
    last = episode.frame
    if last < 0:
        return episode.previous_cache.copy()
    counts = episode.counts[last]
    order = np.argsort(-counts, axis=1, kind="stable")  # most requested first, ties by index
    cache = np.zeros_like(episode.previous_cache)
    for e, ranked in enumerate(order.tolist()):
        asked = [m for m in ranked if counts[e, m] > 0]
        cache[e] = episode.first_fit(e, asked)
    return cache


def equal_allocation(episode: CachingEpisode) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Home server when it caches the model, else the first linked server that does, else the
    cloud; equal shares of the home server's band; each edge server splits its step capacity
    equally among the requests it serves (rounded down, clipped into the model's range; the
    repair of :meth:`CachingEpisode.play_slot` settles any excess)."""
    s = episode.current
    cache = episode.cache[episode.frame]
    options = s.options.reshape(-1, s.width)
    server = np.full(len(s.index), -1, np.int64)
    # options are [cloud, home, neighbours…]; the first that caches the model wins
    for col in range(s.width - 1, 0, -1):
        v = options[:, col]
        ok = (v >= 0) & cache[np.maximum(v, 0), s.model]
        server = np.where(ok, v, server)
    share = 1.0 / np.bincount(s.home, minlength=episode.n_servers)[s.home]
    served = np.bincount(server[server >= 0], minlength=episode.n_servers)
    budget = episode.c.step_capacity // np.maximum(served, 1)
    steps = np.where(server >= 0, budget[np.maximum(server, 0)], s.steps_min).astype(float)
    return server, share, steps


def exact_allocation(episode: CachingEpisode) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """optkit's exact per-slot optimum given the frame's cache
    (:func:`optkit.solvers.caching.allocation.allocate_slot`): with it, a frame's reward is the
    best any allocation can do under that cache (the ``hybrid`` design)."""
    # imported here: the solvers are not needed by the other rules
    from optkit.solvers.caching.allocation import allocate_slot

    best = allocate_slot(episode.c, episode.slot, episode.cache[episode.frame])
    return best.server, best.bandwidth, best.steps


CACHE_POLICIES: dict[str, CachePolicy] = {"lfu": lfu_cache, "keep": keep_cache}
ALLOCATION_RULES: dict[str, AllocationRule] = {"equal": equal_allocation, "exact": exact_allocation}


def slot_spaces(episode: CachingEpisode) -> tuple[gym.spaces.Box, gym.spaces.Box]:
    """(observation, action) spaces of the slot decisions of ``episode`` (an agent driving
    :class:`CachingEpisode` directly builds its networks from these)."""
    size = episode.slot_observation_size
    action = episode.n_servers * 3 * episode.n_users
    return (
        gym.spaces.Box(-np.inf, np.inf, (size,), np.float32),
        gym.spaces.Box(-1.0, 1.0, (action,), np.float32),
    )


def frame_spaces(episode: CachingEpisode) -> tuple[gym.spaces.Box, gym.spaces.Space[Any]]:
    """(observation, action) spaces of the frame decisions of ``episode``: ``Discrete`` for
    the ``index`` encoding, ``Box`` for ``scores``."""
    size = episode.frame_observation_size
    entries = episode.n_servers * episode.n_models
    action: gym.spaces.Space[Any] = (
        gym.spaces.Discrete(1 << entries)
        if episode.frame_action == "index"
        else gym.spaces.Box(-1.0, 1.0, (entries,), np.float32)
    )
    return gym.spaces.Box(-np.inf, np.inf, (size,), np.float32), action


def caching_dims(instance: CachingInstance) -> dict[str, int]:
    """The dimensions a caching policy's networks are built for."""
    return {
        "servers": len(instance.servers),
        "models": len(instance.models),
        "users": instance.users,
    }


class _CachingEnv(gym.Env[np.ndarray, Any]):
    """What both caching envs share: the instance source and the episode counter."""

    frame_action = "scores"

    def __init__(self, source: InstanceSource, share_scale: float = SHARE_SCALE) -> None:
        if source.family != "caching":
            raise OptkitError(f"a caching environment needs caching instances, not {source.family}")
        self.source, self.share_scale = source, share_scale
        self.next_index = 0
        first = source.get(0)
        assert isinstance(first, CachingInstance)
        self.dims = caching_dims(first)
        self.episode = self._new_episode(first)
        self.instance: CachingInstance = first

    def _new_episode(self, instance: CachingInstance) -> CachingEpisode:
        return CachingEpisode(instance, self.frame_action, self.share_scale)

    def _start(self, seed: int | None, options: dict[str, Any] | None) -> CachingEpisode:
        super().reset(seed=seed)
        options = options or {}
        if "instance" in options:
            instance = options["instance"]
        else:
            instance = self.source.get(self.next_index)
            self.next_index += 1
        if not isinstance(instance, CachingInstance):
            raise OptkitError(f"{instance.name}: a caching environment needs a caching instance")
        dims = caching_dims(instance)
        if dims != self.dims:
            raise OptkitError(
                f"{instance.name}: {show_dims(dims)}, but this environment was built for {show_dims(self.dims)}"
            )
        if not instance.requests:
            raise OptkitError(f"{instance.name}: no requests, nothing to play")
        self.instance = instance
        self.episode = self._new_episode(instance)
        return self.episode

    def get_state(self) -> dict[str, Any]:
        """What a checkpoint needs besides ``np_random`` to redo the next reset."""
        return {"next_index": self.next_index}

    def set_state(self, state: dict[str, Any]) -> None:
        self.next_index = int(state["next_index"])

    def solution(self, method: str) -> CachingSolution:
        """The finished episode's decisions (scored by :func:`optkit.evaluate`)."""
        return self.episode.solution(method)


class CachingSlotEnv(_CachingEnv):
    """Short timescale: one step per slot with requests (see the module doc)."""

    def __init__(
        self,
        source: InstanceSource,
        cache_policy: str | CachePolicy = "lfu",
        share_scale: float = SHARE_SCALE,
    ) -> None:
        super().__init__(source, share_scale)
        if isinstance(cache_policy, str):
            if cache_policy not in CACHE_POLICIES:
                raise OptkitError(
                    f"unknown cache policy {cache_policy!r} (known: {', '.join(CACHE_POLICIES)})"
                )
            cache_policy = CACHE_POLICIES[cache_policy]
        self.cache_policy = cache_policy
        self.observation_space, self.action_space = slot_spaces(self.episode)
        self._pending = 0.0

    def _enter_frames(self) -> float:
        """Begin frames (with the cache policy) until a slot is ready or the episode ends."""
        ep, reward = self.episode, 0.0
        while ep.frame_done and not ep.done:
            reward += ep.begin_frame(self.cache_policy(ep))
        return reward

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        self._start(seed, options)
        self._pending = self._enter_frames()
        return self.episode.slot_observation(), {"instance": self.instance.name}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        ep = self.episode
        reward = self._pending + ep.play_action(action)
        self._pending = 0.0
        reward += self._enter_frames()
        return ep.slot_observation(), reward, ep.done, False, {}


class CachingFrameEnv(_CachingEnv):
    """Long timescale: one step per frame (see the module doc). ``frame_action`` is
    ``"index"`` (discrete agents) or ``"scores"`` (continuous agents)."""

    def __init__(
        self,
        source: InstanceSource,
        frame_action: str = "index",
        allocation: str | AllocationRule = "equal",
        share_scale: float = SHARE_SCALE,
    ) -> None:
        if frame_action not in ("index", "scores"):
            raise OptkitError(f"unknown frame action {frame_action!r} (known: index, scores)")
        self.frame_action = frame_action
        super().__init__(source, share_scale)
        if isinstance(allocation, str):
            if allocation not in ALLOCATION_RULES:
                raise OptkitError(
                    f"unknown allocation rule {allocation!r} (known: {', '.join(ALLOCATION_RULES)})"
                )
            allocation = ALLOCATION_RULES[allocation]
        self.allocation = allocation
        self.observation_space, self.action_space = frame_spaces(self.episode)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        ep = self._start(seed, options)
        return ep.frame_observation(), {"instance": self.instance.name}

    def step(
        self, action: np.ndarray | int
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        ep = self.episode
        reward = ep.begin_frame(ep.cache_from_action(action))
        while not ep.frame_done:
            reward += ep.play_slot(*self.allocation(ep))
        return ep.frame_observation(), reward, ep.done, False, {}


def show_dims(dims: dict[str, int]) -> str:
    """``1 server, 6 models, 6 users`` from an env's ``dims``."""
    return ", ".join(f"{v} {k if v != 1 else k.rstrip('s')}" for k, v in dims.items())
