"""Helpers for the scheduling tests: hand-made instances and a hypothesis strategy of small
random ones (every knob of DESIGN §3 exercised: queues, tight deadlines, count rules)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from optkit.instances import instance_from_dict
from optkit.instances.scheduling import SchedulingInstance


def make_instance(
    servers: list[tuple[float, float, float]],
    tasks: list[tuple[int, int, float, float]],
    *,
    slots: int = 1,
    slot_seconds: float = 1.0,
    deadline_s: float = 1.0,
    failure_penalty: float = 2.0,
    max_servers: int | None = None,
    exact_servers: bool = False,
    name: str = "hand",
) -> SchedulingInstance:
    """``servers``: (cpu_ghz, rate_mbps, queue_gcycles); ``tasks``: (slot, bs, input_mbit,
    density)."""
    doc: dict[str, Any] = {
        "format": "optkit.scheduling",
        "version": 1,
        "name": name,
        "seed": None,
        "generator": None,
        "slots": slots,
        "slot_seconds": slot_seconds,
        "deadline_s": deadline_s,
        "failure_penalty": failure_penalty,
        "max_servers": max_servers,
        "exact_servers": exact_servers,
        "servers": [
            {"name": f"s{j}", "cpu_ghz": f, "rate_mbps": r, "queue_gcycles": q}
            for j, (f, r, q) in enumerate(servers)
        ],
        "tasks": [
            {"slot": k, "bs": b, "input_mbit": d, "density_gcycles_per_mbit": rho}
            for k, b, d, rho in tasks
        ],
    }
    instance = instance_from_dict(doc)
    assert isinstance(instance, SchedulingInstance)
    return instance


@st.composite
def small_instances(draw: st.DrawFn, max_tasks: int = 4) -> SchedulingInstance:
    """Random instances small enough for ``enumerate``: 2 servers and up to 4 tasks, or 3
    servers and up to 3 tasks; deadlines drawn around the tasks' own make-spans so that
    failures happen; queues, slots and count rules all vary."""
    J = draw(st.integers(2, 3))
    N = draw(st.integers(1, max_tasks if J == 2 else min(max_tasks, 3)))
    slots = draw(st.integers(1, 2))
    positive = st.floats(0.5, 50.0)
    servers = [
        (
            draw(positive),
            draw(st.floats(5.0, 500.0)),
            draw(st.one_of(st.just(0.0), st.floats(0.0, 20.0))),
        )
        for _ in range(J)
    ]
    task_slots = sorted(draw(st.integers(0, slots - 1)) for _ in range(N))
    tasks = [
        (k, draw(st.integers(0, J - 1)), draw(st.floats(1.0, 40.0)), draw(st.floats(0.01, 0.5)))
        for k in task_slots
    ]
    max_servers = draw(st.one_of(st.none(), st.integers(1, J)))
    exact = max_servers is not None and draw(st.booleans())
    return make_instance(
        servers,
        tasks,
        slots=slots,
        slot_seconds=draw(st.floats(0.05, 2.0)),
        deadline_s=draw(st.floats(0.05, 3.0)),
        failure_penalty=draw(st.floats(1.0, 10.0)),
        max_servers=max_servers,
        exact_servers=exact,
        name="random",
    )
