"""The scheduling family (DESIGN §3): multi-server selection and workload allocation.

Units: data in Mbit, work in Gcycles (``input_mbit · density_gcycles_per_mbit``), CPU in GHz
(Gcycles per second), rates in Mbit/s, times in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from optkit.instances.common import (
    MAX_DECISION_ENTRIES,
    MAX_SLOTS,
    SCHEDULING_FORMAT,
    VERSION,
    GeneratorInfo,
    generator_from,
    header_fields,
)
from optkit.instances.schema import (
    NONNEGATIVE,
    POSITIVE,
    Flag,
    Integer,
    ListOf,
    Nullable,
    Number,
    Problems,
    Record,
    Text,
    counted,
    join,
    ok,
    valid_items,
)

if TYPE_CHECKING:
    from optkit.instances.compiled import CompiledScheduling


@dataclass(frozen=True)
class SchedServer:
    """An edge server at one base station: CPU in GHz, incoming rate in Mbit/s, initial queue."""

    name: str
    cpu_ghz: float
    rate_mbps: float
    queue_gcycles: float


@dataclass(frozen=True)
class Task:
    """A task arriving in ``slot`` at base station ``bs``."""

    slot: int
    bs: int
    input_mbit: float
    density_gcycles_per_mbit: float

    @property
    def work_gcycles(self) -> float:
        return self.input_mbit * self.density_gcycles_per_mbit


@dataclass(frozen=True)
class SchedulingInstance:
    """A scheduling instance (DESIGN §3.1), immutable. Tasks are in processing order."""

    family: ClassVar[str] = "scheduling"

    name: str
    seed: int | None
    generator: GeneratorInfo | None
    slots: int
    slot_seconds: float
    deadline_s: float
    failure_penalty: float
    max_servers: int | None
    exact_servers: bool
    servers: tuple[SchedServer, ...]
    tasks: tuple[Task, ...]

    @cached_property
    def compiled(self) -> CompiledScheduling:
        """The numpy view used by hot paths (built once per instance)."""
        from optkit.instances.compiled import CompiledScheduling

        return CompiledScheduling(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SCHEDULING_FORMAT,
            "version": VERSION,
            "name": self.name,
            "seed": self.seed,
            "generator": None if self.generator is None else self.generator.to_dict(),
            "slots": self.slots,
            "slot_seconds": self.slot_seconds,
            "deadline_s": self.deadline_s,
            "failure_penalty": self.failure_penalty,
            "max_servers": self.max_servers,
            "exact_servers": self.exact_servers,
            "servers": [vars(s).copy() for s in self.servers],
            "tasks": [vars(t).copy() for t in self.tasks],
        }


SPEC = Record(
    {
        **header_fields(SCHEDULING_FORMAT),
        "slots": Integer(ge=1, le=MAX_SLOTS),
        "slot_seconds": POSITIVE,
        "deadline_s": POSITIVE,
        "failure_penalty": Number(ge=1),
        "max_servers": Nullable(Integer(ge=1)),
        "exact_servers": Flag(),
        "servers": ListOf(
            Record(
                {
                    "name": Text(),
                    "cpu_ghz": POSITIVE,
                    "rate_mbps": POSITIVE,
                    "queue_gcycles": NONNEGATIVE,
                }
            ),
            min_len=1,
            what="server",
        ),
        "tasks": ListOf(
            Record(
                {
                    "slot": Integer(ge=0),
                    "bs": Integer(ge=0),
                    # A task with no data or no work is degenerate (its processing time is 0 on
                    # every server, so fractions are arbitrary); optkit asks for positive values.
                    "input_mbit": POSITIVE,
                    "density_gcycles_per_mbit": POSITIVE,
                }
            )
        ),
    }
)


def check(data: dict[str, Any], problems: Problems) -> None:
    """Semantic rules of a scheduling instance, on the readable part of ``data``."""
    servers, tasks = data["servers"], data["tasks"]
    n_servers = len(servers) if isinstance(servers, list) else None
    seen: dict[str, int] = {}
    for j, server in valid_items(servers):
        if ok(server["name"]):
            if server["name"] in seen:
                problems.add(
                    join(join("servers", j), "name"),
                    f"{server['name']!r} is also the name of server {seen[server['name']]}",
                )
            seen.setdefault(server["name"], j)
    k, exact = data["max_servers"], data["exact_servers"]
    if ok(k) and k is not None and n_servers is not None and k > n_servers:
        problems.add("max_servers", f"{k} is more than the {n_servers} servers of the instance")
    if ok(k, exact) and exact and k is None:
        problems.add(
            "exact_servers", "true needs max_servers (the exact number of servers per task)"
        )
    slots = data["slots"]
    if ok(slots) and n_servers is not None and slots * n_servers > MAX_DECISION_ENTRIES:
        problems.add(
            "slots",
            f"{slots} slots × {n_servers} servers is above optkit's limit of "
            f"{MAX_DECISION_ENTRIES} queue entries",
        )
    previous = -1
    for n, task in valid_items(tasks):
        tpath = join("tasks", n)
        slot, bs = task["slot"], task["bs"]
        if ok(slot):
            if ok(slots) and slot >= slots:
                problems.add(
                    join(tpath, "slot"),
                    f"{slot} is not a slot index (instance has {counted(slots, 'slot')})",
                )
            if slot < previous:
                problems.add(
                    join(tpath, "slot"),
                    f"{slot} comes after slot {previous}: tasks must be sorted by slot",
                )
            previous = max(previous, slot)
        if ok(bs) and n_servers is not None and bs >= n_servers:
            problems.add(
                join(tpath, "bs"),
                f"{bs} is not a server index (instance has {counted(n_servers, 'server')})",
            )


def build(data: dict[str, Any]) -> SchedulingInstance:
    return SchedulingInstance(
        name=data["name"],
        seed=data["seed"],
        generator=generator_from(data["generator"]),
        slots=data["slots"],
        slot_seconds=data["slot_seconds"],
        deadline_s=data["deadline_s"],
        failure_penalty=data["failure_penalty"],
        max_servers=data["max_servers"],
        exact_servers=data["exact_servers"],
        servers=tuple(SchedServer(**s) for s in data["servers"]),
        tasks=tuple(Task(**t) for t in data["tasks"]),
    )
