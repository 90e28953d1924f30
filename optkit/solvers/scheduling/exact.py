"""Exact methods for the scheduling family: the MILP of DESIGN §3.4 (``optkit.models.scheduling``)
solved by HiGHS (``highs``) or SCIP (``scip``) through Pyomo's ``contrib.solver`` interfaces —
the clairvoyant optimum over the whole horizon.

The horizon is first split into its independent parts (:mod:`.decompose`, exact); each part's
MILP is solved in turn and the solutions are concatenated. Unless the user gives a gap, every
solve runs with relative and absolute gap 0 and feasibility and integrality tolerances of 1e-9.
After each solve the binaries are rounded and the fractions re-solved with them fixed
(:func:`~optkit.solvers.scheduling.allocation.allocate`), so that no on-time task sits on the
failure threshold by the solver's tolerance; the result is scored by :func:`optkit.evaluate`.

``greedy-opt`` runs first (milliseconds). SCIP receives its binaries as a start. Under a time
limit the parts are solved easiest first (fewest tasks in their busiest slot: proof time grows
exponentially with them), each with an equal share of the time still left, so the time the
easy parts do not use goes to the hard ones; where a part's solver ends with no
solution, or a worse one, the part keeps greedy-opt's decisions (status ``time_limit``; the
message says so), and a part left with too little time contributes the trivial bound
Σ_n min cost_n (``Bounds.cost_min``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from optkit.errors import MethodRefused
from optkit.evaluate import evaluate
from optkit.gaps import solver_gap
from optkit.instances.scheduling import SchedulingInstance
from optkit.instances.solution import SchedulingSolution, TaskDecision
from optkit.models import scheduling as model_module
from optkit.solvers import stop
from optkit.solvers.highs_threads import reset_highs_threads
from optkit.solvers.registry import SolveOptions
from optkit.solvers.result import Result, Status, error_result, finish
from optkit.solvers.scheduling.allocation import allocate, drop_idle_servers
from optkit.solvers.scheduling.decompose import Part, parts
from optkit.solvers.scheduling.online_methods import GreedyOpt, run_online

#: Tolerances of a proof (DESIGN §6).
TOLERANCE = 1e-9

#: Least time (seconds) handed to a solver; a part reached with less left is not solved.
MIN_SOLVE_S = 0.05


def _status_table() -> dict[Any, Status | None]:
    """Pyomo's termination conditions → optkit's status (None: an error, with the condition
    named). ``convergenceCriteriaSatisfied`` becomes GAP_LIMIT when the user asked for a gap
    and the final gap is not 0."""
    from pyomo.contrib.solver.common.results import TerminationCondition as TC

    return {
        TC.convergenceCriteriaSatisfied: Status.OPTIMAL,
        TC.maxTimeLimit: Status.TIME_LIMIT,
        TC.iterationLimit: Status.TIME_LIMIT,
        TC.interrupted: Status.TIME_LIMIT,
        TC.objectiveLimit: None,
        TC.minStepLength: None,
        TC.unbounded: None,
        TC.provenInfeasible: None,
        TC.locallyInfeasible: None,
        TC.infeasibleOrUnbounded: None,
        TC.error: None,
        TC.licensingProblems: None,
        TC.emptyModel: None,
        TC.unknown: None,
    }


def _solver(backend: str) -> Any:
    import pyomo.environ  # noqa: F401  (registers the contrib.solver plugins)
    from pyomo.contrib.solver.common.factory import SolverFactory

    name = "highs" if backend == "highs" else "scip_direct"
    solver = SolverFactory(name)
    if not solver.available():
        raise MethodRefused(f"the {name} solver is not available in this Python environment")
    return solver


def _solver_options(backend: str, options: SolveOptions) -> dict[str, Any]:
    gap = 0.0 if options.gap is None else options.gap
    if backend == "highs":
        return {
            "mip_rel_gap": gap,
            "mip_abs_gap": 0.0,
            "mip_feasibility_tolerance": TOLERANCE,
            "primal_feasibility_tolerance": TOLERANCE,
            "dual_feasibility_tolerance": TOLERANCE,
            "random_seed": options.seed,
            "output_flag": options.verbose,
        }
    return {
        "limits/gap": gap,
        "limits/absgap": 0.0,
        "numerics/feastol": TOLERANCE,
        "numerics/dualfeastol": TOLERANCE,
        "randomization/randomseedshift": options.seed,
        # DESIGN §6: scip_direct reads the log through a pipe in a Python thread while
        # PySCIPOpt holds the GIL; a long log deadlocks. No log unless asked for.
        "display/verblevel": 4 if options.verbose else 0,
    }


@dataclass(frozen=True)
class _PartOutcome:
    decisions: tuple[TaskDecision, ...]
    status: Status
    bound: float
    nodes: int
    note: str
    log: tuple[str, ...]


def _solve_part(
    part: SchedulingInstance,
    greedy: tuple[TaskDecision, ...],
    backend: str,
    options: SolveOptions,
    time_left: float | None,
) -> _PartOutcome:
    """One independent part: build, solve, round, re-solve the fractions, keep the better of
    that and greedy-opt's decisions."""
    trivial = float(model_module.bounds(part.compiled).cost_min.sum())
    if time_left is not None and time_left < MIN_SOLVE_S:
        return _PartOutcome(greedy, Status.TIME_LIMIT, trivial, 0, "not reached", ())
    model = model_module.build(part)
    config: dict[str, Any] = {
        "tee": options.verbose,
        "load_solutions": False,
        "raise_exception_on_nonoptimal_result": False,
        "time_limit": time_left,
        "threads": options.threads,
        "solver_options": _solver_options(backend, options),
    }
    if backend == "scip":
        _set_start(part, model, greedy)
        config["warmstart_discrete_vars"] = True
    else:
        reset_highs_threads()
    results = _solver(backend).solve(model, **config)
    condition = results.termination_condition
    if condition.name == "interrupted":
        stop.request()  # SCIP caught a Ctrl-C: the other parts are not solved
    status = _status_table().get(condition)
    if status is None:
        raise _SolverFailed(f"{backend} ended with {condition.name} on {part.name}")
    bound = results.objective_bound
    bound = trivial if bound is None or not math.isfinite(bound) else max(float(bound), trivial)
    log = tuple((results.solver_log or "").splitlines()) if options.verbose else ()
    greedy_value = _value(part, greedy)
    decisions, note = greedy, "greedy-opt (no solver solution)"
    if results.incumbent_objective is not None:
        results.solution_loader.load_vars()
        solved = _polished(part, model)
        solved_value = _value(part, solved)
        # round-off ties go to the solver's solution
        if solved_value <= greedy_value + TOLERANCE * max(1.0, abs(greedy_value)):
            decisions, note = solved, ""
        else:
            note = "greedy-opt (better than the solver's)"
    return _PartOutcome(decisions, status, bound, _nodes(results) or 0, note, log)


class _SolverFailed(Exception):
    pass


def _value(instance: SchedulingInstance, decisions: tuple[TaskDecision, ...]) -> float:
    evaluation = evaluate(instance, SchedulingSolution(instance.name, "part", decisions))
    assert evaluation.objective is not None and evaluation.feasible, evaluation.violations
    return evaluation.objective


def _solve_milp(instance: SchedulingInstance, options: SolveOptions, backend: str) -> Result:
    _solver(backend)  # refuse early when the backend is missing; imports Pyomo off the clock
    start = time.perf_counter()
    deadline = None if options.time_limit is None else start + options.time_limit
    greedy = run_online(instance, GreedyOpt(instance))
    decisions: list[TaskDecision] = []
    statuses: list[Status] = []
    notes: list[str] = []
    logs: list[str] = []
    bound, nodes = 0.0, 0
    found = parts(instance)
    outcomes: dict[int, _PartOutcome] = {}
    for i, p in enumerate(solving_order(found)):
        part = found[p]
        # a fair share of the time left, so that one hard part cannot starve the others; the
        # easy parts come first and leave what they do not use to the rest
        left = None if deadline is None else (deadline - time.perf_counter()) / (len(found) - i)
        if stop.requested():
            left = 0.0  # the CLI's first Ctrl-C: greedy-opt for the parts not solved yet
        try:
            outcomes[p] = _solve_part(
                part.instance, greedy[part.first_task : part.end_task], backend, options, left
            )
        except _SolverFailed as exc:
            return error_result(
                instance, backend, str(exc), wall_time_s=time.perf_counter() - start
            )
    for p, part in enumerate(found):
        outcome = outcomes[p]
        decisions.extend(outcome.decisions)
        statuses.append(outcome.status)
        bound += outcome.bound
        nodes += outcome.nodes
        logs.extend(outcome.log)
        if outcome.note:
            notes.append(f"slots {part.first_slot}-{part.end_slot - 1}: {outcome.note}")
    solution = SchedulingSolution(instance.name, backend, tuple(decisions))
    status = Status.TIME_LIMIT if Status.TIME_LIMIT in statuses else Status.OPTIMAL
    if status is Status.OPTIMAL and options.gap is not None:
        final = evaluate(instance, solution).objective
        if final is not None and solver_gap(final, bound) > TOLERANCE:
            status = Status.GAP_LIMIT
    return finish(
        instance,
        backend,
        status,
        solution=solution,
        bound=bound,
        wall_time_s=time.perf_counter() - start,
        nodes=nodes,
        seed=options.seed,
        message="; ".join(notes),
        log=tuple(logs),
    )


def solving_order(found: list[Part]) -> list[int]:
    """The parts' indices, easiest first: fewest tasks in the busiest slot, then fewest tasks
    (ties in slot order)."""

    def difficulty(p: int) -> tuple[int, int]:
        slots = found[p].instance.compiled.slot_start
        return int(np.diff(slots).max()), found[p].end_task - found[p].first_task

    return sorted(range(len(found)), key=difficulty)


def _set_start(
    instance: SchedulingInstance, model: Any, decisions: tuple[TaskDecision, ...]
) -> None:
    """Give the binaries of ``decisions`` to the model (SCIP completes them to a solution)."""
    c = instance.compiled
    for n, d in enumerate(decisions):
        for j in range(c.n_servers):
            model.select[n, j].set_value(int(j in d.servers))
    evaluation = evaluate(instance, SchedulingSolution(instance.name, "start", decisions))
    failed = getattr(evaluation.details, "failed", np.zeros(c.n_tasks, bool))
    for n in model.fallible:
        model.failed[n].set_value(int(failed[n]))


def _polished(instance: SchedulingInstance, model: Any) -> tuple[TaskDecision, ...]:
    """Round the binaries of a loaded model and re-solve the fractions with them fixed."""
    import pyomo.environ as pyo

    raw = model_module.extract(instance, model, "part")
    failed = np.zeros(instance.compiled.n_tasks, bool)
    for n in model.fallible:
        failed[n] = (pyo.value(model.failed[n]) or 0.0) > 0.5
    allocation = allocate(instance, [d.servers for d in raw.tasks], failed)
    decisions = raw.tasks if allocation is None else allocation.decisions
    return drop_idle_servers(instance, decisions)


def _nodes(results: Any) -> int | None:
    info = results.extra_info
    for key in ("mip_node_count", "NNodes"):
        try:
            value = info[key]
        except (KeyError, AttributeError, TypeError):
            continue
        if isinstance(value, int) and value >= 0:
            return value
    return None


def highs(instance: SchedulingInstance, options: SolveOptions) -> Result:
    """``highs``: the MILP of DESIGN §3.4 solved by HiGHS."""
    return _solve_milp(instance, options, "highs")


def scip(instance: SchedulingInstance, options: SolveOptions) -> Result:
    """``scip``: the MILP of DESIGN §3.4 solved by SCIP (Pyomo ``scip_direct``)."""
    return _solve_milp(instance, options, "scip")


__all__ = ["MIN_SOLVE_S", "TOLERANCE", "highs", "scip", "solving_order"]
