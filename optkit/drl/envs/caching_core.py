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
            reward += ep.play_slot(*ep.decisions_from_action(slot_agent.act(ep.slot_observation())))
    ep.solution("t2drl")            # the decisions, in the standard format

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

from dataclasses import dataclass

import numpy as np

from optkit.errors import OptkitError
from optkit.instances.caching import CachingInstance
from optkit.instances.solution import CachingSolution

#: The ``index`` frame action has 2^(servers·models) values; above this it is refused.
MAX_INDEX_ACTIONS = 4096
#: Shares are softmax(share_scale · a), a ∈ [−1, 1].
SHARE_SCALE = 3.0
#: Request-count history (frames) in the frame observation.
HISTORY_FRAMES = 2
#: Features per (server, user) entry of the slot observation.
SLOT_FEATURES = 8


@dataclass(frozen=True)
class SlotRequests:
    """The requests of one global slot, gathered once per episode (arrays aligned)."""

    index: np.ndarray  #: request indices, file order
    user: np.ndarray
    home: np.ndarray
    model: np.ndarray
    rows: np.ndarray  #: 0..n−1
    action_at: np.ndarray  #: flat position of each request's (share, steps, route) triple
    steps_min: np.ndarray  #: float
    steps_span: np.ndarray  #: steps_max − steps_min, float
    seconds_per_step: np.ndarray  #: of the request's model
    overhead_s: np.ndarray  #: of the request's model
    radio_s_share: np.ndarray  #: radio delay at share 1 (s)
    cloud_delay_s: np.ndarray  #: cloud delay except the radio (s)
    max_delay_s: np.ndarray
    cloud_quality: np.ndarray
    allowed: np.ndarray  #: [n, servers] who may serve the request
    transfer_s: np.ndarray  #: [n, servers], +inf where not allowed
    options: np.ndarray  #: [n, options] server of each routing option (−1 cloud, padded −1)
    n_options: np.ndarray  #: options per request (2 + links of its home server), float
    observation: np.ndarray  #: the slot observation without the cache columns
    cached_at: np.ndarray  #: flat positions of the "cached at home" entries in it


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
        self._wq, self._wd, self._wc, self._wl = c.w_quality, c.w_delay, c.w_cost, c.w_late
        self.cache = np.zeros((c.frames, E, M), bool)
        # per played slot: (edge mask, serving server, share, steps), assembled by solution()
        self._played: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
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
        self._slots = [self._gather(g) for g in range(c.n_slots)]
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
        over = (cache * self.c.size_gb).sum(axis=1) > self.c.storage_gb
        if over.any():
            raise ValueError(f"cache exceeds the storage of servers {np.flatnonzero(over)}")
        loaded = float(((cache & ~self.previous_cache) * self.c.size_gb).sum())
        self.frame += 1
        self.cache[self.frame] = cache
        self.gb_loaded[self.frame] = loaded
        # [server, model]: cached at some server linked to this one (slot observations)
        self._cached_nearby = (self.c.linked.astype(float) @ cache) > 0
        K = self.c.slots_per_frame
        self.slot, self._frame_end = self.frame * K, (self.frame + 1) * K
        self._skip_empty()
        return -self.c.w_switch * loaded

    def _skip_empty(self) -> None:
        while self.slot < self._frame_end and not len(self._slots[self.slot].index):
            self.slot += 1

    @property
    def current(self) -> SlotRequests:
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

    def first_fit(self, server: int, models: np.ndarray) -> np.ndarray:
        """Take ``models`` in order, keeping each that still fits the server's storage."""
        chosen = np.zeros(self.n_models, bool)
        room = float(self.c.storage_gb[server])
        for m in models.tolist():
            size = float(self.c.size_gb[m])
            if size <= room:
                chosen[m] = True
                room -= size
        return chosen

    # ---------------------------------------------------------------- slot actions

    def decisions_from_action(
        self, action: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(server, share, steps) of the current slot's requests named by a slot action
        (before the cache fallback and the step-capacity repair of :meth:`play_slot`)."""
        s = self.current
        own = np.clip(np.asarray(action, float).reshape(-1)[s.action_at], -1.0, 1.0)
        z = np.exp(self.share_scale * own[:, 0])
        if self.n_servers == 1:
            share = z / z.sum()
        else:
            share = z / np.bincount(s.home, z, minlength=self.n_servers)[s.home]
        unit = (own[:, 1:] + 1.0) * 0.5  # steps and route scores in [0, 1]
        steps = s.steps_min + np.rint(unit[:, 0] * s.steps_span)
        if self.n_servers == 1:  # options [cloud, home]
            server = np.where(own[:, 2] >= 0.0, 0, -1)
        else:
            pick = np.minimum(unit[:, 1] * s.n_options, s.n_options - 1.0).astype(np.int64)
            server = s.options[s.rows, pick]
        return server, share, steps

    def play_slot(self, server: np.ndarray, share: np.ndarray, steps: np.ndarray) -> float:
        """Play the current slot with these decisions (aligned with :attr:`current`); returns
        the slot's utility. An edge server that may not serve a request (no link, or the model
        is not cached) means the cloud; steps are rounded and clipped into the model's range;
        step capacity is repaired as the module doc says. Shares must be > 0 and sum to ≤ 1
        per home server."""
        if self.frame_done:
            raise RuntimeError("play_slot: no slot left in this frame (call begin_frame)")
        s, c = self.current, self.c
        steps = np.clip(np.rint(steps), s.steps_min, s.steps_min + s.steps_span)
        cache = self.cache[self.frame]
        if self.n_servers == 1:  # only home (0) or the cloud
            at = s.home
            edge = (server >= 0) & cache[0, s.model]
        else:
            at = np.where(server >= 0, server, s.home)
            edge = (server >= 0) & s.allowed[s.rows, at] & cache[at, s.model]
            at = np.where(edge, at, s.home)  # keeps the edge terms finite
        if edge.any():
            load = np.bincount(at, np.where(edge, steps, 0.0), minlength=self.n_servers)
            if (load > c.step_capacity).any():
                edge = self._repair(edge, at, share, steps, load)
        utility = self._utility(edge, at, share, steps)
        total = float(utility.sum())
        self.slot_utility[self.slot] = total
        self._played[self.slot] = (edge, at, share, steps)
        self.slot += 1
        self._skip_empty()
        return total

    def _utility(
        self, edge: np.ndarray, at: np.ndarray, share: np.ndarray, steps: np.ndarray
    ) -> np.ndarray:
        """Each current request's utility, served at ``at`` where ``edge`` else at the cloud:
        the evaluator's formulas (optkit/evaluate.py, _caching_scores) element by element, so
        the values are the evaluator's to the bit; a zero weight's term is skipped (x − 0·y =
        x exactly)."""
        s, c = self.current, self.c
        generation = (s.seconds_per_step * steps + s.overhead_s) / c.speed[at]
        if self.n_servers > 1:
            generation = s.transfer_s[s.rows, at] + generation
        delay = s.radio_s_share / share + np.where(edge, generation, s.cloud_delay_s)
        quality = np.where(edge, self._qtable[s.model, steps.astype(np.int64)], s.cloud_quality)
        utility = self._wq * quality - self._wd * delay
        if self._wc:
            utility -= self._wc * np.where(edge, c.cost_per_step[at] * steps, c.cloud_cost)
        if self._wl:
            utility -= self._wl * np.maximum(0.0, delay - s.max_delay_s)
        return utility

    def _repair(
        self,
        edge: np.ndarray,
        at: np.ndarray,
        share: np.ndarray,
        steps: np.ndarray,
        load: np.ndarray,
    ) -> np.ndarray:
        """Move the lowest-gain requests of overloaded servers to the cloud until they fit
        (gain: utility at the server minus utility at the cloud, same share; ties by order)."""
        capacity = self.c.step_capacity
        everywhere = np.ones_like(edge)
        gain = self._utility(everywhere, at, share, steps) - self._utility(
            ~everywhere, at, share, steps
        )
        edge = edge.copy()
        for v in np.flatnonzero(load > capacity).tolist():
            members = np.flatnonzero(edge & (at == v))
            order = members[np.argsort(gain[members], kind="stable")]
            cut = int(np.searchsorted(np.cumsum(steps[order]), load[v] - capacity[v])) + 1
            edge[order[:cut]] = False
        return edge

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
        cache = self.cache[self.frame]
        obs[s.cached_at] = cache[s.home, s.model]
        if self.n_servers > 1:
            obs[s.cached_at + 1] = self._cached_nearby[s.home, s.model]
        return obs

    # ---------------------------------------------------------------- the solution

    def objective(self) -> float:
        """Σ slot utilities − w_s · GB loaded of what has been played."""
        return float(self.slot_utility.sum() - self.c.w_switch * self.gb_loaded.sum())

    def solution(self, method: str) -> CachingSolution:
        """The episode's decisions in the standard format (needs a finished episode)."""
        if not self.done:
            raise RuntimeError("the episode is not finished")
        R = self.c.n_requests
        server, bandwidth, steps = np.full(R, -1, np.int64), np.ones(R), np.zeros(R)
        for g, (edge, at, share, slot_steps) in self._played.items():
            idx = self._slots[g].index
            server[idx] = np.where(edge, at, -1)
            bandwidth[idx] = share
            steps[idx] = np.where(edge, slot_steps, 0.0)
        return CachingSolution.from_arrays(
            self.instance.name, method, self.cache, server, bandwidth, steps
        )

    # ---------------------------------------------------------------- set-up

    def _gather(self, g: int) -> SlotRequests:
        c, E, U = self.c, self.n_servers, self.n_users
        idx = c.slot_requests(g)
        n = len(idx)
        home, model, user = c.req_home[idx], c.req_model[idx], c.req_user[idx]
        smin = c.steps_min[model].astype(float)
        smax = c.steps_max[model]
        degree = np.array([len(nb) for nb in self._neighbours], np.int64)
        options = np.full((n, 2 + int(degree.max())), -1, np.int64)
        options[:, 1] = home
        for i, h in enumerate(home.tolist()):
            options[i, 2 : 2 + degree[h]] = self._neighbours[h]
        entry = home * U + user  # (server, user) entry of the request
        grid = np.zeros((E * U, SLOT_FEATURES))
        grid[entry, 0] = 1.0
        grid[entry, 3] = c.radio_s_share[idx]
        grid[entry, 4] = c.cloud_delay_s[idx]
        grid[entry, 5] = (c.seconds_per_step[model] * smax + c.overhead_s[model]) / c.speed[home]
        grid[entry, 6] = c.req_max_delay_s[idx]
        grid[entry, 7] = self._qtable[model, smax] - c.req_cloud_quality[idx]
        need = np.bincount(home, smax.astype(float), minlength=E)
        extra = np.concatenate(
            [
                np.bincount(home, minlength=E) / U,
                np.divide(c.step_capacity, need, out=np.zeros(E), where=need > 0),
                [g // c.slots_per_frame / c.frames, g % c.slots_per_frame / c.slots_per_frame],
            ]
        )
        return SlotRequests(
            index=idx,
            user=user,
            home=home,
            model=model,
            rows=np.arange(n),
            action_at=(3 * entry)[:, None] + np.arange(3),
            steps_min=smin,
            steps_span=smax - smin,
            seconds_per_step=c.seconds_per_step[model],
            overhead_s=c.overhead_s[model],
            radio_s_share=c.radio_s_share[idx],
            cloud_delay_s=c.cloud_delay_s[idx],
            max_delay_s=c.req_max_delay_s[idx],
            cloud_quality=c.req_cloud_quality[idx],
            allowed=c.allowed[idx],
            transfer_s=c.transfer_s[idx],
            options=options,
            n_options=(2 + degree[home]).astype(float),
            observation=np.concatenate([grid.ravel(), extra]).astype(np.float32),
            cached_at=entry * SLOT_FEATURES + 1,
        )
