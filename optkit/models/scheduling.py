"""The scheduling program of DESIGN §3.4 as a Pyomo MILP (minimisation, cost in seconds).

Variables, per task n and server j (slot k, base station b = b_n):

- ``select[n,j]`` ∈ {0,1}: y_{n,j}, j is one of n's servers;
- ``share[n,j]`` ∈ [0,1]: x_{n,j}, n's fraction at j, x ≤ y, Σ_j x = 1;
- ``make_span[n]``: T_n ≥ x_{n,j} a_{n,j} + w_{n,j} − M_{n,j}(1 − y_{n,j}) for every j;
- ``failed[n]`` ∈ {0,1} and ``cost[n]``, only for tasks that can fail at all (see below):
  T_n ≤ θ + U_n·failed_n with θ = ``fail_threshold_s`` (DESIGN §6: T > T_dl + 1e-9·max(1, T_dl)
  fails, the evaluator's rule), cost_n ≥ T_n − V_n·failed_n and cost_n ≥ φ T_dl·failed_n;
- ``queue[j,k]`` for k ≥ 1: Q_j(k) ≥ 0 and Q_j(k) ≥ Q_j(k−1) + Σ_{n in slot k−1} x_{n,j} D_n ρ_n
  − f_j Δ. This is exact, not a relaxation, because the cost only grows with the queues
  (``failure_penalty`` ≥ 1 is validated: failing never costs less than being on time).

The waits are linear expressions in earlier fractions (DESIGN §3.3):
w_{n,j} = (Q_j(k) + Σ_{n' before n in slot k} x_{n',j} D_{n'} ρ_{n'})/f_j
          + [j ≠ b]·Σ_{n' before n in slot k, b_{n'} = b} Σ_{j' ≠ b} x_{n',j'} D_{n'}/r_{j'}.

Big-M constants come from the instance's own bounds (:class:`Bounds`), never a blanket 1e6:
queues are bounded by sending every earlier task wholly to j, same-slot work by the slot's
earlier tasks, the uplink by each earlier task's slowest remote transfer. With y = 0 the share
is 0, so M_{n,j} = ŵ_{n,j} − T̲_n (upper bound of the wait minus the lower bound of the
make-span) suffices. A task whose make-span cannot exceed θ under any decisions gets no failure
binary.

Two families of valid inequalities tighten the relaxation without changing the optimum:

- T_n ≥ x_{n,j} a_{n,j} for every j (x > 0 forces y = 1);
- capacity (``capacity``), in slots with at least :data:`CAPACITY_MIN_TASKS` tasks: let every
  server run its pieces back to back in task order from the slot's start; each piece then ends
  no later than its finish time of §3.3, so task n's last piece ends by T_n, while all servers
  together process at most F = Σ_j f_j Gcycles per second. For any set S of the slot's tasks
  the mean-busy-time argument of single-machine scheduling (Queyranne's inequalities) gives
  Σ_{n∈S} D_nρ_n T_n ≥ [(Σ_S D_nρ_n)² + Σ_S (D_nρ_n)²] / (2F); the model holds it for the
  prefixes and suffixes of the slot's task order and the prefixes of its smallest-work-first
  order. Measured: they halve the root gap of a 10-task ``amcoedge`` slot and shorten the
  proofs of 8–12-task ``smcoedge`` slots, but slow the proofs of small ``amcoedge`` slots
  (≤ 6 tasks) in both HiGHS and SCIP — hence only in crowded slots, where they also lift the
  bound a time limit reports (``amcoedge`` medium at 120 s: gap 51 % → 26 %).

The objective Σ_n cost_n counts T_n for tasks that cannot fail and ``cost[n]`` for the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from optkit.instances.compiled import CompiledScheduling
from optkit.instances.scheduling import SchedulingInstance
from optkit.instances.solution import SchedulingSolution, TaskDecision

#: Slots with at least this many tasks get the capacity inequalities (module docstring).
CAPACITY_MIN_TASKS = 7


@dataclass(frozen=True)
class Bounds:
    """Bounds every feasible decision satisfies (seconds, Gcycles), from the instance alone.

    ``queue_max[k, j]``: Q_j(k) ≤ this; ``queue_min[k, j]``: Q_j(k) ≥ this (queues draining
    with nothing assigned); ``wait_max[n, j]`` / ``wait_min[n, j]``: bounds of w_{n,j};
    ``span_min[n]``: T_n ≥ 1/Σ_j 1/a_{n,j} (every server at once, no waits);
    ``span_max[n]``: T_n ≤ max_j (a_{n,j} + ŵ_{n,j}); ``can_fail[n]``: span_max > θ;
    ``cost_min[n]``: cost_n ≥ this (span_min, or φ·T_dl when even span_min is late).
    """

    queue_max: np.ndarray
    queue_min: np.ndarray
    wait_max: np.ndarray
    wait_min: np.ndarray
    span_min: np.ndarray
    span_max: np.ndarray
    can_fail: np.ndarray
    cost_min: np.ndarray


def bounds(c: CompiledScheduling) -> Bounds:
    """The :class:`Bounds` of a compiled instance."""
    N, J, K = c.n_tasks, c.n_servers, c.slots
    queue_max = np.zeros((K + 1, J))
    queue_min = np.zeros((K + 1, J))
    queue_max[0] = queue_min[0] = c.queue0_gcycles
    earlier_work = np.zeros(N)  # Σ work of the tasks before n in its slot
    earlier_uplink = np.zeros(N)  # Σ slowest remote transfer of earlier same-slot same-bs tasks
    slowest_remote = np.where(c.remote, c.transfer_s, 0.0).max(axis=1) if N else np.zeros(0)
    for k in range(K):
        tasks = c.slot_tasks(k)
        work = c.task_work_gcycles[tasks.start : tasks.stop]
        earlier_work[tasks.start : tasks.stop] = np.cumsum(work) - work
        for b in np.unique(c.task_bs[tasks.start : tasks.stop]):
            same = [n for n in tasks if c.task_bs[n] == b]
            tx = slowest_remote[same]
            earlier_uplink[same] = np.cumsum(tx) - tx
        queue_max[k + 1] = np.maximum(0.0, queue_max[k] + work.sum() - c.capacity_gcycles_per_slot)
        queue_min[k + 1] = np.maximum(0.0, queue_min[k] - c.capacity_gcycles_per_slot)
    slot = c.task_slot
    wait_max = (queue_max[slot] + earlier_work[:, None]) / c.cpu_ghz + c.remote * earlier_uplink[
        :, None
    ]
    wait_min = queue_min[slot] / c.cpu_ghz
    span_min = 1.0 / (1.0 / c.process_s).sum(axis=1) if N else np.zeros(0)
    span_max = (c.process_s + wait_max).max(axis=1) if N else np.zeros(0)
    return Bounds(
        queue_max=queue_max,
        queue_min=queue_min,
        wait_max=wait_max,
        wait_min=wait_min,
        span_min=span_min,
        span_max=span_max,
        can_fail=span_max > c.fail_threshold_s,
        cost_min=np.where(
            span_min > c.fail_threshold_s, c.failure_penalty * c.deadline_s, span_min
        ),
    )


def nonlinear_reason(instance: SchedulingInstance) -> str | None:
    """The program is a MILP for every scheduling instance."""
    del instance
    return None


def build(instance: SchedulingInstance, *, relax: bool = False) -> Any:
    """The Pyomo model of ``instance`` (see the module docstring); ``relax`` drops integrality."""
    import pyomo.environ as pyo

    c = instance.compiled
    bd = bounds(c)
    N, J, K = c.n_tasks, c.n_servers, c.slots
    a = c.process_s
    binary = pyo.UnitInterval if relax else pyo.Binary
    m = pyo.ConcreteModel(name=instance.name)
    m.tasks = pyo.Set(initialize=range(N), ordered=True)
    m.servers = pyo.Set(initialize=range(J), ordered=True)
    m.fallible = pyo.Set(initialize=np.flatnonzero(bd.can_fail).tolist(), ordered=True)
    m.later_slots = pyo.Set(initialize=range(1, K), ordered=True)

    m.select = pyo.Var(m.tasks, m.servers, within=binary)
    m.share = pyo.Var(m.tasks, m.servers, bounds=(0.0, 1.0))
    m.make_span = pyo.Var(
        m.tasks, bounds=lambda _, n: (float(bd.span_min[n]), float(bd.span_max[n]))
    )
    m.queue = pyo.Var(
        m.servers, m.later_slots, bounds=lambda _, j, k: (0.0, float(bd.queue_max[k, j]))
    )
    m.failed = pyo.Var(m.fallible, within=binary)
    fail_cost = c.failure_penalty * c.deadline_s
    m.cost = pyo.Var(m.fallible, bounds=(0.0, max(fail_cost, float(bd.span_max.max(initial=0)))))

    def queue_at(j: int, k: int) -> Any:
        return float(c.queue0_gcycles[j]) if k == 0 else m.queue[j, k]

    work, data, rate, cpu = c.task_work_gcycles, c.task_input_mbit, c.rate_mbps, c.cpu_ghz
    waits: dict[tuple[int, int], Any] = {}
    for k in range(K):
        tasks = list(c.slot_tasks(k))
        for i, n in enumerate(tasks):
            b = int(c.task_bs[n])
            before = tasks[:i]
            uplink = sum(
                m.share[p, jj] * float(data[p] / rate[jj])
                for p in before
                if c.task_bs[p] == b
                for jj in range(J)
                if jj != b
            )
            for j in range(J):
                earlier = sum(m.share[p, j] * float(work[p]) for p in before)
                waits[n, j] = (queue_at(j, k) + earlier) / float(cpu[j]) + (
                    uplink if j != b else 0.0
                )
    m.wait = pyo.Expression(m.tasks, m.servers, rule=lambda _, n, j: waits[n, j])

    m.shares_sum = pyo.Constraint(m.tasks, rule=lambda _, n: sum(m.share[n, :]) == 1)
    m.share_needs_select = pyo.Constraint(
        m.tasks, m.servers, rule=lambda _, n, j: m.share[n, j] <= m.select[n, j]
    )
    k_max = instance.max_servers

    def count_rule(_: Any, n: int) -> Any:
        count = sum(m.select[n, :])
        if k_max is None:
            return count >= 1
        return count == k_max if instance.exact_servers else (1, count, k_max)

    m.server_count = pyo.Constraint(m.tasks, rule=count_rule)
    big_m = np.maximum(0.0, bd.wait_max - bd.span_min[:, None])
    m.span_covers = pyo.Constraint(
        m.tasks,
        m.servers,
        rule=lambda _, n, j: (
            m.make_span[n]
            >= m.share[n, j] * float(a[n, j])
            + m.wait[n, j]
            - float(big_m[n, j]) * (1 - m.select[n, j])
        ),
    )
    m.span_covers_share = pyo.Constraint(
        m.tasks, m.servers, rule=lambda _, n, j: m.make_span[n] >= m.share[n, j] * float(a[n, j])
    )
    m.on_time = pyo.Constraint(
        m.fallible,
        rule=lambda _, n: (
            m.make_span[n]
            <= c.fail_threshold_s + float(bd.span_max[n] - c.fail_threshold_s) * m.failed[n]
        ),
    )
    m.cost_on_time = pyo.Constraint(
        m.fallible,
        rule=lambda _, n: (
            m.cost[n] >= m.make_span[n] - max(0.0, float(bd.span_max[n]) - fail_cost) * m.failed[n]
        ),
    )
    m.cost_failed = pyo.Constraint(
        m.fallible, rule=lambda _, n: m.cost[n] >= fail_cost * m.failed[n]
    )
    m.queue_growth = pyo.Constraint(
        m.servers,
        m.later_slots,
        rule=lambda _, j, k: (
            m.queue[j, k]
            >= queue_at(j, k - 1)
            + sum(m.share[n, j] * float(work[n]) for n in c.slot_tasks(k - 1))
            - float(c.capacity_gcycles_per_slot[j])
        ),
    )
    m.capacity = pyo.ConstraintList()
    for k in range(K):
        for group in _capacity_sets(c, k):
            total, squares = work[group].sum(), (work[group] ** 2).sum()
            m.capacity.add(
                sum(float(work[n]) * m.make_span[n] for n in group)
                >= float((total**2 + squares) / (2.0 * cpu.sum()))
            )
    fallible = set(m.fallible)
    m.total_cost = pyo.Objective(
        expr=sum(m.cost[n] if n in fallible else m.make_span[n] for n in m.tasks),
        sense=pyo.minimize,
    )
    return m


def _capacity_sets(c: CompiledScheduling, slot: int) -> list[list[int]]:
    """The task sets of ``slot`` that get a capacity inequality (see the module docstring)."""
    tasks = list(c.slot_tasks(slot))
    if len(tasks) < CAPACITY_MIN_TASKS:
        return []
    by_work = sorted(tasks, key=lambda n: (c.task_work_gcycles[n], n))
    candidates = [tasks[: i + 1] for i in range(len(tasks))]
    candidates += [tasks[i:] for i in range(1, len(tasks))]
    candidates += [by_work[: i + 1] for i in range(len(tasks))]
    unique: dict[tuple[int, ...], list[int]] = {}
    for group in candidates:
        unique.setdefault(tuple(sorted(group)), group)
    return list(unique.values())


def extract(instance: SchedulingInstance, model: Any, method: str) -> SchedulingSolution:
    """The solution held by a solved model: selections rounded, fractions clipped to [0, 1]
    on the selected servers and renormalised (solver round-off only)."""
    import pyomo.environ as pyo

    c = instance.compiled
    decisions = []
    for n in range(c.n_tasks):
        servers = [j for j in range(c.n_servers) if (pyo.value(model.select[n, j]) or 0) > 0.5]
        shares = np.clip([pyo.value(model.share[n, j]) or 0.0 for j in servers], 0.0, 1.0)
        total = shares.sum()
        shares = shares / total if total > 0 else np.full(len(servers), 1.0 / len(servers))
        decisions.append(TaskDecision(tuple(servers), tuple(shares.tolist())))
    return SchedulingSolution(instance=instance.name, method=method, tasks=tuple(decisions))


__all__ = ["CAPACITY_MIN_TASKS", "Bounds", "bounds", "build", "extract", "nonlinear_reason"]
