"""optkit: an optimization-first solver toolkit for edge AI-generated-content services.

The library in a few lines::

    import optkit
    inst = optkit.generate("caching", "t2drl", "small", seed=1)[0]
    result = optkit.solve(inst, method="no-cache:equal")
    print(result.status, result.objective)           # scored by optkit.evaluate
    ev = optkit.evaluate(inst, result.solution)      # feasibility, objective, metrics

Data flows one way: instance → method → solution → :func:`evaluate` → :class:`Result`.
"""

from optkit.errors import InvalidFileError, MethodRefused, OptkitError
from optkit.evaluate import Evaluation, evaluate
from optkit.gaps import agree, normalised_regret, policy_gap, solver_gap
from optkit.instances import (
    SENSE,
    CachingInstance,
    CachingSolution,
    Instance,
    SchedulingInstance,
    SchedulingSolution,
    Solution,
    load,
    load_instance,
    load_solution,
    save,
)
from optkit.instances.generators import generate
from optkit.solvers import solve
from optkit.solvers.result import Result, Status

__version__ = "0.1.0"

__all__ = [
    "SENSE",
    "CachingInstance",
    "CachingSolution",
    "Evaluation",
    "Instance",
    "InvalidFileError",
    "MethodRefused",
    "OptkitError",
    "Result",
    "SchedulingInstance",
    "SchedulingSolution",
    "Solution",
    "Status",
    "__version__",
    "agree",
    "evaluate",
    "generate",
    "load",
    "load_instance",
    "load_solution",
    "normalised_regret",
    "policy_gap",
    "save",
    "solve",
    "solver_gap",
]
