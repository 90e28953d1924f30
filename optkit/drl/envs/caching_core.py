"""One caching episode over one instance, at both timescales (DESIGN §2, §7).

:class:`CachingEpisode` holds the state of an episode — the caches chosen so far and the
decisions of every slot played — and turns actions into decisions that are feasible by
construction. The Gymnasium environments of :mod:`optkit.drl.envs.caching` are thin views of
it; a pair of agents (caching per frame, allocation per slot, as T2DRL runs them) drives it
directly::

    ep = CachingEpisode(instance)
    while not ep.done:
        reward = ep.begin_frame(ep.cache_from_action(frame_agent.act(ep.frame_observation())))
        while not ep.frame_done:
            reward += ep.play_action(slot_agent.act(ep.slot_observation()))
    ep.solution("t2drl")            # the decisions, in the standard format

A fixed rule on either side: ``lfu_cache(ep)`` / ``keep_cache(ep)`` give a frame's cache, and
``ep.play_slot(*equal_allocation(ep))`` plays a slot with explicit (server, share, steps)
decisions (as an exact per-slot allocation would).

Rewards use the evaluator's formulas element by element (:func:`optkit.evaluate`, DESIGN
§2.3): a request's utility here is bit-for-bit the evaluator's, so the rewards of an episode
sum to the objective of its solution up to the order of summation.

**Frame action** (the next frame's cache), two encodings, both always feasible:

- ``index``: an integer whose bit ``e·M + m`` asks for model m at server e
  (``Discrete(2^(E·M))``, at most :data:`MAX_INDEX_ACTIONS` actions). The asked-for models of a
  server are taken in increasing index and each is kept when it still fits the storage (first
  fit), so every index names a feasible cache.
- ``scores``: a vector in [−1, 1]^(E·M); at each server the models with a positive score are
  taken by decreasing score (ties: lower index first), each kept when it still fits.

**Slot action** in [−1, 1]^(3·U) per server (``Box`` of shape ``(E·3·U,)``, laid out
``[server, user, (share, steps, route)]``); the entries of user u at server e are used when u
has a request at home server e in this slot:

- share: softmax of ``share_scale · a`` over the slot's requests at the same home server, so
  shares are > 0 and sum to 1 (``share_scale`` = 3: a share ratio of up to e⁶ ≈ 403);
- steps: ``steps_min + round((a + 1)/2 · (steps_max − steps_min))``;
- route: [−1, 1] split into equal bins over the options ``[cloud, home, linked neighbours in
  index order]`` — with one server, a < 0 is the cloud and a ≥ 0 the home server. An edge
  option whose server does not cache the model in this frame means the cloud.

**Repair** (documented, always feasible): when the steps routed to a server exceed its
``step_capacity``, its requests with the lowest gain (utility at that server minus utility at
the cloud, with the same share) move to the cloud, one by one, until the rest fit.
"""

from __future__ import annotations

import numpy as np

from optkit.drl.envs.caching_slots import SLOT_FEATURES, SlotTables
from optkit.drl.envs.caching_slots import build as build_slot
from optkit.errors import OptkitError
from optkit.evaluate import request_utility
from optkit.instances.caching import STORAGE_TOLERANCE, CachingInstance
from optkit.instances.solution import CachingSolution

#: The ``index`` frame action has 2^(servers·models) values; above this it is refused.
MAX_INDEX_ACTIONS = 4096
#: Shares are softmax(share_scale · a), a ∈ [−1, 1].
SHARE_SCALE = 3.0
#: Request-count history (frames) in the frame observation.
HISTORY_FRAMES = 2


class CachingEpisode:
    """State and decisions of one episode over a caching instance (see the module doc).

    ``frame_action`` is ``"index"`` or ``"scores"`` (the encoding of :meth:`cache_from_action`).
    Slots without requests are skipped: ``slot`` is always a slot with requests (or the end).
    """

    def __init__(
        self,
        instance: CachingInstance,
        frame_action: str = "scores",
        share_scale: float = SHARE_SCALE,
        history: int = HISTORY_FRAMES,
    ) -> None:
        if frame_action not in ("index", "scores"):
            raise ValueError(f"unknown frame action encoding {frame_action!r}")
        c = instance.compiled
        self.instance, self.c = instance, c
        self.frame_action, self.share_scale, self.history = frame_action, share_scale, history
        E, M, U = c.n_servers, c.n_models, instance.users
        self.n_servers, self.n_models, self.n_users = E, M, U
        if frame_action == "index" and (1 << (E * M)) > MAX_INDEX_ACTIONS:
            raise OptkitError(
                f"{instance.name}: the index cache action needs 2^(servers·models) = "
                f"2^{E * M} actions (at most {MAX_INDEX_ACTIONS}); use a continuous agent "
                "(per-model scores) or a smaller size"
            )
        if c.quality_table is None:
            raise OptkitError(f"{instance.name}: steps_max too large for the environment's tables")
        self._qtable = c.quality_table
        self.cache = np.zeros((c.frames, E, M), bool)
        # per played slot: (routing option, steps offset, share), assembled by solution()
        self._played: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._cache_ok = np.ones(E * M + 1, bool)  # cache.ravel() of this frame, then True
        self._size_per_entry = np.tile(c.size_gb, E)  # [servers·models]
        self._sizes, self._storage = c.size_gb.tolist(), c.storage_gb.tolist()
        self._linked = c.linked.astype(float)
        self.slot_utility = np.zeros(c.n_slots)
        self.gb_loaded = np.zeros(c.frames)
        self.counts = np.zeros((c.frames, E, M))  # home requests per frame, server, model
        np.add.at(self.counts, (c.req_frame, c.req_home, c.req_model), 1.0)
        eta_sum = np.zeros((c.frames, E))
        np.add.at(eta_sum, (c.req_frame, c.req_home), c.req_eta)
        per_server = self.counts.sum(axis=2)
        self.mean_eta = np.divide(
            eta_sum, per_server, out=np.zeros_like(eta_sum), where=per_server > 0
        )
        self.fill_ratio = c.size_gb[None, :] / c.storage_gb[:, None]  # [E, M]
        self._neighbours = [np.flatnonzero(c.linked[e]) for e in range(E)]
        self._index_caches: list[dict[int, np.ndarray]] = [{} for _ in range(E)]  # first fit memo
        self._slots = [
            build_slot(c, g, U, self._neighbours, self._qtable) for g in range(c.n_slots)
        ]
        self.frame = -1  # frames begun so far − 1
        self.slot = 0  # next global slot with requests to play (n_slots at the end)
        self._frame_end = 0  # first global slot of the next frame

    # ---------------------------------------------------------------- episode progress

    @property
    def frame_done(self) -> bool:
        """All slots of the current frame are played (also true before frame 0)."""
        return self.slot >= self._frame_end

    @property
    def done(self) -> bool:
        return self.frame == self.c.frames - 1 and self.frame_done

    @property
    def previous_cache(self) -> np.ndarray:
        """The cache in force before the next frame (the initial cache before frame 0)."""
        return self.c.initial_cache if self.frame < 0 else self.cache[self.frame]

    def begin_frame(self, cache: np.ndarray) -> float:
        """Start the next frame with ``cache`` (bool [servers, models], must fit the storage);
        returns −w_s · GB loaded (the switch part of the objective)."""
        if not self.frame_done or self.done:
            raise RuntimeError("begin_frame: the current frame is not finished or none is left")
        cache = np.asarray(cache, bool)
        size = self.c.size_gb
        if np.count_nonzero(cache @ size > self.c.storage_gb * (1 + STORAGE_TOLERANCE)):
            raise ValueError("the cache exceeds a server's storage")
        loaded = float((cache & ~self.previous_cache).ravel() @ self._size_per_entry)
        self.frame += 1
        self.cache[self.frame] = cache
        self.gb_loaded[self.frame] = loaded
        self._cache_ok[:-1] = cache.ravel()
        if self.n_servers > 1:  # [server, model]: cached at a linked server (observations)
            self._cached_nearby = ((self._linked @ cache) > 0).ravel()
        K = self.c.slots_per_frame
        self.slot, self._frame_end = self.frame * K, (self.frame + 1) * K
        self._skip_empty()
        return -self.c.w_switch * loaded

    def _skip_empty(self) -> None:
        while self.slot < self._frame_end and not len(self._slots[self.slot].index):
            self.slot += 1

    @property
    def current(self) -> SlotTables:
        """The requests of the slot to play next."""
        return self._slots[self.slot]

    # ---------------------------------------------------------------- frame actions

    def cache_from_action(self, action: np.ndarray | int) -> np.ndarray:
        """The next frame's cache (bool [servers, models]) named by a frame action."""
        E, M = self.n_servers, self.n_models
        if self.frame_action == "index":
            a, mask = int(action), (1 << M) - 1
            cache = np.zeros((E, M), bool)
            for e in range(E):
                bits = (a >> (e * M)) & mask
                memo = self._index_caches[e]
                if bits not in memo:
                    memo[bits] = self.first_fit(e, np.flatnonzero((bits >> np.arange(M)) & 1))
                cache[e] = memo[bits]
            return cache
        scores = np.asarray(action, float).reshape(E, M)
        cache = np.zeros((E, M), bool)
        for e in range(E):
            wanted = np.flatnonzero(scores[e] > 0)
            order = wanted[np.argsort(-scores[e, wanted], kind="stable")]
            cache[e] = self.first_fit(e, order)
        return cache

    def first_fit(self, server: int, models: np.ndarray | list[int]) -> np.ndarray:
        """Take ``models`` in order, keeping each that still fits the server's storage."""
        chosen = np.zeros(self.n_models, bool)
        room, sizes = self._storage[server], self._sizes
        for m in models.tolist() if isinstance(models, np.ndarray) else models:
            if sizes[m] <= room:
                chosen[m] = True
                room -= sizes[m]
        return chosen

    # ---------------------------------------------------------------- slot actions

    def _decode(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(routing option, steps offset j, share) of the current slot's requests."""
        s, E = self.current, self.n_servers
        own = np.minimum(np.maximum(np.asarray(action, float).reshape(-1)[s.action_at], -1.0), 1.0)
        z = np.exp(self.share_scale * own[:, 0])
        # softmax per home server (one server: a plain sum is cheaper than bincount)
        total = sum(z.tolist()) if E == 1 else np.bincount(s.home, z, minlength=E)[s.home]
        share = z / total
        j = np.rint((own[:, 1] + 1.0) * s.half_span).astype(np.int64)
        if E == 1:  # options [cloud, home]
            option = (own[:, 2] >= 0.0).astype(np.int64)
        else:
            option = np.minimum((own[:, 2] + 1.0) * s.half_options, s.top_option).astype(np.int64)
        return option, j, share

    def play_action(self, action: np.ndarray) -> float:
        """Play the current slot with a slot action; returns the slot's utility (the fast path
        of the slot environment: :meth:`decisions_from_action` then :meth:`play_slot`)."""
        return self._play(*self._decode(action))

    def decisions_from_action(
        self, action: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(server, share, steps) of the current slot's requests named by a slot action
        (before the cache fallback and the step-capacity repair of :meth:`play_slot`)."""
        s = self.current
        option, j, share = self._decode(action)
        return s.options[s.rows_w + option], share, s.steps_min + j

    def play_slot(self, server: np.ndarray, share: np.ndarray, steps: np.ndarray) -> float:
        """Play the current slot with these decisions (aligned with :attr:`current`); returns
        the slot's utility. An edge server that may not serve a request (no link, or the model
        is not cached) means the cloud; steps are rounded and clipped into the model's range;
        step capacity is repaired as the module doc says. Shares must be > 0 and sum to ≤ 1
        per home server."""
        s = self.current
        column = s.rows * (self.n_servers + 1) + np.asarray(server, np.int64) + 1
        j = np.clip(np.rint(steps) - s.steps_min, 0, s.span).astype(np.int64)
        return self._play(s.option_of[column], j, np.asarray(share, float))

    def _play(self, option: np.ndarray, j: np.ndarray, share: np.ndarray) -> float:
        if self.frame_done:
            raise RuntimeError("no slot left in this frame (call begin_frame)")
        s = self.current
        option = option * self._cache_ok[s.cache_key[s.rows_w + option]]  # not cached: cloud
        utility = self._utility(option, j, share)
        steps = s.steps_min + j
        server = s.options[s.rows_w + option]
        load = np.bincount(server + 1, steps, minlength=self.n_servers + 1)[1:]
        if np.count_nonzero(load > self.c.step_capacity):
            at_cloud = self._utility(0 * option, j, share)
            option = self._repair(option, server, steps, load, utility - at_cloud)
            utility = np.where(option > 0, utility, at_cloud)
        total = sum(utility.tolist())
        self.slot_utility[self.slot] = total
        self._played[self.slot] = (option, j, share)
        self.slot += 1
        self._skip_empty()
        return total

    def _utility(
        self, option: np.ndarray, j: np.ndarray, share: np.ndarray, s: SlotTables | None = None
    ) -> np.ndarray:
        """Each request's utility (of the current slot, or of ``s``) with this routing option,
        steps offset and share: the evaluator's own kernel
        (:func:`optkit.evaluate.request_utility`) on the slot's tables."""
        s = self.current if s is None else s
        key = s.rows_ws + option * s.depth + j
        delay = s.radio_s_share / share + s.delay[key]
        utility: np.ndarray = request_utility(
            self.c, s.quality_term[key], delay, s.cost_term[key], s.max_delay_s
        )
        return utility

    def _repair(
        self,
        option: np.ndarray,
        server: np.ndarray,
        steps: np.ndarray,
        load: np.ndarray,
        gain: np.ndarray,
    ) -> np.ndarray:
        """Move the lowest-gain requests of overloaded servers to the cloud until they fit
        (gain: utility at the server minus utility at the cloud, same share; ties by order)."""
        capacity = self.c.step_capacity
        option = option.copy()
        for v in np.flatnonzero(load > capacity).tolist():
            members = np.flatnonzero(server == v)
            order = members[np.argsort(gain[members], kind="stable")]
            cut = int(np.searchsorted(np.cumsum(steps[order]), load[v] - capacity[v])) + 1
            option[order[:cut]] = 0
        return option

    # ---------------------------------------------------------------- observations

    @property
    def frame_observation_size(self) -> int:
        E, M = self.n_servers, self.n_models
        return E * M * (self.history + 2) + 2 * E + 1

    def frame_observation(self) -> np.ndarray:
        """Before the next frame, from frames already played only (float32):
        ``[counts (history × servers × models), previous cache (servers × models),
        size/storage (servers × models), mean spectral efficiency / 10 (servers),
        requests per slot / users (servers), next frame / frames]``; ``counts`` are home
        requests per slot of the last ``history`` frames (most recent first, zeros before
        frame 0)."""
        c, E, M = self.c, self.n_servers, self.n_models
        nxt = self.frame + 1
        K = c.slots_per_frame
        counts = np.zeros((self.history, E, M))
        for h in range(min(self.history, nxt)):
            counts[h] = self.counts[nxt - 1 - h] / K
        last = nxt - 1
        eta = self.mean_eta[last] / 10.0 if last >= 0 else np.zeros(E)
        load = (
            self.counts[last].sum(axis=1) / K / max(self.n_users, 1) if last >= 0 else np.zeros(E)
        )
        return np.concatenate(
            [
                counts.ravel(),
                self.previous_cache.ravel().astype(float),
                self.fill_ratio.ravel(),
                eta,
                load,
                [nxt / c.frames],
            ]
        ).astype(np.float32)

    @property
    def slot_observation_size(self) -> int:
        return self.n_servers * self.n_users * SLOT_FEATURES + 2 * self.n_servers + 2

    def slot_observation(self) -> np.ndarray:
        """The slot to play (float32): per (server, user) ``[request present, model cached at
        home, cached at a linked server, radio delay at the full band (s), cloud delay except
        radio (s), generation at home at steps_max (s), max delay (s), quality at steps_max −
        cloud quality]`` (zeros where the user has no request at that home server), then per
        server ``[requests / users, step_capacity / Σ steps_max of its requests]``, then
        ``[frame / frames, slot in frame / slots per frame]``. Zeros after the last slot."""
        if self.frame_done:
            return np.zeros(self.slot_observation_size, np.float32)
        s = self.current
        obs = s.observation.copy()
        obs[s.cached_at] = self._cache_ok[s.home_model]
        if self.n_servers > 1:
            obs[s.cached_at + 1] = self._cached_nearby[s.home_model]
        return obs

    # ---------------------------------------------------------------- the solution

    def request_utilities(self) -> np.ndarray:
        """The utility of every request played so far (0 for the others), in file order."""
        out = np.zeros(self.c.n_requests)
        for g, (option, j, share) in self._played.items():
            s = self._slots[g]
            out[s.index] = self._utility(option, j, share, s)
        return out

    def objective(self) -> float:
        """Σ slot utilities − w_s · GB loaded of what has been played."""
        return float(self.slot_utility.sum() - self.c.w_switch * self.gb_loaded.sum())

    def solution(self, method: str) -> CachingSolution:
        """The episode's decisions in the standard format (needs a finished episode)."""
        if not self.done:
            raise RuntimeError("the episode is not finished")
        R = self.c.n_requests
        server, bandwidth, steps = np.full(R, -1, np.int64), np.ones(R), np.zeros(R)
        for g, (option, j, share) in self._played.items():
            s = self._slots[g]
            server[s.index] = s.options[s.rows_w + option]
            bandwidth[s.index] = share
            steps[s.index] = np.where(option > 0, s.steps_min + j, 0.0)
        return CachingSolution.from_arrays(
            self.instance.name, method, self.cache, server, bandwidth, steps
        )

    # ---------------------------------------------------------------- set-up
