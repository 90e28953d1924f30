"""The non-anticipative bound (optkit.solvers.caching.foresight): its pieces are exact and the
bound holds for policies that choose frame 0's caches blind."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings

import optkit
from optkit.errors import MethodRefused
from optkit.gaps import policy_gap
from optkit.instances.caching import CachingInstance
from optkit.solvers.caching.foresight import (
    first_frame_caches,
    fixed_first_frame,
    non_anticipative_bound,
    relabel,
)
from tests.caching.conftest import preset_instance, tiny_instances


@settings(max_examples=15, deadline=None)
@given(tiny_instances)
def test_best_fixed_first_frame_is_the_optimum(inst: CachingInstance) -> None:
    """max over c₀ of V(c₀) is the unconstrained optimum (enumerate's)."""
    best = max(fixed_first_frame(inst, first) for first in first_frame_caches(inst))
    optimum = optkit.solve(inst, "enumerate").objective
    assert optimum is not None
    assert best == pytest.approx(optimum, rel=1e-6, abs=1e-6)


def test_relabel_moves_every_request() -> None:
    inst = preset_instance("t2drl", 3)
    perm = np.array([2, 0, 1])
    moved = relabel(inst, perm)
    assert [r.model for r in moved.requests] == [int(perm[r.model]) for r in inst.requests]
    assert moved.models == inst.models and moved.servers == inst.servers


@pytest.mark.parametrize(("preset", "seed"), [("t2drl", 0), ("t2drl", 7), ("edgeaigc", 1)])
def test_blind_policies_stay_under_the_bound(preset: str, seed: int) -> None:
    """Heuristics whose frame-0 caches ignore the requests (and, later, use only the past)
    cannot beat the bound on average over the relabellings — exact here: tiny instances have
    3 models, so all 6 relabellings are enumerated."""
    inst = preset_instance(preset, seed)
    bound = non_anticipative_bound(inst, samples=30)
    assert bound.exhaustive and bound.relabellings == 6
    assert bound.objective_bound <= bound.mean_optimum + 1e-9
    relabelled = [relabel(inst, np.array(p)) for p in itertools.permutations(range(3))]
    optima = [_objective(r, "bnb") for r in relabelled]
    assert np.mean(optima) == pytest.approx(bound.mean_optimum, rel=1e-9)
    for method, seeds in (
        ("lfu:optimal", [0]),
        ("no-cache:optimal", [0]),
        ("random:optimal", [0, 1]),
    ):
        for s in seeds:
            objectives = [_objective(r, method, s) for r in relabelled]
            assert np.mean(objectives) <= bound.objective_bound + 1e-6, method
            if bound.gap_bound is not None:
                gaps = [policy_gap(v, o, "max") for v, o in zip(objectives, optima, strict=True)]
                assert all(g is not None for g in gaps)
                assert np.mean([g for g in gaps if g is not None]) >= bound.gap_bound - 1e-6


def test_sampled_relabellings_are_seeded() -> None:
    inst = optkit.generate("caching", "t2drl", "tiny", seed=11)[0]
    assert isinstance(inst, CachingInstance)
    a = non_anticipative_bound(inst, samples=3, seed=5)
    b = non_anticipative_bound(inst, samples=3, seed=5)
    assert not a.exhaustive and a.relabellings == 3
    assert (a.objective_bound, a.gap_bound) == (b.objective_bound, b.gap_bound)
    assert a.objective_stderr >= 0.0


def test_too_many_first_frame_caches_is_refused() -> None:
    inst = optkit.generate("caching", "edgeaigc", "medium", seed=0)[0]
    assert isinstance(inst, CachingInstance)
    with pytest.raises(MethodRefused, match="joint first-frame caches"):
        non_anticipative_bound(inst)


def _objective(inst: CachingInstance, method: str, seed: int = 0) -> float:
    value = optkit.solve(inst, method, seed=seed).objective
    assert value is not None
    return value
