"""Water-filling: the best fractions for one task on its own (DESIGN §6, the authors' SE/CWA
allocation without their clipping).

A task split over the selected servers S, with processing times a_j (seconds for the whole
task at j) and waits w_j (seconds before j can start on it), finishes at
max_{j∈S} (x_j a_j + w_j). For the task alone the best fractions fill the servers up to one
level L:

    x_j = (L − w_j)⁺ / a_j,   with the unique L at which Σ_{j∈S} x_j = 1,

and the make-span is max(L, max_{j∈S} w_j): a selected server whose wait is above the level
gets 0 and still counts (DESIGN §3.2). Computing L costs one sort of the waits and two prefix
sums, O(k log k): for the servers in order of wait, the prefix of the m smallest gives the
candidate level L_m = (1 + Σ_{i≤m} w_i/a_i) / Σ_{i≤m} 1/a_i, and L = min_m L_m (each L_m
solves a linear relaxation of Σ (L − w_j)⁺/a_j = 1 that never exceeds it, and the right
prefix meets it).

For the whole program this is only a heuristic: a task's fractions also change later tasks'
waits and the next slots' queues (DESIGN §3.4 and ``tests/data/waterfilling-not-joint-optimal``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def water_level(
    process_s: Sequence[float] | np.ndarray, waits_s: Sequence[float] | np.ndarray
) -> float:
    """The level L (seconds) of one task over its selected servers.

    ``process_s[i]`` is a_j > 0 and ``waits_s[i]`` is w_j ≥ 0 of the i-th selected server.
    Plain Python on purpose: a task has a handful of servers, where numpy's per-call overhead
    costs more than the arithmetic (this runs once per decision in online loops and the DRL
    environment). The sums run in the same order as :func:`waterfill_subsets`, so both give
    bit-identical levels.
    """
    process, waits = _floats(process_s), _floats(waits_s)
    speed_sum = wait_sum = 0.0
    level = math.inf
    for i in sorted(range(len(waits)), key=waits.__getitem__):  # stable: ties by position
        speed = 1.0 / process[i]  # share of the task done per second at this server
        speed_sum += speed
        wait_sum += speed * waits[i]
        level = min(level, (1.0 + wait_sum) / speed_sum)
    return level


def fill(
    process_s: Sequence[float] | np.ndarray, waits_s: Sequence[float] | np.ndarray
) -> tuple[list[float], float]:
    """Water-filling fractions (a list aligned with the inputs) and make-span (seconds), on
    plain sequences of floats — the allocation-free form of :func:`waterfill`."""
    process, waits = _floats(process_s), _floats(waits_s)
    level = water_level(process, waits)
    fractions = [max(level - w, 0.0) / a for a, w in zip(process, waits, strict=True)]
    return fractions, max(level, max(waits))


def waterfill(process_s: np.ndarray, waits_s: np.ndarray) -> tuple[np.ndarray, float]:
    """Fractions (aligned with the inputs, summing to 1) and make-span (seconds) of one task
    over its selected servers; see the module docstring."""
    fractions, make_span = fill(process_s, waits_s)
    return np.asarray(fractions), make_span


def waterfill_subsets(
    process_s: np.ndarray, waits_s: np.ndarray, masks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Levels and make-spans (seconds) of one task for many server subsets at once.

    ``process_s`` and ``waits_s`` hold a_j and w_j of every server j ([J]); ``masks`` is a bool
    array [subsets, J]. Returns ``(level[subsets], make_span[subsets])``. One sort of the waits
    serves every subset: the prefix sums run over all servers in order of wait, counting only
    the subset's own.
    """
    order = np.argsort(waits_s, kind="stable")
    chosen = masks[:, order]
    speed = 1.0 / process_s[order]
    per_server = np.where(chosen, speed, 0.0)
    speed_sum = np.cumsum(per_server, axis=1)
    wait_sum = np.cumsum(per_server * waits_s[order], axis=1)
    levels = np.full(chosen.shape, np.inf)
    np.divide(1.0 + wait_sum, speed_sum, out=levels, where=chosen)
    level = levels.min(axis=1)
    top_wait = np.where(masks, waits_s, -np.inf).max(axis=1)
    return level, np.maximum(level, top_wait)


def fractions_at_level(
    process_s: Sequence[float] | np.ndarray, waits_s: Sequence[float] | np.ndarray, level: float
) -> list[float]:
    """x_j = (L − w_j)⁺ / a_j for the given servers' a_j and w_j."""
    return [
        max(level - w, 0.0) / a for a, w in zip(_floats(process_s), _floats(waits_s), strict=True)
    ]


def _floats(values: Sequence[float] | np.ndarray) -> list[float]:
    return values.tolist() if isinstance(values, np.ndarray) else list(values)


__all__ = ["fill", "fractions_at_level", "water_level", "waterfill", "waterfill_subsets"]
