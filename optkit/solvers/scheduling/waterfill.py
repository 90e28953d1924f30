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

import numpy as np


def water_level(process_s: np.ndarray, waits_s: np.ndarray) -> float:
    """The level L (seconds) of one task over its selected servers.

    ``process_s[i]`` is a_j > 0 and ``waits_s[i]`` is w_j ≥ 0 of the i-th selected server.
    """
    order = np.argsort(waits_s, kind="stable")
    speed = 1.0 / process_s[order]  # share of the task done per second at each server
    levels = (1.0 + np.cumsum(waits_s[order] * speed)) / np.cumsum(speed)
    return float(levels.min())


def waterfill(process_s: np.ndarray, waits_s: np.ndarray) -> tuple[np.ndarray, float]:
    """Fractions (aligned with the inputs, summing to 1) and make-span (seconds) of one task
    over its selected servers; see the module docstring."""
    process_s = np.asarray(process_s, float)
    waits_s = np.asarray(waits_s, float)
    level = water_level(process_s, waits_s)
    fractions = np.maximum(level - waits_s, 0.0) / process_s
    return fractions, max(level, float(waits_s.max()))


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


def fractions_at_level(process_s: np.ndarray, waits_s: np.ndarray, level: float) -> np.ndarray:
    """x_j = (L − w_j)⁺ / a_j for the given servers' a_j and w_j."""
    return np.maximum(level - waits_s, 0.0) / process_s


__all__ = ["fractions_at_level", "water_level", "waterfill", "waterfill_subsets"]
