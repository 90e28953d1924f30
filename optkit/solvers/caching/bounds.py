"""Building blocks of the caching bounds shared by ``bnb`` and ``enumerate``: each server's
feasible cache sets, the GB loaded between sets, and late multipliers λ from a solution's slots
(the bounds themselves live in :mod:`optkit.solvers.caching.lagrange`)."""

from __future__ import annotations

import numpy as np

from optkit.errors import MethodRefused
from optkit.instances.compiled import CompiledCaching
from optkit.solvers.caching.allocation import SlotAllocation, SlotData, slot_data
from optkit.solvers.caching.shares import bandwidth_price, group_shares

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
                f"server {e} has more than {MAX_SETS_PER_SERVER} feasible cache sets "
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


def _deadline_slack(data: SlotData, alloc: SlotAllocation) -> list[float]:
    """Per request of the slot, its deadline less its non-radio delay (generation at the
    chosen server and steps, or the cloud's delay): the time left for the radio transfer."""
    slack = []
    for i, q in enumerate(data.requests):
        v = int(alloc.server[i])
        if v < 0:
            kappa = q.cloud_delay_s
        else:
            opt = next(o for o in q.edges if o.server == v)
            kappa = opt.fixed_s + opt.per_step_s * float(alloc.steps[i])
        slack.append(q.max_delay_s - kappa)
    return slack


def late_multipliers(c: CompiledCaching, allocations: list[SlotAllocation]) -> np.ndarray:
    """λ from a solution's slot allocations: each request's late multiplier at its optimal
    shares (1 late, 0 on time, between on the deadline)."""
    lam = np.zeros(c.n_requests)
    for g, alloc in enumerate(allocations):
        data = slot_data(c, g)
        reqs = data.requests
        slack = _deadline_slack(data, alloc)
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


def bandwidth_prices(c: CompiledCaching, allocations: list[SlotAllocation]) -> np.ndarray:
    """ν from a solution's slot allocations: per request, the optimal price of its home
    server's bandwidth in its slot at that solution's routing and steps."""
    prices = np.zeros(c.n_requests)
    for g, alloc in enumerate(allocations):
        data = slot_data(c, g)
        reqs = data.requests
        slack = _deadline_slack(data, alloc)
        for group in data.groups:
            nu = bandwidth_price(
                [reqs[i].radio_s for i in group],
                [slack[i] for i in group],
                data.w_delay,
                data.w_late,
            )
            for i in group:
                prices[reqs[i].index] = nu
    return prices


def load_matrix(c: CompiledCaching, sets: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """GB loaded moving from each row of ``previous`` to each row of ``sets`` [prev, sets]."""
    sized = sets * c.size_gb  # [sets, models]
    total = sized.sum(axis=1)
    kept = previous.astype(float) @ sized.T
    loaded: np.ndarray = total[None, :] - kept
    return loaded
