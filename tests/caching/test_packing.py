"""The set packing of the per-slot allocation: its dynamic program over servers and its
depth-first search agree with brute force on random packings (ring-like and arbitrary)."""

from __future__ import annotations

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from optkit.solvers.caching.allocation import (
    _best_packing,
    _packing_program,
    _packing_search,
    _Rows,
)


@st.composite
def packings(draw: st.DrawFn) -> list[tuple[int, _Rows]]:
    """Per server its sets (G, mask, Q) with G descending and the empty set among them; on a
    ring each server's sets use its own requests and its predecessor's, else any requests."""
    servers = draw(st.integers(1, 5))
    per_home = draw(st.integers(1, 3))
    ring = draw(st.booleans())
    n = servers * per_home
    lists = []
    for v in range(servers):
        if ring:
            own = [v * per_home + i for i in range(per_home)]
            previous = [((v - 1) % servers) * per_home + i for i in range(per_home)]
            allowed = sorted(set(own + previous))
        else:
            allowed = sorted(draw(st.sets(st.integers(0, n - 1), max_size=n)))
        masks = {0}
        for _ in range(draw(st.integers(0, 12))):
            chosen = draw(st.sets(st.sampled_from(allowed), min_size=1)) if allowed else set()
            masks.add(sum(1 << i for i in chosen))
        rows = [
            (0.0 if mask == 0 else draw(st.floats(-3, 5, allow_nan=False)), mask, ())
            for mask in sorted(masks)
        ]
        rows.sort(key=lambda row: -row[0])
        lists.append((v, rows))
    return lists


def _brute_force(lists: list[tuple[int, _Rows]]) -> float:
    best = -math.inf
    for pick in itertools.product(*(rows for _, rows in lists)):
        used, total, clash = 0, 0.0, False
        for g, mask, _ in pick:
            clash |= bool(used & mask)
            used |= mask
            total += g
        if not clash:
            best = max(best, total)
    return best


def _value(lists: list[tuple[int, _Rows]], pick: list[int]) -> float:
    used, total = 0, 0.0
    for (_, rows), row in zip(lists, pick, strict=True):
        g, mask, _ = rows[row]
        assert not used & mask, "the packing's sets overlap"
        used |= mask
        total += g
    return total


@settings(max_examples=300)
@given(packings())
def test_program_and_search_find_the_best_packing(lists: list[tuple[int, _Rows]]) -> None:
    best = _brute_force(lists)
    for method in (_packing_program, _packing_search, lambda x: _best_packing(x, 62)):
        found = method(lists)
        assert found is not None
        value, pick = found
        assert math.isclose(value, best, rel_tol=1e-12, abs_tol=1e-12)
        assert math.isclose(_value(lists, pick), best, rel_tol=1e-12, abs_tol=1e-12)


def test_program_without_a_packing() -> None:
    """A required request no server may leave out twice: no disjoint choice exists."""
    lists: list[tuple[int, _Rows]] = [(0, [(1.0, 0b1, ())]), (1, [(2.0, 0b1, ())])]
    assert _packing_program(lists) == (-math.inf, [])
    assert _packing_search(lists) == (-math.inf, [])
