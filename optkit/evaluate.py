"""The one scorer (DESIGN §2.5, §3.5, Appendix A feasibility rules).

``evaluate(instance, solution)`` checks every feasibility rule, lists each violation (JSON path
first), and computes the objective and every metric whenever the decisions can be read — also
for an infeasible solution, so a user sees how far off it is. Nothing else in optkit computes a
reported objective.

``solution`` may be a decoded solution or the raw JSON document: structural problems of a raw
document (a missing or unknown field, a wrong type) become violations instead of exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optkit.instances.caching import STORAGE_TOLERANCE, CachingInstance
from optkit.instances.common import SOLUTION_FORMAT
from optkit.instances.io import Instance
from optkit.instances.scheduling import SchedulingInstance
from optkit.instances.schema import Problems, counted, fmt
from optkit.instances.solution import (
    CLOUD,
    CachingSolution,
    SchedulingSolution,
    Solution,
    read_solution,
)

#: Sums of shares and of fractions may exceed their bound by this much (DESIGN Appendix A).
SUM_TOLERANCE = 1e-6

CACHING_METRICS = (
    "total_utility",
    "switch_cost",
    "hit_ratio",
    "edge_ratio",
    "mean_delay_s",
    "p95_delay_s",
    "mean_quality",
    "total_cost",
    "late_share",
    "gb_loaded",
)
SCHEDULING_METRICS = ("mean_make_span_s", "failure_rate", "mean_servers", "utilisation")


@dataclass(frozen=True)
class CachingDetails:
    """Per-request quantities (aligned with the instance's requests) and per-frame loads.

    ``server`` is −1 for the cloud. ``late_s`` is max(0, delay − max_delay). ``slot_utility``
    sums request utilities per global slot (frame·slots_per_frame + slot); ``gb_loaded`` is per
    frame, so ``objective = slot_utility.sum() − w_switch·gb_loaded.sum()`` up to round-off.
    """

    server: np.ndarray
    delay_s: np.ndarray
    quality: np.ndarray
    cost: np.ndarray
    utility: np.ndarray
    late_s: np.ndarray
    hit: np.ndarray
    slot_utility: np.ndarray
    gb_loaded: np.ndarray


@dataclass(frozen=True)
class SchedulingDetails:
    """Per-task quantities (in task order) and per-slot queues.

    ``waits_s[n, j]`` is w_{n,j} for every server j (DESIGN §3.3), ``fractions[n, j]`` the dense
    fractions, ``queues_gcycles[k]`` the queues at the start of slot k (row ``slots`` is the
    queue after the last slot), ``work_gcycles[j]`` the work assigned to j over the horizon.
    """

    make_span_s: np.ndarray
    failed: np.ndarray
    cost: np.ndarray
    servers_used: np.ndarray
    waits_s: np.ndarray
    fractions: np.ndarray
    queues_gcycles: np.ndarray
    work_gcycles: np.ndarray


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` found. ``objective`` and ``metrics`` are ``None`` when the
    decisions could not be read (e.g. a server index out of range)."""

    family: str
    feasible: bool
    violations: tuple[str, ...]
    objective: float | None
    metrics: dict[str, Any] | None
    details: CachingDetails | SchedulingDetails | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        """``{"feasible", "violations", "objective", "metrics"}`` (``optkit evaluate --json``)."""
        return {
            "feasible": self.feasible,
            "violations": list(self.violations),
            "objective": self.objective,
            "metrics": self.metrics,
        }


def evaluate(instance: Instance, solution: Solution | Mapping[str, Any] | Any) -> Evaluation:
    """Check ``solution`` against ``instance`` and compute its objective and metrics.
    ``solution`` is a decoded solution or parsed JSON (any JSON value: a list or null is a
    violation, not an error)."""
    violations: list[str] = []
    if not isinstance(solution, CachingSolution | SchedulingSolution):
        problems = Problems("")
        data = dict(solution) if isinstance(solution, Mapping) else solution
        decoded = read_solution(data, problems)
        violations.extend(f"{path}: {rule}" for path, rule in problems.items)
        if decoded is None:
            return Evaluation(instance.family, False, tuple(violations), None, None)
        solution = decoded
    if solution.family != instance.family:
        violations.append(
            f"family: the solution is for the {solution.family} family, "
            f"the instance is {instance.family}"
        )
        return Evaluation(instance.family, False, tuple(violations), None, None)
    if solution.instance != instance.name:
        violations.append(
            f"instance: the solution is for {solution.instance!r}, not {instance.name!r}"
        )
    details: CachingDetails | SchedulingDetails | None
    if isinstance(instance, CachingInstance):
        assert isinstance(solution, CachingSolution)
        objective, metrics, details = _caching(instance, solution, violations)
    else:
        assert isinstance(solution, SchedulingSolution)
        objective, metrics, details = _scheduling(instance, solution, violations)
    if objective is not None and not _all_finite(objective, metrics):
        # absurd but readable steps or fractions: report a rule, never an infinite number
        violations.append("(solution): the decisions give non-finite scores")
        objective, metrics, details = None, None, None
    return Evaluation(
        instance.family, not violations, tuple(violations), objective, metrics, details
    )


def _all_finite(objective: float, metrics: dict[str, Any] | None) -> bool:
    values = [objective]
    for value in (metrics or {}).values():
        values.extend(value if isinstance(value, list) else [value])
    return bool(np.all(np.isfinite(values)))


def _indices(mask: np.ndarray) -> list[int]:
    return [int(i) for i in np.flatnonzero(mask)]


def _group_path(indices: np.ndarray, key: str) -> str:
    return "requests[" + ",".join(str(int(i)) for i in indices) + f"].{key}"


# --------------------------------------------------------------------------------------------
# Caching


def _read_cache(
    inst: CachingInstance, solution: CachingSolution, violations: list[str]
) -> np.ndarray | None:
    """The cache as a bool array [frames, servers, models], or None when unreadable."""
    c = inst.compiled
    T, E, M = c.frames, c.n_servers, c.n_models
    cache = np.zeros((T, E, M), bool)
    readable = True
    if len(solution.cache) != T:
        violations.append(f"cache: has {len(solution.cache)} frames, the instance has {T}")
        readable = False
    for t, frame in enumerate(solution.cache[:T]):
        if len(frame) != E:
            violations.append(f"cache[{t}]: has {len(frame)} lists, one per server is needed ({E})")
            readable = False
            continue
        for e, models in enumerate(frame):
            for i, m in enumerate(models):
                if not 0 <= m < M:
                    violations.append(
                        f"cache[{t}][{e}][{i}]: {m} is not a model index (instance has {counted(M, 'model')})"
                    )
                    readable = False
                elif cache[t, e, m]:
                    violations.append(f"cache[{t}][{e}][{i}]: model {m} is listed twice")
                else:
                    cache[t, e, m] = True
            size = float(c.size_gb[cache[t, e]].sum())
            if size > c.storage_gb[e] * (1 + STORAGE_TOLERANCE):
                violations.append(
                    f"cache[{t}][{e}]: models of {fmt(size)} GB exceed storage_gb "
                    f"{fmt(c.storage_gb[e])} of server {e}"
                )
    return cache if readable else None


def _caching(
    inst: CachingInstance, solution: CachingSolution, violations: list[str]
) -> tuple[float | None, dict[str, Any] | None, CachingDetails | None]:
    c = inst.compiled
    R, E = c.n_requests, c.n_servers
    cache = _read_cache(inst, solution, violations)
    decisions = solution.requests
    if len(decisions) != R:
        violations.append(
            f"requests: has {len(decisions)} decisions, the instance has {R} requests"
        )
        return None, None, None
    server = np.fromiter(
        (-1 if d.server == CLOUD else d.server for d in decisions), np.int64, count=R
    )
    bandwidth = np.fromiter((d.bandwidth for d in decisions), float, count=R)
    steps = np.fromiter((np.nan if d.steps is None else d.steps for d in decisions), float, count=R)
    readable = cache is not None
    rows = np.arange(R)

    bad = (server < -1) | (server >= E)
    for r in _indices(bad):
        violations.append(
            f"requests[{r}].server: {server[r]} is not a server index (instance has {counted(E, 'server')})"
        )
    readable &= not bad.any()
    edge = (server >= 0) & ~bad
    at = np.where(edge, server, 0)
    unlinked = edge & ~c.allowed[rows, at]
    for r in _indices(unlinked):
        violations.append(
            f"requests[{r}].server: server {server[r]} is not linked to home server {c.req_home[r]}"
        )
    readable &= not unlinked.any()
    if cache is not None:
        uncached = edge & ~cache[c.req_frame, at, c.req_model]
        for r in _indices(uncached):
            violations.append(
                f"requests[{r}].server: server {server[r]} does not cache model "
                f"{c.req_model[r]} in frame {c.req_frame[r]}"
            )
    bad_share = ~(bandwidth > 0) | (bandwidth > 1 + SUM_TOLERANCE)
    for r in _indices(bad_share):
        violations.append(f"requests[{r}].bandwidth: {fmt(bandwidth[r])} is not in (0, 1]")
    readable &= bool(np.all(bandwidth > 0))
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        radio = c.radio_s_share / bandwidth
    tiny_share = (bandwidth > 0) & ~np.isfinite(radio)
    for r in _indices(tiny_share):
        violations.append(
            f"requests[{r}].bandwidth: share {fmt(bandwidth[r])} gives an infinite radio delay"
        )
    readable &= not tiny_share.any()
    smin, smax = c.steps_min[c.req_model], c.steps_max[c.req_model]
    missing = edge & np.isnan(steps)
    for r in _indices(missing):
        violations.append(
            f"requests[{r}].steps: null, but server {server[r]} serves the request "
            f"(steps in [{smin[r]}, {smax[r]}] needed)"
        )
    readable &= not missing.any()
    given = edge & ~np.isnan(steps)
    fractional = given & (np.rint(steps) != steps)
    for r in _indices(fractional):
        violations.append(f"requests[{r}].steps: {fmt(steps[r])} is not an integer")
    outside = given & ((steps < smin) | (steps > smax))
    for r in _indices(outside):
        violations.append(
            f"requests[{r}].steps: {fmt(steps[r])} is outside model {c.req_model[r]}'s "
            f"steps [{smin[r]}, {smax[r]}]"
        )
    for r in _indices(~edge & ~bad & ~np.isnan(steps)):
        violations.append(f"requests[{r}].steps: must be null when the cloud serves the request")

    # per (server, frame, slot): shares of home requests ≤ 1, served steps ≤ step_capacity
    n_keys = c.n_slots * E
    home_key = c.req_global_slot * E + c.req_home
    share_sum = np.bincount(
        home_key, weights=np.where(np.isnan(bandwidth), 0, bandwidth), minlength=n_keys
    )
    for key in np.flatnonzero(share_sum > 1 + SUM_TOLERANCE):
        members = np.flatnonzero(home_key == key)
        g, e = divmod(int(key), E)
        violations.append(
            f"{_group_path(members, 'bandwidth')}: shares at home server {e} in frame "
            f"{g // c.slots_per_frame}, slot {g % c.slots_per_frame} sum to {fmt(share_sum[key])} > 1"
        )
    served_key = np.where(edge, c.req_global_slot * E + at, n_keys)
    step_sum = np.bincount(served_key, weights=np.where(given, steps, 0.0), minlength=n_keys + 1)
    for key in np.flatnonzero(step_sum[:n_keys] > c.step_capacity[np.arange(n_keys) % E] + 1e-9):
        members = np.flatnonzero(served_key == key)
        g, e = divmod(int(key), E)
        violations.append(
            f"{_group_path(members, 'steps')}: steps served by server {e} in frame "
            f"{g // c.slots_per_frame}, slot {g % c.slots_per_frame} sum to {fmt(step_sum[key])} "
            f"> step_capacity {c.step_capacity[e]}"
        )
    if not readable:
        return None, None, None
    assert cache is not None
    with np.errstate(over="ignore", invalid="ignore"):
        return _caching_scores(c, cache, server, bandwidth, steps)


def generation_s(c: Any, model: Any, server: Any, steps: Any) -> Any:
    """Generation delay (s) of ``model`` with ``steps`` denoising steps at edge ``server``:
    (seconds_per_step·s + overhead_s)/speed (DESIGN §2.1). Broadcasts over numpy arrays; the
    one formula the evaluator and the DRL environments share."""
    return (c.seconds_per_step[model] * steps + c.overhead_s[model]) / c.speed[server]


def request_utility(
    c: Any, quality_term: Any, delay_s: Any, cost_term: Any, max_delay_s: Any
) -> Any:
    """U_r = w_q·quality − w_d·delay − w_c·cost − w_l·max(0, delay − max_delay) (DESIGN §2.3),
    from ``quality_term`` = w_q·quality and ``cost_term`` = w_c·cost, in one fixed order of
    operations (a zero weight's term is skipped, which changes no bit) — so the environments'
    rewards and the evaluator's utilities agree to the bit."""
    utility = quality_term - c.w_delay * delay_s
    if c.w_cost:
        utility = utility - cost_term
    if c.w_late:
        utility = utility - c.w_late * np.maximum(delay_s - max_delay_s, 0.0)
    return utility


def _caching_scores(
    c: Any, cache: np.ndarray, server: np.ndarray, bandwidth: np.ndarray, steps: np.ndarray
) -> tuple[float, dict[str, Any], CachingDetails]:
    R = c.n_requests
    edge = server >= 0
    at = np.where(edge, server, 0)
    s = np.where(edge, steps, c.steps_min[c.req_model]).astype(float)
    model = c.req_model
    generation = generation_s(c, model, at, s)
    delay = c.radio_s_share / bandwidth + np.where(
        edge, c.transfer_s[np.arange(R), at] + generation, c.cloud_delay_s
    )
    quality = np.where(edge, c.quality(model, s), c.req_cloud_quality)
    cost = np.where(edge, c.cost_per_step[at] * s, c.cloud_cost)
    late = np.maximum(delay - c.req_max_delay_s, 0.0)
    utility = request_utility(c, c.w_quality * quality, delay, c.w_cost * cost, c.req_max_delay_s)
    hit = cache[c.req_frame, c.req_home, model] if R else np.zeros(0, bool)
    previous = np.concatenate([c.initial_cache[None], cache[:-1]])
    gb_loaded = ((cache & ~previous) * c.size_gb).sum(axis=(1, 2))
    slot_utility = np.bincount(c.req_global_slot, weights=utility, minlength=c.n_slots)
    total_utility = float(utility.sum())
    gb = float(gb_loaded.sum())
    switch_cost = c.w_switch * gb
    some = R > 0
    metrics: dict[str, Any] = {
        "total_utility": total_utility,
        "switch_cost": switch_cost,
        "hit_ratio": float(hit.mean()) if some else 0.0,
        "edge_ratio": float(edge.mean()) if some else 0.0,
        "mean_delay_s": float(delay.mean()) if some else 0.0,
        "p95_delay_s": float(np.percentile(delay, 95)) if some else 0.0,
        "mean_quality": float(quality.mean()) if some else 0.0,
        "total_cost": float(cost.sum()),
        "late_share": float((delay > c.req_max_delay_s).mean()) if some else 0.0,
        "gb_loaded": gb,
    }
    details = CachingDetails(
        server=server,
        delay_s=delay,
        quality=quality,
        cost=cost,
        utility=utility,
        late_s=late,
        hit=hit,
        slot_utility=slot_utility,
        gb_loaded=gb_loaded,
    )
    return total_utility - switch_cost, metrics, details


# --------------------------------------------------------------------------------------------
# Scheduling


def _scheduling(
    inst: SchedulingInstance, solution: SchedulingSolution, violations: list[str]
) -> tuple[float | None, dict[str, Any] | None, SchedulingDetails | None]:
    c = inst.compiled
    N, J = c.n_tasks, c.n_servers
    decisions = solution.tasks
    if len(decisions) != N:
        violations.append(f"tasks: has {len(decisions)} decisions, the instance has {N} tasks")
        return None, None, None
    k, exact = inst.max_servers, inst.exact_servers
    readable = True
    for n, d in enumerate(decisions):
        path = f"tasks[{n}]"
        if not d.servers:
            violations.append(f"{path}.servers: empty (a task needs at least one server)")
            readable = False
        seen: set[int] = set()
        for i, j in enumerate(d.servers):
            if not 0 <= j < J:
                violations.append(
                    f"{path}.servers[{i}]: {j} is not a server index (instance has {counted(J, 'server')})"
                )
                readable = False
            elif j in seen:
                violations.append(f"{path}.servers[{i}]: server {j} is listed twice")
                readable = False
            seen.add(j)
        if len(d.fractions) != len(d.servers):
            violations.append(
                f"{path}.fractions: has {len(d.fractions)} values for {len(d.servers)} servers"
            )
            readable = False
            continue
        for i, x in enumerate(d.fractions):
            if not 0 <= x <= 1 + SUM_TOLERANCE:
                violations.append(f"{path}.fractions[{i}]: {fmt(x)} is not in [0, 1]")
        total = sum(d.fractions)
        if d.servers and abs(total - 1) > SUM_TOLERANCE:
            violations.append(f"{path}.fractions: sum to {fmt(total)}, not 1")
        if k is not None and exact and len(d.servers) != k:
            violations.append(
                f"{path}.servers: {len(d.servers)} servers, exactly {k} required (exact_servers)"
            )
        elif k is not None and len(d.servers) > k:
            violations.append(
                f"{path}.servers: {len(d.servers)} servers, at most {k} allowed (max_servers)"
            )
    if not readable:
        return None, None, None
    with np.errstate(over="ignore", invalid="ignore"):
        return _scheduling_scores(c, decisions)


def _scheduling_scores(c: Any, decisions: Any) -> tuple[float, dict[str, Any], SchedulingDetails]:
    N, J = c.n_tasks, c.n_servers
    cpu = c.cpu_ghz.tolist()
    rate = c.rate_mbps.tolist()
    work = c.task_work_gcycles.tolist()
    data = c.task_input_mbit.tolist()
    bs_of = c.task_bs.tolist()
    process = c.process_s.tolist()
    capacity = c.capacity_gcycles_per_slot.tolist()
    make_span = np.zeros(N)
    waits = np.zeros((N, J))
    fractions = np.zeros((N, J))
    queues = np.zeros((c.slots + 1, J))
    queue = c.queue0_gcycles.tolist()
    assigned = [0.0] * J
    for slot in range(c.slots):
        queues[slot] = queue
        earlier = [0.0] * J  # W: work queued at j earlier this slot
        uplink = [0.0] * J  # TX: uplink backlog of each base station this slot
        for n in c.slot_tasks(slot):
            b = bs_of[n]
            wait = [
                (queue[j] + earlier[j]) / cpu[j] + (uplink[b] if j != b else 0.0) for j in range(J)
            ]
            d = decisions[n]
            finish = max(
                x * process[n][j] + wait[j] for j, x in zip(d.servers, d.fractions, strict=True)
            )
            make_span[n] = finish
            waits[n] = wait
            for j, x in zip(d.servers, d.fractions, strict=True):
                fractions[n, j] = x
                earlier[j] += x * work[n]
                if j != b:
                    uplink[b] += x * data[n] / rate[j]
        for j in range(J):
            assigned[j] += earlier[j]
            queue[j] = max(0.0, queue[j] + earlier[j] - capacity[j])
    queues[c.slots] = queue
    failed = make_span > c.fail_threshold_s
    cost = np.where(failed, c.failure_penalty * c.deadline_s, make_span)
    used = np.array([len(d.servers) for d in decisions], float)
    horizon = np.asarray(capacity) * c.slots
    some = N > 0
    metrics: dict[str, Any] = {
        "mean_make_span_s": float(make_span.mean()) if some else 0.0,
        "failure_rate": float(failed.mean()) if some else 0.0,
        "mean_servers": float(used.mean()) if some else 0.0,
        "utilisation": [float(a / h) for a, h in zip(assigned, horizon, strict=True)],
    }
    details = SchedulingDetails(
        make_span_s=make_span,
        failed=failed,
        cost=cost,
        servers_used=used,
        waits_s=waits,
        fractions=fractions,
        queues_gcycles=queues,
        work_gcycles=np.asarray(assigned),
    )
    return float(cost.sum()), metrics, details


__all__ = [
    "SOLUTION_FORMAT",
    "CachingDetails",
    "Evaluation",
    "SchedulingDetails",
    "evaluate",
    "generation_s",
    "request_utility",
]
