"""Readable summaries of instances (``optkit info``): sizes, loads, popularity, pressures.

Returned as plain data (lists of rows) so the CLI only renders; no CLI code computes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optkit.instances.caching import CachingInstance
from optkit.instances.io import Instance
from optkit.instances.scheduling import SchedulingInstance
from optkit.instances.schema import counted


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    note: str = ""


@dataclass(frozen=True)
class Summary:
    title: str
    facts: list[tuple[str, str]]
    tables: list[Table] = field(default_factory=list)


def summarize(instance: Instance) -> Summary:
    if isinstance(instance, CachingInstance):
        return _caching(instance)
    return _scheduling(instance)


def _g(x: float) -> str:
    return f"{x:.4g}"


def _origin(instance: Instance) -> str:
    gen = instance.generator
    if gen is None:
        return "hand-made (no generator)"
    assumed = f"; {len(gen.assumed)} assumed constants" if gen.assumed else ""
    return f"preset {gen.preset}, size {gen.size}, seed {instance.seed}{assumed}"


def _caching(inst: CachingInstance) -> Summary:
    c = inst.compiled
    E, M, R = c.n_servers, c.n_models, c.n_requests
    w = inst.weights
    per_slot = np.bincount(c.req_global_slot * E + c.req_home, minlength=c.n_slots * E).reshape(
        c.n_slots, E
    )
    min_steps = np.bincount(
        c.req_global_slot * E + c.req_home,
        weights=c.steps_min[c.req_model],
        minlength=c.n_slots * E,
    ).reshape(c.n_slots, E)
    max_steps = np.bincount(
        c.req_global_slot * E + c.req_home,
        weights=c.steps_max[c.req_model],
        minlength=c.n_slots * E,
    ).reshape(c.n_slots, E)
    total_gb = float(c.size_gb.sum())
    facts = [
        ("origin", _origin(inst)),
        (
            "horizon",
            f"{counted(c.frames, 'frame')} × {counted(c.slots_per_frame, 'slot')} = "
            f"{counted(c.n_slots, 'slot')}",
        ),
        (
            "sizes",
            f"{counted(E, 'server')}, {counted(M, 'model')}, {counted(inst.users, 'user')}, "
            f"{counted(R, 'request')}",
        ),
        (
            "weights",
            f"quality {_g(w.quality)}, delay {_g(w.delay)}, cost {_g(w.cost)}, late {_g(w.late)}, "
            f"switch {_g(w.switch)}",
        ),
        (
            "cloud",
            f"{_g(inst.cloud.rate_mbps)} Mbit/s, latency {_g(inst.cloud.latency_s)} s, "
            f"{inst.cloud.steps} steps, speed {_g(inst.cloud.speed)}, "
            f"{_g(inst.cloud.cost_per_step)}/step",
        ),
        (
            "requests per slot",
            f"mean {_g(R / c.n_slots)}, max {int(per_slot.sum(axis=1).max(initial=0))}",
        ),
    ]
    servers = Table(
        "servers",
        (
            "server",
            "GB",
            "models/GB",
            "MHz",
            "steps/slot",
            "speed",
            "links",
            "req/slot",
            "req max",
            "step load",
        ),
        [
            (
                s.name,
                _g(s.storage_gb),
                f"{total_gb / s.storage_gb:.2f}×",
                _g(s.bandwidth_mhz),
                s.step_capacity,
                _g(s.speed),
                ", ".join(inst.servers[v].name for v in np.flatnonzero(c.linked[e])) or "-",
                _g(per_slot[:, e].mean()),
                int(per_slot[:, e].max(initial=0)),
                f"{min_steps[:, e].mean() / s.step_capacity:.2f}..{max_steps[:, e].mean() / s.step_capacity:.2f}",
            )
            for e, s in enumerate(inst.servers)
        ],
        note="models/GB: all models' size over the server's storage; step load: mean per slot "
        "of its home requests' steps_min..steps_max over its step capacity",
    )
    counts = c.request_counts
    share = counts.sum(axis=0) / max(R, 1)
    ranks = np.argsort(-counts, axis=1, kind="stable")
    models = Table(
        "models (by share of requests)",
        ("model", "GB", "steps", "quality", "s/step", "requests", "share", "rank by frame"),
        [
            (
                inst.models[m].name,
                _g(c.size_gb[m]),
                f"{c.steps_min[m]}..{c.steps_max[m]}",
                f"{_g(c.breakpoint_quality[m][0])}..{_g(c.breakpoint_quality[m][-1])}",
                _g(c.seconds_per_step[m]),
                int(counts[:, m].sum()),
                f"{share[m]:.1%}",
                " ".join(str(int(np.flatnonzero(ranks[t] == m)[0]) + 1) for t in range(c.frames)),
            )
            for m in np.argsort(-share, kind="stable")
        ],
    )
    return Summary(f"{inst.name} (caching)", facts, [servers, models])


def _scheduling(inst: SchedulingInstance) -> Summary:
    c = inst.compiled
    N, J = c.n_tasks, c.n_servers
    per_slot = np.bincount(c.task_slot, minlength=c.slots)
    capacity = float(c.capacity_gcycles_per_slot.sum()) * c.slots
    total_work = float(c.task_work_gcycles.sum())
    limit = (
        "any number of servers"
        if inst.max_servers is None
        else f"{'exactly' if inst.exact_servers else 'at most'} "
        f"{counted(inst.max_servers, 'server')} per task"
    )
    facts = [
        ("origin", _origin(inst)),
        ("horizon", f"{counted(c.slots, 'slot')} of {_g(c.slot_seconds)} s"),
        ("tasks", f"{N} (per slot mean {_g(N / c.slots)}, max {int(per_slot.max(initial=0))})"),
        (
            "deadline",
            f"{_g(c.deadline_s)} s; a failed task costs {_g(c.failure_penalty)} × deadline",
        ),
        ("selection", limit),
        ("system load", f"{total_work / capacity:.1%} of all servers' cycles over the horizon"),
    ]
    if N:
        facts.append(
            (
                "task data",
                f"{_g(c.task_input_mbit.min())}..{_g(c.task_input_mbit.max())} Mbit, "
                f"density {_g(c.task_density.min())}..{_g(c.task_density.max())} Gcycles/Mbit",
            )
        )
    local_work = np.bincount(c.task_bs, weights=c.task_work_gcycles, minlength=J)
    servers = Table(
        "servers",
        ("server", "GHz", "rate Mbit/s", "queue Gcycles", "local tasks", "local load"),
        [
            (
                s.name,
                _g(s.cpu_ghz),
                _g(s.rate_mbps),
                _g(s.queue_gcycles),
                int((c.task_bs == j).sum()),
                f"{local_work[j] / (c.capacity_gcycles_per_slot[j] * c.slots):.1%}",
            )
            for j, s in enumerate(inst.servers)
        ],
        note="local load: work arriving at the base station over the server's cycles in the horizon",
    )
    return Summary(f"{inst.name} (scheduling)", facts, [servers])
