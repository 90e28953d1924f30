"""The knapsack search of big slots (optkit.solvers.caching.slot_knapsack) is exact: it agrees
with brute force on crowded hand-made slots (one server taking many requests, tight step
capacity, late weight 0 and > 0) and with the greedy-route search on preset slots; its bound
of a single fixed decision at that decision's own prices is the decision's value."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import optkit
from optkit.instances import instance_from_dict
from optkit.instances.caching import CachingInstance
from optkit.solvers.caching import allocation
from optkit.solvers.caching.allocation import _Search, allocate_slot, slot_data
from optkit.solvers.caching.shares import priced_radio_value
from optkit.solvers.caching.slot_knapsack import KnapsackSearch, priced_values
from tests.caching.conftest import hand_made, random_slot_caches
from tests.caching.test_bounds import _plain_search
from tests.caching.test_exact import _brute_slot

TOL = 1e-9


@st.composite
def crowded_slot(draw: st.DrawFn) -> CachingInstance:
    """One slot where one server (sometimes with a linked neighbour) may take 4–7 requests
    and its step capacity holds only some of them: which requests go to the edge is a knapsack,
    and with a late weight the shares couple them too."""
    n_models = draw(st.integers(1, 3))
    models = []
    for m in range(n_models):
        smin = draw(st.integers(1, 5))
        span = draw(st.integers(0, 1))
        q0 = draw(st.floats(0.0, 0.5))
        points = [[smin, q0]] + ([[smin + 1, q0 + draw(st.floats(0.0, 0.2))]] if span else [])
        models.append(
            {
                "name": f"m{m}",
                "size_gb": 1.0,
                "output_mbit": draw(st.floats(0.0, 3.0)),
                "seconds_per_step": draw(st.floats(0.0, 0.1)),
                "overhead_s": draw(st.floats(0.0, 0.5)),
                "steps_min": smin,
                "steps_max": smin + span,
                "quality": points,
            }
        )
    n_servers = draw(st.integers(1, 2))
    servers = [
        {
            "name": f"es{e}",
            "storage_gb": float(n_models),
            "bandwidth_mhz": draw(st.floats(1.0, 20.0)),
            "step_capacity": draw(st.integers(1, 14)),
            "speed": draw(st.floats(0.5, 3.0)),
            "cost_per_step": draw(st.floats(0.0, 0.02)),
            "links": [],
        }
        for e in range(n_servers)
    ]
    if n_servers == 2:
        servers[0]["links"] = [{"to": 1, "rate_mbps": 50.0, "latency_s": 0.01}]
    n_requests = draw(st.integers(4, 7))
    requests: list[dict[str, Any]] = [
        {
            "frame": 0,
            "slot": 0,
            "user": u,
            "server": draw(st.integers(0, n_servers - 1)),
            "model": draw(st.integers(0, n_models - 1)),
            "input_mbit": draw(st.floats(0.0, 3.0)),
            "spectral_efficiency": draw(st.floats(0.2, 6.0)),
            "max_delay_s": draw(st.floats(0.3, 3.0)),
        }
        for u in range(n_requests)
    ]
    data = {
        "format": "optkit.caching",
        "version": 1,
        "name": "crowded",
        "seed": 0,
        "generator": None,
        "frames": 1,
        "slots_per_frame": 1,
        "users": n_requests,
        "weights": {
            "quality": draw(st.sampled_from([1.0, 2.0])),
            "delay": draw(st.sampled_from([0.0, 1.0])),
            "cost": draw(st.sampled_from([0.0, 1.0])),
            "late": draw(st.sampled_from([0.0, 2.0, 5.0])),
            "switch": 0.0,
        },
        "cloud": {
            "rate_mbps": draw(st.floats(5.0, 200.0)),
            "latency_s": draw(st.floats(0.0, 0.5)),
            "steps": draw(st.integers(1, 6)),
            "speed": draw(st.floats(0.5, 4.0)),
            "cost_per_step": draw(st.floats(0.0, 0.02)),
        },
        "servers": servers,
        "models": models,
        "initial_cache": [[] for _ in range(n_servers)],
        "requests": requests,
    }
    inst = instance_from_dict(data)
    assert isinstance(inst, CachingInstance)
    return inst


def _knapsack_value(inst: CachingInstance, g: int, cache: np.ndarray) -> float:
    """The knapsack search alone from the all-cloud incumbent, its decision checked exact."""
    search = _Search(slot_data(inst.compiled, g), cache)
    search.offer([-1] * search.n, [0] * search.n)
    KnapsackSearch(search).run()
    assert search.best is not None
    assert search.exact(*search.best)[0] == search.best_value
    return search.best_value


@settings(max_examples=60)
@given(crowded_slot(), st.integers(0, 2**32 - 1))
def test_knapsack_search_agrees_with_brute_force(inst: CachingInstance, seed: int) -> None:
    c = inst.compiled
    cache = np.random.default_rng(seed).random((c.n_servers, c.n_models)) < 0.8
    brute = _brute_slot(inst, 0, cache)
    assert abs(_knapsack_value(inst, 0, cache) - brute) <= TOL * max(1.0, abs(brute))


@given(hand_made(), st.integers(0, 2**32 - 1))
def test_knapsack_search_agrees_on_hand_made_slots(inst: CachingInstance, seed: int) -> None:
    """Every slot of the varied tiny instances, several servers included (where a request may
    be taken by two servers in a bound and the search branches it apart)."""
    for g, cache in random_slot_caches(inst, np.random.default_rng(seed)):
        brute = _brute_slot(inst, g, cache)
        assert abs(_knapsack_value(inst, g, cache) - brute) <= TOL * max(1.0, abs(brute))


@settings(max_examples=30)
@given(crowded_slot(), st.integers(0, 2**32 - 1))
def test_allocate_slot_takes_the_knapsack_path_exactly(inst: CachingInstance, seed: int) -> None:
    c = inst.compiled
    cache = np.random.default_rng(seed).random((c.n_servers, c.n_models)) < 0.8
    threshold = allocation.KNAPSACK_MIN_REQUESTS
    allocation.KNAPSACK_MIN_REQUESTS = 0  # every one-server slot to the knapsack search
    try:
        alloc = allocate_slot(c, 0, cache)
    finally:
        allocation.KNAPSACK_MIN_REQUESTS = threshold
    brute = _brute_slot(inst, 0, cache)
    assert abs(alloc.value - brute) <= TOL * max(1.0, abs(brute))


def test_knapsack_search_agrees_with_greedy_route_search_on_t2drl() -> None:
    """t2drl medium (one server, ~7 requests a slot, late weight 2) and the first slots of
    t2drl large (~21 requests) with random caches: the same value as the greedy-route search."""
    for size, slots in (("medium", range(0, 60, 3)), ("large", range(6))):
        inst = optkit.generate("caching", "t2drl", size, seed=3)[0]
        assert isinstance(inst, CachingInstance)
        c = inst.compiled
        rng = np.random.default_rng(1)
        for g in slots:
            cache = rng.random((c.n_servers, c.n_models)) < 0.5
            value = _knapsack_value(inst, g, cache)
            plain = _plain_search(inst, g, cache)
            assert abs(value - plain) <= TOL * max(1.0, abs(plain)), (size, g)


@given(crowded_slot(), st.integers(0, 2**32 - 1))
def test_bound_of_one_decision_is_its_value(inst: CachingInstance, seed: int) -> None:
    """Every route and steps fixed: the bound at the decision's own bandwidth prices is its
    exact value (or −inf when it breaks a step capacity), and never below it at other prices."""
    c = inst.compiled
    rng = np.random.default_rng(seed)
    cache = rng.random((c.n_servers, c.n_models)) < 0.8
    search = _Search(slot_data(c, 0), cache)
    knapsack = KnapsackSearch(search)
    route = [int(rng.choice(r)) for r in search.routes]
    steps = [
        0 if k < 0 else int(rng.integers(q.edges[k].steps_min, q.edges[k].steps_max + 1))
        for q, k in zip(search.data.requests, route, strict=True)
    ]
    node = [
        (True, {}) if k < 0 else (False, {k: (s, s)}) for k, s in zip(route, steps, strict=True)
    ]
    value = search.exact(route, steps)[0]
    used: dict[int, int] = {}
    for q, k, s in zip(search.data.requests, route, steps, strict=True):
        if k >= 0:
            used[q.edges[k].server] = used.get(q.edges[k].server, 0) + s
    fits = all(u <= c.step_capacity[v] for v, u in used.items())
    delta = np.zeros(search.n)
    bound = knapsack.bound(node, knapsack.prices(route, steps), delta)[0]
    if not fits:
        assert bound == -np.inf
        return
    assert abs(bound - value) <= TOL * max(1.0, abs(value))
    for nu in rng.exponential(2.0, (5, knapsack.n_groups)):
        assert knapsack.bound(node, nu, delta)[0] >= value - TOL * max(1.0, abs(value))


def test_priced_values_match_the_scalar_form() -> None:
    rng = np.random.default_rng(2)
    for _ in range(200):
        a = float(rng.uniform(0, 1) * (rng.random() < 0.9))
        deadline = float(rng.uniform(0.1, 3))
        kappa = rng.uniform(0, 3, 6)
        nu = float(rng.exponential(2.0) * (rng.random() < 0.9))
        wd, wl = float(rng.choice([0.0, 1.0])), float(rng.choice([0.0, 2.0]))
        expected = priced_radio_value(a, deadline, kappa, nu, wd, wl)
        got, share = priced_values(
            np.full(6, a), np.full(6, deadline), kappa, np.full(6, nu), wd, wl
        )
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
        assert np.all((share > 0) == (a > 0 and wd + wl > 0)) and np.all(share <= 1)
