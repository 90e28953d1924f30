"""Scheduling presets ``smcoedge`` and ``amcoedge`` (DESIGN §5).

They follow the authors' public defaults (ChangfuXu/SMCoEdge and ChangfuXu/AMCoEdge, see
``references/paper-formulations.md`` §3): five servers at 10/20/30/40/50 GHz, the authors'
fixed rate lists, a task position at each base station and slot occupied with probability 0.3,
a computation density drawn once per task position, tasks ordered within a slot by base
station, then position. What optkit chose itself (the horizons and positions of the smaller
sizes, fewer servers for ``tiny``) is named in ``generator.assumed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from optkit.instances.common import GeneratorInfo
from optkit.instances.generators.common import instance_name, round6
from optkit.instances.scheduling import SchedServer, SchedulingInstance, Task


@dataclass(frozen=True)
class SchedulingSize:
    servers: int
    positions_per_bs: int
    slots: int


SIZES: dict[str, SchedulingSize] = {
    "tiny": SchedulingSize(2, 1, 2),
    "small": SchedulingSize(5, 2, 5),
    "medium": SchedulingSize(5, 5, 20),
    "large": SchedulingSize(5, 50, 101),
}

PRESET: dict[str, dict[str, Any]] = {
    "smcoedge": {
        "cpu_ghz": [10.0, 20.0, 30.0, 40.0, 50.0],
        "rate_mbps": [500.0, 425.0, 450.0, 400.0, 475.0],
        "task_probability": 0.3,
        "slot_seconds": 0.1,
        "input_mbit": [10.0, 40.0],
        "density_gcycles_per_mbit": [30e-6 * 100, 30e-6 * 300],
        "deadline_s": 1.0,
        "failure_penalty": 2.0,
        "servers_per_task": 3,
        "exact_servers": True,
        "authors_slots": 101,
        "authors_positions_per_bs": 50,
    },
    "amcoedge": {
        "cpu_ghz": [10.0, 20.0, 30.0, 40.0, 50.0],
        "rate_mbps": [400.0, 425.0, 450.0, 475.0, 500.0],
        "task_probability": 0.3,
        "slot_seconds": 1.0,
        "input_mbit": [2.0, 5.0],
        "density_gcycles_per_mbit": [1024e-6 * 100, 1024e-6 * 300],
        "deadline_s": 1.0,
        "failure_penalty": 10.0,
        "servers_per_task": None,
        "exact_servers": False,
        "authors_slots": 61,
        "authors_positions_per_bs": 50,
    },
}


def make(
    preset: str, size: str, seed: int, index: int, rng: np.random.Generator
) -> SchedulingInstance:
    """Draw one instance; redrawn from the same stream until it has a task."""
    while True:
        instance = _draw(preset, size, seed, index, rng)
        if instance.tasks:
            return instance


def _draw(
    preset: str, size: str, seed: int, index: int, rng: np.random.Generator
) -> SchedulingInstance:
    c = PRESET[preset]
    dims = SIZES[size]
    J, P, K = dims.servers, dims.positions_per_bs, dims.slots
    lo_rho, hi_rho = c["density_gcycles_per_mbit"]
    lo_data, hi_data = c["input_mbit"]
    density = rng.uniform(lo_rho, hi_rho, P)  # once per task position
    occupied = rng.uniform(0, 1, (K, J, P)) < c["task_probability"]
    data = rng.uniform(lo_data, hi_data, (K, J, P))
    tasks = tuple(
        Task(
            slot=k,
            bs=b,
            input_mbit=round6(data[k, b, n]),
            density_gcycles_per_mbit=round6(density[n]),
        )
        for k in range(K)
        for b in range(J)
        for n in range(P)
        if occupied[k, b, n]
    )
    k_servers = c["servers_per_task"]
    params = {
        "index": index,
        **{key: value for key, value in c.items() if not key.startswith("authors_")},
        "servers": J,
        "positions_per_bs": P,
        "slots": K,
    }
    assumed = []
    if len(c["cpu_ghz"]) != J:
        assumed.append("servers")
    if c["authors_positions_per_bs"] != P:
        assumed.append("positions_per_bs")
    if c["authors_slots"] != K:
        assumed.append("slots")
    return SchedulingInstance(
        name=instance_name(preset, size, seed, index),
        seed=seed,
        generator=GeneratorInfo(preset=preset, size=size, params=params, assumed=tuple(assumed)),
        slots=K,
        slot_seconds=c["slot_seconds"],
        deadline_s=c["deadline_s"],
        failure_penalty=c["failure_penalty"],
        max_servers=None if k_servers is None else min(k_servers, J),
        exact_servers=c["exact_servers"],
        servers=tuple(
            SchedServer(
                name=f"es{j}",
                cpu_ghz=c["cpu_ghz"][j],
                rate_mbps=c["rate_mbps"][j],
                queue_gcycles=0.0,
            )
            for j in range(J)
        ),
        tasks=tasks,
    )
