"""``enumerate``: brute force for tiny caching instances — the test oracle (DESIGN §6).

Every joint cache of every frame (each server's sets that fit its storage), every route and
every integer number of steps of every request; shares by closed form when w_l = 0
(b ∝ √a within each home server) and otherwise by bisection on the bandwidth price to 1e-12 —
deliberately independent of the slot solver's closed form, so the two check each other. Frames
are joined by a dynamic program over the joint caches (the switch cost). Refuses instances
above :data:`MAX_CACHES_PER_FRAME` joint caches or :data:`MAX_SLOT_DECISIONS` decisions in a
slot.
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from optkit.errors import MethodRefused
from optkit.instances.caching import CachingInstance
from optkit.instances.compiled import CompiledCaching
from optkit.instances.solution import CachingSolution
from optkit.solvers.caching.bounds import load_matrix, server_sets
from optkit.solvers.registry import SolveOptions
from optkit.solvers.result import Result, Status, finish

#: Largest number of joint caches (all servers) of one frame.
MAX_CACHES_PER_FRAME = 4096
#: Largest number of (route, steps) decisions of one slot under one cache.
MAX_SLOT_DECISIONS = 200_000
TINY_SHARE = 1e-12


def _shares(c: CompiledCaching, radio: np.ndarray, slack: np.ndarray) -> np.ndarray:
    """Optimal shares of one home group for many decisions at once: radio [n], slack
    [decisions, n] → shares [decisions, n]."""
    wd, wl = c.w_delay, c.w_late
    n = radio.shape[0]
    active = radio > 0
    out = np.full(slack.shape, TINY_SHARE)
    if not active.any() or wd + wl <= 0:
        return np.full(slack.shape, 1.0 / n)
    a = radio[active]
    sig = slack[:, active]
    scale = 1.0 - (n - active.sum()) * TINY_SHARE
    if wl <= 0:
        b = np.sqrt(a) / np.sqrt(a).sum()
        out[:, active] = b[None, :] * scale
        return out
    lo_c, hi_c = np.sqrt(wd * a), np.sqrt((wd + wl) * a)
    with np.errstate(divide="ignore"):
        kink = np.where(sig > 0, a[None, :] / sig, np.inf)

    def share(log_nu: np.ndarray) -> np.ndarray:
        t = np.exp(-0.5 * log_nu)[:, None]
        on_time = np.maximum(lo_c * t, np.minimum(kink, hi_c * t))
        result: np.ndarray = np.where(np.isinf(kink), hi_c * t, on_time)
        return result

    low = np.full(len(sig), -80.0)  # log ν
    high = np.full(len(sig), 80.0)
    for _ in range(200):  # bisection on log ν; width 160·2^-200: far below 1e-12
        mid = 0.5 * (low + high)
        over = share(mid).sum(axis=1) > 1.0
        low = np.where(over, mid, low)
        high = np.where(over, high, mid)
    b = share(high)
    b = b / np.maximum(b.sum(axis=1, keepdims=True), 1.0)
    total = b.sum(axis=1, keepdims=True)
    b = np.where(total < 1.0, b / total, b)  # w_d = 0: leftover bandwidth spread
    out[:, active] = b * scale
    return out


def _slot(
    c: CompiledCaching, g: int, cache: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Best (value, server, shares, steps) of slot g by brute force."""
    reqs = c.slot_requests(g)
    options: list[list[tuple[int, int]]] = []
    for r in reqs.tolist():
        m = int(c.req_model[r])
        opts = [(-1, 0)]
        for v in np.flatnonzero(c.allowed[r]).tolist():
            if cache[v, m]:
                opts += [(v, s) for s in range(int(c.steps_min[m]), int(c.steps_max[m]) + 1)]
        options.append(opts)
    count = int(np.prod([len(o) for o in options])) if options else 1
    if count > MAX_SLOT_DECISIONS:
        raise MethodRefused(
            f"slot {g} has {count} decisions under one cache, more than "
            f"{MAX_SLOT_DECISIONS} (enumerate is for tiny instances; use bnb)"
        )
    if not len(reqs):
        return 0.0, np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    combos = np.array(list(itertools.product(*options)), np.int64)  # [D, n, 2]
    server, steps = combos[:, :, 0], combos[:, :, 1].astype(float)
    edge = server >= 0
    at = np.where(edge, server, 0)
    fits = np.ones(len(combos), bool)
    for v in range(c.n_servers):
        fits &= np.where(server == v, steps, 0).sum(axis=1) <= c.step_capacity[v]
    server, steps, edge, at = server[fits], steps[fits], edge[fits], at[fits]
    model = c.req_model[reqs][None, :]
    s = np.where(edge, steps, c.steps_min[model])
    generation = (c.seconds_per_step[model] * s + c.overhead_s[model]) / c.speed[at]
    kappa = np.where(
        edge, c.transfer_s[reqs[None, :], at] + generation, c.cloud_delay_s[reqs][None, :]
    )
    quality = np.where(
        edge,
        c.quality(np.broadcast_to(model, s.shape).ravel(), s.ravel()).reshape(s.shape),
        c.req_cloud_quality[reqs][None, :],
    )
    cost = np.where(edge, c.cost_per_step[at] * s, c.cloud_cost)
    slack = c.req_max_delay_s[reqs][None, :] - kappa
    shares = np.zeros(kappa.shape)
    homes = c.req_home[reqs]
    for e in np.unique(homes):
        cols = np.flatnonzero(homes == e)
        shares[:, cols] = _shares(c, c.radio_s_share[reqs[cols]], slack[:, cols])
    delay = c.radio_s_share[reqs][None, :] / shares + kappa
    late = np.maximum(0.0, delay - c.req_max_delay_s[reqs][None, :])
    utility = c.w_quality * quality - c.w_delay * delay - c.w_cost * cost - c.w_late * late
    total = utility.sum(axis=1)
    best = int(total.argmax())
    return float(total[best]), server[best], shares[best], np.where(edge[best], steps[best], 0.0)


def solve(instance: CachingInstance, options: SolveOptions) -> Result:
    """Brute force (see the module docstring)."""
    start = time.perf_counter()
    c = instance.compiled
    T, E, K = c.frames, c.n_servers, c.slots_per_frame
    sets = [server_sets(c, e) for e in range(E)]
    joint = list(itertools.product(*(range(len(s)) for s in sets)))
    if len(joint) > MAX_CACHES_PER_FRAME:
        raise MethodRefused(
            f"{len(joint)} joint caches per frame, more than {MAX_CACHES_PER_FRAME} "
            "(enumerate is for tiny instances; use bnb)"
        )
    caches = [np.stack([sets[e][idx[e]] for e in range(E)]) for idx in joint]
    memo: dict[tuple[int, bytes], tuple[float, np.ndarray, np.ndarray, np.ndarray]] = {}

    def slot(g: int, cache: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        reqs = c.slot_requests(g)
        usable = cache[:, c.req_model[reqs]] & c.allowed[reqs].T  # what the slot can use
        key = (g, usable.tobytes())
        if key not in memo:
            memo[key] = _slot(c, g, cache)
        return memo[key]

    frame_value = np.array(
        [[sum(slot(t * K + k, x)[0] for k in range(K)) for x in caches] for t in range(T)]
    )
    # switch costs between joint caches: Σ_e w_s·GB loaded at e
    step_cost = np.zeros((len(joint), len(joint)))
    first_cost = np.zeros(len(joint))
    idx = np.array(joint, np.int64).reshape(len(joint), E)
    for e in range(E):
        loads = c.w_switch * load_matrix(c, sets[e], sets[e])
        step_cost += loads[idx[:, e]][:, idx[:, e]]
        first_cost += (
            c.w_switch * load_matrix(c, sets[e], c.initial_cache[e][None, :])[0][idx[:, e]]
        )
    best = frame_value[0] - first_cost
    choice = np.zeros((T, len(joint)), np.int64)
    for t in range(1, T):
        total = best[:, None] - step_cost
        choice[t] = total.argmax(axis=0)
        best = total.max(axis=0) + frame_value[t]
    path = [int(best.argmax())]
    for t in range(T - 1, 0, -1):
        path.append(int(choice[t, path[-1]]))
    path.reverse()
    cache = np.stack([caches[i] for i in path])
    R = c.n_requests
    server, shares, steps = np.full(R, -1, np.int64), np.ones(R), np.zeros(R)
    for g in range(c.n_slots):
        _, sv, sh, st = slot(g, cache[g // K])
        reqs = c.slot_requests(g)
        server[reqs], shares[reqs], steps[reqs] = sv, sh, st
    solution = CachingSolution.from_arrays(instance.name, "enumerate", cache, server, shares, steps)
    value = float(best.max())
    return finish(
        instance,
        "enumerate",
        Status.OPTIMAL,
        solution=solution,
        bound=value,
        wall_time_s=time.perf_counter() - start,
        nodes=len(memo),
        seed=options.seed,
    )
