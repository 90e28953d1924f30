"""``bnb:tree``, the best-first tree over cache bits with the horizon Lagrangian: exact against
brute force on tiny and hand-made instances (several linked servers, late weight > 0), the
same optimum as the frame searches, a valid bound when stopped anywhere."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings

import optkit
from optkit.errors import OptkitError
from optkit.gaps import agree
from optkit.instances.caching import CachingInstance
from optkit.solvers.registry import SolveOptions
from tests.caching.conftest import hand_made, tiny_instances
from tests.caching.stopping import StoppingSolver

TOL = 1e-6


def _scored(inst: CachingInstance, result: optkit.Result) -> float:
    assert result.status is not optkit.Status.ERROR, result.message
    assert result.solution is not None
    ev = optkit.evaluate(inst, result.solution)
    assert ev.feasible, ev.violations
    assert result.objective == ev.objective
    return float(ev.objective)


def _check(inst: CachingInstance) -> None:
    optimum = _scored(inst, optkit.solve(inst, "enumerate"))
    result = optkit.solve(inst, "bnb:tree")
    assert result.status is optkit.Status.OPTIMAL
    assert agree(_scored(inst, result), optimum)
    assert result.bound is not None and result.bound >= optimum - TOL * max(1.0, abs(optimum))


@settings(max_examples=15)
@given(tiny_instances)
def test_tree_agrees_with_enumerate(inst: CachingInstance) -> None:
    _check(inst)


@settings(max_examples=25)
@given(hand_made())
def test_tree_agrees_with_enumerate_on_hand_made(inst: CachingInstance) -> None:
    _check(inst)


def test_tree_matches_frames_and_bounds_the_optimum_when_stopped() -> None:
    """Three linked servers, late weight 2: the tree branches and fixes bits by reduced costs,
    proves the frame searches' optimum, and stopped after any number of steps reports a bound
    no lower than that optimum."""
    inst = optkit.generate("caching", "edgeaigc", "small", seed=101)[0]
    assert isinstance(inst, CachingInstance)
    assert inst.weights.late > 0 and inst.compiled.n_servers > 1
    optimum = _scored(inst, optkit.solve(inst, "bnb:frames"))
    full = StoppingSolver(inst, SolveOptions(variant="tree"))
    status, bound = full.run()
    assert status is optkit.Status.OPTIMAL
    assert agree(full.best_value, optimum)
    assert full.branchings > 0 and full.fixings > 0
    for stop in (40, 300, 1200):
        solver = StoppingSolver(inst, SolveOptions(variant="tree"))
        solver.budget = stop
        status, bound = solver.run()
        assert status is optkit.Status.TIME_LIMIT
        assert bound >= optimum - TOL * max(1.0, abs(optimum))
        assert math.isfinite(solver.best_value) and solver.best_value <= bound


def test_tree_time_limit_returns_a_solution_and_bound() -> None:
    inst = optkit.generate("caching", "edgeaigc", "medium", seed=5)[0]
    assert isinstance(inst, CachingInstance)
    result = optkit.solve(inst, "bnb:tree", time_limit=1.0)
    assert result.status in (optkit.Status.TIME_LIMIT, optkit.Status.OPTIMAL)
    value = _scored(inst, result)
    assert result.bound is not None and result.bound >= value
    assert result.bound_history


def test_unknown_bnb_variant_is_one_line() -> None:
    inst = optkit.generate("caching", "edgeaigc", "tiny", seed=1)[0]
    with pytest.raises(OptkitError, match="unknown variant 'bnb:deep'"):
        optkit.solve(inst, "bnb:deep")
