"""One ``Result`` and one ``Status`` for every method: exact solvers, relaxations, heuristics and
trained policies (modelled on Pyomo's ``contrib.solver`` results). Backends map their own
statuses onto :class:`Status` through one explicit table each.

Every result that carries a solution is scored by :func:`optkit.evaluate` in :func:`finish`:
``objective`` and ``metrics`` always come from there, and a method whose solution is infeasible
gets status ``error`` — never a reported objective.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from optkit.evaluate import Evaluation, evaluate
from optkit.instances.io import Instance
from optkit.instances.solution import Solution

RESULTS_SCHEMA = 1


class Status(StrEnum):
    """How a method ended (DESIGN §4)."""

    OPTIMAL = "optimal"  #: proven optimal within the default tolerances
    GAP_LIMIT = "gap_limit"  #: stopped at a user-requested gap; the bound is proven
    TIME_LIMIT = "time_limit"  #: best solution and bound found before the time limit
    FEASIBLE = "feasible"  #: a solution without proof (heuristics, policies)
    BOUND_ONLY = "bound_only"  #: a bound without a solution (``relax``)
    ERROR = "error"  #: failed; ``message`` says why


@dataclass(frozen=True)
class Result:
    """The outcome of one method on one instance.

    ``objective``: from :func:`optkit.evaluate` of ``solution`` (family's own sense: caching
    maximises utility, scheduling minimises cost). ``bound``: the method's proven dual bound
    (upper for caching, lower for scheduling), exact methods and ``relax`` only. ``gap``: the
    solver gap (:func:`optkit.gaps.solver_gap`). ``bound_history``: (seconds, incumbent,
    bound) triples, exact methods only.
    """

    instance: str
    family: str
    method: str
    status: Status
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    wall_time_s: float = 0.0
    nodes: int | None = None
    seed: int | None = None
    solution: Solution | None = field(default=None, repr=False)
    evaluation: Evaluation | None = field(default=None, repr=False)
    message: str = ""
    log: tuple[str, ...] = field(default=(), repr=False)
    bound_history: tuple[tuple[float, float | None, float | None], ...] = field(
        default=(), repr=False
    )

    @property
    def feasible(self) -> bool | None:
        return None if self.evaluation is None else self.evaluation.feasible

    @property
    def metrics(self) -> dict[str, Any] | None:
        return None if self.evaluation is None else self.evaluation.metrics

    def record(self) -> dict[str, Any]:
        """The results line of DESIGN §4 (exactly these keys; null where not applicable)."""
        return {
            "schema": RESULTS_SCHEMA,
            "instance": self.instance,
            "family": self.family,
            "method": self.method,
            "seed": self.seed,
            "status": self.status.value,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "wall_time_s": self.wall_time_s,
            "nodes": self.nodes,
            "feasible": self.feasible,
            "metrics": self.metrics,
        }


def finish(
    instance: Instance,
    method: str,
    status: Status,
    *,
    solution: Solution | None = None,
    bound: float | None = None,
    wall_time_s: float = 0.0,
    nodes: int | None = None,
    seed: int | None = None,
    message: str = "",
    log: tuple[str, ...] = (),
    bound_history: tuple[tuple[float, float | None, float | None], ...] = (),
) -> Result:
    """Score ``solution`` with :func:`optkit.evaluate` and assemble the :class:`Result`.

    An infeasible solution turns the status into ``error`` with the first violation in the
    message (a method that returns one has a bug). The solver gap is computed from the
    evaluated objective and ``bound``.
    """
    from optkit.gaps import solver_gap

    evaluation = None
    objective = None
    if solution is not None:
        evaluation = evaluate(instance, solution)
        objective = evaluation.objective
        if not evaluation.feasible:
            first = evaluation.violations[0]
            more = len(evaluation.violations) - 1
            message = f"{method} returned an infeasible solution: {first}" + (
                f" (and {more} more)" if more else ""
            )
            status = Status.ERROR
    if bound is not None and not math.isfinite(bound):
        bound = None
    gap = None
    if objective is not None and bound is not None:
        gap = solver_gap(objective, bound)
    return Result(
        instance=instance.name,
        family=instance.family,
        method=method,
        status=status,
        objective=objective,
        bound=bound,
        gap=gap,
        wall_time_s=wall_time_s,
        nodes=nodes,
        seed=seed,
        solution=solution,
        evaluation=evaluation,
        message=message,
        log=log,
        bound_history=bound_history,
    )


def error_result(
    instance: Instance,
    method: str,
    message: str,
    *,
    wall_time_s: float = 0.0,
    seed: int | None = None,
) -> Result:
    return Result(
        instance=instance.name,
        family=instance.family,
        method=method,
        status=Status.ERROR,
        wall_time_s=wall_time_s,
        seed=seed,
        message=message,
    )


def append_results(path: str | os.PathLike[str], results: list[Result] | Result) -> None:
    """Append results lines to ``path`` (JSON Lines, append-only, one write per call)."""
    items = [results] if isinstance(results, Result) else results
    text = "".join(json.dumps(r.record(), allow_nan=False) + "\n" for r in items)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


RESULT_KEYS = (
    "schema",
    "instance",
    "family",
    "method",
    "seed",
    "status",
    "objective",
    "bound",
    "gap",
    "wall_time_s",
    "nodes",
    "feasible",
    "metrics",
)
