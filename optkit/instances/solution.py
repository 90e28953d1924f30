"""Solutions of both families (DESIGN §4): the one format every method produces.

Reading a solution only checks its *structure* (format, fields, JSON types). Whether the
decisions are feasible for an instance is :func:`optkit.evaluate`'s job, which is why a decoded
solution may still hold, e.g., ``steps = 20.5``: the evaluator names that rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal

import numpy as np

from optkit.instances.common import CACHING_FORMAT, SCHEDULING_FORMAT, SOLUTION_FORMAT, VERSION
from optkit.instances.schema import (
    INVALID,
    Integer,
    ListOf,
    Nullable,
    Number,
    OneOf,
    Problems,
    Record,
    Spec,
    Text,
    is_number,
    ok,
    show,
)

CLOUD: Final = "cloud"


@dataclass(frozen=True)
class RequestDecision:
    """Who serves a request (a server index or ``"cloud"``), its share of the home server's
    bandwidth in (0, 1], and its denoising steps (``None`` when the cloud serves it)."""

    server: int | Literal["cloud"]
    bandwidth: float
    steps: int | float | None

    @property
    def at_cloud(self) -> bool:
        return self.server == CLOUD


@dataclass(frozen=True)
class CachingSolution:
    """``cache[t][e]``: models cached at server e in frame t; ``requests`` aligned with the
    instance's requests."""

    family: ClassVar[str] = "caching"

    instance: str
    method: str
    cache: tuple[tuple[tuple[int, ...], ...], ...]
    requests: tuple[RequestDecision, ...]

    @classmethod
    def from_arrays(
        cls,
        instance: str,
        method: str,
        cache: np.ndarray | Sequence[Sequence[Sequence[int]]],
        server: np.ndarray,
        bandwidth: np.ndarray,
        steps: np.ndarray,
    ) -> CachingSolution:
        """Build from arrays: ``cache`` a bool array [frames, servers, models] (or nested lists of
        model indices); ``server`` per request (−1 = cloud); ``steps`` ignored at the cloud."""
        if isinstance(cache, np.ndarray):
            cache_t = tuple(
                tuple(tuple(int(m) for m in np.flatnonzero(row)) for row in frame)
                for frame in cache
            )
        else:
            cache_t = tuple(tuple(tuple(int(m) for m in row) for row in frame) for frame in cache)
        decisions = tuple(
            RequestDecision(CLOUD, float(b), None)
            if v < 0
            else RequestDecision(int(v), float(b), round(float(s)))
            for v, b, s in zip(server.tolist(), bandwidth.tolist(), steps.tolist(), strict=True)
        )
        return cls(instance=instance, method=method, cache=cache_t, requests=decisions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SOLUTION_FORMAT,
            "version": VERSION,
            "family": "caching",
            "instance": self.instance,
            "method": self.method,
            "cache": [[list(row) for row in frame] for frame in self.cache],
            "requests": [
                {"server": d.server, "bandwidth": d.bandwidth, "steps": d.steps}
                for d in self.requests
            ],
        }


@dataclass(frozen=True)
class TaskDecision:
    """The servers a task is split over and the fraction of its workload each gets."""

    servers: tuple[int, ...]
    fractions: tuple[float, ...]


@dataclass(frozen=True)
class SchedulingSolution:
    family: ClassVar[str] = "scheduling"

    instance: str
    method: str
    tasks: tuple[TaskDecision, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SOLUTION_FORMAT,
            "version": VERSION,
            "family": "scheduling",
            "instance": self.instance,
            "method": self.method,
            "tasks": [
                {"servers": list(t.servers), "fractions": list(t.fractions)} for t in self.tasks
            ],
        }


Solution = CachingSolution | SchedulingSolution


class _ServerRef(Spec):
    """A server index or the string ``"cloud"``."""

    def read(self, value: Any, path: str, problems: Problems) -> Any:
        if value == CLOUD or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        problems.add(path, f'{show(value)} is neither a server index nor "cloud"')
        return INVALID


#: The rule an instance breaks where a solution is expected.
INSTANCE_NOT_SOLUTION: Final = "this is an instance, a solution was expected"

_HEADER = {
    "format": OneOf((SOLUTION_FORMAT,)),
    "version": OneOf((VERSION,)),
    "family": OneOf(("caching", "scheduling")),
    "instance": Text(),
    "method": Text(),
}
CACHING_SPEC = Record(
    {
        **_HEADER,
        "cache": ListOf(ListOf(ListOf(Integer()))),
        "requests": ListOf(
            Record({"server": _ServerRef(), "bandwidth": Number(), "steps": Nullable(Number())})
        ),
    }
)
SCHEDULING_SPEC = Record(
    {
        **_HEADER,
        "tasks": ListOf(Record({"servers": ListOf(Integer()), "fractions": ListOf(Number())})),
    }
)


def read_solution(data: Any, problems: Problems) -> Solution | None:
    """Decode a solution document; structural problems go to ``problems``.

    Returns the solution when every decision could be read (it may still carry problems such
    as an unknown extra field), otherwise ``None``.
    """
    if isinstance(data, dict) and data.get("format") in (CACHING_FORMAT, SCHEDULING_FORMAT):
        problems.add("format", INSTANCE_NOT_SOLUTION)
        return None
    family = data.get("family") if isinstance(data, dict) else None
    if family == "scheduling":
        got = SCHEDULING_SPEC.read(data, "", problems)
    elif family == "caching" or not isinstance(data, dict):
        got = CACHING_SPEC.read(data, "", problems)
    else:
        problems.add("family", f'{show(family)} is not one of "caching", "scheduling"')
        return None
    if got is INVALID or not ok(got["instance"], got["method"], got["family"]):
        return None
    if family == "scheduling":
        tasks = got["tasks"]
        if not ok(tasks) or not all(ok(t) and ok(t["servers"], t["fractions"]) for t in tasks):
            return None
        if not all(ok(*t["servers"], *t["fractions"]) for t in tasks):
            return None
        return SchedulingSolution(
            instance=got["instance"],
            method=got["method"],
            tasks=tuple(TaskDecision(tuple(t["servers"]), tuple(t["fractions"])) for t in tasks),
        )
    cache, requests = got["cache"], got["requests"]
    if not ok(cache, requests):
        return None
    if not all(ok(row) and all(ok(r) and ok(*r) for r in row) for row in cache):
        return None
    if not all(ok(r) and ok(r["server"], r["bandwidth"], r["steps"]) for r in requests):
        return None
    return CachingSolution(
        instance=got["instance"],
        method=got["method"],
        cache=tuple(tuple(tuple(models) for models in frame) for frame in cache),
        requests=tuple(
            RequestDecision(
                r["server"],
                r["bandwidth"],
                int(r["steps"])
                if is_number(r["steps"]) and float(r["steps"]).is_integer()
                else r["steps"],
            )
            for r in requests
        ),
    )
