"""optkit.evaluate on hand-computed examples (every term) and rule-by-rule infeasibility."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from optkit import evaluate
from optkit.instances import instance_from_dict, solution_from_dict
from tests.foundation.handmade import (
    caching_instance,
    caching_solution,
    scheduling_instance,
    scheduling_solution,
)

# --------------------------------------------------------------------------------------------
# Caching, worked out by hand (see handmade.py for the data):
# r0 at home es0, 20 steps, b 0.5: radio 3/(0.5·10·2) = 0.3, generation (0.02·20+0.1)/1 = 0.5,
#    delay 0.8, quality 0.8, cost 0.04 → U = 1.6 − 0.8 − 0.02 = 0.78
# r1 at neighbour es1, 10 steps, b 0.5: radio 3/(0.5·10·1) = 0.6, transfer 3/50 + 0.05 = 0.11,
#    generation (0.05·10+0.2)/2 = 0.35 → delay 1.06, 0.06 s late; quality 0.45; cost 0.04
#    → U = 0.9 − 1.06 − 0.02 − 4·0.06 = −0.42
# r2 at the cloud: radio 2.5/(1·20·4) = 0.03125, backhaul 2.5/10 + 0.2, generation
#    (0.02·60+0.1)/2 = 0.65 → delay 1.13125; quality q(30) = 0.9 (60 steps clamp into 10..30);
#    cost 0.01·60 = 0.6 → U = 1.8 − 1.13125 − 0.3 = 0.36875
# r3 at home es0, 15 steps, b 1: radio 2/(10·2) = 0.1, generation (0.05·15+0.2) = 0.95,
#    delay 1.05, quality 0.6, cost 0.03 → U = 1.2 − 1.05 − 0.015 = 0.135
# switch: frame 0 loads m1 at es1 (4 GB), frame 1 loads m1 at es0 (4 GB) → 8 GB, cost 0.8
CACHING_EXPECTED = {
    "delay": [0.8, 1.06, 1.13125, 1.05],
    "quality": [0.8, 0.45, 0.9, 0.6],
    "cost": [0.04, 0.04, 0.6, 0.03],
    "utility": [0.78, -0.42, 0.36875, 0.135],
    "objective": 0.86375 - 0.8,
    "metrics": {
        "total_utility": 0.86375,
        "switch_cost": 0.8,
        "hit_ratio": 0.5,
        "edge_ratio": 0.75,
        "mean_delay_s": 4.04125 / 4,
        "p95_delay_s": 1.06 + 0.85 * 0.07125,
        "mean_quality": 0.6875,
        "total_cost": 0.71,
        "late_share": 0.25,
        "gb_loaded": 8.0,
    },
}


def test_caching_hand_computed_every_term() -> None:
    inst = instance_from_dict(caching_instance())
    ev = evaluate(inst, solution_from_dict(caching_solution()))
    assert ev.feasible, ev.violations
    d = ev.details
    assert d is not None
    np.testing.assert_allclose(d.delay_s, CACHING_EXPECTED["delay"], rtol=1e-12)
    np.testing.assert_allclose(d.quality, CACHING_EXPECTED["quality"], rtol=1e-12)
    np.testing.assert_allclose(d.cost, CACHING_EXPECTED["cost"], rtol=1e-12)
    np.testing.assert_allclose(d.utility, CACHING_EXPECTED["utility"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(d.late_s, [0, 0.06, 0, 0], atol=1e-12)
    assert d.hit.tolist() == [True, False, False, True]
    assert d.server.tolist() == [0, 1, -1, 0]
    np.testing.assert_allclose(d.gb_loaded, [4.0, 4.0])
    assert ev.objective == pytest.approx(CACHING_EXPECTED["objective"], rel=1e-12)
    assert ev.metrics is not None
    for key, value in CACHING_EXPECTED["metrics"].items():  # type: ignore[attr-defined]
        assert ev.metrics[key] == pytest.approx(value, rel=1e-12), key
    # the raw document scores the same as the decoded solution
    assert evaluate(inst, caching_solution()).objective == ev.objective
    # slot utilities and frame loads add up to the objective
    assert d.slot_utility.sum() - 0.1 * d.gb_loaded.sum() == pytest.approx(ev.objective, rel=1e-12)


def test_appendix_example_scores_as_computed_by_hand(data_dir: Any) -> None:
    from optkit import load_instance, load_solution

    inst = load_instance(data_dir / "appendix-caching.json")
    ev = evaluate(inst, load_solution(data_dir / "appendix-caching-solution.json"))
    # r0: 3/(20·4.2) + (0.02·30+0.1) = 0.7357142857, quality 0.8; r1 at the cloud:
    # 1.5/(10·2.5) + 1.5/100 + 0.05 + (0.03·50+0.2)/2 = 0.975, quality q(40) = 0.7
    assert ev.feasible
    assert ev.objective == pytest.approx(
        (0.8 - (3 / 84 + 0.7)) + (0.7 - 0.975) - 0.1 * 5, rel=1e-12
    )


# --------------------------------------------------------------------------------------------
# Scheduling, worked out by hand:
# slot 0, queues [15, 0, 0]:
#   t0 (bs 0, 5 Gcycles) on s0/s1 at 0.4/0.6: a = [0.5, 5/20 + 10/50 = 0.45];
#      waits [15/10 = 1.5, 0] → T = max(0.2 + 1.5, 0.27) = 1.7 > 1 → failed, cost 3·1
#      then W = [2, 3, 0], uplink of bs 0 = 0.6·10/50 = 0.12
#   t1 (bs 0, 4 Gcycles) on s1/s2 at 1/0: a = [4/20 + 4/50 = 0.28, 4/5 + 4/200 = 0.82];
#      waits [3/20 + 0.12 = 0.27, 0 + 0.12] → T = max(0.55, 0.12) = 0.55 (s2 listed at 0 counts)
#   end of slot: Q = [max(0, 15 + 2 − 10) = 7, max(0, 7 − 20) = 0, 0]   (queue carry-over)
# slot 1: t2 (bs 1, 2 Gcycles) on s0 (remote): a = 2/10 + 1/100 = 0.21, wait 7/10 → T = 0.91
SCHEDULING_EXPECTED = {
    "make_span": [1.7, 0.55, 0.91],
    "cost": [3.0, 0.55, 0.91],
    "waits_t1": [(15 + 2) / 10, 3 / 20 + 0.12, 0.12],  # s0 is local: no uplink backlog
    "queues": [[15, 0, 0], [7, 0, 0], [0, 0, 0]],
    "objective": 4.46,
    "metrics": {
        "mean_make_span_s": 3.16 / 3,
        "failure_rate": 1 / 3,
        "mean_servers": 5 / 3,
        "utilisation": [4 / 20, 7 / 40, 0.0],
    },
}


def test_scheduling_hand_computed_every_term() -> None:
    inst = instance_from_dict(scheduling_instance())
    ev = evaluate(inst, solution_from_dict(scheduling_solution()))
    assert ev.feasible, ev.violations
    d = ev.details
    assert d is not None
    np.testing.assert_allclose(d.make_span_s, SCHEDULING_EXPECTED["make_span"], rtol=1e-12)
    np.testing.assert_allclose(d.cost, SCHEDULING_EXPECTED["cost"], rtol=1e-12)
    assert d.failed.tolist() == [True, False, False]
    np.testing.assert_allclose(d.waits_s[1], SCHEDULING_EXPECTED["waits_t1"], rtol=1e-12)
    np.testing.assert_allclose(d.queues_gcycles, SCHEDULING_EXPECTED["queues"], atol=1e-12)
    assert ev.objective == pytest.approx(SCHEDULING_EXPECTED["objective"], rel=1e-12)
    assert ev.metrics is not None
    for key, value in SCHEDULING_EXPECTED["metrics"].items():  # type: ignore[attr-defined]
        assert ev.metrics[key] == pytest.approx(value, rel=1e-12), key


def test_task_meeting_deadline_exactly_is_on_time() -> None:
    data = scheduling_instance()
    data["tasks"] = [{"slot": 0, "bs": 1, "input_mbit": 4.0, "density_gcycles_per_mbit": 5.0}]
    inst = instance_from_dict(data)  # 20 Gcycles on the 20 GHz local server: exactly 1 s
    sol = {**scheduling_solution(), "tasks": [{"servers": [1], "fractions": [1.0]}]}
    ev = evaluate(inst, sol)
    assert ev.details is not None and not ev.details.failed[0]
    assert ev.objective == pytest.approx(1.0)


# --------------------------------------------------------------------------------------------
# Infeasible solutions, caught rule by rule (each mutation breaks exactly the named rule).

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def apply(doc: dict[str, Any]) -> None:
        target: Any = doc
        keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split(".")]
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return apply


def _delete(key: str) -> Mutation:
    return lambda doc: doc.pop(key)


CACHING_RULES: list[tuple[str, Mutation, str]] = [
    ("frames", _set("cache", [[[0], [1], []]]), "cache: has 1 frames, the instance has 2"),
    (
        "servers per frame",
        _set("cache.0", [[0], [1]]),
        "cache[0]: has 2 lists, one per server is needed (3)",
    ),
    (
        "model index",
        _set("cache.1.2", [7]),
        "cache[1][2][0]: 7 is not a model index (instance has 2 models)",
    ),
    ("distinct", _set("cache.1.1", [1, 1]), "cache[1][1][1]: model 1 is listed twice"),
    (
        "storage",
        _set("cache.1.1", [0, 1]),
        "cache[1][1]: models of 10 GB exceed storage_gb 8 of server 1",
    ),
    (
        "one decision per request",
        lambda d: d["requests"].pop(),
        "requests: has 3 decisions, the instance has 4 requests",
    ),
    (
        "server index",
        _set("requests.0.server", 5),
        "requests[0].server: 5 is not a server index (instance has 3 servers)",
    ),
    (
        "linked",
        _set("requests.0.server", 2),
        "requests[0].server: server 2 is not linked to home server 0",
    ),
    (
        "cached",
        _set("cache.0.0", []),
        "requests[0].server: server 0 does not cache model 0 in frame 0",
    ),
    ("share > 0", _set("requests.2.bandwidth", 0), "requests[2].bandwidth: 0 is not in (0, 1]"),
    (
        "share sum",
        _set("requests.0.bandwidth", 0.7),
        "requests[0,1].bandwidth: shares at home server 0 in frame 0, slot 0 sum to 1.2 > 1",
    ),
    (
        "steps null at edge",
        _set("requests.0.steps", None),
        "requests[0].steps: null, but server 0 serves the request (steps in [10, 30] needed)",
    ),
    ("steps integral", _set("requests.1.steps", 10.5), "requests[1].steps: 10.5 is not an integer"),
    (
        "steps range",
        _set("requests.1.steps", 4),
        "requests[1].steps: 4 is outside model 1's steps [5, 15]",
    ),
    (
        "cloud steps null",
        _set("requests.2.steps", 50),
        "requests[2].steps: must be null when the cloud serves the request",
    ),
    (
        "step capacity",
        _set("requests.0.steps", 30),
        "requests[0].steps: steps served by server 0 in frame 0, slot 0 sum to 30 > step_capacity 25",
    ),
    ("family", _set("family", "scheduling"), "tasks: missing required field"),
    (
        "instance name",
        _set("instance", "other"),
        "instance: the solution is for 'other', not 'hand-caching'",
    ),
    ("missing field", _delete("method"), "method: missing required field"),
    ("unknown field", _set("comment", "hi"), "comment: unknown field"),
    ("boolean steps", _set("requests.0.steps", True), "requests[0].steps: true is not a number"),
    (
        "server spelling",
        _set("requests.0.server", "edge"),
        'requests[0].server: "edge" is neither a server index nor "cloud"',
    ),
    (
        "format",
        _set("format", "optkit.caching"),
        "format: this is an instance, a solution was expected",
    ),
    (
        "unknown format",
        _set("format", "optkit.cache"),
        'format: "optkit.cache" is not one of "optkit.solution"',
    ),
]


@pytest.mark.parametrize("rule,mutate,message", CACHING_RULES, ids=[r[0] for r in CACHING_RULES])
def test_caching_rule(rule: str, mutate: Mutation, message: str) -> None:
    inst = instance_from_dict(caching_instance())
    doc = copy.deepcopy(caching_solution())
    mutate(doc)
    ev = evaluate(inst, doc)
    assert not ev.feasible
    assert message in ev.violations, ev.violations


def test_caching_objective_still_computed_when_infeasible_but_readable() -> None:
    inst = instance_from_dict(caching_instance())
    doc = caching_solution()
    doc["cache"][0][0] = []  # r0 served by a server that does not cache its model
    ev = evaluate(inst, doc)
    assert not ev.feasible and ev.objective is not None
    assert ev.metrics is not None and ev.metrics["hit_ratio"] == 0.25
    doc = caching_solution()
    doc["requests"][0]["server"] = 2  # unlinked: no transfer delay exists, so no objective
    assert evaluate(inst, doc).objective is None


SCHEDULING_RULES: list[tuple[str, Mutation, str]] = [
    (
        "one decision per task",
        lambda d: d["tasks"].pop(),
        "tasks: has 2 decisions, the instance has 3 tasks",
    ),
    (
        "non-empty",
        _set("tasks.2", {"servers": [], "fractions": []}),
        "tasks[2].servers: empty (a task needs at least one server)",
    ),
    (
        "index",
        _set("tasks.2.servers", [3]),
        "tasks[2].servers[0]: 3 is not a server index (instance has 3 servers)",
    ),
    ("distinct", _set("tasks.0.servers", [1, 1]), "tasks[0].servers[1]: server 1 is listed twice"),
    ("lengths", _set("tasks.0.fractions", [1.0]), "tasks[0].fractions: has 1 values for 2 servers"),
    (
        "range",
        _set("tasks.0.fractions", [-0.1, 1.1]),
        "tasks[0].fractions[0]: -0.1 is not in [0, 1]",
    ),
    ("sum", _set("tasks.0.fractions", [0.5, 0.6]), "tasks[0].fractions: sum to 1.1, not 1"),
    ("family", _set("family", "caching"), "cache: missing required field"),
    (
        "integer servers",
        _set("tasks.0.servers", [0, 1.5]),
        "tasks[0].servers[1]: 1.5 is not an integer",
    ),
]


@pytest.mark.parametrize(
    "rule,mutate,message", SCHEDULING_RULES, ids=[r[0] for r in SCHEDULING_RULES]
)
def test_scheduling_rule(rule: str, mutate: Mutation, message: str) -> None:
    inst = instance_from_dict(scheduling_instance())
    doc = copy.deepcopy(scheduling_solution())
    mutate(doc)
    ev = evaluate(inst, doc)
    assert not ev.feasible
    assert message in ev.violations, ev.violations


@pytest.mark.parametrize(
    "max_servers,exact,message",
    [
        (1, False, "tasks[0].servers: 2 servers, at most 1 allowed (max_servers)"),
        (2, True, "tasks[2].servers: 1 servers, exactly 2 required (exact_servers)"),
    ],
)
def test_scheduling_server_count(max_servers: int, exact: bool, message: str) -> None:
    data = scheduling_instance()
    data["max_servers"], data["exact_servers"] = max_servers, exact
    ev = evaluate(instance_from_dict(data), scheduling_solution())
    assert message in ev.violations, ev.violations
    assert ev.objective == pytest.approx(SCHEDULING_EXPECTED["objective"])  # still computed


def test_family_mismatch_is_a_violation_not_a_crash() -> None:
    inst = instance_from_dict(scheduling_instance())
    ev = evaluate(inst, solution_from_dict(caching_solution()))
    assert not ev.feasible and ev.objective is None
    assert ev.violations[0].startswith("family: the solution is for the caching family")
    assert set(ev.to_json()) == {"feasible", "violations", "objective", "metrics"}


def test_absurd_but_readable_values_give_a_rule_not_an_infinite_objective() -> None:
    inst = instance_from_dict(caching_instance())
    doc = caching_solution()
    doc["requests"][2]["bandwidth"] = 5e-324
    ev = evaluate(inst, doc)
    assert ev.objective is None
    assert (
        "requests[2].bandwidth: share 4.940656458e-324 gives an infinite radio delay"
        in ev.violations
    )
    doc = scheduling_solution()
    doc["tasks"][2]["fractions"] = [1.7e308]  # the failed task's cost is capped, its make-span not
    ev = evaluate(instance_from_dict(scheduling_instance()), doc)
    assert ev.objective is None and ev.metrics is None and not ev.feasible
    assert "(solution): the decisions give non-finite scores" in ev.violations
