"""The families' plain baselines (DESIGN §4): ``no-cache`` with equal shares (caching) and
``local`` (scheduling). They anchor the normalised regret and are the floor every other
method must beat."""

from __future__ import annotations

import time

import numpy as np

from optkit.errors import MethodRefused
from optkit.instances.caching import CachingInstance
from optkit.instances.compiled import CompiledCaching
from optkit.instances.scheduling import SchedulingInstance
from optkit.instances.solution import CachingSolution, SchedulingSolution, TaskDecision
from optkit.solvers.registry import SolveOptions
from optkit.solvers.result import Result, Status, finish


def equal_shares(c: CompiledCaching) -> np.ndarray:
    """Each request's equal share of its home server's bandwidth in its slot (1/count)."""
    key = c.req_global_slot * c.n_servers + c.req_home
    counts = np.bincount(key, minlength=c.n_slots * c.n_servers)
    return 1.0 / counts[key]


def no_cache(instance: CachingInstance, options: SolveOptions) -> Result:
    """Cache nothing; every request goes to the cloud with an equal bandwidth share."""
    start = time.perf_counter()
    c = instance.compiled
    empty = np.zeros((c.frames, c.n_servers, c.n_models), bool)
    solution = CachingSolution.from_arrays(
        instance.name,
        f"no-cache:{options.variant or 'equal'}",
        empty,
        np.full(c.n_requests, -1),
        equal_shares(c),
        np.zeros(c.n_requests),
    )
    return finish(
        instance,
        solution.method,
        Status.FEASIBLE,
        solution=solution,
        wall_time_s=time.perf_counter() - start,
        seed=options.seed,
    )


def local(instance: SchedulingInstance, options: SolveOptions) -> Result:
    """Every task on its own base station's server alone."""
    start = time.perf_counter()
    if instance.exact_servers and instance.max_servers != 1:
        raise MethodRefused(
            f"one server per task, but {instance.name} requires exactly "
            f"{instance.max_servers} (exact_servers); use an instance with max_servers: null"
        )
    solution = SchedulingSolution(
        instance=instance.name,
        method="local",
        tasks=tuple(TaskDecision((t.bs,), (1.0,)) for t in instance.tasks),
    )
    return finish(
        instance,
        "local",
        Status.FEASIBLE,
        solution=solution,
        wall_time_s=time.perf_counter() - start,
        seed=options.seed,
    )
