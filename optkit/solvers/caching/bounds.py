"""Upper bounds of the caching program that are *linear in the caches*, for ``bnb``.

For every slot and every late multiplier λ ∈ [0,1]^n and step price μ ≥ 0 (per server), the
slot value is at most (Lagrangian duality on the late penalty and the step capacities)

    const(λ) + Σ_v μ_v S_v + Σ_r max(0, max_{v caching m_r} δ_{r,v}(λ, μ_v))

with δ_{r,v} the best gain of serving r at v instead of the cloud, alone, its steps priced at
μ_v. Bounding the max over servers by a sum (a request counted at every server that caches its
model) separates the servers; the best μ_v is then found exactly *for each cache set* of v
(the function is convex piecewise linear in μ_v, so its minimum sits at one of its kinks), and
a backward dynamic program per server over its feasible cache sets adds the switch costs
exactly. λ comes from a good solution's slots, which makes the bound tight near it; any λ
would be valid.
"""

from __future__ import annotations

import math

import numpy as np

from optkit.errors import MethodRefused
from optkit.instances.compiled import CompiledCaching
from optkit.solvers.caching.allocation import SlotAllocation, SlotData, slot_data
from optkit.solvers.caching.shares import group_shares, late_dual_constant

#: bnb refuses instances with more cache sets than this at one server.
MAX_SETS_PER_SERVER = 50_000


def server_sets(c: CompiledCaching, e: int) -> np.ndarray:
    """Every cache set of server e that fits its storage, over the models some request that e
    may serve asks for (others are never worth storage), as bool [sets, models]."""
    useful = sorted({int(c.req_model[r]) for r in np.flatnonzero(c.allowed[:, e])})
    sizes = c.size_gb
    cap = float(c.storage_gb[e]) * (1 + 1e-9)
    rows: list[tuple[int, ...]] = []

    def extend(start: int, chosen: list[int], used: float) -> None:
        rows.append(tuple(chosen))
        if len(rows) > MAX_SETS_PER_SERVER:
            raise MethodRefused(
                f"bnb: server {e} has more than {MAX_SETS_PER_SERVER} feasible cache sets "
                "(instance beyond proof; use relax for a bound or a heuristic)"
            )
        for k in range(start, len(useful)):
            m = useful[k]
            if used + sizes[m] <= cap:
                chosen.append(m)
                extend(k + 1, chosen, used + float(sizes[m]))
                chosen.pop()

    extend(0, [], 0.0)
    out = np.zeros((len(rows), c.n_models), bool)
    for i, row in enumerate(rows):
        out[i, list(row)] = True
    return out


class SlotServerOptions:
    """One slot's requests that server v may serve, with their values at the breakpoints of
    their quality curves (a breakpoint maximises each request's piecewise-linear value at any
    step price): ``value[r, j] − μ·steps[r, j]`` is the gain over the cloud with steps priced
    at μ; rows padded with −inf."""

    def __init__(self, data: SlotData, lam: np.ndarray, v: int) -> None:
        rows_steps: list[list[float]] = []
        rows_value: list[list[float]] = []
        index: list[int] = []
        models: list[int] = []
        for q in data.requests:
            for opt in q.edges:
                if opt.server != v:
                    continue
                weight = data.w_delay + data.w_late * float(lam[q.index])
                cloud = q.cloud_gain - weight * q.cloud_delay_s
                per_step = weight * opt.per_step_s + data.w_cost * opt.cost_per_step
                s = opt.steps_min
                value = data.w_quality * opt.quality_min - per_step * s - weight * opt.fixed_s
                steps_row, value_row = [float(s)], [value - cloud]
                for _, end, slope in opt.pieces:
                    value += (data.w_quality * slope - per_step) * (end - s)
                    s = end
                    steps_row.append(float(s))
                    value_row.append(value - cloud)
                rows_steps.append(steps_row)
                rows_value.append(value_row)
                index.append(q.index)
                models.append(q.model)
        width = max((len(r) for r in rows_steps), default=1)
        self.steps = np.ones((len(index), width))
        self.value = np.full((len(index), width), -math.inf)
        for i, (sr, vr) in enumerate(zip(rows_steps, rows_value, strict=True)):
            self.steps[i, : len(sr)] = sr
            self.value[i, : len(vr)] = vr
        self.requests = np.array(index, np.int64)
        self.models = np.array(models, np.int64)
        # candidate prices: the function μ·S + Σ (δ(μ) − base)^+ is convex piecewise linear in
        # μ; its kinks are where a request's best breakpoint changes or its gain crosses a
        # base. Breakpoint changes: slopes between consecutive breakpoints; crossings depend
        # on the base and are added per call.
        with np.errstate(invalid="ignore", divide="ignore"):
            slopes = np.diff(self.value, axis=1) / np.diff(self.steps, axis=1)
        kinks = slopes[np.isfinite(slopes) & (slopes > 0)]
        self.kinks = np.unique(np.concatenate([[0.0], kinks]))

    def gains(self, prices: np.ndarray) -> np.ndarray:
        """δ_r(μ) for each request and price: [requests, prices]."""
        best: np.ndarray = (
            self.value[:, :, None] - self.steps[:, :, None] * prices[None, None, :]
        ).max(axis=1)
        return best


class SetBound:
    """Upper bounds per (frame, server, cache set) for given late multipliers λ (see the module
    docstring): for each slot of the frame and server v,

        min_μ≥0 [ μ·S_v + Σ_{r: v may serve r, m_r in the set} (δ_{r,v}(μ) − base_r)^+ ]

    with base_r what r already gets from servers fixed earlier in the frame (0 if none). The
    minimum over μ is exact: it is taken over every kink of the convex piecewise-linear
    function. ``constant[t]`` holds the frame's cloud values and bandwidth terms; ``delta``
    the gains at μ = 0 (used for ``base``)."""

    def __init__(self, c: CompiledCaching, lam: np.ndarray) -> None:
        R, E = c.n_requests, c.n_servers
        self.c = c
        self.options = [
            [SlotServerOptions(slot_data(c, g), lam, v) for v in range(E)] for g in range(c.n_slots)
        ]
        delta = np.full((R, E), -math.inf)
        constant = np.zeros(c.frames)
        K = c.slots_per_frame
        for g in range(c.n_slots):
            data = slot_data(c, g)
            reqs = data.requests
            total = 0.0
            for group in data.groups:
                total += late_dual_constant(
                    [reqs[i].radio_s for i in group],
                    [float(lam[reqs[i].index]) for i in group],
                    data.w_delay,
                    data.w_late,
                )
            for q in reqs:
                lr = float(lam[q.index])
                weight = data.w_delay + data.w_late * lr
                total += q.cloud_gain - weight * q.cloud_delay_s + data.w_late * lr * q.max_delay_s
            constant[g // K] += total
            for v in range(E):
                opts = self.options[g][v]
                if len(opts.requests):
                    delta[opts.requests, v] = opts.value.max(axis=1)
        self.delta = delta
        self.constant = constant

    def set_values(self, t: int, v: int, sets: np.ndarray, base: np.ndarray | None) -> np.ndarray:
        """The bound of server v in frame t for each row of ``sets`` [sets, models];
        ``base[r]`` per request index (None: 0)."""
        c = self.c
        K = c.slots_per_frame
        total = np.zeros(len(sets))
        capacity = float(c.step_capacity[v])
        for g in range(t * K, (t + 1) * K):
            opts = self.options[g][v]
            if not len(opts.requests):
                continue
            prices = opts.kinks
            if base is not None:
                b = base[opts.requests]
                # crossings of δ_r(μ) with base_r at each breakpoint: μ = (value − base)/steps
                with np.errstate(invalid="ignore"):
                    cross = (opts.value - b[:, None]) / opts.steps
                cross = cross[np.isfinite(cross) & (cross > 0)]
            else:
                b = np.zeros(len(opts.requests))
                with np.errstate(invalid="ignore"):
                    cross = opts.value / opts.steps
                cross = cross[np.isfinite(cross) & (cross > 0)]
            prices = np.unique(np.concatenate([prices, cross]))
            excess = np.maximum(opts.gains(prices) - b[:, None], 0.0)  # [requests, prices]
            member = sets[:, opts.models].astype(float)  # [sets, requests]
            per_price = member @ excess + prices[None, :] * capacity
            total += per_price.min(axis=1)
        return total


def late_multipliers(c: CompiledCaching, allocations: list[SlotAllocation]) -> np.ndarray:
    """λ from a solution's slot allocations: each request's late multiplier at its optimal
    shares (1 late, 0 on time, between on the deadline)."""
    lam = np.zeros(c.n_requests)
    for g, alloc in enumerate(allocations):
        data = slot_data(c, g)
        reqs = data.requests
        slack = []
        for i, q in enumerate(reqs):
            v = int(alloc.server[i])
            if v < 0:
                kappa = q.cloud_delay_s
            else:
                opt = next(o for o in q.edges if o.server == v)
                kappa = opt.fixed_s + opt.per_step_s * float(alloc.steps[i])
            slack.append(q.max_delay_s - kappa)
        for group in data.groups:
            _, _, lg = group_shares(
                [reqs[i].radio_s for i in group],
                [slack[i] for i in group],
                data.w_delay,
                data.w_late,
            )
            for j2, i in enumerate(group):
                lam[reqs[i].index] = lg[j2]
    return lam


def frame_request_slices(c: CompiledCaching) -> list[np.ndarray]:
    """Request indices of each frame."""
    return [np.flatnonzero(c.req_frame == t) for t in range(c.frames)]


def load_matrix(c: CompiledCaching, sets: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """GB loaded moving from each row of ``previous`` to each row of ``sets`` [prev, sets]."""
    sized = sets * c.size_gb  # [sets, models]
    total = sized.sum(axis=1)
    kept = previous.astype(float) @ sized.T
    loaded: np.ndarray = total[None, :] - kept
    return loaded
