"""Solvers: exact, relaxation, heuristic methods and trained policies behind one call.

``optkit.solve(instance, method=..., time_limit=..., gap=..., seed=...) -> Result``; methods are
listed by ``optkit.solvers.methods()`` and in ``optkit solve --help``.
"""

from optkit.solvers.registry import (
    MethodInfo,
    SolveOptions,
    canonical,
    lookup,
    methods,
    register,
    solve,
)
from optkit.solvers.result import Result, Status, append_results, finish
from optkit.solvers.results_file import read_results

__all__ = [
    "MethodInfo",
    "Result",
    "SolveOptions",
    "Status",
    "append_results",
    "canonical",
    "finish",
    "lookup",
    "methods",
    "read_results",
    "register",
    "solve",
]
