"""Caching heuristics (DESIGN §6): a caching policy per frame, then a per-slot allocation.

Policies (each server decides on its own, from the requests whose home it is):
- ``no-cache``: nothing cached; every request at the cloud.
- ``random``: a random set that fits storage, per frame and server (seeded).
- ``lfu``: the most requested models of the previous frame (frame 0 keeps the initial cache).
- ``lru``: the most recently requested models up to the end of the previous frame.
- ``popularity-oracle``: the knapsack on the frame's *true* request counts — **clairvoyant**: it
  sees the frame's requests before they arrive; it is the information floor for learned
  caching, and comparisons must say so.

Allocation variants: ``equal`` — every request at its home server when the home caches its
model and the steps still fit (in file order; the rest at the cloud), the home's step capacity
split equally (clipped into the model's range), bandwidth split equally;
``optimal`` — the exact per-slot allocation (:func:`allocate_slot`), so that only the caching
policy differs. ``optimal`` is the default for every policy but ``no-cache``, whose default
``equal`` is the family's plain baseline (DESIGN §4).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from optkit.instances.caching import CachingInstance
from optkit.instances.compiled import CompiledCaching
from optkit.solvers import baselines
from optkit.solvers.baselines import equal_shares
from optkit.solvers.caching.allocation import SlotAllocation, slot_data
from optkit.solvers.caching.bounds import server_sets
from optkit.solvers.caching.plan import SlotValues, assemble
from optkit.solvers.registry import SolveOptions
from optkit.solvers.result import Result, Status, finish

Policy = Callable[[CachingInstance, np.random.Generator], np.ndarray]


def _fill(c: CompiledCaching, e: int, ranking: list[int]) -> np.ndarray:
    """Models in ranking order while they fit server e's storage (skipping those that do not)."""
    chosen = np.zeros(c.n_models, bool)
    used = 0.0
    cap = float(c.storage_gb[e]) * (1 + 1e-9)
    for m in ranking:
        if used + c.size_gb[m] <= cap:
            chosen[m] = True
            used += float(c.size_gb[m])
    return chosen


def _home_counts(c: CompiledCaching, frame: int) -> np.ndarray:
    """Requests per home server and model in one frame [servers, models]."""
    counts = np.zeros((c.n_servers, c.n_models), np.int64)
    mask = c.req_frame == frame
    np.add.at(counts, (c.req_home[mask], c.req_model[mask]), 1)
    return counts


def no_cache_policy(instance: CachingInstance, rng: np.random.Generator) -> np.ndarray:
    c = instance.compiled
    return np.zeros((c.frames, c.n_servers, c.n_models), bool)


def random_policy(instance: CachingInstance, rng: np.random.Generator) -> np.ndarray:
    c = instance.compiled
    cache = np.zeros((c.frames, c.n_servers, c.n_models), bool)
    for t in range(c.frames):
        for e in range(c.n_servers):
            cache[t, e] = _fill(c, e, [int(m) for m in rng.permutation(c.n_models)])
    return cache


def lfu_policy(instance: CachingInstance, rng: np.random.Generator) -> np.ndarray:
    c = instance.compiled
    cache = np.zeros((c.frames, c.n_servers, c.n_models), bool)
    cache[0] = c.initial_cache
    for t in range(1, c.frames):
        counts = _home_counts(c, t - 1)
        for e in range(c.n_servers):
            # most requested first; ties: the model already cached, then the smaller index
            order = sorted(
                range(c.n_models), key=lambda m: (-counts[e, m], not cache[t - 1, e, m], m)
            )
            cache[t, e] = _fill(c, e, [m for m in order if counts[e, m] > 0 or cache[t - 1, e, m]])
    return cache


def lru_policy(instance: CachingInstance, rng: np.random.Generator) -> np.ndarray:
    c = instance.compiled
    cache = np.zeros((c.frames, c.n_servers, c.n_models), bool)
    cache[0] = c.initial_cache
    last = np.full((c.n_servers, c.n_models), -1, np.int64)  # last global slot requested
    for t in range(1, c.frames):
        mask = c.req_frame == t - 1
        for r in np.flatnonzero(mask):
            e, m = int(c.req_home[r]), int(c.req_model[r])
            last[e, m] = max(last[e, m], int(c.req_global_slot[r]))
        for e in range(c.n_servers):
            order = sorted(range(c.n_models), key=lambda m: (-last[e, m], m))
            cache[t, e] = _fill(c, e, [m for m in order if last[e, m] >= 0])
    return cache


def popularity_oracle_policy(instance: CachingInstance, rng: np.random.Generator) -> np.ndarray:
    """Clairvoyant: the 0-1 knapsack of each frame's true home request counts (exact, over
    every set that fits; ties: the smaller total size, then the first set)."""
    c = instance.compiled
    cache = np.zeros((c.frames, c.n_servers, c.n_models), bool)
    for e in range(c.n_servers):
        sets = server_sets(c, e)
        size = sets @ c.size_gb
        for t in range(c.frames):
            score = sets @ _home_counts(c, t)[e]
            best = np.lexsort((size, -score))[0]
            cache[t, e] = sets[best]
    return cache


POLICIES: dict[str, Policy] = {
    "no-cache": no_cache_policy,
    "random": random_policy,
    "lfu": lfu_policy,
    "lru": lru_policy,
    "popularity-oracle": popularity_oracle_policy,
}


def equal_allocation(
    c: CompiledCaching, global_slot: int, cache_of_frame: np.ndarray
) -> SlotAllocation:
    """The ``equal`` variant of one slot (see the module docstring)."""
    data = slot_data(c, global_slot)
    n = len(data.requests)
    server = np.full(n, -1, np.int64)
    steps = np.zeros(n)
    homes = [q.home for q in data.requests]
    for e in sorted(set(homes)):
        mine = [
            i for i, q in enumerate(data.requests) if q.home == e and cache_of_frame[e, q.model]
        ]
        room = int(c.step_capacity[e])
        share = room // len(mine) if mine else 0
        for i in mine:
            q = data.requests[i]
            opt = next(o for o in q.edges if o.server == e)
            s = min(max(share, opt.steps_min), opt.steps_max)
            if s <= room:
                server[i], steps[i] = e, s
                room -= s
    shares = equal_shares(c)[data.indices] if n else np.zeros(0)
    return SlotAllocation(data.indices, server, shares, steps, float("nan"), 0)


def run(instance: CachingInstance, options: SolveOptions, policy: str) -> Result:
    """Cache by ``policy``, allocate each slot by the variant in ``options.variant``."""
    start = time.perf_counter()
    c = instance.compiled
    variant = options.variant or ("equal" if policy == "no-cache" else "optimal")
    rng = np.random.default_rng(options.seed)
    cache = POLICIES[policy](instance, rng)
    method = f"{policy}:{variant}"
    slot = SlotValues(c).slot if variant == "optimal" else (lambda g, x: equal_allocation(c, g, x))
    solution = assemble(c, instance.name, method, cache, slot)
    return finish(
        instance,
        method,
        Status.FEASIBLE,
        solution=solution,
        wall_time_s=time.perf_counter() - start,
        seed=options.seed,
    )


def no_cache(instance: CachingInstance, options: SolveOptions) -> Result:
    """``no-cache:equal`` is the family's plain baseline (:func:`optkit.solvers.baselines.no_cache`);
    ``no-cache:optimal`` gives the cloud-only requests their optimal shares."""
    if (options.variant or "equal") == "equal":
        return baselines.no_cache(instance, options)
    return run(instance, options, "no-cache")


def random(instance: CachingInstance, options: SolveOptions) -> Result:
    return run(instance, options, "random")


def lfu(instance: CachingInstance, options: SolveOptions) -> Result:
    return run(instance, options, "lfu")


def lru(instance: CachingInstance, options: SolveOptions) -> Result:
    return run(instance, options, "lru")


def popularity_oracle(instance: CachingInstance, options: SolveOptions) -> Result:
    return run(instance, options, "popularity-oracle")
