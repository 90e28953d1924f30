"""Online scheduling methods (DESIGN §6): task by task, in order, each sees only the present
state (queues, same-slot work, uplink backlog) through :class:`SchedulingState`.

- ``greedy-opt``: every allowed subset with water-filling fractions; the subset minimising
  (cost_n, T_n, |S|, then the lexicographically smallest S). The authors' online "Optimal"
  (AMCoEdge's greedy enumeration of all actions with the true state). Vectorised over subsets.
- ``fastest-k[:K]``: the K servers that would finish the whole task soonest on their own
  (smallest a_{n,j} + w_{n,j}, ties to the lower index), water-filling fractions.
- ``random-k[:K]``: K servers drawn uniformly (seeded), water-filling fractions.

K defaults to the instance's ``max_servers`` and, when that is null (any number of servers),
to 3, SMCoEdge's top-k (``references/paper-formulations.md`` §3.1). A K the instance does not
allow (≠ ``max_servers`` under ``exact_servers``, > ``max_servers`` otherwise) is refused.
``local`` stays in :mod:`optkit.solvers.baselines` (one fixed server; it needs no state).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from optkit.errors import MethodRefused
from optkit.instances.scheduling import SchedulingInstance
from optkit.instances.solution import SchedulingSolution, TaskDecision
from optkit.solvers.registry import SolveOptions
from optkit.solvers.result import Result, Status, finish
from optkit.solvers.scheduling.online import SchedulingState
from optkit.solvers.scheduling.waterfill import fill, fractions_at_level, waterfill_subsets

#: SMCoEdge's k, the default of random-k and fastest-k on instances with any number of servers.
DEFAULT_K = 3

#: A policy: given the state and the next task (of the current slot), the servers (ascending)
#: and their fractions.
Policy = Callable[[SchedulingState, int], TaskDecision]


def run_online(instance: SchedulingInstance, policy: Policy) -> tuple[TaskDecision, ...]:
    """Decide every task in order with ``policy`` and return the decisions."""
    state = SchedulingState(instance)
    slots = instance.compiled.task_slot.tolist()
    decisions = []
    for n, slot in enumerate(slots):
        state.advance_to(slot)
        decision = policy(state, n)
        state.apply(n, decision.servers, decision.fractions)
        decisions.append(decision)
    return tuple(decisions)


def waterfill_decision(
    state: SchedulingState, task: int, servers: Sequence[int] | np.ndarray
) -> TaskDecision:
    """``task`` on ``servers`` (ascending indices) with water-filling fractions."""
    chosen = servers.tolist() if isinstance(servers, np.ndarray) else list(servers)
    process, waits = state.process_list(task), state.wait_list(task)
    fractions, _ = fill([process[j] for j in chosen], [waits[j] for j in chosen])
    return TaskDecision(tuple(chosen), tuple(fractions))


class GreedyOpt:
    """The greedy-opt policy: the best allowed subset for the task alone (DESIGN §6)."""

    def __init__(self, instance: SchedulingInstance) -> None:
        c = instance.compiled
        self.masks = c.allowed_subsets
        self.threshold, self.fail_cost = c.fail_threshold_s, c.failure_penalty * c.deadline_s

    def __call__(self, state: SchedulingState, task: int) -> TaskDecision:
        process, waits = state.process(task), state.waits(task)
        level, make_span = waterfill_subsets(process, waits, self.masks)
        cost = np.where(make_span > self.threshold, self.fail_cost, make_span)
        # allowed_subsets run by size, then lexicographically: among the subsets of least
        # (cost, T), argmin's first index is the smallest |S|, then the smallest S
        best_cost = cost.min()
        best = int(np.argmin(np.where(cost == best_cost, make_span, np.inf)))
        servers = np.flatnonzero(self.masks[best])
        fractions = fractions_at_level(process[servers], waits[servers], float(level[best]))
        return TaskDecision(tuple(servers.tolist()), tuple(fractions))


class FastestK:
    """The K servers with the smallest a_{n,j} + w_{n,j}, water-filling fractions."""

    def __init__(self, k: int) -> None:
        self.k = k

    def __call__(self, state: SchedulingState, task: int) -> TaskDecision:
        alone = state.process(task) + state.waits(task)
        servers = np.sort(np.argsort(alone, kind="stable")[: self.k])
        return waterfill_decision(state, task, servers)


class RandomK:
    """K servers uniformly at random (numpy PCG64 seeded once), water-filling fractions."""

    def __init__(self, k: int, n_servers: int, seed: int) -> None:
        self.k, self.n_servers = k, n_servers
        self.rng = np.random.default_rng(seed)

    def __call__(self, state: SchedulingState, task: int) -> TaskDecision:
        servers = np.sort(self.rng.choice(self.n_servers, self.k, replace=False))
        return waterfill_decision(state, task, servers)


def server_count(instance: SchedulingInstance, method: str, variant: str | None) -> int:
    """K of ``random-k`` / ``fastest-k`` (see the module docstring); refuses what the instance
    does not allow."""
    J, k_max = len(instance.servers), instance.max_servers
    if variant:
        k = int(variant)  # the registry takes only integers >= 1 here (SERVER_COUNT)
        if k > J:
            raise MethodRefused(f"{k} servers per task, but {instance.name} has {J} servers")
    else:
        k = k_max if k_max is not None else min(DEFAULT_K, J)
    if k_max is not None and instance.exact_servers and k != k_max:
        raise MethodRefused(
            f"{k} servers per task, but {instance.name} requires exactly {k_max} "
            f"(exact_servers); use {method}:{k_max}"
        )
    if k_max is not None and k > k_max:
        raise MethodRefused(f"{k} servers per task, but {instance.name} allows at most {k_max}")
    return k


def _solve(
    instance: SchedulingInstance, options: SolveOptions, name: str, policy: Policy
) -> Result:
    start = time.perf_counter()
    decisions = run_online(instance, policy)
    solution = SchedulingSolution(instance=instance.name, method=name, tasks=decisions)
    return finish(
        instance,
        name,
        Status.FEASIBLE,
        solution=solution,
        wall_time_s=time.perf_counter() - start,
        seed=options.seed,
    )


def greedy_opt(instance: SchedulingInstance, options: SolveOptions) -> Result:
    """``greedy-opt``: per task, the best allowed subset with water-filling fractions."""
    return _solve(instance, options, "greedy-opt", GreedyOpt(instance))


def fastest_k(instance: SchedulingInstance, options: SolveOptions) -> Result:
    """``fastest-k[:K]``: the K servers that finish the whole task soonest alone."""
    k = server_count(instance, "fastest-k", options.variant)
    return _solve(instance, options, f"fastest-k:{k}", FastestK(k))


def random_k(instance: SchedulingInstance, options: SolveOptions) -> Result:
    """``random-k[:K]``: K random servers per task (seeded by ``options.seed``)."""
    k = server_count(instance, "random-k", options.variant)
    policy = RandomK(k, len(instance.servers), options.seed)
    return _solve(instance, options, f"random-k:{k}", policy)


__all__ = [
    "DEFAULT_K",
    "FastestK",
    "GreedyOpt",
    "Policy",
    "RandomK",
    "fastest_k",
    "greedy_opt",
    "random_k",
    "run_online",
    "server_count",
    "waterfill_decision",
]
