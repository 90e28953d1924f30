"""The caching program of DESIGN §2.4 as a Pyomo model (a convex MINLP, maximisation).

Variables (t frame, e/v edge server, m model, r request):

- ``x[m,e,t]`` ∈ {0,1}: model m cached at e in frame t; ``load[m,e,t]`` ≥ x[m,e,t] − x[m,e,t−1]
  (the switch cost's max(0, ·) as an epigraph; x[·,·,−1] is the initial cache);
- ``y[r,v]`` ∈ {0,1} for every server v that may serve r (home, linked ones) and ``yc[r]`` for
  the cloud; Σ y + yc = 1 and y[r,v] ≤ x[m_r, v, t_r];
- ``s[r,v]`` integer, the steps *in perspective*: steps_min·y ≤ s ≤ steps_max·y, so s = 0 when v
  does not serve r; generation delay (g_m s + θ_m y)/σ_v and step cost c_v s are linear in (s, y);
- ``q[r,v]``: quality hypograph q ≤ a_j s + c_j y for each linear piece j of the concave curve
  (also in perspective: q ≤ 0 when y = 0);
- ``b[r]`` ∈ [0, 1]: bandwidth share and ``tau[r]`` ≥ 0 the radio delay, written as the
  epigraph ``tau·b ≥ a_r`` with a_r = (d_r + o_m)/(W_h η_r) (DESIGN §6 fixes this form for SCIP);
- ``late[r]`` ≥ max(0, delay_r − D_r).

Objective: Σ_r (w_q·quality − w_d·delay − w_c·cost − w_l·late) − w_s Σ z_m load[m,e,t].

With ``relax=True`` every integer variable becomes continuous in its bounds: the continuous
relaxation, convex because tau·b ≥ a (tau, b ≥ 0) is a rotated second-order cone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyomo.environ as pyo

from optkit.instances.caching import CachingInstance
from optkit.instances.solution import CachingSolution


def nonlinear_reason(instance: CachingInstance) -> str | None:
    """Why the program is not linear (None when it is): the radio delay a/b enters the
    objective through the delay weight or the late penalty."""
    w = instance.weights
    if w.delay > 0 or w.late > 0:
        parts = [
            f"{name} weight {value:g} > 0"
            for name, value in (("delay", w.delay), ("late", w.late))
            if value > 0
        ]
        return "the radio delay a/b is nonlinear in the bandwidth share (" + ", ".join(parts) + ")"
    return None


def _serving(instance: CachingInstance) -> list[tuple[int, int]]:
    """Pairs (r, v): edge server v may serve request r (its home or a linked server)."""
    c = instance.compiled
    rows, cols = np.nonzero(c.allowed)
    return [(int(r), int(v)) for r, v in zip(rows, cols, strict=True)]


def build(instance: CachingInstance, *, relax: bool = False) -> pyo.ConcreteModel:
    """The program of DESIGN §2.4 for ``instance`` (see the module docstring)."""
    c = instance.compiled
    T, E, M, R = c.frames, c.n_servers, c.n_models, c.n_requests
    w = instance.weights
    binary = pyo.UnitInterval if relax else pyo.Binary
    integer = pyo.NonNegativeReals if relax else pyo.NonNegativeIntegers

    mdl = pyo.ConcreteModel(name=instance.name)
    mdl.frames = pyo.RangeSet(0, T - 1)
    mdl.servers = pyo.RangeSet(0, E - 1)
    mdl.models = pyo.RangeSet(0, M - 1)
    mdl.requests = pyo.RangeSet(0, R - 1) if R else pyo.Set(initialize=[])
    pairs = _serving(instance)
    mdl.pairs = pyo.Set(initialize=pairs, dimen=2, ordered=True)

    mdl.x = pyo.Var(mdl.models, mdl.servers, mdl.frames, domain=binary)
    mdl.loaded = pyo.Var(
        mdl.models, mdl.servers, mdl.frames, domain=pyo.NonNegativeReals, bounds=(0, 1)
    )
    mdl.y = pyo.Var(mdl.pairs, domain=binary)
    mdl.yc = pyo.Var(mdl.requests, domain=binary)
    smax = {(r, v): int(c.steps_max[c.req_model[r]]) for r, v in pairs}
    mdl.s = pyo.Var(mdl.pairs, domain=integer, bounds=lambda _, r, v: (0, smax[r, v]))

    def q_bounds(_: Any, r: int, v: int) -> tuple[float, float]:
        quality = c.breakpoint_quality[c.req_model[r]]
        return min(0.0, float(quality.min())), max(0.0, float(quality.max()))

    mdl.q = pyo.Var(mdl.pairs, bounds=q_bounds)
    mdl.b = pyo.Var(mdl.requests, bounds=(0, 1))
    radio = c.radio_s_share
    # tau's upper bound: the share never needs to fall below 1/(requests at the home server)
    mdl.tau = pyo.Var(mdl.requests, domain=pyo.NonNegativeReals)
    mdl.late = pyo.Var(mdl.requests, domain=pyo.NonNegativeReals)

    # caches
    mdl.storage = pyo.Constraint(
        mdl.servers,
        mdl.frames,
        rule=lambda m_, e, t: (
            sum(float(c.size_gb[m]) * m_.x[m, e, t] for m in m_.models) <= float(c.storage_gb[e])
        ),
    )

    def load_rule(m_: Any, m: int, e: int, t: int) -> Any:
        before = float(c.initial_cache[e, m]) if t == 0 else m_.x[m, e, t - 1]
        return m_.loaded[m, e, t] >= m_.x[m, e, t] - before

    mdl.loading = pyo.Constraint(mdl.models, mdl.servers, mdl.frames, rule=load_rule)

    # routing
    by_request: dict[int, list[int]] = {r: [] for r in range(R)}
    for r, v in pairs:
        by_request[r].append(v)
    mdl.assign = pyo.Constraint(
        mdl.requests, rule=lambda m_, r: sum(m_.y[r, v] for v in by_request[r]) + m_.yc[r] == 1
    )
    mdl.cached = pyo.Constraint(
        mdl.pairs,
        rule=lambda m_, r, v: m_.y[r, v] <= m_.x[int(c.req_model[r]), v, int(c.req_frame[r])],
    )

    # steps in perspective and the quality hypograph
    mdl.steps_low = pyo.Constraint(
        mdl.pairs, rule=lambda m_, r, v: int(c.steps_min[c.req_model[r]]) * m_.y[r, v] <= m_.s[r, v]
    )
    mdl.steps_high = pyo.Constraint(
        mdl.pairs, rule=lambda m_, r, v: m_.s[r, v] <= smax[r, v] * m_.y[r, v]
    )
    n_pieces = {m: max(len(c.breakpoint_steps[m]) - 1, 1) for m in range(M)}
    piece_index = [(r, v, j) for r, v in pairs for j in range(n_pieces[int(c.req_model[r])])]
    mdl.piece_index = pyo.Set(initialize=piece_index, dimen=3, ordered=True)

    def piece_rule(m_: Any, r: int, v: int, j: int) -> Any:
        m = int(c.req_model[r])
        return (
            m_.q[r, v]
            <= float(c.piece_slope[m, j]) * m_.s[r, v] + float(c.piece_intercept[m, j]) * m_.y[r, v]
        )

    mdl.quality = pyo.Constraint(mdl.piece_index, rule=piece_rule)

    # per server and slot: shares of home requests, steps served
    slot_groups: dict[tuple[int, int], list[int]] = {}
    for r in range(R):
        slot_groups.setdefault((int(c.req_global_slot[r]), int(c.req_home[r])), []).append(r)
    mdl.share_keys = pyo.Set(initialize=sorted(slot_groups), dimen=2, ordered=True)
    mdl.bandwidth = pyo.Constraint(
        mdl.share_keys, rule=lambda m_, g, e: sum(m_.b[r] for r in slot_groups[g, e]) <= 1
    )
    served: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for r, v in pairs:
        served.setdefault((int(c.req_global_slot[r]), v), []).append((r, v))
    mdl.step_keys = pyo.Set(initialize=sorted(served), dimen=2, ordered=True)
    mdl.step_capacity = pyo.Constraint(
        mdl.step_keys,
        rule=lambda m_, g, v: sum(m_.s[p] for p in served[g, v]) <= int(c.step_capacity[v]),
    )

    needs_radio = w.delay > 0 or w.late > 0

    def delay_expr(m_: Any, r: int) -> Any:
        m = int(c.req_model[r])
        edge = sum(
            float(c.transfer_s[r, v]) * m_.y[r, v]
            + (float(c.seconds_per_step[m]) * m_.s[r, v] + float(c.overhead_s[m]) * m_.y[r, v])
            / float(c.speed[v])
            for v in by_request[r]
        )
        return m_.tau[r] + edge + float(c.cloud_delay_s[r]) * m_.yc[r]

    mdl.delay = pyo.Expression(mdl.requests, rule=delay_expr)
    if needs_radio:
        # DESIGN §6: the radio delay as the epigraph tau·b ≥ a (one fixed form for SCIP)
        mdl.radio = pyo.Constraint(
            mdl.requests, rule=lambda m_, r: m_.tau[r] * m_.b[r] >= float(radio[r])
        )
    else:
        for r in range(R):
            mdl.tau[r].fix(0.0)
    mdl.lateness = pyo.Constraint(
        mdl.requests,
        rule=lambda m_, r: m_.late[r] >= m_.delay[r] - float(c.req_max_delay_s[r]),
    )
    if w.late == 0:
        for r in range(R):
            mdl.late[r].fix(0.0)
        mdl.lateness.deactivate()

    def utility(m_: Any) -> Any:
        total = 0
        for r in range(R):
            quality = (
                sum(m_.q[r, v] for v in by_request[r]) + float(c.req_cloud_quality[r]) * m_.yc[r]
            )
            cost = (
                sum(float(c.cost_per_step[v]) * m_.s[r, v] for v in by_request[r])
                + float(c.cloud_cost) * m_.yc[r]
            )
            total += w.quality * quality - w.cost * cost - w.late * m_.late[r]
            if w.delay > 0:
                total -= w.delay * m_.delay[r]
        switch = sum(
            float(c.size_gb[m]) * m_.loaded[m, e, t]
            for m in m_.models
            for e in m_.servers
            for t in m_.frames
        )
        return total - w.switch * switch

    mdl.objective = pyo.Objective(rule=utility, sense=pyo.maximize)
    return mdl


def extract(instance: CachingInstance, model: pyo.ConcreteModel, method: str) -> CachingSolution:
    """The solution of a solved model in optkit's format: caches and routing rounded, steps
    rounded into the model's range, shares clipped to (0, 1] and scaled to fit their server.

    The shares are only made *feasible* here; exact methods re-optimise them afterwards
    (:func:`optkit.solvers.caching.allocation.best_shares`)."""
    c = instance.compiled
    T, E, M, R = c.frames, c.n_servers, c.n_models, c.n_requests
    cache = np.zeros((T, E, M), bool)
    for m in range(M):
        for e in range(E):
            for t in range(T):
                cache[t, e, m] = (pyo.value(model.x[m, e, t], exception=False) or 0.0) > 0.5
    server = np.full(R, -1, np.int64)
    steps = np.zeros(R)
    best = np.array([pyo.value(model.yc[r], exception=False) or 0.0 for r in range(R)])
    for r, v in model.pairs:
        value = pyo.value(model.y[r, v], exception=False) or 0.0
        if value > best[r] and cache[c.req_frame[r], v, c.req_model[r]]:
            best[r], server[r] = value, v
            steps[r] = pyo.value(model.s[r, v], exception=False) or 0.0
    m_r = c.req_model
    steps = np.clip(np.rint(steps), c.steps_min[m_r], c.steps_max[m_r])
    share = np.array([pyo.value(model.b[r], exception=False) or 0.0 for r in range(R)])
    share = np.clip(share, 1e-9, 1.0)
    key = c.req_global_slot * E + c.req_home
    total = np.bincount(key, weights=share, minlength=c.n_slots * E)
    share = share / np.maximum(total[key], 1.0)
    return CachingSolution.from_arrays(instance.name, method, cache, server, share, steps)
