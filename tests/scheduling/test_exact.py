"""Exact methods (enumerate, highs, scip) agree with each other and with optkit.evaluate, and
no online method beats them (DESIGN §6)."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import optkit
from optkit.instances.scheduling import SchedulingInstance
from optkit.solvers.result import Result
from tests.highs_threads import size_highs_scheduler
from tests.scheduling.sched_helpers import make_instance, small_instances

EXACT = ("enumerate", "highs", "scip")
ONLINE = ("greedy-opt", "fastest-k", "random-k", "local")


def solve_exact(instance: SchedulingInstance) -> dict[str, Result]:
    results = {m: optkit.solve(instance, m) for m in EXACT}
    for method, r in results.items():
        assert r.status is optkit.Status.OPTIMAL, (method, r.message)
        assert r.feasible, (method, r.message)
        assert r.objective is not None and r.bound is not None
        # the evaluator's objective is the proven optimum (gap 0, tolerances 1e-9)
        assert optkit.agree(r.objective, r.bound, 1e-8), (method, r.objective, r.bound)
    values = [r.objective for r in results.values()]
    assert all(optkit.agree(v, values[0]) for v in values), values  # type: ignore[arg-type]
    return results


def check_online_not_better(instance: SchedulingInstance, optimum: float) -> None:
    for method in ONLINE:
        r = optkit.solve(instance, method, seed=3)
        if r.status is optkit.Status.ERROR:
            assert "servers" in r.message  # a count rule it cannot follow
            continue
        assert r.objective is not None
        assert r.objective >= optimum - 1e-9 * max(1.0, optimum), (method, r.objective, optimum)


@settings(max_examples=30)
@given(small_instances())
def test_exact_methods_agree_on_random_small_instances(instance: SchedulingInstance) -> None:
    results = solve_exact(instance)
    check_online_not_better(instance, results["enumerate"].objective)  # type: ignore[arg-type]


@pytest.mark.parametrize("preset", ["smcoedge", "amcoedge"])
def test_exact_methods_agree_on_tiny_presets(preset: str) -> None:
    for instance in optkit.generate("scheduling", preset, "tiny", seed=9, count=6):
        results = solve_exact(instance)
        check_online_not_better(instance, results["highs"].objective)  # type: ignore[arg-type]


def test_counterexample_optimum_and_greedy(data_dir: Path) -> None:
    instance = optkit.load_instance(data_dir / "waterfilling-not-joint-optimal.json")
    assert isinstance(instance, SchedulingInstance)
    results = solve_exact(instance)
    assert results["highs"].objective == pytest.approx(0.95263908, abs=1e-8)
    task0 = results["highs"].solution.tasks[0]  # type: ignore[union-attr]
    assert task0.fractions == pytest.approx((0.912, 0.088), abs=1e-3)
    greedy = optkit.solve(instance, "greedy-opt").objective
    assert greedy == pytest.approx(0.96224, abs=5e-6)


def test_a_task_that_can_only_meet_its_deadline_exactly_is_on_time() -> None:
    # Task A (base station 0) needs 1.2 s alone on its 2 GHz server, over the 1 s deadline:
    # every share it moves to server 1 delays task B there by more than it saves A, so the
    # optimum moves exactly enough for A to finish at T_dl (DESIGN §6: on time).
    instance = make_instance(
        [(2.0, 0.1, 0.0), (1.0, 1000.0, 0.0)],
        [(0, 0, 2.4, 1.0), (0, 1, 0.5, 1.0)],
        deadline_s=1.0,
        failure_penalty=10.0,
    )
    results = solve_exact(instance)
    for r in results.values():
        details = r.evaluation.details  # type: ignore[union-attr]
        assert not details.failed.any()  # type: ignore[union-attr]
        assert details.make_span_s[0] == pytest.approx(1.0, abs=1e-9)  # type: ignore[union-attr]
        assert r.objective == pytest.approx(1.0 + 0.5 + 2.4 / 6, abs=1e-9)


def test_tight_deadline_some_tasks_fail() -> None:
    # the second task is too big for any subset within the deadline: it fails (φ·T_dl) and
    # its work still loads the servers for the third
    servers = [(10.0, 200.0, 0.0), (20.0, 300.0, 0.0)]
    tasks = [(0, 0, 4.0, 0.5), (0, 1, 40.0, 1.0), (0, 0, 2.0, 0.5)]
    instance = make_instance(servers, tasks, deadline_s=0.5, failure_penalty=3.0)
    results = solve_exact(instance)
    metrics = results["highs"].metrics
    assert metrics is not None and 0 < metrics["failure_rate"] < 1
    check_online_not_better(instance, results["highs"].objective)  # type: ignore[arg-type]


def test_initial_queues_delay_their_servers() -> None:
    servers = [(10.0, 500.0, 8.0), (10.0, 500.0, 0.0)]
    tasks = [(0, 0, 5.0, 0.4), (1, 0, 5.0, 0.4)]
    instance = make_instance(servers, tasks, slots=2, slot_seconds=0.5, deadline_s=2.0)
    results = solve_exact(instance)
    details = results["scip"].evaluation.details  # type: ignore[union-attr]
    assert details.waits_s[0, 0] == pytest.approx(0.8)  # type: ignore[union-attr]
    # the queue drains by f·Δ = 5 Gcycles per slot
    assert details.queues_gcycles[1, 0] >= 3.0 - 1e-9  # type: ignore[union-attr]
    check_online_not_better(instance, results["scip"].objective)  # type: ignore[arg-type]


def test_exactly_k_never_beats_at_most_k() -> None:
    servers = [(10.0, 400.0, 0.0), (30.0, 450.0, 2.0), (50.0, 20.0, 0.0)]
    tasks = [(0, 0, 10.0, 0.3), (0, 1, 8.0, 0.2), (0, 2, 5.0, 0.1)]
    at_most = make_instance(servers, tasks, max_servers=2, exact_servers=False)
    exactly = make_instance(servers, tasks, max_servers=2, exact_servers=True)
    best_at_most = solve_exact(at_most)["highs"].objective
    best_exactly = solve_exact(exactly)["highs"].objective
    assert best_at_most is not None and best_exactly is not None
    assert best_at_most <= best_exactly + 1e-12
    solution = optkit.solve(exactly, "scip").solution
    assert {len(d.servers) for d in solution.tasks} == {2}  # type: ignore[union-attr]


def test_a_remote_server_slower_than_local_gets_only_its_water_level_share() -> None:
    # server 1 computes faster but its incoming link is slow: the whole task takes 0.1 s at
    # home and 10.025 s there, so the optimum sends it a_local/(a_local + a_remote) of the
    # task, and fastest-k:1 keeps the task at home
    servers = [(10.0, 100.0, 0.0), (40.0, 0.5, 0.0)]
    instance = make_instance(servers, [(0, 0, 5.0, 0.2)], deadline_s=5.0)
    results = solve_exact(instance)
    a_local, a_remote = 0.1, 5.0 / 0.5 + 1.0 / 40.0
    share = results["scip"].solution.tasks[0].fractions[1]  # type: ignore[union-attr]
    assert share == pytest.approx(a_local / (a_local + a_remote), rel=1e-7)
    assert results["scip"].objective == pytest.approx(a_local * a_remote / (a_local + a_remote))
    fastest = optkit.solve(instance, "fastest-k:1").solution
    assert fastest.tasks[0].servers == (0,)  # type: ignore[union-attr]


def test_a_forced_useless_server_counts_in_the_make_span() -> None:
    # exactly 2 of 2 servers: server 1's queue (3 s of work) must be waited for, so the task
    # gives it nothing and still finishes only when that wait has passed
    servers = [(10.0, 500.0, 0.0), (10.0, 500.0, 30.0)]
    instance = make_instance(
        servers, [(0, 0, 1.0, 0.1)], deadline_s=5.0, max_servers=2, exact_servers=True
    )
    results = solve_exact(instance)
    solution = results["highs"].solution
    assert solution.tasks[0].servers == (0, 1)  # type: ignore[union-attr]
    assert solution.tasks[0].fractions[1] == 0.0  # type: ignore[union-attr]
    assert results["highs"].objective == pytest.approx(3.0)


def test_queues_that_carry_over_join_slots_into_one_part() -> None:
    from optkit.solvers.scheduling.decompose import parts

    servers = [(1.0, 100.0, 0.0), (2.0, 100.0, 0.0)]
    tasks = [(0, 0, 5.0, 0.5), (1, 1, 5.0, 0.5), (2, 0, 1.0, 0.01), (3, 1, 1.0, 0.01)]
    instance = make_instance(servers, tasks, slots=4, slot_seconds=0.5, deadline_s=10.0)
    found = [(p.first_slot, p.end_slot) for p in parts(instance)]
    assert found[0][0] == 0 and found[-1][1] == 4
    assert (0, 1) not in found  # slot 0 leaves up to 2 Gcycles queued at server 0
    results = solve_exact(instance)
    check_online_not_better(instance, results["highs"].objective)  # type: ignore[arg-type]


def test_time_limit_returns_a_solution_and_a_valid_bound() -> None:
    instance = optkit.generate("scheduling", "amcoedge", "medium", seed=11)[0]
    result = optkit.solve(instance, "highs", time_limit=2.0)
    assert result.status is optkit.Status.TIME_LIMIT
    assert result.feasible
    assert result.bound is not None and result.objective is not None
    assert result.bound <= result.objective + 1e-9
    greedy = optkit.solve(instance, "greedy-opt").objective
    assert greedy is not None and result.objective <= greedy + 1e-9


def test_under_a_time_limit_easy_parts_go_first_and_pass_their_time_on() -> None:
    """Parts are solved easiest first (fewest tasks in the busiest slot), each with a fair
    share of the time left, and the solution is put back together in slot order."""
    from optkit.solvers.scheduling import exact
    from optkit.solvers.scheduling.decompose import parts

    instance = optkit.generate("scheduling", "amcoedge", "small", seed=11)[0]
    assert isinstance(instance, SchedulingInstance)
    found = parts(instance)
    order = exact.solving_order(found)
    busiest = [int(np.diff(found[p].instance.compiled.slot_start).max()) for p in order]
    assert (
        len(found) > 2 and busiest == sorted(busiest) and sorted(order) == list(range(len(found)))
    )
    calls: list[tuple[str, float | None]] = []
    solve_part = exact._solve_part

    def recording(part, greedy, backend, options, time_left):  # type: ignore[no-untyped-def]
        calls.append((part.name, time_left))
        return solve_part(part, greedy, backend, options, None)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(exact, "_solve_part", recording)
        timed = optkit.solve(instance, "highs", time_limit=1000.0)
    assert [name for name, _ in calls] == [found[p].instance.name for p in order]
    shares = [left for _, left in calls]
    assert all(x is not None for x in shares)
    # the last (hardest) part gets the whole time left, the first a fair share of it all
    assert shares[0] <= 1000.0 / len(found) + 1e-6 and shares[-1] > shares[0]  # type: ignore[operator]
    untimed = optkit.solve(instance, "highs")
    assert timed.solution == untimed.solution


def test_a_requested_gap_is_reported_as_gap_limit_or_optimal() -> None:
    instance = optkit.generate("scheduling", "amcoedge", "small", seed=3)[0]
    result = optkit.solve(instance, "highs", gap=0.5)
    assert result.status in (optkit.Status.GAP_LIMIT, optkit.Status.OPTIMAL)
    assert result.gap is not None and result.gap <= 0.5


def test_enumerate_refuses_large_instances() -> None:
    instance = optkit.generate("scheduling", "amcoedge", "medium", seed=11)[0]
    result = optkit.solve(instance, "enumerate")
    assert result.status is optkit.Status.ERROR
    assert "limit" in result.message and "highs" in result.message


def test_milp_objective_equals_the_evaluated_extracted_solution() -> None:
    """The model itself (not the polished solution) scores the same under the evaluator."""
    import pyomo.environ as pyo  # noqa: F401
    from pyomo.contrib.solver.common.factory import SolverFactory

    from optkit.models import scheduling as model

    for instance in optkit.generate("scheduling", "smcoedge", "small", seed=5, count=2):
        m = model.build(instance)
        res = SolverFactory("highs").solve(
            m,
            solver_options={
                "mip_rel_gap": 0.0,
                "primal_feasibility_tolerance": 1e-9,
                "mip_feasibility_tolerance": 1e-9,
                "output_flag": False,
            },
        )
        value = optkit.evaluate(instance, model.extract(instance, m, "highs")).objective
        assert value == pytest.approx(res.incumbent_objective, rel=1e-7)


def test_bounds_hold_on_random_solutions() -> None:
    from optkit.models.scheduling import bounds

    rng = np.random.default_rng(1)
    for instance in optkit.generate("scheduling", "smcoedge", "medium", seed=2, count=2):
        c = instance.compiled
        bd = bounds(c)
        for _ in range(5):
            masks = c.allowed_subsets[rng.integers(len(c.allowed_subsets), size=c.n_tasks)]
            x = rng.random(masks.shape) * masks
            tasks = tuple(
                optkit.instances.solution.TaskDecision(
                    tuple(np.flatnonzero(m).tolist()), tuple((r[m] / r[m].sum()).tolist())
                )
                for m, r in zip(masks, x, strict=True)
            )
            ev = optkit.evaluate(instance, optkit.SchedulingSolution(instance.name, "r", tasks))
            d = ev.details
            assert np.all(d.waits_s <= bd.wait_max + 1e-12)  # type: ignore[union-attr]
            assert np.all(d.waits_s >= bd.wait_min - 1e-12)  # type: ignore[union-attr]
            assert np.all(d.make_span_s <= bd.span_max + 1e-12)  # type: ignore[union-attr]
            assert np.all(d.make_span_s >= bd.span_min - 1e-12)  # type: ignore[union-attr]
            assert np.all(d.queues_gcycles <= bd.queue_max + 1e-9)  # type: ignore[union-attr]


def test_allocation_lp_is_infeasible_when_an_on_time_task_cannot_be() -> None:
    from optkit.solvers.scheduling.allocation import allocate

    instance = make_instance([(1.0, 100.0, 0.0)], [(0, 0, 10.0, 1.0)], deadline_s=1.0)
    assert allocate(instance, [(0,)], [False]) is None
    found = allocate(instance, [(0,)], [True])
    assert found is not None and found.on_time_span_s == 0.0


def test_idle_servers_are_dropped_only_where_the_count_rule_allows() -> None:
    from optkit.instances.solution import TaskDecision
    from optkit.solvers.scheduling.allocation import drop_idle_servers

    servers = [(10.0, 500.0, 0.0), (10.0, 500.0, 30.0)]
    free = make_instance(servers, [(0, 0, 1.0, 0.1)], max_servers=2)
    exact = make_instance(servers, [(0, 0, 1.0, 0.1)], max_servers=2, exact_servers=True)
    decision = (TaskDecision((0, 1), (1.0, 0.0)),)
    assert drop_idle_servers(free, decision) == (TaskDecision((0,), (1.0,)),)
    assert drop_idle_servers(exact, decision) == decision


@given(small_instances(max_tasks=4), st.integers(0, 2**32 - 1))
def test_capacity_inequalities_hold_for_any_decisions(
    instance: SchedulingInstance, seed: int
) -> None:
    """Σ_S D_nρ_n T_n ≥ [(Σ_S D_nρ_n)² + Σ_S (D_nρ_n)²]/(2 Σ_j f_j) for every set S of a slot's
    tasks, on the evaluator's make-spans of random decisions (the model's valid inequality)."""
    from optkit.instances.solution import TaskDecision

    rng = np.random.default_rng(seed)
    c = instance.compiled
    masks = c.allowed_subsets
    decisions = []
    for _ in instance.tasks:
        servers = np.flatnonzero(masks[rng.integers(len(masks))])
        x = rng.dirichlet(np.ones(len(servers)))
        decisions.append(TaskDecision(tuple(servers.tolist()), tuple(x.tolist())))
    spans = optkit.evaluate(
        instance, optkit.SchedulingSolution(instance.name, "r", tuple(decisions))
    ).details.make_span_s  # type: ignore[union-attr]
    work, capacity = c.task_work_gcycles, c.cpu_ghz.sum()
    for k in range(c.slots):
        tasks = list(c.slot_tasks(k))
        for r in range(1, len(tasks) + 1):
            for group in itertools.combinations(tasks, r):
                g = list(group)
                lhs = float((work[g] * spans[g]).sum())
                rhs = float((work[g].sum() ** 2 + (work[g] ** 2).sum()) / (2 * capacity))
                assert lhs >= rhs * (1 - 1e-12)


def test_highs_and_scip_agree_on_a_crowded_slot() -> None:
    from optkit.models.scheduling import CAPACITY_MIN_TASKS

    big = optkit.generate("scheduling", "smcoedge", "large", seed=1)[0]
    tasks = tuple(t for t in big.tasks if t.slot == 0)[:CAPACITY_MIN_TASKS]
    instance = dataclasses.replace(big, name="crowded", slots=1, tasks=tasks)
    highs = optkit.solve(instance, "highs")
    scip = optkit.solve(instance, "scip")
    assert highs.status is scip.status is optkit.Status.OPTIMAL
    assert optkit.agree(highs.objective, scip.objective)  # type: ignore[arg-type]
    check_online_not_better(instance, highs.objective)  # type: ignore[arg-type]


def test_highs_runs_after_another_highs_run_with_other_threads() -> None:
    """HiGHS sizes one process-wide thread scheduler on its first run; a later run asking for
    another count failed with status 'not set' until the scheduler was reset."""
    size_highs_scheduler(threads=2)
    instance = optkit.generate("scheduling", "smcoedge", "tiny", seed=5)[0]
    result = optkit.solve(instance, "highs", threads=1)
    assert result.status is optkit.Status.OPTIMAL, result.message
