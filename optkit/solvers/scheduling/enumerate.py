"""``enumerate``: brute force for tiny scheduling instances, the test oracle (DESIGN §6).

For every independent part of the horizon (:mod:`.decompose`), every combination of one allowed
server subset per task and, among the tasks that can fail at all, every set of failed tasks is
tried; with all of these fixed the program is an LP (:func:`.allocation.allocate`), whose
optimum plus φ·T_dl per failed task is the cost of the combination. The least cost over all
combinations is the optimum: the failure sets make it exact, because cost_n jumps from T_n to
φ·T_dl at the threshold, which no single LP can express.

Combinations whose lower bound already reaches the best cost found are skipped without an LP
(φ·T_dl per failed task plus, per on-time task, its water-filling make-span on its subset with
the least waits it can have). The first incumbent is greedy-opt's solution, so the skipping is
safe: it only drops combinations that cannot be strictly better.

A part needing more than :data:`ENUMERATE_LIMIT` combinations is refused with that count.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np

from optkit.errors import MethodRefused
from optkit.evaluate import evaluate
from optkit.instances.scheduling import SchedulingInstance
from optkit.instances.solution import SchedulingSolution, TaskDecision
from optkit.models.scheduling import bounds
from optkit.solvers.registry import SolveOptions
from optkit.solvers.result import Result, Status, finish
from optkit.solvers.scheduling.allocation import allocate
from optkit.solvers.scheduling.decompose import parts
from optkit.solvers.scheduling.online_methods import GreedyOpt, run_online
from optkit.solvers.scheduling.waterfill import waterfill_subsets

#: Most combinations (subset choices × failure sets) of one part that enumerate will try.
ENUMERATE_LIMIT = 10_000


def combinations(instance: SchedulingInstance) -> int:
    """Combinations of subset choices and failure sets of the largest part of ``instance``."""
    most = 0
    for part in parts(instance):
        c = part.instance.compiled
        fallible = int(bounds(c).can_fail.sum())
        most = max(most, len(c.allowed_subsets) ** c.n_tasks * 2**fallible)
    return most


def optimum(instance: SchedulingInstance) -> tuple[tuple[TaskDecision, ...], float]:
    """The optimal decisions of a tiny instance and their cost (raises :class:`MethodRefused`
    when a part exceeds :data:`ENUMERATE_LIMIT`)."""
    needed = combinations(instance)
    if needed > ENUMERATE_LIMIT:
        raise MethodRefused(
            f"{instance.name} needs {needed} combinations of server subsets and "
            f"failure sets in one part, more than its limit of {ENUMERATE_LIMIT}; "
            "use highs or scip"
        )
    decisions: list[TaskDecision] = []
    total = 0.0
    for part in parts(instance):
        best, cost = _part_optimum(part.instance)
        decisions.extend(best)
        total += cost
    return tuple(decisions), total


def _part_optimum(part: SchedulingInstance) -> tuple[tuple[TaskDecision, ...], float]:
    c = part.compiled
    masks = c.allowed_subsets
    subsets = [tuple(np.flatnonzero(m).tolist()) for m in masks]
    bd = bounds(c)
    fail_cost = c.failure_penalty * c.deadline_s
    # least make-span of each task on each subset (waits at their lower bounds)
    least = np.array(
        [waterfill_subsets(c.process_s[n], bd.wait_min[n], masks)[1] for n in range(c.n_tasks)]
    ).reshape(c.n_tasks, len(subsets))
    fallible = np.flatnonzero(bd.can_fail).tolist()
    failure_sets = [
        frozenset(f) for r in range(len(fallible) + 1) for f in itertools.combinations(fallible, r)
    ]
    incumbent = run_online(part, GreedyOpt(part))
    best_value = _cost(part, incumbent)
    tasks = range(c.n_tasks)
    for choice in itertools.product(range(len(subsets)), repeat=c.n_tasks):
        servers = [subsets[i] for i in choice]
        spans = least[tasks, choice]
        for failed_set in failure_sets:
            lower = sum(fail_cost if n in failed_set else spans[n] for n in tasks)
            if lower >= best_value:
                continue
            failed = [n in failed_set for n in tasks]
            allocation = allocate(part, servers, failed)
            if allocation is None:
                continue
            value = _cost(part, allocation.decisions)
            if value < best_value:
                best_value, incumbent = value, allocation.decisions
    return incumbent, best_value


def _cost(instance: SchedulingInstance, decisions: tuple[TaskDecision, ...]) -> float:
    evaluation = evaluate(instance, SchedulingSolution(instance.name, "enumerate", decisions))
    if evaluation.objective is None or not evaluation.feasible:
        return math.inf
    return evaluation.objective


def enumerate_method(instance: SchedulingInstance, options: SolveOptions) -> Result:
    """``enumerate``: the brute-force optimum (tiny instances only)."""
    start = time.perf_counter()
    decisions, _ = optimum(instance)
    solution = SchedulingSolution(instance.name, "enumerate", decisions)
    value = evaluate(instance, solution).objective
    return finish(
        instance,
        "enumerate",
        Status.OPTIMAL,
        solution=solution,
        bound=value,
        wall_time_s=time.perf_counter() - start,
        seed=options.seed,
    )


__all__ = ["ENUMERATE_LIMIT", "combinations", "enumerate_method", "optimum"]
