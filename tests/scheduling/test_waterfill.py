"""Water-filling (DESIGN §6) against an LP, and the vectorised form against the scalar one."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import linprog

from optkit.solvers.scheduling.waterfill import (
    fill,
    fractions_at_level,
    water_level,
    waterfill,
    waterfill_subsets,
)

servers = st.integers(1, 6)


@st.composite
def one_task(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    k = draw(servers)
    process = np.array([draw(st.floats(0.01, 10.0)) for _ in range(k)])
    # waits sometimes 0, sometimes far above the others' finish (such servers get 0)
    waits = np.array(
        [draw(st.one_of(st.just(0.0), st.floats(0.0, 5.0), st.floats(5.0, 50.0))) for _ in range(k)]
    )
    return process, waits


def lp_make_span(process: np.ndarray, waits: np.ndarray) -> float:
    """min T s.t. T ≥ x_j a_j + w_j for every (selected) j, Σ x = 1, x ≥ 0."""
    k = len(process)
    cost = np.r_[np.zeros(k), 1.0]
    a_ub = np.hstack([np.diag(process), -np.ones((k, 1))])
    res = linprog(
        cost,
        A_ub=a_ub,
        b_ub=-waits,
        A_eq=np.r_[np.ones(k), 0.0][None, :],
        b_eq=[1.0],
        bounds=[(0, None)] * (k + 1),
        method="highs",
    )
    assert res.status == 0
    return float(res.fun)


@given(one_task())
def test_waterfill_equals_the_lp_optimum(task: tuple[np.ndarray, np.ndarray]) -> None:
    process, waits = task
    fractions, make_span = waterfill(process, waits)
    assert fractions.min() >= 0
    assert fractions.sum() == pytest.approx(1.0, abs=1e-12)
    finish = fractions * process + waits
    assert finish.max() == pytest.approx(make_span, rel=1e-12, abs=1e-12)
    assert make_span == pytest.approx(lp_make_span(process, waits), rel=1e-7, abs=1e-9)


@given(one_task())
def test_busy_servers_finish_together_and_idle_ones_wait_above_the_level(
    task: tuple[np.ndarray, np.ndarray],
) -> None:
    process, waits = task
    fractions, _ = waterfill(process, waits)
    level = water_level(process, waits)
    busy = fractions > 0
    assert np.allclose(fractions[busy] * process[busy] + waits[busy], level, rtol=1e-12)
    assert np.all(waits[~busy] >= level * (1 - 1e-12))


def test_a_server_waiting_above_the_level_gets_nothing_and_still_counts() -> None:
    fractions, make_span = waterfill(np.array([1.0, 1.0]), np.array([0.0, 3.0]))
    assert fractions.tolist() == [1.0, 0.0]
    assert make_span == 3.0  # the selected idle server's wait


def test_equal_servers_share_equally() -> None:
    fractions, make_span = waterfill(np.array([2.0, 2.0, 2.0, 2.0]), np.zeros(4))
    assert np.allclose(fractions, 0.25)
    assert make_span == pytest.approx(0.5)


@given(one_task())
def test_vectorised_subsets_match_one_subset_at_a_time(task: tuple[np.ndarray, np.ndarray]) -> None:
    process, waits = task
    k = len(process)
    masks = np.array(
        [
            [j in combo for j in range(k)]
            for r in range(1, k + 1)
            for combo in itertools.combinations(range(k), r)
        ]
    )
    levels, spans = waterfill_subsets(process, waits, masks)
    for mask, level, span in zip(masks, levels, spans, strict=True):
        _, expected = waterfill(process[mask], waits[mask])
        assert span == pytest.approx(expected, rel=1e-12)
        assert level == water_level(process[mask], waits[mask])  # same sums, same order


@given(one_task())
def test_list_and_array_forms_agree(task: tuple[np.ndarray, np.ndarray]) -> None:
    process, waits = task
    fractions, span = fill(process.tolist(), waits.tolist())
    array_fractions, array_span = waterfill(process, waits)
    assert fractions == array_fractions.tolist() and span == array_span
    assert fractions_at_level(process, waits, water_level(process, waits)) == fractions
