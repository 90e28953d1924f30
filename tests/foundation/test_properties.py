"""Property tests (hypothesis) on the validator and the evaluator."""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from optkit import evaluate
from optkit.errors import InvalidFileError
from optkit.instances import (
    CachingInstance,
    CachingSolution,
    SchedulingInstance,
    SchedulingSolution,
    TaskDecision,
    instance_from_dict,
)
from optkit.instances.generators import generate
from optkit.solvers.baselines import equal_shares

PRESET_SIZES = [
    ("caching", "t2drl", "tiny"),
    ("caching", "t2drl", "small"),
    ("caching", "edgeaigc", "tiny"),
    ("caching", "edgeaigc", "small"),
    ("scheduling", "smcoedge", "tiny"),
    ("scheduling", "smcoedge", "small"),
    ("scheduling", "amcoedge", "small"),
]


@cache
def _instances(family: str, preset: str, size: str) -> tuple[Any, ...]:
    return tuple(generate(family, preset, size, seed=11, count=3))


def random_caching_solution(inst: CachingInstance, rng: np.random.Generator) -> CachingSolution:
    """A random feasible solution: random caches within storage, random routing among the
    allowed cached servers and the cloud, random steps repaired to fit step capacities."""
    c = inst.compiled
    cache_sets = np.zeros((c.frames, c.n_servers, c.n_models), bool)
    for t in range(c.frames):
        for e in range(c.n_servers):
            used = 0.0
            for m in rng.permutation(c.n_models):
                if rng.uniform() < 0.6 and used + c.size_gb[m] <= c.storage_gb[e]:
                    cache_sets[t, e, m] = True
                    used += c.size_gb[m]
    server = np.full(c.n_requests, -1)
    steps = np.zeros(c.n_requests)
    for g in range(c.n_slots):
        left = c.step_capacity.astype(float).copy()
        for r in c.slot_requests(g):
            m, t = c.req_model[r], c.req_frame[r]
            options = [v for v in range(c.n_servers) if c.allowed[r, v] and cache_sets[t, v, m]]
            if options and rng.uniform() < 0.7:
                v = int(rng.choice(options))
                s = int(rng.integers(c.steps_min[m], c.steps_max[m] + 1))
                if s <= left[v]:
                    server[r], steps[r] = v, s
                    left[v] -= s
    weights = rng.uniform(0.1, 1.0, c.n_requests)
    key = c.req_global_slot * c.n_servers + c.req_home
    shares = weights / np.bincount(key, weights=weights)[key]
    return CachingSolution.from_arrays(inst.name, "random", cache_sets, server, shares, steps)


def random_scheduling_solution(
    inst: SchedulingInstance, rng: np.random.Generator
) -> SchedulingSolution:
    c = inst.compiled
    subsets = c.allowed_subsets
    tasks = []
    for _ in range(c.n_tasks):
        chosen = np.flatnonzero(subsets[rng.integers(len(subsets))])
        x = rng.dirichlet(np.ones(len(chosen)))
        if len(chosen) > 1 and rng.uniform() < 0.2:
            x[0] = 0.0  # a listed server with fraction 0
            x /= x.sum()
        tasks.append(TaskDecision(tuple(int(j) for j in chosen), tuple(float(v) for v in x)))
    return SchedulingSolution(inst.name, "random", tuple(tasks))


instance_choice = st.sampled_from(PRESET_SIZES).flatmap(
    lambda key: st.integers(0, 2).map(lambda i: _instances(*key)[i])
)


@given(instance_choice, st.integers(0, 2**31))
def test_random_feasible_solutions_score_consistently(inst: Any, seed: int) -> None:
    rng = np.random.default_rng(seed)
    if isinstance(inst, CachingInstance):
        sol: Any = random_caching_solution(inst, rng)
    else:
        sol = random_scheduling_solution(inst, rng)
    ev = evaluate(inst, sol)
    assert ev.feasible, ev.violations
    assert ev.objective is not None and ev.details is not None
    again = evaluate(inst, json.loads(json.dumps(sol.to_dict())))
    assert again.objective == ev.objective
    if isinstance(inst, CachingInstance):
        d = ev.details
        w = inst.weights
        assert np.isclose(d.utility.sum() - w.switch * d.gb_loaded.sum(), ev.objective)  # type: ignore[union-attr]
        assert np.all(d.delay_s > 0)  # type: ignore[union-attr]
    else:
        d = ev.details
        # a listed server counts in the make-span even with fraction 0: T ≥ its wait
        for n, task in enumerate(sol.tasks):
            for j in task.servers:
                assert d.make_span_s[n] >= d.waits_s[n, j] - 1e-12  # type: ignore[union-attr]
        assert np.isclose(d.cost.sum(), ev.objective)  # type: ignore[union-attr]


@given(
    st.sampled_from([k for k in PRESET_SIZES if k[0] == "caching"]),
    st.integers(0, 2),
    st.integers(0, 2**31),
    st.floats(1.0, 4.0),
)
def test_more_bandwidth_never_increases_delay(
    key: Any, index: int, seed: int, factor: float
) -> None:
    inst = _instances(*key)[index]
    rng = np.random.default_rng(seed)
    sol = random_caching_solution(inst, rng)
    before = evaluate(inst, sol).details
    r = int(rng.integers(len(sol.requests)))
    d = sol.requests[r]
    wider = list(sol.requests)
    wider[r] = type(d)(d.server, min(1.0, d.bandwidth * factor), d.steps)
    after = evaluate(
        inst, CachingSolution(sol.instance, sol.method, sol.cache, tuple(wider))
    ).details
    assert before is not None and after is not None
    assert after.delay_s[r] <= before.delay_s[r]
    others = np.arange(len(wider)) != r
    assert np.array_equal(after.delay_s[others], before.delay_s[others])


@given(
    st.sampled_from([k for k in PRESET_SIZES if k[0] == "caching"]),
    st.integers(0, 2),
    st.integers(0, 2**31),
)
def test_added_models_pay_switch_weight(key: Any, index: int, seed: int) -> None:
    inst = _instances(*key)[index]
    rng = np.random.default_rng(seed)
    sol = random_caching_solution(inst, rng)
    c = inst.compiled
    t, e, m = (int(rng.integers(n)) for n in (c.frames, c.n_servers, c.n_models))
    cache_sets = [[list(models) for models in frame] for frame in sol.cache]
    if m in cache_sets[t][e]:
        return
    cache_sets[t][e].append(m)
    bigger = CachingSolution(
        sol.instance,
        sol.method,
        tuple(tuple(tuple(x) for x in f) for f in cache_sets),
        sol.requests,
    )
    before, after = evaluate(inst, sol), evaluate(inst, bigger)
    assert before.metrics is not None and after.metrics is not None
    had_before = m in (sol.cache[t - 1][e] if t > 0 else inst.initial_cache[e])
    has_after = t + 1 < c.frames and m in sol.cache[t + 1][e]
    expected_gb = c.size_gb[m] * ((not had_before) - has_after)
    assert np.isclose(after.metrics["gb_loaded"] - before.metrics["gb_loaded"], expected_gb)
    assert np.isclose(
        after.metrics["switch_cost"] - before.metrics["switch_cost"],
        inst.weights.switch * expected_gb,
    )
    # utilities do not depend on what else is cached
    assert after.metrics["total_utility"] == before.metrics["total_utility"]


def test_equal_shares_fill_each_server_slot() -> None:
    inst = _instances("caching", "edgeaigc", "small")[0]
    c = inst.compiled
    shares = equal_shares(c)
    key = c.req_global_slot * c.n_servers + c.req_home
    assert np.allclose(np.bincount(key, weights=shares)[np.unique(key)], 1.0)


# --- fuzzing: random edits of valid documents never crash the validator or the evaluator ------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 12)
    | st.floats(-2, 60, allow_nan=False)
    | st.sampled_from([5e-324, 1.7e308, 1e-300])
    | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=2)
    ),
    max_leaves=5,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.extend(_paths(v, (*prefix, i)))
    return out


def _edit(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    doc = copy.deepcopy(doc)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


DOCS = {
    "caching": _instances("caching", "edgeaigc", "tiny")[0].to_dict(),
    "scheduling": _instances("scheduling", "smcoedge", "tiny")[0].to_dict(),
}


@settings(max_examples=150)
@given(st.sampled_from(sorted(DOCS)), st.data(), json_values)
def test_validator_never_crashes(family: str, data: Any, value: Any) -> None:
    doc = DOCS[family]
    path = data.draw(st.sampled_from(_paths(doc)))
    try:
        instance_from_dict(_edit(doc, path, value), "fuzz.json")
    except InvalidFileError as exc:
        assert all(m.startswith("fuzz.json: ") for m in exc.messages)


@settings(max_examples=150)
@given(st.sampled_from(PRESET_SIZES[:1] + PRESET_SIZES[4:5]), st.data(), json_values)
def test_evaluator_never_crashes(key: Any, data: Any, value: Any) -> None:
    inst = _instances(*key)[0]
    rng = np.random.default_rng(0)
    sol = (
        random_caching_solution(inst, rng)
        if key[0] == "caching"
        else random_scheduling_solution(inst, rng)
    ).to_dict()
    path = data.draw(st.sampled_from(_paths(sol)))
    ev = evaluate(inst, _edit(sol, path, value))
    if ev.objective is not None:
        assert np.isfinite(ev.objective)
        json.dumps(ev.to_json(), allow_nan=False)  # results lines must always be writable
    assert ev.feasible == (not ev.violations)
