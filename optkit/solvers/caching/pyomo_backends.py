"""``scip``, ``gurobi`` and ``highs``: the Pyomo model of DESIGN §2.4 through outside solvers
(the references ``bnb`` is measured against).

Every backend runs with relative and absolute gap 0 (unless ``gap`` is given), feasibility and
integrality tolerances 1e-9, one thread and a fixed seed; the returned binaries and steps are
rounded, the shares re-optimised exactly with them fixed
(:func:`optkit.solvers.caching.shares.group_shares`), and the solution scored by
``optkit.evaluate``. SCIP's log is off unless ``verbose``: Pyomo's ``scip_direct`` reads it
through a pipe while PySCIPOpt holds the GIL, and a long log deadlocks (DESIGN §6).
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any

import numpy as np

from optkit.errors import MethodRefused
from optkit.instances.caching import CachingInstance
from optkit.instances.solution import CachingSolution
from optkit.models import caching as model_module
from optkit.solvers import stop
from optkit.solvers.caching.allocation import slot_data
from optkit.solvers.caching.shares import group_shares
from optkit.solvers.highs_threads import reset_highs_threads
from optkit.solvers.registry import SolveOptions
from optkit.solvers.result import Result, Status, finish

#: Pyomo termination conditions → optkit status (with a solution; without one it is an error).
_STATUS = {
    "convergenceCriteriaSatisfied": Status.OPTIMAL,
    "maxTimeLimit": Status.TIME_LIMIT,
    "iterationLimit": Status.TIME_LIMIT,
    "interrupted": Status.TIME_LIMIT,
}


def reoptimise_shares(instance: CachingInstance, solution: CachingSolution) -> CachingSolution:
    """The same caches, routing and steps with every slot's shares re-optimised exactly."""
    c = instance.compiled
    decisions = solution.requests
    server = np.array([-1 if d.at_cloud else int(d.server) for d in decisions], np.int64)
    steps = np.array([0.0 if d.steps is None else float(d.steps) for d in decisions])
    shares = np.array([d.bandwidth for d in decisions])
    for g in range(c.n_slots):
        data = slot_data(c, g)
        slack = []
        for q in data.requests:
            v = int(server[q.index])
            if v < 0:
                kappa = q.cloud_delay_s
            else:
                opt = next((o for o in q.edges if o.server == v), None)
                if opt is None:  # not a valid route: leave it for evaluate to report
                    kappa = q.cloud_delay_s
                else:
                    kappa = opt.fixed_s + opt.per_step_s * steps[q.index]
            slack.append(q.max_delay_s - kappa)
        for group in data.groups:
            b, _, _ = group_shares(
                [data.requests[i].radio_s for i in group],
                [slack[i] for i in group],
                c.w_delay,
                c.w_late,
            )
            for j, i in enumerate(group):
                shares[data.requests[i].index] = b[j]
    cache = [[list(row) for row in frame] for frame in solution.cache]
    return CachingSolution.from_arrays(
        solution.instance, solution.method, cache, server, shares, steps
    )


class _ReleasingGil:
    """A PySCIPOpt model whose ``optimize`` releases the GIL (``optimizeNogil``); every other
    attribute is the model's own."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def optimize(self) -> None:
        self._model.optimizeNogil()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def _scip_direct() -> Any:
    """Pyomo's ``scip_direct`` with SCIP solving outside the GIL. Pyomo reads the solver's
    output through a pipe in a Python thread while ``optimize`` runs; with the GIL held, any
    output beyond the pipe's buffer (warnings still print at verblevel 0) deadlocks the
    process — seen after a minute of a 300 s run on a medium instance."""
    from pyomo.contrib.solver.solvers.scip.scip_direct import ScipDirect

    class ScipDirectNoGil(ScipDirect):
        def _create_solver_model(self, model: Any, config: Any) -> Any:
            scip_model, loader, has_obj = super()._create_solver_model(model, config)
            return _ReleasingGil(scip_model), loader, has_obj

    return ScipDirectNoGil()


def _run(
    instance: CachingInstance,
    options: SolveOptions,
    method: str,
    solver_name: str,
    solver_options: dict[str, Any],
) -> Result:
    from pyomo.contrib.solver.common.factory import SolverFactory

    start = time.perf_counter()
    model = model_module.build(instance)
    solver = _scip_direct() if solver_name == "scip_direct" else SolverFactory(solver_name)
    kwargs: dict[str, Any] = {
        "load_solutions": False,
        "raise_exception_on_nonoptimal_result": False,
        "tee": options.verbose,
        "threads": options.threads,
        "rel_gap": 0.0 if options.gap is None else options.gap,
        "abs_gap": 0.0 if options.gap is None else None,
        "solver_options": solver_options,
    }
    if options.time_limit is not None:
        kwargs["time_limit"] = options.time_limit
    results = solver.solve(model, **{k: v for k, v in kwargs.items() if v is not None})
    condition = results.termination_condition.name
    if condition == "interrupted":
        stop.request()  # SCIP caught a Ctrl-C: the CLI stops after this run
    status = _STATUS.get(condition, Status.ERROR)
    if status is Status.OPTIMAL and options.gap is not None:
        status = Status.GAP_LIMIT
    bound = results.objective_bound
    try:  # SCIP reports its node count here; other backends may not
        nodes: int | None = int(results.extra_info["NNodes"])
    except (KeyError, TypeError, ValueError):
        nodes = None
    solution = None
    if results.solution_status.name in ("optimal", "feasible"):
        results.solution_loader.load_vars()
        solution = reoptimise_shares(instance, model_module.extract(instance, model, method))
    elif status is not Status.ERROR:
        status = Status.TIME_LIMIT
    if solution is None and status is Status.ERROR:
        return finish(
            instance,
            method,
            Status.ERROR,
            wall_time_s=time.perf_counter() - start,
            seed=options.seed,
            message=f"the solver ended with {condition} and no solution",
        )
    return finish(
        instance,
        method,
        status,
        solution=solution,
        bound=None if bound is None else float(bound),
        wall_time_s=time.perf_counter() - start,
        nodes=nodes,
        seed=options.seed,
        log=tuple((results.solver_log or "").splitlines()) if options.verbose else (),
    )


_IPOPT_OPTIONS: str | None = None


def _ipopt_options() -> str:
    """An Ipopt options file for SCIP's NLP subsolver: MUMPS orders with AMD instead of METIS.
    The bundled METIS can leave glibc's malloc lock held after an internal error recovery, and
    the next ``free`` then blocks the process for good — seen in SCIP's NLP heuristics after
    about a minute on t2drl medium instances (a thread dump shows ``METIS_NodeND`` →
    ``gk_malloc_cleanup`` → ``free`` waiting on ``main_arena``)."""
    global _IPOPT_OPTIONS
    if _IPOPT_OPTIONS is None:
        import tempfile

        with tempfile.NamedTemporaryFile(
            "w", suffix=".opt", prefix="optkit-ipopt-", delete=False
        ) as f:
            f.write("mumps_pivot_order 0\n")
        _IPOPT_OPTIONS = f.name
    return _IPOPT_OPTIONS


def scip(instance: CachingInstance, options: SolveOptions) -> Result:
    """The Pyomo model through SCIP (``scip_direct``), the outside reference."""
    return _run(
        instance,
        options,
        "scip",
        "scip_direct",
        {
            "numerics/feastol": 1e-9,
            "display/verblevel": 4 if options.verbose else 0,
            "randomization/randomseedshift": options.seed,
            "parallel/maxnthreads": options.threads,
            "nlpi/ipopt/optfile": _ipopt_options(),
        },
    )


def gurobi(instance: CachingInstance, options: SolveOptions) -> Result:
    """The Pyomo model through Gurobi (``gurobi_direct``), when gurobipy is installed."""
    if importlib.util.find_spec("gurobipy") is None:
        raise MethodRefused("gurobipy is not installed (pip install gurobipy and a licence)")
    try:
        return _run(
            instance,
            options,
            "gurobi",
            "gurobi_direct",
            {
                "FeasibilityTol": 1e-9,
                "IntFeasTol": 1e-9,
                "Seed": options.seed,
                "OutputFlag": int(options.verbose),
                "NonConvex": 2,
            },
        )
    except Exception as exc:  # licence limits surface as solver errors
        if "size-limited" in str(exc) or "licen" in str(exc).lower():
            raise MethodRefused(f"the model is too large for this licence ({exc})") from None
        raise


def highs(instance: CachingInstance, options: SolveOptions) -> Result:
    """The Pyomo model through HiGHS, only when the program is linear (w_d = w_l = 0)."""
    reason = model_module.nonlinear_reason(instance)
    if reason is not None:
        raise MethodRefused(f"the program of {instance.name} is not linear: {reason}")
    reset_highs_threads()
    return _run(
        instance,
        options,
        "highs",
        "highs",
        {
            "primal_feasibility_tolerance": 1e-9,
            "mip_feasibility_tolerance": 1e-9,
            "random_seed": options.seed,
            "output_flag": options.verbose,
        },
    )
