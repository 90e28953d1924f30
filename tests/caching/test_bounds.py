"""bnb's building blocks: the Lagrangian frame bounds never fall below the exact values they
bound (for any prices π ≥ 0, late multipliers λ or bandwidth prices ν), the set-packing slot allocation agrees
with the plain search, and the set relaxation is a valid bound no weaker than the direct one."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import optkit
from optkit.instances import instance_from_dict
from optkit.instances.caching import CachingInstance
from optkit.solvers.caching import allocation
from optkit.solvers.caching.allocation import (
    SlotData,
    _pack,
    _Priced,
    _prices,
    _Search,
    allocate_slot,
    slot_data,
)
from optkit.solvers.caching.bounds import server_sets
from optkit.solvers.caching.lagrange import (
    FrameBound,
    FrameTables,
    Variant,
    evaluate,
    leaf_evaluate,
)
from optkit.solvers.caching.plan import SlotValues
from optkit.solvers.caching.shares import bandwidth_price, group_shares, priced_radio_value
from tests.caching.conftest import hand_made, preset_instance, random_slot_caches, tiny_instances

TOL = 1e-9


def _frame_values(inst: CachingInstance, t: int, tables: FrameTables) -> dict[tuple, float]:
    """The exact value of frame t for every joint class (one member set each)."""
    c = inst.compiled
    values = SlotValues(c)
    out = {}
    for classes in itertools.product(*[range(len(r)) for r in tables.class_rep]):
        cache = np.stack([tables.class_rep[v][k] for v, k in enumerate(classes)])
        out[classes] = values.frame(t, cache)
    return out


@settings(max_examples=25)
@given(tiny_instances, st.integers(0, 2**32 - 1))
def test_frame_bounds_never_below_exact_values(inst: CachingInstance, seed: int) -> None:
    c = inst.compiled
    rng = np.random.default_rng(seed)
    sets = [server_sets(c, v) for v in range(c.n_servers)]
    for t in range(c.frames):
        tables = FrameTables(c, t, sets)
        exact = _frame_values(inst, t, tables)
        # every member set of a class has the class's value (models outside it cannot matter)
        values = SlotValues(c)
        for v in range(c.n_servers):
            for k, members in enumerate(tables.class_members[v]):
                classes = list(next(iter(exact)))
                classes[v] = k
                full = np.stack(
                    [
                        sets[u][tables.class_members[u][classes[u]][-1]]
                        if u != v
                        else sets[v][members[-1]]
                        for u in range(c.n_servers)
                    ]
                )
                assert abs(values.frame(t, full) - exact[tuple(classes)]) <= TOL * max(
                    1.0, abs(exact[tuple(classes)])
                )
        zero = np.zeros(c.n_requests)
        for lam, prices in (
            (zero, None),
            (rng.random(c.n_requests), None),
            (zero, _group_prices(inst, rng)),
            (zero, zero),
        ):
            bound = FrameBound(tables, lam, prices)
            for pi in (np.zeros(tables.n), rng.exponential(0.3, tables.n)):
                for classes, value in exact.items():
                    slots, _ = leaf_evaluate(bound, pi, classes)
                    assert slots.sum() >= value - TOL * max(1.0, abs(value))
                    node = evaluate(bound, pi, list(classes), [Variant(0.0, None)])
                    assert node.value >= value - TOL * max(1.0, abs(value))
                # a node with the first server fixed bounds the best of its joint classes
                for k in range(len(tables.class_rep[0])):
                    fixed: list[int | None] = [k] + [None] * (c.n_servers - 1)
                    node = evaluate(bound, pi, fixed, [Variant(0.0, None)])
                    best = max(value for cls, value in exact.items() if cls[0] == k)
                    assert node.value >= best - TOL * max(1.0, abs(best))


@settings(max_examples=25)
@given(tiny_instances)
def test_a_frames_maximum_lies_on_maximal_classes(inst: CachingInstance) -> None:
    """The frame searches skip classes whose cache is a strict subset of another class's:
    every class has a maximal class at least as good, so the frame's maximum is among them."""
    c = inst.compiled
    sets = [server_sets(c, v) for v in range(c.n_servers)]
    for t in range(c.frames):
        tables = FrameTables(c, t, sets)
        for reps, maximal in zip(tables.class_rep, tables.class_maximal, strict=True):
            for k in range(len(reps)):
                supersets = [j for j in range(len(reps)) if j != k and (reps[j] >= reps[k]).all()]
                assert maximal[k] == (not supersets)
        exact = _frame_values(inst, t, tables)
        for classes, value in exact.items():
            better = [
                other
                for other, v in exact.items()
                if all(tables.class_maximal[u][k] for u, k in enumerate(other))
                and all(
                    (tables.class_rep[u][k] >= tables.class_rep[u][j]).all()
                    for u, (j, k) in enumerate(zip(classes, other, strict=True))
                )
            ]
            assert better
            assert max(exact[o] for o in better) >= value - TOL * max(1.0, abs(value))


def _group_prices(inst: CachingInstance, rng: np.random.Generator) -> np.ndarray:
    """A random bandwidth price per (slot, home server), given per request."""
    c = inst.compiled
    group = c.req_global_slot * c.n_servers + c.req_home
    return rng.exponential(2.0, c.n_slots * c.n_servers)[group]


def _searched(d: SlotData, cache: np.ndarray) -> _Search:
    """The exact slot search without set packing (greedy-route bounds only), run."""
    search = _Search(d, cache)
    search.packing_failed = True
    search.run()
    assert search.best is not None
    return search


def _plain_search(inst: CachingInstance, g: int, cache: np.ndarray) -> float:
    """The slot's optimum by :func:`_searched`."""
    return _searched(slot_data(inst.compiled, g), cache).best_value


@given(hand_made(), st.integers(0, 2**32 - 1))
def test_packing_allocation_agrees_with_plain_search(inst: CachingInstance, seed: int) -> None:
    c = inst.compiled
    for g, cache in random_slot_caches(inst, np.random.default_rng(seed)):
        value = allocate_slot(c, g, cache).value
        assert abs(value - _plain_search(inst, g, cache)) <= TOL * max(1.0, abs(value))


@given(hand_made(), st.integers(0, 2**32 - 1))
def test_priced_packing_bounds_the_slot(inst: CachingInstance, seed: int) -> None:
    """With the bandwidth priced at any ν ≥ 0 (random, zero, or the optimal solution's own),
    the set packing is an upper bound of the slot's value, also with the optimum's routes of
    the first requests fixed."""
    c = inst.compiled
    rng = np.random.default_rng(seed)
    for g, cache in random_slot_caches(inst, rng):
        d = slot_data(c, g)
        n = len(d.requests)
        search = _searched(d, cache)
        assert search.best is not None
        route, steps = search.best
        _, shares, lam = search.exact(route, steps)
        optimum = search.best_value
        own = _prices(d, shares, lam)
        for nu in (own, [0.0] * len(d.groups), list(rng.exponential(3.0, len(d.groups)))):
            priced = _Priced(d, nu)
            for depth in (0, int(rng.integers(n + 1)), n):
                packing = _pack(d, cache, lam, route, depth, {}, priced)
                assert packing is not None
                assert packing[0] >= optimum - TOL * max(1.0, abs(optimum))


def test_packing_allocation_on_three_linked_servers() -> None:
    """edgeaigc small: three servers on a ring, late weight 2 (where packing certificates and
    the fallback search both matter)."""
    inst = optkit.generate("caching", "edgeaigc", "small", seed=7)[0]
    assert isinstance(inst, CachingInstance)
    c = inst.compiled
    sets = [server_sets(c, v) for v in range(c.n_servers)]
    rng = np.random.default_rng(0)
    for _ in range(40):
        g = int(rng.integers(c.n_slots))
        cache = np.stack([s[rng.integers(len(s))] for s in sets])
        alloc = allocate_slot(c, g, cache)
        plain = _plain_search(inst, g, cache)
        assert abs(alloc.value - plain) <= TOL * max(1.0, abs(plain))


@given(hand_made(), st.integers(0, 2**32 - 1))
def test_milp_packing_agrees_with_the_listed_packing(inst: CachingInstance, seed: int) -> None:
    """The packing as HiGHS's MILP (used where the sets are too many to list) has the listed
    packing's value, at λ = 0, at random late multipliers and with random bandwidth prices,
    with the first requests' routes fixed to the optimum's or to the cloud."""
    c = inst.compiled
    rng = np.random.default_rng(seed)
    for g, cache in random_slot_caches(inst, rng):
        d = slot_data(c, g)
        n = len(d.requests)
        search = _searched(d, cache)
        assert search.best is not None
        optimum_route = search.best[0]
        for lam in ([0.0] * n, list(rng.random(n))):
            priced_by = (None, _Priced(d, list(rng.exponential(3.0, len(d.groups)))))
            for priced in priced_by:
                for route in (optimum_route, [-1] * n):
                    depth = int(rng.integers(n + 1))
                    listed = _pack(d, cache, lam, route, depth, {}, priced)
                    with pytest.MonkeyPatch.context() as patch:
                        patch.setattr(allocation, "MAX_PACKING_SETS", 0)  # nothing is listed
                        milp = _pack(SlotData(c, g), cache, lam, route, depth, {}, priced)
                    assert listed is not None and milp is not None
                    assert milp[0] == pytest.approx(listed[0], rel=TOL, abs=TOL)


def test_milp_packing_allocation_on_three_linked_servers() -> None:
    """edgeaigc small (three servers on a ring, late weight 2) with every packing a MILP: the
    allocation has the plain search's value."""
    inst = optkit.generate("caching", "edgeaigc", "small", seed=7)[0]
    assert isinstance(inst, CachingInstance)
    c = inst.compiled
    sets = [server_sets(c, v) for v in range(c.n_servers)]
    rng = np.random.default_rng(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(allocation, "MAX_PACKING_SETS", 0)
        for _ in range(20):
            g = int(rng.integers(c.n_slots))
            cache = np.stack([s[rng.integers(len(s))] for s in sets])
            alloc = allocate_slot(c, g, cache)
            plain = _plain_search(inst, g, cache)
            assert abs(alloc.value - plain) <= TOL * max(1.0, abs(plain))


@settings(max_examples=15)
@given(tiny_instances)
def test_set_relaxation_is_a_bound_and_no_weaker(inst: CachingInstance) -> None:
    optimum = optkit.solve(inst, "enumerate").objective
    assert optimum is not None
    direct = optkit.solve(inst, "relax").bound
    sets = optkit.solve(inst, "relax-sets")
    assert sets.status is optkit.Status.BOUND_ONLY and sets.bound is not None
    assert direct is not None
    assert sets.bound >= optimum - 1e-6 * max(1.0, abs(optimum))
    assert sets.bound <= direct + 1e-6 * max(1.0, abs(direct))


def test_set_relaxation_tightens_t2drl_small() -> None:
    inst = preset_instance("t2drl", 3)
    small = optkit.generate("caching", "t2drl", "small", seed=100)[0]
    for case in (inst, small):
        optimum = optkit.solve(case, "bnb").objective
        direct = optkit.solve(case, "relax").bound
        sets = optkit.solve(case, "relax-sets").bound
        assert optimum is not None and direct is not None and sets is not None
        assert optimum - 1e-6 <= sets <= direct + 1e-6
    # on this one the fractional caches are where the direct relaxation loses most
    assert sets - optimum < 0.5 * (direct - optimum)


def test_bandwidth_price_closes_the_shares_dual() -> None:
    """For a fixed routing the shares problem is convex: ν + Σ_r max_b [f_r(b) − ν·b] is at
    least the optimal value for every ν ≥ 0 and equal to it at the group's own price."""
    rng = np.random.default_rng(1)
    for _ in range(300):
        n = int(rng.integers(1, 6))
        radio = list(rng.uniform(0, 1, n) * (rng.random(n) < 0.9))
        slack = list(rng.uniform(-1, 3, n))
        wd, wl = float(rng.choice([0.0, 0.5, 1.0])), float(rng.choice([0.0, 1.0, 2.0]))
        if wd + wl == 0:
            continue
        _, value, _ = group_shares(radio, slack, wd, wl)

        nu = bandwidth_price(radio, slack, wd, wl)
        assert abs(_shares_dual(radio, slack, wd, wl, nu) - value) <= 1e-8 * max(1.0, abs(value))
        for other in rng.exponential(3.0, 5):
            dual = _shares_dual(radio, slack, wd, wl, float(other))
            assert dual >= value - 1e-9 * max(1.0, abs(value))


def _shares_dual(radio: list[float], slack: list[float], wd: float, wl: float, nu: float) -> float:
    """ν + Σ_r max_b [f_r(b) − ν·b] (κ = 0, so the deadline is the slack)."""
    return nu + sum(
        float(priced_radio_value(a, s, np.array([0.0]), nu, wd, wl)[0])
        for a, s in zip(radio, slack, strict=True)
    )


def test_dense_caches_packing_agrees_with_plain_search() -> None:
    """edgeaigc medium with the clairvoyant caches (four linked servers, many models cached):
    slots whose set packing needs more than a few thousand nodes, certified by packing now,
    have the plain search's value."""
    from optkit.solvers.caching.heuristics import popularity_oracle_policy

    inst = optkit.generate("caching", "edgeaigc", "medium", seed=100)[0]
    assert isinstance(inst, CachingInstance)
    c = inst.compiled
    cache = popularity_oracle_policy(inst, np.random.default_rng(0))
    for g in (0, 23, 31):
        frame_cache = cache[g // c.slots_per_frame]
        alloc = allocate_slot(c, g, frame_cache)
        plain = _plain_search(inst, g, frame_cache)
        assert abs(alloc.value - plain) <= TOL * max(1.0, abs(plain))


def _best_responses_hold(inst: CachingInstance) -> None:
    """After bnb's local search no single (frame, server) set change improves the incumbent:
    checked exhaustively, every set valued exactly with its switch costs."""
    from optkit.solvers.caching.bnb import _Frame, _Solver
    from optkit.solvers.caching.plan import switch_cost
    from optkit.solvers.registry import SolveOptions

    c = inst.compiled
    solver = _Solver(inst, SolveOptions())
    solver.frames = [_Frame(FrameTables(c, t, solver.sets)) for t in range(c.frames)]
    solver.seed_incumbents()
    solver.build_bounds()
    before = solver.best_value
    solver.local_search()
    assert solver.best_value >= before
    path = solver.best_path
    assert path is not None
    values = SlotValues(c)

    def total(p: list[tuple[int, ...]]) -> float:
        cache = np.stack(
            [
                np.stack([solver.sets[v][p[t][v]] for v in range(c.n_servers)])
                for t in range(c.frames)
            ]
        )
        return sum(values.frame(t, cache[t]) for t in range(c.frames)) - switch_cost(c, cache)

    incumbent = total(path)
    assert abs(incumbent - solver.best_value) <= TOL * max(1.0, abs(incumbent))
    for t in range(c.frames):
        for v in range(c.n_servers):
            for i in range(len(solver.sets[v])):
                trial = list(path)
                row = list(trial[t])
                row[v] = i
                trial[t] = tuple(row)
                assert total(trial) <= incumbent + TOL * max(1.0, abs(incumbent))


@settings(max_examples=15)
@given(tiny_instances)
def test_local_search_ends_at_best_responses(inst: CachingInstance) -> None:
    _best_responses_hold(inst)


def test_local_search_ends_at_best_responses_on_three_linked_servers() -> None:
    inst = optkit.generate("caching", "edgeaigc", "small", seed=7)[0]
    assert isinstance(inst, CachingInstance)
    _best_responses_hold(inst)


def test_relaxations_bound_a_slot_with_a_near_empty_upload() -> None:
    """Regression (hypothesis): two requests share a band, one uploads 1e-7 Mbit with a
    deadline, so its optimal share is ~1e-7; Clarabel put both relaxations 2.8e-4 below the
    optimum −2e-7 before tiny radio terms were left out."""
    data = {
        "format": "optkit.caching",
        "version": 1,
        "name": "near-empty-upload",
        "seed": 0,
        "generator": None,
        "frames": 1,
        "slots_per_frame": 1,
        "users": 2,
        "weights": {"quality": 0.0, "delay": 0.0, "cost": 0.0, "late": 2.0, "switch": 0.0},
        "cloud": {
            "rate_mbps": 5.0,
            "latency_s": 0.0,
            "steps": 1,
            "speed": 1.0,
            "cost_per_step": 0.0,
        },
        "servers": [
            {
                "name": "es0",
                "storage_gb": 1.0,
                "bandwidth_mhz": 1.0,
                "step_capacity": 1,
                "speed": 1.0,
                "cost_per_step": 0.0,
                "links": [],
            }
        ],
        "models": [
            {
                "name": "m0",
                "size_gb": 1.0,
                "output_mbit": 0.0,
                "seconds_per_step": 0.0,
                "overhead_s": 0.0,
                "steps_min": 1,
                "steps_max": 1,
                "quality": [[1, 0.0]],
            }
        ],
        "initial_cache": [[]],
        "requests": [
            {
                "frame": 0,
                "slot": 0,
                "user": u,
                "server": 0,
                "model": 0,
                "input_mbit": mbit,
                "spectral_efficiency": 1.0,
                "max_delay_s": 1.0,
            }
            for u, mbit in ((0, 1e-7), (1, 1.0))
        ],
    }
    inst = instance_from_dict(data)
    assert isinstance(inst, CachingInstance)
    optimum = optkit.solve(inst, "enumerate").objective
    assert optimum == pytest.approx(-2e-7, rel=1e-3)
    for method in ("relax", "relax-sets"):
        bound = optkit.solve(inst, method).bound
        assert bound is not None and bound >= optimum, method
