"""The scheduling program with every task's servers and the set of failed tasks fixed: an LP
in the fractions, the make-spans and the queues (scipy's HiGHS, dual simplex).

It is what remains of DESIGN §3.4 once the binaries are chosen, so it serves twice: the exact
methods re-solve their continuous part with it after rounding the binaries (DESIGN §6), and
``enumerate`` solves it for every combination of subsets and failure sets.

On-time tasks are held to T_n ≤ T_dl, strictly inside the evaluator's threshold
T_dl + 1e-9·max(1, T_dl), so that the LP's own tolerance cannot push a task over it; only when
that is infeasible is the threshold itself used. Failed tasks have no make-span constraint
(their cost is φ·T_dl whatever it is) but their work still loads the servers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_array

from optkit.instances.scheduling import SchedulingInstance
from optkit.instances.solution import TaskDecision

#: HiGHS tolerances: well below the 1e-9 margin between T_dl and the failure threshold.
LP_OPTIONS = {
    "primal_feasibility_tolerance": 1e-10,
    "dual_feasibility_tolerance": 1e-10,
    "presolve": True,
}


@dataclass(frozen=True)
class Allocation:
    """An optimal solution of the fixed-binaries LP: the decisions (servers as given) and the
    LP's objective Σ_{on-time n} T_n (seconds; failed tasks' φ·T_dl not included)."""

    decisions: tuple[TaskDecision, ...]
    on_time_span_s: float


def allocate(
    instance: SchedulingInstance,
    servers: Sequence[Sequence[int]],
    failed: Sequence[bool] | np.ndarray,
    limit_s: float | None = None,
) -> Allocation | None:
    """Best fractions for fixed ``servers[n]`` (ascending) and ``failed[n]``; None when no
    fractions keep every task not in ``failed`` within ``limit_s`` (default: T_dl, then the
    failure threshold)."""
    c = instance.compiled
    if limit_s is None:
        found = allocate(instance, servers, failed, c.deadline_s)
        return found or allocate(instance, servers, failed, c.fail_threshold_s)
    N, J, K = c.n_tasks, c.n_servers, c.slots
    # variable layout: x (one per selected pair), T (one per on-time task), Q (servers × later slots)
    x_index: dict[tuple[int, int], int] = {}
    for n in range(N):
        for j in servers[n]:
            x_index[n, int(j)] = len(x_index)
    on_time = [n for n in range(N) if not failed[n]]
    t_index = {n: len(x_index) + i for i, n in enumerate(on_time)}
    q_base = len(x_index) + len(on_time)

    def q_index(j: int, k: int) -> int:
        return q_base + (k - 1) * J + j

    n_vars = q_base + J * max(K - 1, 0)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    rhs: list[float] = []
    work, data, rate, cpu = c.task_work_gcycles, c.task_input_mbit, c.rate_mbps, c.cpu_ghz

    def add(row: int, col: int, value: float) -> None:
        rows.append(row)
        cols.append(col)
        vals.append(value)

    # finish at each selected server: x a + w − T ≤ 0 (w's constant part moves right)
    for k in range(K):
        tasks = list(c.slot_tasks(k))
        for i, n in enumerate(tasks):
            if failed[n]:
                continue
            b = int(c.task_bs[n])
            for j in servers[n]:
                j = int(j)
                row = len(rhs)
                add(row, x_index[n, j], float(c.process_s[n, j]))
                add(row, t_index[n], -1.0)
                constant = 0.0
                if k == 0:
                    constant = float(c.queue0_gcycles[j] / cpu[j])
                else:
                    add(row, q_index(j, k), float(1.0 / cpu[j]))
                for p in tasks[:i]:
                    if (p, j) in x_index:
                        add(row, x_index[p, j], float(work[p] / cpu[j]))
                    if j != b and c.task_bs[p] == b:
                        for jj in servers[p]:
                            if jj != b:
                                add(row, x_index[p, int(jj)], float(data[p] / rate[jj]))
                rhs.append(-constant)
    # queues: Q_j(k−1) + Σ x work − f Δ − Q_j(k) ≤ 0
    for k in range(1, K):
        for j in range(J):
            row = len(rhs)
            add(row, q_index(j, k), -1.0)
            constant = float(c.queue0_gcycles[j]) if k == 1 else 0.0
            if k > 1:
                add(row, q_index(j, k - 1), 1.0)
            for n in c.slot_tasks(k - 1):
                if (n, j) in x_index:
                    add(row, x_index[n, j], float(work[n]))
            rhs.append(float(c.capacity_gcycles_per_slot[j]) - constant)
    a_ub = coo_array((vals, (rows, cols)), shape=(len(rhs), n_vars)).tocsr()
    eq_rows = [n for n in range(N) for _ in servers[n]]
    eq_cols = [x_index[n, int(j)] for n in range(N) for j in servers[n]]
    a_eq = coo_array((np.ones(len(eq_cols)), (eq_rows, eq_cols)), shape=(N, n_vars)).tocsr()
    objective = np.zeros(n_vars)
    objective[list(t_index.values())] = 1.0
    var_bounds = (
        [(0.0, 1.0)] * len(x_index)
        + [(0.0, limit_s)] * len(on_time)
        + [(0.0, None)] * (n_vars - q_base)
    )
    res = linprog(
        objective,
        A_ub=a_ub if len(rhs) else None,
        b_ub=np.asarray(rhs) if len(rhs) else None,
        A_eq=a_eq,
        b_eq=np.ones(N),
        bounds=var_bounds,
        method="highs-ds",
        options=LP_OPTIONS,
    )
    if res.status != 0:
        return None
    values = res.x
    decisions = []
    for n in range(N):
        chosen = [int(j) for j in servers[n]]
        shares = np.clip([values[x_index[n, j]] for j in chosen], 0.0, 1.0) + 0.0  # no -0.0
        shares /= shares.sum()
        decisions.append(TaskDecision(tuple(chosen), tuple(shares.tolist())))
    return Allocation(tuple(decisions), float(res.fun))


def drop_idle_servers(
    instance: SchedulingInstance, decisions: Sequence[TaskDecision]
) -> tuple[TaskDecision, ...]:
    """Remove selected servers with fraction exactly 0 where the count rule allows it. Such a
    server only adds its wait to the make-span (DESIGN §3.2), so removing it never costs more;
    under ``exact_servers`` nothing is removed."""
    if instance.exact_servers:
        return tuple(decisions)
    kept = []
    for d in decisions:
        busy = [(j, x) for j, x in zip(d.servers, d.fractions, strict=True) if x > 0.0]
        if busy and len(busy) < len(d.servers):
            d = TaskDecision(tuple(j for j, _ in busy), tuple(x for _, x in busy))
        kept.append(d)
    return tuple(kept)


__all__ = ["LP_OPTIONS", "Allocation", "allocate", "drop_idle_servers"]
