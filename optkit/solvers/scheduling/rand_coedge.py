"""``rand-coedge``: AMCoEdge's RandCoEdge baseline (references §3.2, the authors' README): each
task on its local server plus one other server drawn uniformly at random (seeded), fractions
by water-filling (the authors' CWA). Online, like the methods of
:mod:`optkit.solvers.scheduling.online_methods`; instances that do not allow two servers per
task are refused."""

from __future__ import annotations

import numpy as np

from optkit.errors import MethodRefused
from optkit.instances.scheduling import SchedulingInstance
from optkit.instances.solution import TaskDecision
from optkit.solvers.registry import SolveOptions
from optkit.solvers.result import Result
from optkit.solvers.scheduling.online import SchedulingState
from optkit.solvers.scheduling.online_methods import _solve, waterfill_decision


class RandCoEdge:
    """The local server plus one uniformly random other server (numpy PCG64 seeded once)."""

    def __init__(self, instance: SchedulingInstance, seed: int) -> None:
        self.n_servers = len(instance.servers)
        self.base = instance.compiled.task_bs.tolist()
        self.rng = np.random.default_rng(seed)

    def __call__(self, state: SchedulingState, task: int) -> TaskDecision:
        local = self.base[task]
        other = int(self.rng.integers(self.n_servers - 1))
        other += other >= local  # uniform over the servers other than the local one
        return waterfill_decision(state, task, sorted((local, other)))


def rand_coedge(instance: SchedulingInstance, options: SolveOptions) -> Result:
    """``rand-coedge``: local plus one random server per task (seeded by ``options.seed``)."""
    if 2 not in instance.compiled.allowed_sizes():
        rule = "exactly" if instance.exact_servers else "at most"
        raise MethodRefused(
            f"every task on 2 servers, but {instance.name} allows {rule} {instance.max_servers}"
        )
    return _solve(instance, options, "rand-coedge", RandCoEdge(instance, options.seed))
