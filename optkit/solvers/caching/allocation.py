"""Exact per-slot allocation: given the caches of a frame, the optimal routing, bandwidth shares
and integer denoising steps of one slot (DESIGN §2.4). The DRL hybrid agent, the heuristics'
``optimal`` variant and ``bnb`` all build on :func:`allocate_slot`.

How it is exact. With routing and steps fixed, the shares of each home server are exact in
closed form (:func:`optkit.solvers.caching.shares.group_shares`). For the discrete part the
solver runs a small depth-first branch-and-bound over each request's route (cloud, or a server
that caches its model), and under each complete route over the steps, with this bound: for
every late multiplier vector λ ∈ [0, 1]^n,

    slot value ≤ Σ_e h_e(λ) + Σ_r [w_q·q_r − (w_d + w_l λ_r)·κ_r − w_c·cost_r + w_l λ_r D_r]

where κ_r is the request's delay without the radio part and h_e(λ) = −(Σ_{r home e}
√((w_d + w_l λ_r) a_r))² (Lagrangian duality on the late penalty). The right side is separable
per request, so its maximum over steps under each server's step capacity is a fractional
knapsack over the linear pieces of the quality curves — integral, because the breakpoints and
capacities are integers. λ = 0 gives the bound without late penalties (exact whenever nobody
is late); the λ of the best solution found tightens it. With w_l = 0 the shares no longer depend
on the routing and the bound is exact at once (greedy steps are optimal for a fixed routing).

Several servers: set packing. Each server lists the sets Q of requests it could serve at once
(their steps_min fit its capacity; listed once per slot), each worth G(Q; λ), the best gain
over the cloud with its steps greedy (valued for all sets at once). The best packing
(disjoint sets, one per server: a dynamic program over the servers whose state is the
requests taken that later servers could also serve — a few on linked servers in a ring — or,
for small packings, a depth-first search) bounds the slot from above and its routing is a
solution: when nobody is late at λ = 0, or the packing at the best solution's own λ reaches
that solution's exact value, the slot is solved without a search (most slots). When λ leaves
a gap (requests late in the best routing), a packing with each home server's bandwidth priced
at the best solution's ν instead (:class:`_Priced`: every request keeps its late penalty
exactly) usually closes it. Else the search above runs with packing bounds for the routes it
fixes. Small single-server slots keep the greedy-route bounds. Packings too large to list (a
server with more than :data:`MAX_PACKING_SETS` sets; edgeaigc's large preset: 8 servers, ~45
requests a slot) are solved as a MILP by HiGHS (:func:`_packing_milp`): a binary per
(request, serving option), the step pieces as bounded amounts, one knapsack row per server;
its solution is re-valued exactly, and HiGHS's optimum is trusted to :data:`MILP_TRUST`
relative (its own tolerances), the one place where the allocation relies on another solver.

One serving server with many requests (more than :data:`KNAPSACK_MIN_REQUESTS`; t2drl's large
preset): the greedy-route bounds ignore the step capacity of the requests not yet routed, and
the search took up to minutes on one slot. These slots go to
:mod:`optkit.solvers.caching.slot_knapsack`: bandwidth priced per home server, the step
capacity kept whole as a knapsack solved by dynamic programming, branching on routes and steps.

Units: seconds, denoising steps; values are utilities (the objective's units).
"""

from __future__ import annotations

import itertools
import math
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from optkit.instances.compiled import CompiledCaching
from optkit.solvers.caching.shares import group_shares, late_dual_constant, priced_radio_value

# Relative and absolute optimality tolerance of the slot search (well below the 1e-6 at which
# exact methods must agree, so a whole instance's sum stays within it).
_REL_TOL = 1e-10
_ABS_TOL = 1e-11
# Set packings tried (λ = 0, then the late multipliers of the last solution) before the search.
_PACKING_ROUNDS = 6
# Packings with the bandwidth priced at the best solution's shares, tried after those.
_PRICED_ROUNDS = 3


@dataclass(frozen=True)
class SlotAllocation:
    """The optimal decisions of one slot's requests.

    ``requests``: global request indices (the slot's requests in file order); aligned with it,
    ``server`` (−1 = cloud), ``bandwidth`` (share of the home server's bandwidth), ``steps``
    (0 at the cloud). ``value``: Σ of the requests' utilities (the slot's part of the objective).
    ``nodes``: branch-and-bound nodes the search visited.
    """

    requests: np.ndarray
    server: np.ndarray
    bandwidth: np.ndarray
    steps: np.ndarray
    value: float
    nodes: int


@dataclass(frozen=True)
class _EdgeOption:
    """Serving a request at edge server ``server``: its delay without the radio part is
    ``fixed_s + per_step_s·s``; its quality pieces are (start, end, slope) in steps."""

    server: int
    fixed_s: float
    per_step_s: float
    cost_per_step: float
    steps_min: int
    steps_max: int
    quality_min: float  # q(steps_min)
    pieces: tuple[tuple[int, int, float], ...]


@dataclass(frozen=True)
class _Request:
    index: int
    home: int
    model: int
    radio_s: float
    max_delay_s: float
    cloud_delay_s: float  # delay without the radio part at the cloud
    cloud_gain: float  # w_q·quality − w_c·cost at the cloud
    edges: tuple[_EdgeOption, ...]  # every server that may serve it (cache permitting)


class SlotData:
    """Per-slot request data of one instance, built once (see :func:`slot_data`)."""

    def __init__(self, c: CompiledCaching, global_slot: int) -> None:
        self.global_slot = global_slot
        self.frame = global_slot // c.slots_per_frame
        self.w_quality, self.w_delay, self.w_cost, self.w_late = (
            c.w_quality,
            c.w_delay,
            c.w_cost,
            c.w_late,
        )
        self.step_capacity = [int(x) for x in c.step_capacity]
        reqs = []
        for r in c.slot_requests(global_slot).tolist():
            m = int(c.req_model[r])
            bp_s = c.breakpoint_steps[m]
            bp_q = c.breakpoint_quality[m]
            pieces = tuple(
                (
                    int(bp_s[j]),
                    int(bp_s[j + 1]),
                    float((bp_q[j + 1] - bp_q[j]) / (bp_s[j + 1] - bp_s[j])),
                )
                for j in range(len(bp_s) - 1)
            )
            edges = []
            for v in np.flatnonzero(c.allowed[r]).tolist():
                inv_speed = 1.0 / float(c.speed[v])
                edges.append(
                    _EdgeOption(
                        server=v,
                        fixed_s=float(c.transfer_s[r, v]) + float(c.overhead_s[m]) * inv_speed,
                        per_step_s=float(c.seconds_per_step[m]) * inv_speed,
                        cost_per_step=float(c.cost_per_step[v]),
                        steps_min=int(c.steps_min[m]),
                        steps_max=int(c.steps_max[m]),
                        quality_min=float(bp_q[0]),
                        pieces=pieces,
                    )
                )
            reqs.append(
                _Request(
                    index=r,
                    home=int(c.req_home[r]),
                    model=m,
                    radio_s=float(c.radio_s_share[r]),
                    max_delay_s=float(c.req_max_delay_s[r]),
                    cloud_delay_s=float(c.cloud_delay_s[r]),
                    cloud_gain=c.w_quality * float(c.req_cloud_quality[r])
                    - c.w_cost * float(c.cloud_cost),
                    edges=tuple(edges),
                )
            )
        self.requests = tuple(reqs)
        self.indices = np.array([q.index for q in reqs], np.int64)
        homes = sorted({q.home for q in reqs})
        self.groups = [[i for i, q in enumerate(reqs) if q.home == e] for e in homes]
        self.home_group = [homes.index(q.home) for q in reqs]  #: each request's group


_SLOT_DATA: weakref.WeakKeyDictionary[CompiledCaching, list[SlotData | None]] = (
    weakref.WeakKeyDictionary()
)


def slot_data(c: CompiledCaching, global_slot: int) -> SlotData:
    """The slot's request data, built on first use and kept with the compiled instance."""
    table = _SLOT_DATA.get(c)
    if table is None:
        table = [None] * c.n_slots
        _SLOT_DATA[c] = table
    data = table[global_slot]
    if data is None:
        data = SlotData(c, global_slot)
        table[global_slot] = data
    return data


# --------------------------------------------------------------------------------------------
# The search


class _Search:
    """Depth-first branch-and-bound of one slot with a fixed cache."""

    def __init__(self, data: SlotData, cache: np.ndarray) -> None:
        self.data = data
        self.cache = cache
        self.memo: dict[tuple[object, ...], _Rows] = {}
        self.packing_failed = False
        self.priced: _Priced | None = None  #: the bandwidth prices of the best priced bound
        reqs = data.requests
        self.n = len(reqs)
        # routes per request: -1 (cloud) then the caching servers (index into req.edges)
        self.routes: list[list[int]] = []
        for q in reqs:
            allowed = [-1] + [k for k, opt in enumerate(q.edges) if cache[opt.server, q.model]]
            self.routes.append(allowed)
        self.best_value = -math.inf
        self.best: tuple[list[int], list[int]] | None = None
        self.best_lam: list[float] = [0.0] * self.n
        self.nodes = 0

    # --- exact value of a complete decision ------------------------------------------------

    def exact(self, route: list[int], steps: list[int]) -> tuple[float, list[float], list[float]]:
        """Utility of a complete decision with optimal shares: (value, shares, λ)."""
        d = self.data
        reqs = d.requests
        value = 0.0
        slack = [0.0] * self.n
        for i, q in enumerate(reqs):
            k = route[i]
            if k < 0:
                kappa = q.cloud_delay_s
                value += q.cloud_gain - d.w_delay * kappa
            else:
                opt = q.edges[k]
                s = steps[i]
                kappa = opt.fixed_s + opt.per_step_s * s
                value += (
                    d.w_quality * _quality(opt, s)
                    - d.w_cost * opt.cost_per_step * s
                    - d.w_delay * kappa
                )
            slack[i] = q.max_delay_s - kappa
        shares = [0.0] * self.n
        lam = [0.0] * self.n
        for group in d.groups:
            b, v, lg = group_shares(
                [reqs[i].radio_s for i in group], [slack[i] for i in group], d.w_delay, d.w_late
            )
            value += v
            for j, i in enumerate(group):
                shares[i] = b[j]
                lam[i] = lg[j]
        return value, shares, lam

    def offer(self, route: list[int], steps: list[int]) -> float:
        value, _, lam = self.exact(route, steps)
        if value > self.best_value:
            self.best_value = value
            self.best = (list(route), list(steps))
            self.best_lam = lam
        return value

    def tolerance(self) -> float:
        return _ABS_TOL + _REL_TOL * abs(self.best_value) if self.best is not None else 0.0

    # --- bounds ----------------------------------------------------------------------------

    def dual_constant(self, lam: list[float]) -> float:
        d = self.data
        reqs = d.requests
        total = 0.0
        for group in d.groups:
            total += late_dual_constant(
                [reqs[i].radio_s for i in group], [lam[i] for i in group], d.w_delay, d.w_late
            )
        for i, q in enumerate(reqs):
            total += d.w_late * lam[i] * q.max_delay_s
        return total

    def greedy_steps(
        self,
        route: list[int],
        lam: list[float],
        low: list[int],
        high: list[int],
    ) -> tuple[float, list[int]] | None:
        """max Σ_r [gain − (w_d + w_l λ_r)·κ_r] over steps in [low, high] under each server's
        capacity, for a complete route (None: the minimum steps do not fit)."""
        d = self.data
        reqs = d.requests
        steps = [0] * self.n
        value = 0.0
        used: dict[int, int] = {}
        pieces: dict[int, list[tuple[float, int, int]]] = {}
        for i, q in enumerate(reqs):
            k = route[i]
            weight = d.w_delay + d.w_late * lam[i]
            if k < 0:
                value += q.cloud_gain - weight * q.cloud_delay_s
                continue
            opt = q.edges[k]
            s0 = low[i]
            steps[i] = s0
            v = opt.server
            used[v] = used.get(v, 0) + s0
            value += (
                d.w_quality * _quality(opt, s0)
                - d.w_cost * opt.cost_per_step * s0
                - weight * (opt.fixed_s + opt.per_step_s * s0)
            )
            per_step = weight * opt.per_step_s + d.w_cost * opt.cost_per_step
            hi = high[i]
            for start, end, slope in opt.pieces:
                a, b = max(start, s0), min(end, hi)
                if b > a:
                    marginal = d.w_quality * slope - per_step
                    if marginal > 0:
                        pieces.setdefault(v, []).append((marginal, b - a, i))
        for v, s_used in used.items():
            room = d.step_capacity[v] - s_used
            if room < 0:
                return None
            items = pieces.get(v)
            if not items:
                continue
            items.sort(reverse=True)
            for marginal, length, i in items:
                if room <= 0:
                    break
                take = length if length <= room else room
                steps[i] += take
                value += marginal * take
                room -= take
        return value, steps

    def route_bound(self, route: list[int], depth: int, lam: list[float]) -> float:
        """Bound for routes fixed on requests < depth: the fixed part with its capacities, the
        rest at their best route alone (capacities ignored)."""
        d = self.data
        reqs = d.requests
        partial = list(route)
        low = [0] * self.n
        high = [0] * self.n
        for i in range(depth):
            k = route[i]
            if k >= 0:
                opt = reqs[i].edges[k]
                low[i], high[i] = opt.steps_min, opt.steps_max
        for i in range(depth, self.n):
            partial[i] = -1
        result = self.greedy_steps(partial, lam, low, high)
        if result is None:
            return -math.inf
        value = result[0]
        for i in range(depth, self.n):
            q = reqs[i]
            weight = d.w_delay + d.w_late * lam[i]
            cloud = q.cloud_gain - weight * q.cloud_delay_s
            best = cloud
            for k in self.routes[i][1:]:
                best = max(best, _best_alone(d, q.edges[k], weight))
            value += best - cloud
        return value + self.dual_constant(lam)

    # --- search ----------------------------------------------------------------------------

    def run(self) -> None:
        n = self.n
        zero = [0.0] * n
        # incumbent: every request at the cloud, then the λ = 0 greedy route
        self.offer([-1] * n, [0] * n)
        self._descend([-1] * n, 0, zero)

    def _bound(self, route: list[int], depth: int) -> float:
        """min over λ ∈ {0, the best solution's multipliers} and the bandwidth prices of the
        fast path (when it priced them) of the set packing with the routes of requests <
        depth fixed; each packing's solution is offered."""
        bound = math.inf
        zero = [0.0] * self.n
        kinds: list[tuple[list[float], _Priced | None]] = [(zero, None)]
        if self.priced is not None:
            kinds.insert(0, (zero, self.priced))
        if self.data.w_late > 0 and any(x > 0 for x in self.best_lam):
            kinds.append((self.best_lam, None))
        for lam, priced in kinds:
            packing = (
                None
                if self.packing_failed
                else _pack(self.data, self.cache, lam, route, depth, self.memo, priced)
            )
            if packing is None:  # too large: the weaker bound from now on
                self.packing_failed = True
                value = self.route_bound(route, depth, lam)
            else:
                value, packed, steps = packing
                if packed:
                    self.offer(packed, steps)
            bound = min(bound, value)
            if bound <= self.best_value + self.tolerance():
                break
        return bound

    def _descend(self, route: list[int], depth: int, zero: list[float]) -> None:
        self.nodes += 1
        if depth == self.n:
            self._solve_route(route)
            return
        # children ordered by the request's best value alone (best first)
        d = self.data
        q = d.requests[depth]
        scored = []
        for k in self.routes[depth]:
            gain = (
                q.cloud_gain - d.w_delay * q.cloud_delay_s
                if k < 0
                else _best_alone(d, q.edges[k], d.w_delay)
            )
            scored.append((gain, k))
        scored.sort(reverse=True)
        for _, k in scored:
            route[depth] = k
            if len(scored) > 1 or depth + 1 == self.n:
                bound = self._bound(route, depth + 1)
                if bound <= self.best_value + self.tolerance():
                    continue
            self._descend(route, depth + 1, zero)
        route[depth] = -1

    def _solve_route(self, route: list[int]) -> None:
        reqs = self.data.requests
        low = [0] * self.n
        high = [0] * self.n
        for i, k in enumerate(route):
            if k >= 0:
                low[i], high[i] = reqs[i].edges[k].steps_min, reqs[i].edges[k].steps_max
        self._solve_box(route, low, high, 0)

    def _solve_box(self, route: list[int], low: list[int], high: list[int], depth: int) -> None:
        """Steps of a fixed route within the box [low, high]: bound, primal, split."""
        self.nodes += 1
        candidates = [[0.0] * self.n]
        if self.data.w_late > 0 and any(x > 0 for x in self.best_lam):
            candidates.append(self.best_lam)
        bound = math.inf
        maximiser: list[int] | None = None
        for lam in candidates:
            result = self.greedy_steps(route, lam, low, high)
            if result is None:
                return
            value = result[0] + self.dual_constant(lam)
            if value < bound:
                bound, maximiser = value, result[1]
        assert maximiser is not None
        if bound <= self.best_value + self.tolerance():
            return
        # primal: the bound's maximiser, then the maximiser under its own λ (a few rounds)
        steps = maximiser
        local_best, local_steps = -math.inf, steps
        for _ in range(4):
            value, _, lam = self.exact(route, steps)
            if value > self.best_value:
                self.best_value = value
                self.best = (list(route), list(steps))
                self.best_lam = lam
            if value > local_best:
                local_best, local_steps = value, steps
            result = self.greedy_steps(route, lam, low, high)
            assert result is not None
            bound = min(bound, result[0] + self.dual_constant(lam))
            if bound <= self.best_value + self.tolerance():
                return
            if result[1] == steps:
                break
            steps = result[1]
        # split on the request whose steps differ most between bound maximiser and best primal
        gap_i, gap = -1, 0
        for i in range(self.n):
            diff = abs(maximiser[i] - local_steps[i])
            if route[i] >= 0 and diff > gap:
                gap_i, gap = i, diff
        if gap_i < 0:
            # the bound's maximiser is the local primal but the bound is not attained: split the
            # widest box instead (terminates: boxes shrink to points, where bound = value)
            widths = [high[i] - low[i] if route[i] >= 0 else -1 for i in range(self.n)]
            gap_i = max(range(self.n), key=lambda i: widths[i])
            if widths[gap_i] <= 0:
                return
            cut = (low[gap_i] + high[gap_i]) // 2
        else:
            cut = (maximiser[gap_i] + local_steps[gap_i]) // 2
        left_high = list(high)
        left_high[gap_i] = cut
        right_low = list(low)
        right_low[gap_i] = cut + 1
        first, second = (left_high, low), (high, right_low)
        if maximiser[gap_i] > cut:  # visit the side holding the bound's maximiser first
            first, second = second, first
        self._solve_box(route, first[1], first[0], depth + 1)
        self._solve_box(route, second[1], second[0], depth + 1)


def _quality(opt: _EdgeOption, s: int) -> float:
    q = opt.quality_min
    for start, end, slope in opt.pieces:
        if s <= start:
            break
        q += slope * (min(s, end) - start)
    return q


def _best_alone(d: SlotData, opt: _EdgeOption, weight: float) -> float:
    """max over steps of w_q·q − weight·κ − w_c·cost for one request at one server alone
    (a breakpoint maximises the piecewise-linear concave function)."""
    per_step = weight * opt.per_step_s + d.w_cost * opt.cost_per_step
    s = opt.steps_min
    value = d.w_quality * opt.quality_min - per_step * s - weight * opt.fixed_s
    best = value
    for start, end, slope in opt.pieces:
        value += (d.w_quality * slope - per_step) * (end - start)
        best = max(best, value)
    return best


class _Priced:
    """Request values with each home server's bandwidth priced at ν ≥ 0 (the second bound of
    :mod:`optkit.solvers.caching.lagrange`, here per slot): for any shares with Σ b ≤ 1 per
    home server, a request's utility is at most its value with b chosen alone against the
    price, and the slot's value at most Σ_h ν_h + Σ_r (that value at the request's route and
    steps). Each request keeps its late penalty exactly — where λ ∈ [0, 1] relaxes it, which
    is loose when the best routing has requests late — and its value is concave in its steps
    (the priced radio value is concave and non-increasing in the delay), so a set's best steps
    under a capacity are greedy over unit steps. With ``ν`` of the best solution's shares (the
    multiplier of their Σ b ≤ 1) the priced value of that solution's own routing and steps is
    its exact value."""

    def __init__(self, d: SlotData, nu: list[float]) -> None:
        self.d = d
        self.key = tuple(nu)
        reqs = d.requests
        self.constant = float(sum(nu))
        self.base: dict[tuple[int, int], float] = {}  # value at steps_min − cloud
        self.steps: dict[tuple[int, int], np.ndarray] = {}  # unit-step increments
        for i, q in enumerate(reqs):
            price = nu[d.home_group[i]]
            radio = priced_radio_value(
                q.radio_s, q.max_delay_s, np.array([q.cloud_delay_s]), price, d.w_delay, d.w_late
            )
            cloud = q.cloud_gain - d.w_delay * q.cloud_delay_s + float(radio[0])
            self.constant += cloud
            for k, opt in enumerate(q.edges):
                steps = np.arange(opt.steps_min, opt.steps_max + 1)
                quality = np.full(len(steps), opt.quality_min)
                for start, end, slope in opt.pieces:
                    quality += slope * (np.clip(steps, start, end) - start)
                kappa = opt.fixed_s + opt.per_step_s * steps
                value = (
                    d.w_quality * quality
                    - d.w_cost * opt.cost_per_step * steps
                    - d.w_delay * kappa
                    + priced_radio_value(
                        q.radio_s, q.max_delay_s, kappa, price, d.w_delay, d.w_late
                    )
                )
                self.base[i, k] = float(value[0]) - cloud
                self.steps[i, k] = np.diff(value)

    def positive(self, i: int, k: int, capacity: int) -> bool:
        """Whether serving request i by option k alone can beat the cloud."""
        opt = self.d.requests[i].edges[k]
        if opt.steps_min > capacity:
            return False
        room = capacity - opt.steps_min
        gains = self.steps[i, k][:room]
        return self.base[i, k] + float(np.max(np.cumsum(gains), initial=0.0)) > 0

    def gain(self, chosen: list[tuple[int, int]], capacity: int) -> tuple[float, list[int]] | None:
        """G(Q) over the cloud of serving exactly ``chosen`` at one server, steps greedy over
        unit steps under ``capacity`` (an upper bound of the exact greedy choice when
        round-off breaks concavity), with the steps; None if steps_min do not fit."""
        reqs = self.d.requests
        room = capacity
        value = 0.0
        steps = []
        for i, k in chosen:
            opt = reqs[i].edges[k]
            room -= opt.steps_min
            value += self.base[i, k]
            steps.append(opt.steps_min)
        if room < 0:
            return None
        if room and chosen:
            gains = np.concatenate([self.steps[key] for key in chosen])
            owner = np.repeat(np.arange(len(chosen)), [len(self.steps[key]) for key in chosen])
            order = np.argsort(-gains, kind="stable")[:room]
            order = order[gains[order] > 0]
            value += float(gains[order].sum())
            for j in owner[order].tolist():
                steps[j] += 1
        return value, steps


def _prices(d: SlotData, shares: list[float], lam: list[float]) -> list[float]:
    """ν per home server of a solution's optimal shares: (w_d + w_l λ_r)·a_r / b_r², the
    derivative of each request's radio terms, equal over a group at its optimum (the median
    guards against round-off); 0 where no request of the group has a radio delay."""
    nu = []
    for group in d.groups:
        values = [
            (d.w_delay + d.w_late * lam[i]) * d.requests[i].radio_s / (shares[i] * shares[i])
            for i in group
            if d.requests[i].radio_s > 0 and shares[i] > 0
        ]
        nu.append(float(np.median(values)) if values else 0.0)
    return nu


# --------------------------------------------------------------------------------------------
# Fast path: set packing at λ = 0


def gain_terms(
    d: SlotData, q: _Request, opt: _EdgeOption, lam: float
) -> tuple[float, list[tuple[float, int]]]:
    """(gain over the cloud at steps_min, [(marginal per step, length)] of the quality
    pieces with a positive marginal, in the curve's order: decreasing, the curve being
    concave) of serving q at opt's server with late multiplier ``lam``."""
    weight = d.w_delay + d.w_late * lam
    per_step = weight * opt.per_step_s + d.w_cost * opt.cost_per_step
    base = (
        d.w_quality * opt.quality_min
        - per_step * opt.steps_min
        - weight * opt.fixed_s
        - (q.cloud_gain - weight * q.cloud_delay_s)
    )
    pieces = []
    for start, end, slope in opt.pieces:
        marginal = d.w_quality * slope - per_step
        if marginal > 0:
            pieces.append((marginal, end - start))
    return base, pieces


def _greedy(
    d: SlotData, chosen: list[tuple[int, int]], capacity: int, lam: list[float]
) -> tuple[float, list[int]] | None:
    """Gain over the cloud (late multipliers ``lam``) of serving exactly ``chosen`` ((position,
    option index) pairs) at one server, steps greedy under ``capacity`` (exact for a fixed
    set: each gain is concave in the steps above steps_min); None if steps_min do not fit."""
    room = capacity
    value = 0.0
    steps = []
    pieces: list[tuple[float, int, int]] = []
    for j, (i, k) in enumerate(chosen):
        q = d.requests[i]
        opt = q.edges[k]
        room -= opt.steps_min
        steps.append(opt.steps_min)
        base, own = gain_terms(d, q, opt, lam[i])
        value += base
        pieces += [(marginal, length, j) for marginal, length in own]
    if room < 0:
        return None
    pieces.sort(key=lambda x: -x[0])
    for marginal, length, j in pieces:
        if room <= 0:
            break
        take = length if length <= room else room
        steps[j] += take
        value += marginal * take
        room -= take
    return value, steps


def _set_members(
    d: SlotData, v: int, options: list[tuple[int, int]]
) -> tuple[list[int], list[tuple[tuple[int, int], ...]], np.ndarray]:
    """Every set Q of ``options`` whose steps_min fit server v's capacity, the empty set first:
    (bitmasks of request positions, the sets, membership [set, option]); memoised on
    the slot (the sets do not depend on λ or ν)."""
    memo = d.__dict__.setdefault("_set_members", {})
    key = (v, tuple(options))
    found = memo.get(key)
    if found is not None:
        return found
    capacity = d.step_capacity[v]
    masks: list[int] = [0]
    sets: list[tuple[tuple[int, int], ...]] = [()]
    members: list[tuple[int, ...]] = [()]
    chosen: list[tuple[int, int]] = []
    positions: list[int] = []

    def extend(start: int, used: int, mask: int) -> None:
        for j in range(start, len(options)):
            i, k = options[j]
            smin = d.requests[i].edges[k].steps_min
            if used + smin > capacity:
                continue
            chosen.append((i, k))
            positions.append(j)
            masks.append(mask | 1 << i)
            sets.append(tuple(chosen))
            members.append(tuple(positions))
            extend(j + 1, used + smin, mask | 1 << i)
            chosen.pop()
            positions.pop()

    extend(0, 0, 0)
    table = np.zeros((len(masks), len(options)), bool)
    for row, held in enumerate(members):
        table[row, list(held)] = True
    memo[key] = found = (masks, sets, table)
    return found


def _server_sets(
    d: SlotData,
    v: int,
    options: list[tuple[int, int]],
    lam: list[float],
    priced: _Priced | None = None,
) -> list[tuple[float, int, tuple[tuple[int, int], ...]]]:
    """Every set Q of ``options`` whose steps_min fit server v's capacity, as (G(Q), bitmask of
    request positions, Q), G descending (the empty set included, G = 0). At late multipliers
    ``lam`` G is :func:`_greedy`'s, for all sets at once: the positive pieces of every option
    in one order of decreasing marginal, each set filling its room (capacity − Σ steps_min)
    along that order; with ``priced``, :meth:`_Priced.gain` set by set."""
    masks, sets, held = _set_members(d, v, options)
    capacity = d.step_capacity[v]
    if priced is not None:
        gains = [0.0] + [priced.gain(list(q), capacity)[0] for q in sets[1:]]  # type: ignore[index]
    else:
        base = np.empty(len(options))
        smin = np.empty(len(options))
        marginal, length, owner = [], [], []
        for j, (i, k) in enumerate(options):
            q = d.requests[i]
            opt = q.edges[k]
            smin[j] = opt.steps_min
            base[j], own = gain_terms(d, q, opt, lam[i])
            for m, n in own:
                marginal.append(m)
                length.append(n)
                owner.append(j)
        members = held.astype(float)
        order = np.argsort(-np.array(marginal), kind="stable")
        m_sorted = np.array(marginal)[order]
        owned = members[:, np.array(owner, np.int64)[order]] * np.array(length, float)[order]
        room = capacity - members @ smin
        before = np.cumsum(owned, axis=1) - owned
        take = np.clip(room[:, None] - before, 0.0, owned)
        gains = (members @ base + take @ m_sorted).tolist()
        gains[0] = 0.0
    rows = [(g, mask, q) for g, mask, q in zip(gains, masks, sets, strict=True)]
    rows.sort(key=lambda row: -row[0])
    return rows


_Rows = list[tuple[float, int, tuple[tuple[int, int], ...]]]

#: The packing lists every server's sets Q while each has at most this many and the
#: depth-first packing search, where it runs, looks at most at this many rows; past either,
#: the packing is HiGHS's MILP (:func:`_packing_milp`). The sets are listed once per slot and
#: valued for all λ at once.
MAX_PACKING_SETS = 5_000
MAX_PACKING_NODES = 200_000


class _TooLarge(Exception):
    """A set packing beyond the limits above."""


def _count_subsets(smin: list[int], capacity: int) -> int:
    """Subsets of items with sizes ``smin`` that fit ``capacity`` (counting DP)."""
    ways = [0] * (capacity + 1)
    ways[0] = 1
    for size in smin:
        for used in range(capacity, size - 1, -1):
            ways[used] += ways[used - size]
    return sum(ways)


def _pack(
    d: SlotData,
    cache: np.ndarray,
    lam: list[float],
    route: list[int] | None = None,
    depth: int = 0,
    memo: dict[tuple[object, ...], _Rows] | None = None,
    priced: _Priced | None = None,
) -> tuple[float, list[int], list[int]] | None:
    """The best set packing for late multipliers ``lam``: each server serves a set Q of the
    requests whose model it caches, the sets disjoint, worth Σ G(Q) + the slot's all-cloud
    constant; requests < ``depth`` keep their ``route`` (an index into requests[i].edges, or
    −1 for the cloud). An upper bound of the slot's value under those routes (Lagrangian
    duality on the late penalty), attained when nobody is late at its shares and λ = 0.
    Returns (bound, route, steps); −inf when the fixed routes do not fit; None when the
    packing is too large to list (:data:`MAX_PACKING_SETS`, :data:`MAX_PACKING_NODES`) and
    HiGHS's MILP of it ends without an optimum. Sets Q are memoised on the slot for λ = 0 and
    in ``memo`` otherwise. With ``priced`` the bandwidth is priced instead
    of the late penalty (``lam`` is ignored): the same packing over :class:`_Priced`'s gains."""
    reqs = d.requests
    constant = 0.0
    if priced is not None:
        constant = priced.constant
        lam = [0.0] * len(reqs)
    else:
        for i, q in enumerate(reqs):
            weight = d.w_delay + d.w_late * lam[i]
            constant += q.cloud_gain - weight * q.cloud_delay_s + d.w_late * lam[i] * q.max_delay_s
        for group in d.groups:
            constant += late_dual_constant(
                [reqs[i].radio_s for i in group], [lam[i] for i in group], d.w_delay, d.w_late
            )
    zero = priced is None and not any(lam)
    if zero:
        memo = d.__dict__.setdefault("_packing", {})
    elif memo is None:
        memo = {}
    per_server = d.__dict__.get("_packing_options")
    if per_server is None:
        # per server: (position, option index, model, worth serving there at λ = 0)
        per_server = {}
        for i, q in enumerate(reqs):
            cloud = q.cloud_gain - d.w_delay * q.cloud_delay_s
            for k, opt in enumerate(q.edges):
                per_server.setdefault(opt.server, []).append(
                    (i, k, q.model, _best_alone(d, opt, d.w_delay) > cloud)
                )
        d.__dict__["_packing_options"] = per_server
    servers: list[tuple[int, list[tuple[int, int]], int, int]] = []
    for v in sorted(per_server):
        options = []
        required = forbidden = 0
        for i, k, m, positive in per_server[v]:
            if not cache[v, m]:
                continue
            if i < depth:
                assert route is not None
                if route[i] != k:
                    forbidden |= 1 << i  # fixed elsewhere (still listed: stable memo keys)
                else:
                    required |= 1 << i  # fixed here, worth it or not
                    options.append((i, k))
                    continue
            if priced is not None:
                positive = priced.positive(i, k, d.step_capacity[v])
            elif not zero:
                q = reqs[i]
                weight = d.w_delay + d.w_late * lam[i]
                positive = _best_alone(d, q.edges[k], weight) > (
                    q.cloud_gain - weight * q.cloud_delay_s
                )
            if positive:
                options.append((i, k))  # else never better than the cloud here
        options.sort()
        servers.append((v, options, required, forbidden))
    found = _listed_packing(d, servers, lam, priced, memo, None if zero else tuple(lam))
    if found is None:
        found = _packing_milp(d, servers, lam, priced)
        if found is None:
            return None
    best_value, packed, steps = found
    if not math.isfinite(best_value):
        return -math.inf, [], []
    return constant + best_value, packed, steps


def _listed_packing(
    d: SlotData,
    servers: list[tuple[int, list[tuple[int, int]], int, int]],
    lam: list[float],
    priced: _Priced | None,
    memo: dict[tuple[object, ...], _Rows],
    lam_key: tuple[float, ...] | None,
) -> tuple[float, list[int], list[int]] | None:
    """The packing of :func:`_pack` over every server's listed sets Q (``servers``: per server
    its options, the requests it must serve and those it must not, as bitmasks): (Σ G, route,
    steps), or None when a server has more than :data:`MAX_PACKING_SETS` sets or
    :func:`_best_packing` is beyond its limits. Each server's sets are memoised in ``memo``
    under its options, ``lam_key`` and the prices."""
    reqs = d.requests
    lists = []
    for v, options, required, forbidden in servers:
        prices = None if priced is None else priced.key
        key: tuple[object, ...] = (v, tuple(options), lam_key, prices)
        rows = memo.get(key)
        if rows is None:
            smin = [reqs[i].edges[k].steps_min for i, k in options]
            if _count_subsets(smin, d.step_capacity[v]) > MAX_PACKING_SETS:
                return None
            rows = _server_sets(d, v, options, lam, priced)
            memo[key] = rows
        if required or forbidden:
            rows = [r for r in rows if r[1] & required == required and not r[1] & forbidden]
            if not rows:
                return -math.inf, [], []
        lists.append((v, rows))
    found = _best_packing(lists, len(reqs))
    if found is None:
        return None
    best_value, best_pick = found
    if not math.isfinite(best_value):
        return -math.inf, [], []
    packed = [-1] * len(reqs)
    steps = [0] * len(reqs)
    for (v, rows), idx in zip(lists, best_pick, strict=True):
        chosen = list(rows[idx][2])
        if chosen:
            result = _set_gain(d, chosen, d.step_capacity[v], lam, priced)
            assert result is not None
            for (i, k), s_i in zip(chosen, result[1], strict=True):
                packed[i], steps[i] = k, s_i
    return best_value, packed, steps


def _set_gain(
    d: SlotData,
    chosen: list[tuple[int, int]],
    capacity: int,
    lam: list[float],
    priced: _Priced | None,
) -> tuple[float, list[int]] | None:
    """G(Q) of one server's set and its steps: :func:`_greedy` at ``lam``, or
    :meth:`_Priced.gain` with ``priced``."""
    return _greedy(d, chosen, capacity, lam) if priced is None else priced.gain(chosen, capacity)


#: HiGHS's packing MILP (:func:`_packing_milp`) is trusted to this relative gap (its own
#: tolerances): its solution, re-valued exactly, is the packing's value unless HiGHS's dual
#: bound lies further above it, and then that bound is.
MILP_TRUST = 1e-9
_HIGHS: list[Any] = []  # one HiGHS object per process, made on first use


def _packing_model(
    d: SlotData,
    servers: list[tuple[int, list[tuple[int, int]], int, int]],
    lam: list[float],
    priced: _Priced | None,
) -> tuple[Any, list[tuple[int, int, int]]] | None:
    """The MILP of :func:`_packing_milp` as a ``highspy.HighsLp`` and its binaries as
    (column, request, option); None when no request may be served at the edge."""
    import highspy

    reqs = d.requests
    cost: list[float] = []
    lower: list[float] = []
    upper: list[float] = []
    integer: list[bool] = []
    entries: list[tuple[int, int, float]] = []  # (row, column, coefficient)
    row_upper: list[float] = []
    request_row: dict[int, int] = {}
    y_columns: list[tuple[int, int, int]] = []

    def column(c: float, lo: float, hi: float, is_integer: bool) -> int:
        cost.append(c)
        lower.append(lo)
        upper.append(hi)
        integer.append(is_integer)
        return len(cost) - 1

    def row(hi: float) -> int:
        row_upper.append(hi)
        return len(row_upper) - 1

    for v, options, required, forbidden in servers:
        capacity = row(float(d.step_capacity[v]))
        for i, k in options:
            if forbidden >> i & 1:
                continue
            opt = reqs[i].edges[k]
            pieces: list[tuple[float, float]]
            if priced is None:
                base, own = gain_terms(d, reqs[i], opt, lam[i])
                pieces = [(m, float(n)) for m, n in own]
            else:
                base = priced.base[i, k]
                pieces = [(float(g), 1.0) for g in priced.steps[i, k] if g > 0]
            y = column(base, 1.0 if required >> i & 1 else 0.0, 1.0, True)
            y_columns.append((y, i, k))
            entries.append((capacity, y, float(opt.steps_min)))
            if i not in request_row:
                request_row[i] = row(1.0)
            entries.append((request_row[i], y, 1.0))
            if pieces:
                link = row(0.0)  # Σ t ≤ (total length)·y
                entries.append((link, y, -sum(n for _, n in pieces)))
                for marginal, n in pieces:
                    t = column(marginal, 0.0, n, False)
                    entries.append((capacity, t, 1.0))
                    entries.append((link, t, 1.0))
    if not y_columns:
        return None
    rows, cols, values = (np.array(x) for x in zip(*entries, strict=True))
    order = np.argsort(cols, kind="stable")
    lp = highspy.HighsLp()
    lp.num_col_ = len(cost)
    lp.num_row_ = len(row_upper)
    lp.col_cost_ = np.array(cost)
    lp.col_lower_ = np.array(lower)
    lp.col_upper_ = np.array(upper)
    lp.row_lower_ = np.full(len(row_upper), -highspy.kHighsInf)
    lp.row_upper_ = np.array(row_upper)
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.searchsorted(cols[order], np.arange(len(cost) + 1)).astype(np.int32)
    lp.a_matrix_.index_ = rows[order].astype(np.int32)
    lp.a_matrix_.value_ = values[order].astype(float)
    lp.integrality_ = [
        highspy.HighsVarType.kInteger if x else highspy.HighsVarType.kContinuous for x in integer
    ]
    return lp, y_columns


def _packing_milp(
    d: SlotData,
    servers: list[tuple[int, list[tuple[int, int]], int, int]],
    lam: list[float],
    priced: _Priced | None,
) -> tuple[float, list[int], list[int]] | None:
    """The packing of :func:`_pack` as a MILP solved by HiGHS, for packings too large to list
    (edgeaigc large: 8 servers, ~50 requests a slot). A binary y per (request, serving option)
    that the packing may use — at most one per request; the fixed routes' y fixed — and per
    option its positive step pieces (at ``lam``: the quality curve's pieces; with ``priced``:
    unit steps) as amounts t ≥ 0 up to each piece's length, Σ t ≤ (their total)·y; per server
    Σ (steps_min·y + t) ≤ its step capacity. Maximising Σ base·y + Σ marginal·t is the
    packing: for a fixed y the pieces fill in order of marginal, as G(Q) does (integral:
    lengths and capacities are integers). Returns (Σ G, route, steps) like
    :func:`_listed_packing`; −inf when the fixed routes do not fit; None when HiGHS ends
    without an optimum."""
    import highspy

    from optkit.solvers.highs_threads import quiet_highs

    reqs = d.requests
    model = _packing_model(d, servers, lam, priced)
    if model is None:
        return 0.0, [-1] * len(reqs), [0] * len(reqs)
    lp, y_columns = model
    if not _HIGHS:
        highs = quiet_highs()
        highs.setOptionValue("mip_rel_gap", 0.0)
        highs.setOptionValue("mip_abs_gap", 0.0)
        _HIGHS.append(highs)
    highs = _HIGHS[0]
    highs.passModel(lp)
    highs.run()
    status = highs.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        return -math.inf, [], []
    if status != highspy.HighsModelStatus.kOptimal:
        return None
    x = highs.getSolution().col_value
    dual = float(highs.getInfo().mip_dual_bound)
    packed = [-1] * len(reqs)
    chosen: dict[int, list[tuple[int, int]]] = {}
    for y, i, k in y_columns:
        if x[y] > 0.5:
            packed[i] = k
            chosen.setdefault(reqs[i].edges[k].server, []).append((i, k))
    steps = [0] * len(reqs)
    value = 0.0
    for v, served in chosen.items():
        result = _set_gain(d, served, d.step_capacity[v], lam, priced)
        if result is None:
            return None  # HiGHS's tolerances let a set overfill: no trusted answer
        value += result[0]
        for (i, _), s_i in zip(served, result[1], strict=True):
            steps[i] = s_i
    if dual > value + MILP_TRUST * max(1.0, abs(value)):
        value = dual
    return value, packed, steps


def _best_packing(
    lists: list[tuple[int, _Rows]], n_requests: int
) -> tuple[float, list[int]] | None:
    """The best packing of ``lists`` (per server, its sets as rows (G, request bitmask, Q), G
    descending): one row per server, masks disjoint, Σ G largest. Returns (Σ G, the row index
    per server), −inf when no packing exists, or None when it is beyond the limits.

    A dynamic program over the servers (:func:`_packing_program`): a server's
    choice constrains the later servers only through the requests that later servers may also
    serve, so the state after server j is the used requests restricted to those — on linked
    servers in a ring (edgeaigc) a handful of requests, so a few dozen states. Small packings
    (:data:`PACKING_SEARCH_ROWS` sets in all) go to the depth-first search
    (:func:`_packing_search`) first, as do programs with more than :data:`MAX_PACKING_CELLS`
    (state, set) cells or masks wider than 62 requests."""
    small = sum(len(rows) for _, rows in lists) <= PACKING_SEARCH_ROWS
    if small:  # a short search costs less than the program's arrays
        found = _packing_search(lists)
        if found is not None:
            return found
    if n_requests <= 62:
        found = _packing_program(lists)
        if found is not None:
            return found
    return None if small else _packing_search(lists)


#: The packing program's largest (state, set) table at one server (past it HiGHS's MILP is
#: faster: `lfu:optimal` on an edgeaigc large instance took 71 s at 30 M cells, 12 s at
#: 0.5 M), and the block of it computed at once (memory).
MAX_PACKING_CELLS = 500_000
_PROGRAM_BLOCK = 1_000_000
#: Packings with at most this many sets in all are searched first (the search's node limit
#: still applies; past it, the program).
PACKING_SEARCH_ROWS = 256


def _packing_order(lists: list[tuple[int, _Rows]]) -> list[int]:
    """The server order of the packing program: for up to 6 servers the permutation with the
    fewest (state, set) cells by the count of shared requests (2^shared states at most), else
    index order."""
    n = len(lists)
    union = [0] * n
    for j, (_, rows) in enumerate(lists):
        for row in rows:
            union[j] |= row[1]
    if n > 6:
        return list(range(n))
    best_cost, best_order = math.inf, list(range(n))
    for order in itertools.permutations(range(n)):
        cost, before, reachable = 0.0, 0, 1.0
        after = [0] * (n + 1)
        for j in range(n - 1, -1, -1):
            after[j] = after[j + 1] | union[order[j]]
        for j, server in enumerate(order):
            states = min(reachable, 2.0 ** (before & after[j]).bit_count())
            size = len(lists[server][1])
            cost += states * size
            reachable = states * size
            before |= union[server]
        if cost < best_cost:
            best_cost, best_order = cost, list(order)
    return best_order


def _packing_program(lists: list[tuple[int, _Rows]]) -> tuple[float, list[int]] | None:
    """The dynamic program of :func:`_best_packing` (servers in :func:`_packing_order`, tables
    in blocks of :data:`_PROGRAM_BLOCK` cells); None when a server's table would exceed
    :data:`MAX_PACKING_CELLS` cells."""
    n = len(lists)
    order = _packing_order(lists)
    gains = [np.array([row[0] for row in lists[j][1]]) for j in order]
    masks = [np.array([row[1] for row in lists[j][1]], np.int64) for j in order]
    later = [0] * (n + 1)  # requests some server j.. (in this order) may serve
    for j in range(n - 1, -1, -1):
        later[j] = later[j + 1] | int(np.bitwise_or.reduce(masks[j], initial=0))

    def blocks(states: np.ndarray, j: int) -> list[slice]:
        step = max(1, _PROGRAM_BLOCK // max(1, masks[j].size))
        return [slice(a, a + step) for a in range(0, len(states), step)]

    states = [np.zeros(1, np.int64)]  # reachable used-masks (restricted) before server j
    for j in range(n):
        if states[j].size * masks[j].size > MAX_PACKING_CELLS:
            return None
        found = []
        for block in blocks(states[j], j):
            s = states[j][block]
            free = (s[:, None] & masks[j][None, :]) == 0
            following = (s[:, None] | masks[j][None, :]) & later[j + 1]
            found.append(np.unique(following[free]))
        states.append(np.unique(np.concatenate(found)))
    if not len(states[n]):
        return -math.inf, []
    # backward: value[i] = best Σ G of servers j.. from states[j][i]
    value = np.zeros(len(states[n]))
    choice: list[np.ndarray] = [np.zeros(0, np.int64)] * n
    for j in range(n - 1, -1, -1):
        values, choices = [], []
        for block in blocks(states[j], j):
            s = states[j][block]
            following = (s[:, None] | masks[j][None, :]) & later[j + 1]
            at = np.minimum(np.searchsorted(states[j + 1], following), len(states[j + 1]) - 1)
            total = gains[j][None, :] + value[at]
            total[(s[:, None] & masks[j][None, :]) != 0] = -math.inf
            best_row = total.argmax(axis=1)  # ties: the first row (the larger G here)
            choices.append(best_row)
            values.append(total[np.arange(len(s)), best_row])
        choice[j], value = np.concatenate(choices), np.concatenate(values)
    best = float(value[0])
    if not math.isfinite(best):
        return -math.inf, []
    pick = [0] * n
    state = 0
    for j in range(n):
        row = int(choice[j][int(np.searchsorted(states[j], state))])
        pick[order[j]] = row
        state = (state | int(masks[j][row])) & later[j + 1]
    return best, pick


def _packing_search(lists: list[tuple[int, _Rows]]) -> tuple[float, list[int]] | None:
    """The best packing by depth-first search over the servers' sets (fewest sets first, G
    descending), bounded by each later server's best set disjoint from the requests already
    served; None past :data:`MAX_PACKING_NODES` rows looked at (a node with long lists looks
    at many: counting nodes alone let one edgeaigc large slot run for minutes)."""
    order = sorted(range(len(lists)), key=lambda j: len(lists[j][1]))
    rows_of = [lists[j][1] for j in order]
    n = len(rows_of)
    best_value = -math.inf
    best_pick: list[int] = []
    pick = [0] * n

    budget = [MAX_PACKING_NODES]

    def spend(rows: int) -> None:
        budget[0] -= rows
        if budget[0] < 0:
            raise _TooLarge

    def best_disjoint(j: int, used: int) -> float:
        for seen, (g, mask, _) in enumerate(rows_of[j]):
            if not mask & used:
                spend(seen + 1)
                return g
        spend(len(rows_of[j]))
        return -math.inf

    def dfs(j: int, used: int, value: float) -> None:
        nonlocal best_value, best_pick
        spend(1)
        if j == n:
            if value > best_value:
                best_value, best_pick = value, list(pick)
            return
        rest = sum(best_disjoint(j2, used) for j2 in range(j + 1, n))
        for idx, (g, mask, _) in enumerate(rows_of[j]):
            if value + g + rest <= best_value:
                break  # sorted: nothing further in this list does better
            spend(1)
            if mask & used:
                continue
            pick[j] = idx
            dfs(j + 1, used | mask, value + g)

    try:
        dfs(0, 0, 0.0)
    except _TooLarge:
        return None
    if not math.isfinite(best_value):
        return -math.inf, []
    by_server = [0] * n
    for position, j in enumerate(order):
        by_server[j] = best_pick[position]
    return best_value, by_server


def _late_subgradient(
    d: SlotData, route: list[int], steps: list[int], lam: list[float]
) -> list[float]:
    """A subgradient in λ of the packing bound at its maximiser: w_l·(D_r − delay_r) with the
    delay at the λ-weighted shares (Danskin)."""
    reqs = d.requests
    grad = [0.0] * len(reqs)
    for group in d.groups:
        roots = [math.sqrt((d.w_delay + d.w_late * lam[i]) * reqs[i].radio_s) for i in group]
        total = sum(roots)
        for i, root in zip(group, roots, strict=True):
            q = reqs[i]
            radio = 0.0 if q.radio_s <= 0 or root <= 0 else q.radio_s * total / root
            k = route[i]
            if k < 0:
                kappa = q.cloud_delay_s
            else:
                opt = q.edges[k]
                kappa = opt.fixed_s + opt.per_step_s * steps[i]
            grad[i] = d.w_late * (q.max_delay_s - radio - kappa)
    return grad


#: Slots with one serving server and more requests than this that it may take go to the
#: knapsack search of :mod:`optkit.solvers.caching.slot_knapsack`; fewer are searched with the
#: greedy-route bounds, which are cheaper there (t2drl small and medium).
KNAPSACK_MIN_REQUESTS = 6


def _edge_requests(search: _Search) -> int:
    """Requests of the slot that some server caching their model may serve."""
    return sum(len(routes) > 1 for routes in search.routes)


def allocate_slot(
    c: CompiledCaching, global_slot: int, cache_of_frame: np.ndarray
) -> SlotAllocation:
    """The optimal routing, shares and steps of slot ``global_slot`` (= frame·slots_per_frame +
    slot) given ``cache_of_frame`` (bool [servers, models], the caches of that slot's frame).

    Exact to 1e-10 relative (1e-9 where a packing is HiGHS's MILP; see the module
    docstring); every returned decision is feasible.
    """
    data = slot_data(c, global_slot)
    n = len(data.requests)
    if n == 0:
        empty = np.zeros(0)
        return SlotAllocation(data.indices, np.zeros(0, np.int64), empty, empty, 0.0, 0)
    cache = np.asarray(cache_of_frame, bool)
    search = _Search(data, cache)
    servers = {opt.server for q in data.requests for opt in q.edges if cache[opt.server, q.model]}
    if len(servers) == 1 and _edge_requests(search) > KNAPSACK_MIN_REQUESTS:
        # one serving server and many requests: its step capacity is one knapsack, which the
        # greedy-route bounds ignore (t2drl large: up to minutes per slot with them)
        from optkit.solvers.caching.slot_knapsack import KnapsackSearch

        search.offer([-1] * n, [0] * n)
        KnapsackSearch(search).run()
        return _allocation(data, search)
    if len(servers) < 2:
        # one server: no coordination to find; the search with greedy bounds is fast
        search.packing_failed = True
    # fast path: set packings for late multipliers λ, an upper bound each: λ = 0, the exact
    # multipliers of the best solution so far (they certify it when it is optimal and the
    # bound has no duality gap there), else a projected subgradient step from the best λ
    lam = [0.0] * n
    tried: list[list[float]] = []
    bound, bound_lam, bound_grad = math.inf, lam, [0.0] * n
    for _ in range(0 if search.packing_failed else _PACKING_ROUNDS):
        tried.append(lam)
        packing = _pack(data, cache, lam, memo=search.memo)
        if packing is None:
            search.packing_failed = True
            break  # too large: the search alone
        value, route, steps = packing
        search.offer(route, steps)
        if value < bound:
            bound, bound_lam = value, lam
            bound_grad = _late_subgradient(data, route, steps, lam)
        if bound - search.best_value <= search.tolerance() or data.w_late <= 0:
            break
        if search.best_lam not in tried:
            lam = list(search.best_lam)
            continue
        # projected: components that would leave [0, 1] do not move
        grad = [
            0.0 if (x <= 0 and g > 0) or (x >= 1 and g < 0) else g
            for x, g in zip(bound_lam, bound_grad, strict=True)
        ]
        norm = sum(g * g for g in grad)
        if norm <= 0:
            break
        step = (bound - search.best_value) / norm
        lam = [min(1.0, max(0.0, x - step * g)) for x, g in zip(bound_lam, grad, strict=True)]
        if lam in tried:
            break
    if not search.packing_failed and data.w_late > 0:
        # the late penalty's λ leaves a gap: price the bandwidth at the best solution's ν
        # (exact at that solution; a few rounds while the priced packings improve it)
        for _ in range(_PRICED_ROUNDS):
            if search.best_value >= bound - search.tolerance() or search.best is None:
                break
            _, shares, lam = search.exact(*search.best)
            priced = _Priced(data, _prices(data, shares, lam))
            packing = _pack(data, cache, lam, memo=search.memo, priced=priced)
            if packing is None:
                break
            before = search.best_value
            value, route, steps = packing
            search.offer(route, steps)
            if value < bound:
                bound, search.priced = value, priced
            if search.best_value <= before:
                break
    if search.best_value < bound - search.tolerance():
        search.run()  # the packings do not close the gap: the full search decides
    return _allocation(data, search)


def _allocation(data: SlotData, search: _Search) -> SlotAllocation:
    """The search's best decision as a SlotAllocation."""
    assert search.best is not None
    route, steps = search.best
    value, shares, _ = search.exact(route, steps)
    server = np.array(
        [-1 if k < 0 else data.requests[i].edges[k].server for i, k in enumerate(route)], np.int64
    )
    return SlotAllocation(
        requests=data.indices,
        server=server,
        bandwidth=np.array(shares),
        steps=np.array([s if k >= 0 else 0 for k, s in zip(route, steps, strict=True)], float),
        value=value,
        nodes=search.nodes,
    )


def slot_value_key(c: CompiledCaching, global_slot: int, cache_of_frame: np.ndarray) -> int:
    """A key of the part of the cache that matters to the slot: for each request and server
    that may serve it, whether that server caches its model (as bits). Slots with equal keys
    have equal optimal allocations."""
    data = slot_data(c, global_slot)
    key = 0
    bit = 1
    for q in data.requests:
        for opt in q.edges:
            if cache_of_frame[opt.server, q.model]:
                key |= bit
            bit <<= 1
    return key
