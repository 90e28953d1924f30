"""``relax``: the convex continuous relaxation of DESIGN §2.4 (cvxpy + Clarabel), an upper bound.

Integrality dropped everywhere (caches, routing, steps); the perspective forms keep it convex:
steps_min·y ≤ s ≤ steps_max·y, quality q ≤ a_j s + c_j y per linear piece, generation delay
(g s + θ y)/σ, and the radio delay a_r/b_r (cvxpy's ``inv_pos``). Status ``bound_only``: no
solution, the optimal value of the relaxation as the bound.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from optkit.errors import MethodRefused
from optkit.instances.caching import CachingInstance
from optkit.instances.compiled import CompiledCaching
from optkit.solvers.registry import SolveOptions
from optkit.solvers.result import Result, Status, finish

#: Radio delays at the full bandwidth below this (seconds) are left out of the relaxations
#: (a valid, slightly weaker bound; shares near 0 defeat Clarabel's accuracy).
_MIN_RADIO_S = 1e-4
#: Relative margin added to the relaxations' bounds for the solver's inaccuracy (see
#: :func:`_upper_bound`).
_SAFETY = 1e-5


def relaxation_bound(
    instance: CachingInstance, time_limit: float | None = None, cache: np.ndarray | None = None
) -> float:
    """The optimal value of the continuous relaxation (an upper bound on the optimum); with
    ``cache`` (bool [frames, servers, models]) the caches are fixed to it (a bound of the best
    routing, shares and steps under those caches)."""
    import cvxpy as cp

    c = instance.compiled
    T, E, M, R = c.frames, c.n_servers, c.n_models, c.n_requests
    rows, cols = np.nonzero(c.allowed)  # pairs (r, v)
    P = len(rows)
    model = c.req_model[rows]

    x = cp.Variable((T * E, M), nonneg=True)  # row t·E + e
    loaded = cp.Variable((T * E, M), nonneg=True)
    y = cp.Variable(P, nonneg=True)
    yc = cp.Variable(R, nonneg=True)
    s = cp.Variable(P, nonneg=True)
    q = cp.Variable(P)
    b = cp.Variable(R, nonneg=True)
    late = cp.Variable(R, nonneg=True)

    cons = [x <= 1, y <= 1, yc <= 1, b <= 1]
    if cache is not None:
        cons.append(x == np.asarray(cache, float).reshape(T * E, M))
    cons.append(x @ c.size_gb <= np.tile(c.storage_gb, T))
    previous = np.vstack([c.initial_cache.astype(float), np.zeros(((T - 1) * E, M))]) if T else None
    if T > 1:
        shift = sp.eye(T * E, k=-E, format="csr")  # row i takes row i − E (the previous frame)
        cons.append(loaded >= x - shift @ x - previous)
    else:
        cons.append(loaded >= x - previous)
    pick_request = sp.csr_matrix((np.ones(P), (rows, np.arange(P))), shape=(R, P))
    cons.append(pick_request @ y + yc == 1)
    # y[r,v] ≤ x[m_r, v, t_r]: select x entries
    x_index = (c.req_frame[rows] * E + cols) * M + model
    cons.append(y <= cp.reshape(x, (T * E * M,), order="C")[x_index])
    cons.append(cp.multiply(c.steps_min[model], y) <= s)
    cons.append(s <= cp.multiply(c.steps_max[model], y))
    for j in range(c.piece_slope.shape[1]):
        cons.append(
            q
            <= cp.multiply(c.piece_slope[model, j], s) + cp.multiply(c.piece_intercept[model, j], y)
        )
    n_keys = c.n_slots * E
    home_key = c.req_global_slot * E + c.req_home
    share_sum = sp.csr_matrix((np.ones(R), (home_key, np.arange(R))), shape=(n_keys, R))
    cons.append(share_sum @ b <= 1)
    served_key = c.req_global_slot[rows] * E + cols
    step_sum = sp.csr_matrix((np.ones(P), (served_key, np.arange(P))), shape=(n_keys, P))
    cons.append(step_sum @ s <= np.tile(c.step_capacity, c.n_slots))

    objective = _objective(c, pick_request, rows, cols, model, y, s, q, yc, b, late, loaded, cons)
    return _upper_bound(cp.Problem(cp.Maximize(objective), cons), time_limit)


def _objective(
    c: CompiledCaching,
    pick_request: Any,
    rows: np.ndarray,
    cols: np.ndarray,
    model: np.ndarray,
    y: Any,
    s: Any,
    q: Any,
    yc: Any,
    b: Any,
    late: Any,
    loaded: Any,
    cons: list[Any],
) -> Any:
    """The objective shared by both relaxations (utility − switch cost) over their (request
    ``rows``, server ``cols``) pairs, appending the late-penalty epigraph to ``cons``."""
    import cvxpy as cp

    R = c.n_requests
    inv_speed = 1.0 / c.speed[cols]
    edge_delay = pick_request @ (
        cp.multiply(c.transfer_s[rows, cols] + c.overhead_s[model] * inv_speed, y)
        + cp.multiply(c.seconds_per_step[model] * inv_speed, s)
    )
    # radio delay a_r/b_r only where a_r ≥ 0.1 ms: a request with (almost) nothing to transmit
    # would otherwise carry an epigraph of 1/b_r at a share near 0, where Clarabel's answer can
    # fall far below the optimum (2.8e-4 on a 2-request slot with a_r = 1e-7 s; at a 1 ns
    # threshold hypothesis still found such cases). Dropping a delay term only raises the
    # relaxation, so the bound stays valid; generated instances have a_r ≥ 0.5 ms.
    radio_rows = np.flatnonzero(c.radio_s_share >= _MIN_RADIO_S)
    pick_radio = sp.csr_matrix(
        (np.ones(len(radio_rows)), (radio_rows, np.arange(len(radio_rows)))),
        shape=(R, len(radio_rows)),
    )
    radio = (
        pick_radio @ cp.multiply(c.radio_s_share[radio_rows], cp.inv_pos(b[radio_rows]))
        if len(radio_rows)
        else 0
    )
    delay = radio + edge_delay + cp.multiply(c.cloud_delay_s, yc)
    if c.w_late > 0:
        cons.append(late >= delay - c.req_max_delay_s)
    quality = pick_request @ q + cp.multiply(c.req_cloud_quality, yc)
    cost = pick_request @ cp.multiply(c.cost_per_step[cols], s) + c.cloud_cost * yc
    utility = (
        c.w_quality * cp.sum(quality)
        - c.w_delay * cp.sum(delay)
        - c.w_cost * cp.sum(cost)
        - c.w_late * cp.sum(late)
    )
    switch = c.w_switch * cp.sum(loaded @ c.size_gb)
    return utility - switch


def _upper_bound(problem: Any, time_limit: float | None) -> float:
    """Solve a relaxation (a maximisation) with Clarabel and return an upper bound on it.

    An interior-point solution is only ε-optimal, and a bound below the optimum is wrong. The
    bound is the larger of the primal and the dual objective (weak duality puts the dual one
    above the optimum up to the residuals), plus a margin of :data:`_SAFETY` · max(1, |value|).
    The margin is empirical, not proven: shares that go to 0 at the optimum (a request whose
    radio term is dropped, sharing a band) left Clarabel "Solved" with a 2e-9 duality gap yet
    1.8e-6 (relative) below the program's true optimum — the largest shortfall found in ~2 000
    hypothesis cases once tiny radio terms are left out (see :data:`_MIN_RADIO_S`). A bound loose by 1e-5 costs nothing next to the relaxations' gaps of
    several percent; a certified one would evaluate the Lagrangian at Clarabel's multipliers
    over bounded variables (not done).
    """
    import cvxpy as cp

    settings: dict[str, float] = {}
    if time_limit is not None:
        settings["time_limit"] = time_limit
    # problem.solve() without its wrapper, to keep Clarabel's own solution (cvxpy passes on
    # its primal objective only): Clarabel minimises −objective
    from cvxpy.reductions.solvers.solver_inverse_data import SolverInverseData

    data, chain, inverse = problem.get_problem_data(cp.CLARABEL)
    inverse[-1] = SolverInverseData(inverse[-1], chain.solver, settings)  # as solve() does
    raw = chain.solver.solve_via_data(data, False, False, settings)
    problem.unpack_results(raw, chain, inverse)
    if problem.status not in ("optimal", "optimal_inaccurate"):
        raise MethodRefused(f"Clarabel ended with status {problem.status}")
    value = float(problem.value)
    gap = float(raw.obj_val) - float(raw.obj_val_dual)
    if not math.isfinite(gap):
        raise MethodRefused("Clarabel returned no finite dual objective")
    return value + max(gap, 0.0) + _SAFETY * max(1.0, abs(value))


#: ``relax-sets`` refuses instances with more (request, server, cache set) triples than this.
MAX_SET_TRIPLES = 400_000


def set_relaxation_bound(instance: CachingInstance, time_limit: float | None = None) -> float:
    """The relaxation over convex combinations of each server's cache sets (an upper bound).

    Per frame and server a weight w_i ≥ 0 on each feasible cache set i (Σ_i w_i = 1); routing
    and steps are disaggregated per set: y_{r,v,i} ≤ w_i for the sets holding r's model,
    steps_min·y ≤ s ≤ steps_max·y, quality in perspective form, and the step capacity holds
    per set and slot (Σ_r s_{r,v,i} ≤ S_v·w_i). Integer w give the program exactly; the
    relaxation can no longer spread a fractional cache over every model, which is where the
    direct relaxation loses most (a cache 40 % of everything lets each slot fill its step
    capacity with whatever is requested). The switch cost uses x = Σ_i w_i·set_i as before.
    """
    import cvxpy as cp

    from optkit.solvers.caching.bounds import server_sets

    c = instance.compiled
    T, E, M, R = c.frames, c.n_servers, c.n_models, c.n_requests
    sets = [server_sets(c, v) for v in range(E)]
    n_sets = np.array([len(x) for x in sets])
    w_offset = np.concatenate([[0], np.cumsum(np.tile(n_sets, T))])  # (t, v) blocks
    # triples (r, v, i): r may be served at v and set i of v holds r's model
    rr_l, vv_l, ii_l = [], [], []
    for v in range(E):
        reqs = np.flatnonzero(c.allowed[:, v])
        holds = sets[v][:, c.req_model[reqs]]  # [sets, requests]
        i_idx, r_pos = np.nonzero(holds)
        rr_l.append(reqs[r_pos])
        vv_l.append(np.full(len(r_pos), v))
        ii_l.append(i_idx)
    rr, vv, ii = np.concatenate(rr_l), np.concatenate(vv_l), np.concatenate(ii_l)
    P = len(rr)
    if P > MAX_SET_TRIPLES:
        raise MethodRefused(
            f"{P} (request, server, cache set) triples, more than {MAX_SET_TRIPLES}"
        )
    model = c.req_model[rr]
    n_w = int(w_offset[-1])
    w_index = w_offset[c.req_frame[rr] * E + vv] + ii

    w = cp.Variable(n_w, nonneg=True)
    y = cp.Variable(P, nonneg=True)
    s = cp.Variable(P, nonneg=True)
    q = cp.Variable(P)
    yc = cp.Variable(R, nonneg=True)
    b = cp.Variable(R, nonneg=True)
    late = cp.Variable(R, nonneg=True)
    loaded = cp.Variable((T * E, M), nonneg=True)

    block = np.repeat(np.arange(T * E), np.tile(n_sets, T))
    sum_blocks = sp.csr_matrix((np.ones(n_w), (block, np.arange(n_w))), shape=(T * E, n_w))
    cons = [sum_blocks @ w == 1, yc <= 1, b <= 1]
    pick_w = sp.csr_matrix((np.ones(P), (np.arange(P), w_index)), shape=(P, n_w))
    cons.append(y <= pick_w @ w)
    cons.append(cp.multiply(c.steps_min[model], y) <= s)
    cons.append(s <= cp.multiply(c.steps_max[model], y))
    for j in range(c.piece_slope.shape[1]):
        cons.append(
            q
            <= cp.multiply(c.piece_slope[model, j], s) + cp.multiply(c.piece_intercept[model, j], y)
        )
    pick_request = sp.csr_matrix((np.ones(P), (rr, np.arange(P))), shape=(R, P))
    cons.append(pick_request @ y + yc == 1)
    # step capacity per (slot, server, set), in perspective: Σ s ≤ S_v·w
    cap_key = c.req_global_slot[rr] * n_w + w_index
    keys, key_of = np.unique(cap_key, return_inverse=True)
    step_sum = sp.csr_matrix((np.ones(P), (key_of.ravel(), np.arange(P))), shape=(len(keys), P))
    key_w = keys % n_w
    key_cap = c.step_capacity[vv[np.unique(key_of.ravel(), return_index=True)[1]]]
    pick_key_w = sp.csr_matrix(
        (key_cap.astype(float), (np.arange(len(keys)), key_w)), shape=(len(keys), n_w)
    )
    cons.append(step_sum @ s <= pick_key_w @ w)
    # bandwidth shares per home server and slot
    n_keys = c.n_slots * E
    home_key = c.req_global_slot * E + c.req_home
    share_sum = sp.csr_matrix((np.ones(R), (home_key, np.arange(R))), shape=(n_keys, R))
    cons.append(share_sum @ b <= 1)
    # caches x_{t,v,m} = Σ_i w_i·set_i[m] for the switch cost
    rows_x, cols_x, vals_x = [], [], []
    for t in range(T):
        for v in range(E):
            i_idx, m_idx = np.nonzero(sets[v])
            rows_x.append((t * E + v) * M + m_idx)
            cols_x.append(w_offset[t * E + v] + i_idx)
            vals_x.append(np.ones(len(i_idx)))
    to_x = sp.csr_matrix(
        (np.concatenate(vals_x), (np.concatenate(rows_x), np.concatenate(cols_x))),
        shape=(T * E * M, n_w),
    )
    x = cp.reshape(to_x @ w, (T * E, M), order="C")
    previous = np.vstack([c.initial_cache.astype(float), np.zeros(((T - 1) * E, M))])
    if T > 1:
        shift = sp.eye(T * E, k=-E, format="csr")
        cons.append(loaded >= x - shift @ x - previous)
    else:
        cons.append(loaded >= x - previous)

    objective = _objective(c, pick_request, rr, vv, model, y, s, q, yc, b, late, loaded, cons)
    return _upper_bound(cp.Problem(cp.Maximize(objective), cons), time_limit)


def solve_sets(instance: CachingInstance, options: SolveOptions) -> Result:
    """The relaxation over each server's cache sets as a bound (status ``bound_only``)."""
    return _bound_result(instance, options, "relax-sets", set_relaxation_bound)


def solve(instance: CachingInstance, options: SolveOptions) -> Result:
    """The continuous relaxation's value as a bound (status ``bound_only``)."""
    return _bound_result(instance, options, "relax", relaxation_bound)


def _bound_result(
    instance: CachingInstance,
    options: SolveOptions,
    method: str,
    bound_of: Callable[[CachingInstance, float | None], float],
) -> Result:
    start = time.perf_counter()
    bound = bound_of(instance, options.time_limit)
    return finish(
        instance,
        method,
        Status.BOUND_ONLY,
        bound=bound,
        wall_time_s=time.perf_counter() - start,
        seed=options.seed,
    )
