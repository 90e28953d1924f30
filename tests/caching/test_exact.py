"""Exact methods agree with brute force and each other; every solution is feasible and scored by
optkit.evaluate; heuristics never beat the optimum; bounds never fall below it."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings

import optkit
from optkit.gaps import agree
from optkit.instances.caching import CachingInstance
from optkit.solvers.caching.allocation import _Search, allocate_slot, slot_data
from optkit.solvers.caching.shares import group_shares, late_dual_constant
from tests.caching.conftest import hand_made, preset_instance, tiny_instances
from tests.highs_threads import size_highs_scheduler

TOL = 1e-6
HEURISTICS = [
    f"{name}:{variant}"
    for name in ("no-cache", "random", "lfu", "lru", "popularity-oracle")
    for variant in ("equal", "optimal")
]


def _scored(inst: CachingInstance, result: optkit.Result) -> float:
    """The result's objective, checked against a fresh optkit.evaluate of its solution."""
    assert result.status is not optkit.Status.ERROR, result.message
    assert result.solution is not None
    ev = optkit.evaluate(inst, result.solution)
    assert ev.feasible, ev.violations
    assert result.objective == ev.objective
    return float(ev.objective)


def _above(bound: float | None, value: float) -> None:
    assert bound is not None
    assert bound >= value - TOL * max(1.0, abs(value))


@given(tiny_instances)
def test_bnb_agrees_with_enumerate(inst: CachingInstance) -> None:
    brute = optkit.solve(inst, "enumerate")
    optimum = _scored(inst, brute)
    result = optkit.solve(inst, "bnb")
    assert result.status is optkit.Status.OPTIMAL
    value = _scored(inst, result)
    assert agree(value, optimum), (value, optimum)
    _above(result.bound, optimum)
    _above(brute.bound, optimum)
    for method in HEURISTICS:
        h = optkit.solve(inst, method, seed=3)
        assert _scored(inst, h) <= optimum + TOL * max(1.0, abs(optimum)), method
    relax = optkit.solve(inst, "relax")
    assert relax.status is optkit.Status.BOUND_ONLY
    _above(relax.bound, optimum)


@settings(max_examples=12)
@given(tiny_instances)
def test_scip_agrees_with_enumerate(inst: CachingInstance) -> None:
    optimum = _scored(inst, optkit.solve(inst, "enumerate"))
    result = optkit.solve(inst, "scip")
    assert result.status is optkit.Status.OPTIMAL
    assert agree(_scored(inst, result), optimum)
    _above(result.bound, optimum)


def _brute_slot(inst: CachingInstance, g: int, cache: np.ndarray) -> float:
    c = inst.compiled
    search = _Search(slot_data(c, g), cache)
    options = []
    for i, q in enumerate(search.data.requests):
        opts = [(-1, 0)]
        for k in search.routes[i][1:]:
            e = q.edges[k]
            opts += [(k, s) for s in range(e.steps_min, e.steps_max + 1)]
        options.append(opts)
    best = -math.inf
    for combo in itertools.product(*options):
        used: dict[int, int] = {}
        for i, (k, s) in enumerate(combo):
            if k >= 0:
                v = search.data.requests[i].edges[k].server
                used[v] = used.get(v, 0) + s
        if all(u <= c.step_capacity[v] for v, u in used.items()):
            best = max(best, search.exact([k for k, _ in combo], [s for _, s in combo])[0])
    return best


@given(hand_made())
def test_slot_allocation_is_exact(inst: CachingInstance) -> None:
    c = inst.compiled
    rng = np.random.default_rng(len(inst.requests))
    for g in range(c.n_slots):
        cache = rng.random((c.n_servers, c.n_models)) < 0.7
        alloc = allocate_slot(c, g, cache)
        brute = _brute_slot(inst, g, cache)
        assert abs(alloc.value - brute) <= 1e-9 * max(1.0, abs(brute))


def test_shares_match_bisection_and_duality() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(1, 6))
        radio = list(rng.uniform(0, 1, n))
        slack = list(rng.uniform(-1, 3, n))
        wd, wl = float(rng.choice([0.0, 0.5, 1.0])), float(rng.choice([0.0, 1.0, 2.0]))
        if wd + wl == 0:
            continue
        shares, value, lam = group_shares(radio, slack, wd, wl)
        assert abs(sum(shares) - 1) < 1e-9
        # any other split is no better
        for _ in range(20):
            other = rng.dirichlet(np.ones(n))
            v = sum(
                -wd * a / b - wl * max(0.0, a / b - s)
                for a, s, b in zip(radio, slack, other, strict=True)
            )
            assert v <= value + 1e-9 * max(1, abs(value))
        # the late multipliers close the Lagrangian bound
        dual = late_dual_constant(radio, lam, wd, wl) + wl * float(np.dot(lam, slack))
        assert abs(dual - value) <= 1e-8 * max(1, abs(value))


def test_greedy_knapsack_counterexample(data_dir) -> None:  # type: ignore[no-untyped-def]
    inst = optkit.load_instance(data_dir / "greedy-knapsack.json")
    assert isinstance(inst, CachingInstance)
    for method in ("bnb", "enumerate", "scip"):
        result = optkit.solve(inst, method)
        assert result.status is optkit.Status.OPTIMAL
        assert _scored(inst, result) == pytest.approx(-120.66431913, rel=1e-8)


def test_time_limit_returns_a_valid_bound() -> None:
    inst = optkit.generate("caching", "edgeaigc", "medium", seed=5)[0]
    result = optkit.solve(inst, "bnb", time_limit=0.5)
    assert result.status in (optkit.Status.TIME_LIMIT, optkit.Status.OPTIMAL)
    value = _scored(inst, result)
    _above(result.bound, value)
    assert result.bound_history
    times = [h[0] for h in result.bound_history]
    assert times == sorted(times)


def test_a_time_limit_in_the_set_up_returns_what_there_is() -> None:
    """Stopped while the trivial bound is summed: nothing; while the empty caches are valued:
    the trivial bound alone; any later: a feasible solution and a valid bound (a huge instance
    must not keep a time limit waiting for its first incumbent)."""
    from optkit.solvers.caching import bnb
    from tests.caching.stopping import StoppingSolver

    inst = optkit.generate("caching", "edgeaigc", "tiny", seed=3)[0]
    assert isinstance(inst, CachingInstance)
    optimum = optkit.solve(inst, "bnb").objective
    assert optimum is not None
    slots = inst.compiled.n_slots

    def stopped_after(checks: int) -> optkit.Result:
        class Stopping(StoppingSolver):
            budget = checks

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(bnb, "_Solver", Stopping)
            result = optkit.solve(inst, "bnb")
        assert result.status is optkit.Status.TIME_LIMIT
        return result

    nothing = stopped_after(slots - 1)
    assert nothing.solution is None and nothing.bound is None
    bound_only = stopped_after(slots + 1)
    assert bound_only.solution is None
    _above(bound_only.bound, optimum)
    for checks in (2 * slots, 2 * slots + 3, 3 * slots, 5 * slots):
        result = stopped_after(checks)
        assert result.feasible and result.objective is not None
        assert result.objective <= optimum + 1e-9
        _above(result.bound, optimum)


def test_gap_option_stops_with_a_proven_bound() -> None:
    inst = optkit.generate("caching", "t2drl", "small", seed=4)[0]
    result = optkit.solve(inst, "bnb", gap=0.5)
    assert result.status in (optkit.Status.GAP_LIMIT, optkit.Status.OPTIMAL)
    value = _scored(inst, result)
    _above(result.bound, value)
    assert result.gap is not None and result.gap <= 0.5 + 1e-12
    exact = optkit.solve(inst, "bnb")
    _above(result.bound, float(exact.objective or 0))


def test_bnb_stops_once_the_gap_is_proven_before_or_inside_a_frame_search() -> None:
    """edgeaigc small s100-001: 5.2 % between incumbent and bound before the frame searches,
    3.7 % after the first one (whose maximum its fifth node finds). A gap of 6 % must start no
    frame search; 4.5 % must stop inside the first one (checked at every node here), not run it
    to its end; both with a bound above the optimum."""
    from optkit.solvers.caching import bnb

    inst = optkit.generate("caching", "edgeaigc", "small", seed=100, count=2)[1]
    optimum = optkit.solve(inst, "bnb").objective
    assert optimum is not None
    searched: list[int] = []

    class Counting(bnb._Solver):
        def solve_frame_max(self, t: int) -> None:
            super().solve_frame_max(t)
            searched.append(t)

    for gap in (0.06, 0.045):
        searched.clear()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(bnb, "_Solver", Counting)
            patch.setattr(bnb, "GAP_CHECK_NODES", 1)
            result = optkit.solve(inst, "bnb", gap=gap)
        assert result.status is optkit.Status.GAP_LIMIT
        assert searched == []
        value = _scored(inst, result)
        assert value <= optimum + 1e-9
        _above(result.bound, optimum)
        assert result.gap is not None and result.gap <= gap
        # 6 %: not one node searched; 4.5 %: fewer than the 73 the first search takes
        assert result.nodes == 0 if gap == 0.06 else 0 < result.nodes < 73


def test_gurobi_refuses_cleanly_when_absent() -> None:
    pytest.importorskip("gurobipy")
    inst = preset_instance("t2drl", 1)
    result = optkit.solve(inst, "gurobi")
    assert result.status is optkit.Status.OPTIMAL


def test_gurobi_absent_is_one_line() -> None:
    import importlib.util

    if importlib.util.find_spec("gurobipy") is not None:
        pytest.skip("gurobipy is installed")
    result = optkit.solve(preset_instance("t2drl", 1), "gurobi")
    assert result.status is optkit.Status.ERROR
    assert "gurobipy is not installed" in result.message and "\n" not in result.message


def _linear(inst: CachingInstance) -> CachingInstance:
    data = inst.to_dict()
    data["weights"] = {**data["weights"], "delay": 0.0, "late": 0.0}
    out = optkit.instances.instance_from_dict(data)
    assert isinstance(out, CachingInstance)
    return out


def test_highs_only_when_linear() -> None:
    inst = preset_instance("edgeaigc", 2)
    refused = optkit.solve(inst, "highs")
    assert refused.status is optkit.Status.ERROR and "not linear" in refused.message
    linear = _linear(inst)
    optimum = _scored(linear, optkit.solve(linear, "enumerate"))
    result = optkit.solve(linear, "highs")
    assert result.status is optkit.Status.OPTIMAL
    assert agree(_scored(linear, result), optimum)


def test_highs_runs_after_another_highs_run_with_other_threads() -> None:
    """The caching `highs` resets HiGHS's process-wide thread scheduler too (see
    tests/scheduling/test_exact.py for the failure it prevents)."""
    size_highs_scheduler(threads=2)
    linear = _linear(preset_instance("edgeaigc", 2))
    result = optkit.solve(linear, "highs", threads=1)
    assert result.status is optkit.Status.OPTIMAL, result.message


def test_open_nodes_bound_a_frame_maximum_from_a_poor_incumbent() -> None:
    """A frame's maximum search from the empty caches, stopped after every few nodes: the
    bound from its open nodes never falls below the frame's true maximum."""
    from optkit.solvers.caching import bnb
    from optkit.solvers.caching.lagrange import FrameTables
    from optkit.solvers.registry import SolveOptions

    inst = optkit.generate("caching", "edgeaigc", "small", seed=7)[0]
    assert isinstance(inst, CachingInstance)
    c = inst.compiled

    from tests.caching.stopping import StoppingSolver

    solver = StoppingSolver(inst, SolveOptions())
    solver.frames = [bnb._Frame(FrameTables(c, t, solver.sets)) for t in range(c.frames)]
    empty = [(0,) * c.n_servers] * c.frames
    solver.offer(empty)
    solver.build_bounds()
    fr = solver.frames[0]
    solver.solve_frame_max(0)
    maximum = fr.best
    stopped = 0
    for stop in range(1, 400, 7):
        solver.best_path, solver.best_value = None, -math.inf
        solver.offer(empty)
        fr.solved, fr.best = False, -math.inf
        solver.budget = stop
        try:
            solver.solve_frame_max(0)
        except bnb._Timeout:
            live = solver.live_upper()
            assert live is not None and live[0] == 0
            _above(live[1], maximum)
            stopped += 1
            solver.live = None
        solver.budget = None
    assert stopped >= 5
