"""SchedulingState agrees with optkit.evaluate, and the online methods (DESIGN §6)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import optkit
from optkit.errors import OptkitError
from optkit.evaluate import SchedulingDetails
from optkit.instances.scheduling import SchedulingInstance
from optkit.instances.solution import SchedulingSolution, TaskDecision
from optkit.solvers.scheduling.online import SchedulingState
from optkit.solvers.scheduling.online_methods import GreedyOpt, run_online
from optkit.solvers.scheduling.waterfill import waterfill
from tests.scheduling.sched_helpers import make_instance, small_instances


def random_decisions(instance: SchedulingInstance, rng: np.random.Generator) -> list[TaskDecision]:
    """Random allowed subsets with random fractions (some exactly 0)."""
    masks = instance.compiled.allowed_subsets
    decisions = []
    for _ in instance.tasks:
        servers = np.flatnonzero(masks[rng.integers(len(masks))])
        x = rng.random(len(servers)) * (rng.random(len(servers)) > 0.2)
        x = np.full(len(servers), 1.0 / len(servers)) if x.sum() == 0 else x / x.sum()
        decisions.append(TaskDecision(tuple(servers.tolist()), tuple(x.tolist())))
    return decisions


def replay(instance: SchedulingInstance, decisions: list[TaskDecision]) -> tuple[np.ndarray, ...]:
    state = SchedulingState(instance)
    spans, waits, queues = [], [], [state.queue_gcycles.copy()]
    for n, d in enumerate(decisions):
        slot = int(instance.compiled.task_slot[n])
        while state.slot < slot:
            state.end_slot()
            queues.append(state.queue_gcycles.copy())
        waits.append(state.waits(n))
        spans.append(state.apply(n, d.servers, d.fractions))
    while state.slot < instance.slots:
        state.end_slot()
        queues.append(state.queue_gcycles.copy())
    return np.array(spans), np.array(waits), np.array(queues)


@pytest.mark.parametrize("preset", ["smcoedge", "amcoedge"])
@pytest.mark.parametrize("size", ["small", "medium"])
def test_state_is_bit_identical_to_the_evaluator(preset: str, size: str) -> None:
    rng = np.random.default_rng(7)
    for instance in optkit.generate("scheduling", preset, size, seed=3, count=2):
        decisions = random_decisions(instance, rng)
        details = optkit.evaluate(
            instance, SchedulingSolution(instance.name, "random", tuple(decisions))
        ).details
        assert isinstance(details, SchedulingDetails)
        spans, waits, queues = replay(instance, decisions)
        assert np.array_equal(spans, details.make_span_s)
        assert np.array_equal(waits, details.waits_s)
        assert np.array_equal(queues, details.queues_gcycles)


@given(small_instances(), st.integers(0, 2**32 - 1))
def test_state_agrees_with_the_evaluator_on_random_instances(
    instance: SchedulingInstance, seed: int
) -> None:
    decisions = random_decisions(instance, np.random.default_rng(seed))
    details = optkit.evaluate(
        instance, SchedulingSolution(instance.name, "random", tuple(decisions))
    ).details
    assert isinstance(details, SchedulingDetails)
    spans, waits, queues = replay(instance, decisions)
    assert np.array_equal(spans, details.make_span_s)
    assert np.array_equal(waits, details.waits_s)
    assert np.array_equal(queues, details.queues_gcycles)


def test_state_refuses_out_of_order_use() -> None:
    instance = make_instance(
        [(10.0, 100.0, 0.0), (10.0, 100.0, 0.0)], [(0, 0, 1.0, 0.1), (1, 1, 1.0, 0.1)], slots=2
    )
    state = SchedulingState(instance)
    with pytest.raises(ValueError, match="slot"):
        state.waits(1)
    with pytest.raises(ValueError, match="out of order"):
        state.apply(1, (0,), (1.0,))
    with pytest.raises(ValueError, match="undecided"):
        state.end_slot()
    state.apply(0, (0,), (1.0,))
    state.advance_to(1)
    assert state.slot == 1 and state.next_task == 1


def test_state_copy_is_independent() -> None:
    instance = make_instance([(10.0, 100.0, 1.0)], [(0, 0, 1.0, 0.1), (0, 0, 1.0, 0.1)])
    state = SchedulingState(instance)
    other = state.copy()
    state.apply(0, (0,), (1.0,))
    assert other.next_task == 0 and other.earlier_gcycles[0] == 0.0
    assert state.earlier_gcycles[0] == pytest.approx(0.1)


@given(small_instances())
def test_greedy_opt_takes_the_best_subset_for_each_task(instance: SchedulingInstance) -> None:
    """Against a plain loop over subsets with the scalar water-filling, with the tie-break
    (cost, T, |S|, lexicographic S) of DESIGN §6."""
    c = instance.compiled
    subsets = [tuple(np.flatnonzero(m).tolist()) for m in c.allowed_subsets]
    state = SchedulingState(instance)
    policy = GreedyOpt(instance)
    for n in range(c.n_tasks):
        state.advance_to(int(c.task_slot[n]))
        waits, process = state.waits(n), state.process(n)
        keys = []
        for s in subsets:
            _, span = waterfill(process[list(s)], waits[list(s)])
            keys.append((state.cost(span), span, len(s), s))
        decision = policy(state, n)
        best = min(keys)
        chosen = next(k for k in keys if k[3] == decision.servers)
        assert chosen[:2] == pytest.approx(best[:2], rel=1e-12)
        state.apply(n, decision.servers, decision.fractions)


def test_greedy_opt_breaks_exact_ties_by_the_lower_server_index() -> None:
    # servers 0 and 1 are identical and both remote for the task (base station 2, whose own
    # server has a long queue): {0} and {1} tie exactly; the smaller S wins
    servers = [(10.0, 100.0, 0.0), (10.0, 100.0, 0.0), (10.0, 100.0, 100.0)]
    instance = make_instance(servers, [(0, 2, 5.0, 0.2)], max_servers=1)
    result = optkit.solve(instance, "greedy-opt")
    assert result.solution is not None
    assert result.solution.tasks[0].servers == (0,)  # type: ignore[union-attr]


def test_greedy_opt_minimises_the_make_span_when_every_subset_fails() -> None:
    # the cost is φ·T_dl whatever the subset: the make-span decides, so both servers
    instance = make_instance(
        [(1.0, 100.0, 0.0), (1.0, 100.0, 0.0)], [(0, 0, 10.0, 1.0)], deadline_s=1.0
    )
    result = optkit.solve(instance, "greedy-opt")
    assert result.solution is not None and result.metrics is not None
    assert result.solution.tasks[0].servers == (0, 1)  # type: ignore[union-attr]
    assert result.metrics["failure_rate"] == 1.0


def test_greedy_opt_on_the_counterexample_gives_0_96224(data_dir: object) -> None:
    instance = optkit.load_instance(f"{data_dir}/waterfilling-not-joint-optimal.json")
    result = optkit.solve(instance, "greedy-opt")
    assert result.objective == pytest.approx(0.96224, abs=5e-6)


@pytest.mark.parametrize("method", ["greedy-opt", "fastest-k", "random-k", "local"])
@pytest.mark.parametrize("preset", ["smcoedge", "amcoedge"])
def test_online_methods_are_feasible_and_respect_the_count_rule(method: str, preset: str) -> None:
    for instance in optkit.generate("scheduling", preset, "small", seed=2, count=2):
        result = optkit.solve(instance, method, seed=5)
        if preset == "smcoedge" and method == "local":
            assert result.status is optkit.Status.ERROR
            assert "exact_servers" in result.message
            continue
        assert result.status is optkit.Status.FEASIBLE, result.message
        assert result.solution is not None
        sizes = {len(d.servers) for d in result.solution.tasks}  # type: ignore[union-attr]
        if instance.exact_servers:
            assert sizes == {instance.max_servers}


def test_random_k_is_seeded() -> None:
    instance = optkit.generate("scheduling", "amcoedge", "small", seed=4)[0]
    a = optkit.solve(instance, "random-k", seed=1).solution
    b = optkit.solve(instance, "random-k", seed=1).solution
    c = optkit.solve(instance, "random-k", seed=2).solution
    assert a == b
    assert a != c


def test_k_defaults_and_variants() -> None:
    any_subset = optkit.generate("scheduling", "amcoedge", "small", seed=4)[0]
    exact3 = optkit.generate("scheduling", "smcoedge", "small", seed=4)[0]
    assert optkit.solve(any_subset, "fastest-k").method == "fastest-k:3"
    assert optkit.solve(any_subset, "fastest-k:2").method == "fastest-k:2"
    assert optkit.solve(exact3, "random-k").method == "random-k:3"
    refused = optkit.solve(exact3, "fastest-k:2")
    assert refused.status is optkit.Status.ERROR and "exactly 3" in refused.message
    too_many = optkit.solve(any_subset, "random-k:9")
    assert too_many.status is optkit.Status.ERROR and "5 servers" in too_many.message
    with pytest.raises(OptkitError, match="integer"):
        optkit.solve(any_subset, "random-k:two")


def test_fastest_k_takes_the_servers_that_finish_the_task_soonest_alone() -> None:
    # server 0 is local and slow, 1 fast but its rate is poor, 2 fast with a good rate
    instance = make_instance(
        [(5.0, 100.0, 0.0), (50.0, 1.0, 0.0), (40.0, 1000.0, 0.0)], [(0, 0, 10.0, 0.1)]
    )
    result = optkit.solve(instance, "fastest-k:2")
    assert result.solution is not None
    assert result.solution.tasks[0].servers == (0, 2)  # type: ignore[union-attr]


def test_run_online_matches_the_registered_method() -> None:
    instance = optkit.generate("scheduling", "amcoedge", "small", seed=8)[0]
    decisions = run_online(instance, GreedyOpt(instance))
    assert optkit.solve(instance, "greedy-opt").solution.tasks == decisions  # type: ignore[union-attr]
