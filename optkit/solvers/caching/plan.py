"""From caches to a complete solution: the decomposition "fix the caches → independent slots →
merge back" of DESIGN §2.4, kept explicit (cvxpy-reduction style) so every method shares it.

:class:`SlotValues` memoises exact slot allocations by the part of the cache each slot can use,
so caches that differ only in models a slot never asks for cost nothing extra.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from optkit.instances.compiled import CompiledCaching
from optkit.instances.solution import CachingSolution
from optkit.solvers.caching.allocation import SlotAllocation, allocate_slot, slot_value_key


class SlotValues:
    """Exact per-slot allocations of one instance, memoised by (slot, usable cache)."""

    def __init__(self, c: CompiledCaching) -> None:
        self.c = c
        self._memo: dict[tuple[int, int], SlotAllocation] = {}
        self.solves = 0

    def slot(self, global_slot: int, cache_of_frame: np.ndarray) -> SlotAllocation:
        key = (global_slot, slot_value_key(self.c, global_slot, cache_of_frame))
        found = self._memo.get(key)
        if found is None:
            found = allocate_slot(self.c, global_slot, cache_of_frame)
            self._memo[key] = found
            self.solves += 1
        return found

    def frame(self, frame: int, cache_of_frame: np.ndarray) -> float:
        """Σ of the frame's slot values (utilities, without the switch cost)."""
        K = self.c.slots_per_frame
        return sum(self.slot(frame * K + k, cache_of_frame).value for k in range(K))


def switch_cost(c: CompiledCaching, cache: np.ndarray) -> float:
    """w_s · GB loaded over all frames, for a bool cache [frames, servers, models]."""
    previous = np.concatenate([c.initial_cache[None], cache[:-1]])
    return float(c.w_switch * ((cache & ~previous) * c.size_gb).sum())


def assemble(
    c: CompiledCaching,
    name: str,
    method: str,
    cache: np.ndarray,
    slot: Callable[[int, np.ndarray], SlotAllocation],
) -> CachingSolution:
    """The solution with caches ``cache`` [frames, servers, models] and each slot decided by
    ``slot(global_slot, cache_of_frame)``."""
    R = c.n_requests
    server = np.full(R, -1, np.int64)
    bandwidth = np.ones(R)
    steps = np.zeros(R)
    K = c.slots_per_frame
    for g in range(c.n_slots):
        alloc = slot(g, cache[g // K])
        idx = alloc.requests
        server[idx] = alloc.server
        bandwidth[idx] = alloc.bandwidth
        steps[idx] = alloc.steps
    return CachingSolution.from_arrays(name, method, cache, server, bandwidth, steps)


def optimal_allocation(
    c: CompiledCaching, name: str, method: str, cache: np.ndarray, values: SlotValues | None = None
) -> tuple[CachingSolution, float]:
    """The solution with the given caches and every slot allocated exactly, and its objective
    as the slot solver computes it (the reported one comes from ``optkit.evaluate``)."""
    values = values or SlotValues(c)
    solution = assemble(c, name, method, cache, values.slot)
    K = c.slots_per_frame
    total = sum(values.slot(g, cache[g // K]).value for g in range(c.n_slots))
    return solution, total - switch_cost(c, cache)
