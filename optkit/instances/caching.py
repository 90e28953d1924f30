"""The caching family (DESIGN §2): joint model caching, routing and resource allocation.

Units: sizes in GB, data in Mbit, bandwidth in MHz, rates in Mbit/s, times in seconds,
spectral efficiency in bit/s/Hz, steps are denoising steps (integers).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from optkit.instances.common import (
    CACHING_FORMAT,
    MAX_DECISION_ENTRIES,
    MAX_SLOTS,
    MAX_STEP_CAPACITY,
    MAX_STEPS,
    MAX_USERS,
    VERSION,
    GeneratorInfo,
    generator_from,
    header_fields,
)
from optkit.instances.schema import (
    NONNEGATIVE,
    POSITIVE,
    Integer,
    ListOf,
    Number,
    Problems,
    Record,
    Text,
    counted,
    fmt,
    join,
    ok,
    valid_items,
)

if TYPE_CHECKING:
    from optkit.instances.compiled import CompiledCaching

#: Tolerance on the slopes of quality curves (concave and nondecreasing) at load.
SLOPE_TOLERANCE = 1e-9
#: Relative tolerance of storage sums (round-off only).
STORAGE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Weights:
    """Objective weights (maximisation). ``late`` is per second over a request's ``max_delay_s``;
    ``switch`` is per GB loaded into a cache."""

    quality: float
    delay: float
    cost: float
    late: float
    switch: float


@dataclass(frozen=True)
class Cloud:
    """The cloud: reachable from every edge server, holds every model, uses ``steps`` always."""

    rate_mbps: float
    latency_s: float
    steps: int
    speed: float
    cost_per_step: float


@dataclass(frozen=True)
class Link:
    """A two-way link from the listing server to server ``to``."""

    to: int
    rate_mbps: float
    latency_s: float


@dataclass(frozen=True)
class Server:
    name: str
    storage_gb: float
    bandwidth_mhz: float
    step_capacity: int
    speed: float
    cost_per_step: float
    links: tuple[Link, ...]


@dataclass(frozen=True)
class Model:
    """A generative model. Generation takes ``(seconds_per_step·s + overhead_s)/speed`` seconds;
    ``quality`` holds the breakpoints ``(steps, quality)`` of a concave nondecreasing
    piecewise-linear function on ``[steps_min, steps_max]``."""

    name: str
    size_gb: float
    output_mbit: float
    seconds_per_step: float
    overhead_s: float
    steps_min: int
    steps_max: int
    quality: tuple[tuple[int, float], ...]

    def quality_at(self, steps: float) -> float:
        """Quality after ``steps`` denoising steps (clamped into the model's range)."""
        points = self.quality
        s = min(max(steps, points[0][0]), points[-1][0])
        for (s0, q0), (s1, q1) in itertools.pairwise(points):
            if s <= s1:
                return q0 + (q1 - q0) * (s - s0) / (s1 - s0)
        return points[-1][1]


@dataclass(frozen=True)
class Request:
    """One generation request, made in ``frame``/``slot`` by ``user`` at home server ``server``."""

    frame: int
    slot: int
    user: int
    server: int
    model: int
    input_mbit: float
    spectral_efficiency: float
    max_delay_s: float


@dataclass(frozen=True)
class CachingInstance:
    """A caching instance (DESIGN §2.1), immutable. ``compiled`` is its numpy view."""

    family: ClassVar[str] = "caching"

    name: str
    seed: int | None
    generator: GeneratorInfo | None
    frames: int
    slots_per_frame: int
    users: int
    weights: Weights
    cloud: Cloud
    servers: tuple[Server, ...]
    models: tuple[Model, ...]
    initial_cache: tuple[tuple[int, ...], ...]
    requests: tuple[Request, ...]

    @cached_property
    def compiled(self) -> CompiledCaching:
        """The numpy view used by hot paths (built once per instance)."""
        from optkit.instances.compiled import CompiledCaching

        return CompiledCaching(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": CACHING_FORMAT,
            "version": VERSION,
            "name": self.name,
            "seed": self.seed,
            "generator": None if self.generator is None else self.generator.to_dict(),
            "frames": self.frames,
            "slots_per_frame": self.slots_per_frame,
            "users": self.users,
            "weights": vars(self.weights).copy(),
            "cloud": vars(self.cloud).copy(),
            "servers": [
                {
                    "name": s.name,
                    "storage_gb": s.storage_gb,
                    "bandwidth_mhz": s.bandwidth_mhz,
                    "step_capacity": s.step_capacity,
                    "speed": s.speed,
                    "cost_per_step": s.cost_per_step,
                    "links": [vars(link).copy() for link in s.links],
                }
                for s in self.servers
            ],
            "models": [
                {
                    "name": m.name,
                    "size_gb": m.size_gb,
                    "output_mbit": m.output_mbit,
                    "seconds_per_step": m.seconds_per_step,
                    "overhead_s": m.overhead_s,
                    "steps_min": m.steps_min,
                    "steps_max": m.steps_max,
                    "quality": [[s, q] for s, q in m.quality],
                }
                for m in self.models
            ],
            "initial_cache": [list(c) for c in self.initial_cache],
            "requests": [vars(r).copy() for r in self.requests],
        }


# --------------------------------------------------------------------------------------------
# Reading and validation

_LINK = Record({"to": Integer(ge=0), "rate_mbps": POSITIVE, "latency_s": NONNEGATIVE})
_SERVER = Record(
    {
        "name": Text(),
        "storage_gb": POSITIVE,
        "bandwidth_mhz": POSITIVE,
        "step_capacity": Integer(ge=1, le=MAX_STEP_CAPACITY),
        "speed": POSITIVE,
        "cost_per_step": NONNEGATIVE,
        "links": ListOf(_LINK),
    }
)
_BREAKPOINT = ListOf(Number())
_MODEL = Record(
    {
        "name": Text(),
        "size_gb": NONNEGATIVE,
        "output_mbit": NONNEGATIVE,
        "seconds_per_step": NONNEGATIVE,
        "overhead_s": NONNEGATIVE,
        "steps_min": Integer(ge=1, le=MAX_STEPS),
        "steps_max": Integer(ge=1, le=MAX_STEPS),
        "quality": ListOf(_BREAKPOINT, min_len=1, what="breakpoint"),
    }
)
_REQUEST = Record(
    {
        "frame": Integer(ge=0),
        "slot": Integer(ge=0),
        "user": Integer(ge=0),
        "server": Integer(ge=0),
        "model": Integer(ge=0),
        "input_mbit": NONNEGATIVE,
        "spectral_efficiency": POSITIVE,
        "max_delay_s": POSITIVE,
    }
)
SPEC = Record(
    {
        **header_fields(CACHING_FORMAT),
        "frames": Integer(ge=1, le=MAX_SLOTS),
        "slots_per_frame": Integer(ge=1, le=MAX_SLOTS),
        "users": Integer(ge=1, le=MAX_USERS),
        "weights": Record({k: NONNEGATIVE for k in ("quality", "delay", "cost", "late", "switch")}),
        "cloud": Record(
            {
                "rate_mbps": POSITIVE,
                "latency_s": NONNEGATIVE,
                "steps": Integer(ge=1, le=MAX_STEPS),
                "speed": POSITIVE,
                "cost_per_step": NONNEGATIVE,
            }
        ),
        "servers": ListOf(_SERVER, min_len=1, what="server"),
        "models": ListOf(_MODEL, min_len=1, what="model"),
        "initial_cache": ListOf(ListOf(Integer(ge=0))),
        "requests": ListOf(_REQUEST),
    }
)


def _count(items: Any) -> int | None:
    return len(items) if isinstance(items, list) else None


def _check_index(
    value: Any, n: int | None, path: str, what: str, problems: Problems, owner: str
) -> bool:
    if not ok(value) or n is None:
        return False
    if value >= n:
        problems.add(path, f"{value} is not a {what} index ({owner} has {counted(n, what)})")
        return False
    return True


def _check_quality(model: dict[str, Any], path: str, problems: Problems) -> None:
    smin, smax, points = model["steps_min"], model["steps_max"], model["quality"]
    if ok(smin, smax) and smin > smax:
        problems.add(join(path, "steps_max"), f"{smax} is below steps_min {smin}")
        return
    if not ok(points):
        return
    qpath = join(path, "quality")
    good: list[tuple[float, float]] = []
    for i, point in valid_items(points):
        if len(point) != 2 or not ok(*point):
            if len(point) != 2:
                problems.add(
                    join(qpath, i), f"a breakpoint is [steps, quality], got {len(point)} numbers"
                )
            return
        s, q = point
        if not float(s).is_integer():
            problems.add(join(join(qpath, i), 0), f"{fmt(s)} is not an integer number of steps")
            return
        good.append((float(s), float(q)))
    if len(good) != len(points):
        return
    if ok(smin) and good[0][0] != smin:
        problems.add(
            join(qpath, 0), f"first breakpoint is at {fmt(good[0][0])} steps, not steps_min {smin}"
        )
    if ok(smax) and good[-1][0] != smax:
        problems.add(
            join(qpath, len(good) - 1),
            f"last breakpoint is at {fmt(good[-1][0])} steps, not steps_max {smax}",
        )
    slopes: list[float] = []
    for i in range(1, len(good)):
        (s0, q0), (s1, q1) = good[i - 1], good[i]
        if s1 <= s0:
            problems.add(join(qpath, i), f"steps {fmt(s1)} do not increase (previous {fmt(s0)})")
            return
        slopes.append((q1 - q0) / (s1 - s0))
    for i, slope in enumerate(slopes):
        if slope < -SLOPE_TOLERANCE:
            problems.add(
                join(qpath, i + 1), "quality decreases (it must be nondecreasing in steps)"
            )
            return
        if i > 0 and slope > slopes[i - 1] + SLOPE_TOLERANCE:
            problems.add(
                join(qpath, i + 1),
                f"quality is not concave: slope {slope:.6g} after slope {slopes[i - 1]:.6g} "
                "(optkit needs concave curves so that the relaxation is convex)",
            )
            return


def check(data: dict[str, Any], problems: Problems) -> None:
    """Semantic rules of a caching instance, on the readable part of ``data``."""
    servers, models, requests = data["servers"], data["models"], data["requests"]
    n_servers, n_models = _count(servers), _count(models)

    seen_names: dict[str, int] = {}
    for e, server in valid_items(servers):
        spath = join("servers", e)
        if ok(server["name"]):
            if server["name"] in seen_names:
                problems.add(
                    join(spath, "name"),
                    f"{server['name']!r} is also the name of server {seen_names[server['name']]}",
                )
            seen_names.setdefault(server["name"], e)
        targets: set[int] = set()
        for i, link in valid_items(server["links"]):
            lpath = join(join(spath, "links"), i)
            to = link["to"]
            if not _check_index(to, n_servers, join(lpath, "to"), "server", problems, "instance"):
                continue
            if to == e:
                problems.add(join(lpath, "to"), "a server cannot link to itself")
            elif to in targets:
                problems.add(join(lpath, "to"), f"server {to} is linked twice")
            targets.add(to)
    # a link listed at both ends must agree
    if isinstance(servers, list):
        listed: dict[tuple[int, int], tuple[str, dict[str, Any]]] = {}
        for e, server in valid_items(servers):
            for i, link in valid_items(server["links"]):
                if ok(link["to"]) and n_servers is not None and link["to"] < n_servers:
                    listed.setdefault(
                        (e, link["to"]), (join(join(join("servers", e), "links"), i), link)
                    )
        for (a, b), (path, link) in listed.items():
            other = listed.get((b, a))
            if other is None or a > b:
                continue
            for key in ("rate_mbps", "latency_s"):
                if ok(link[key], other[1][key]) and link[key] != other[1][key]:
                    problems.add(
                        join(path, key),
                        f"{fmt(link[key])} disagrees with {fmt(other[1][key])} at {other[0]} "
                        "(a link listed at both ends must agree)",
                    )

    seen_names = {}
    for m, model in valid_items(models):
        if ok(model["name"]):
            if model["name"] in seen_names:
                problems.add(
                    join(join("models", m), "name"),
                    f"{model['name']!r} is also the name of model {seen_names[model['name']]}",
                )
            seen_names.setdefault(model["name"], m)
        _check_quality(model, join("models", m), problems)

    initial = data["initial_cache"]
    if ok(initial) and n_servers is not None and len(initial) != n_servers:
        problems.add(
            "initial_cache", f"has {len(initial)} lists, one per server is needed ({n_servers})"
        )
    for e, cached in valid_items(initial):
        cpath = join("initial_cache", e)
        seen: set[int] = set()
        size = 0.0
        sizes_known = True
        for i, m in valid_items(cached):
            if not _check_index(m, n_models, join(cpath, i), "model", problems, "instance"):
                sizes_known = False
                continue
            if m in seen:
                problems.add(join(cpath, i), f"model {m} is listed twice")
                continue
            seen.add(m)
            model = models[m]
            if model is not None and ok(model) and ok(model["size_gb"]):
                size += model["size_gb"]
            else:
                sizes_known = False
        server = servers[e] if isinstance(servers, list) and e < len(servers) else None
        if sizes_known and server and ok(server["storage_gb"]):
            cap = server["storage_gb"]
            if size > cap * (1 + 1e-9):
                problems.add(
                    cpath,
                    f"models of {fmt(size)} GB do not fit storage_gb {fmt(cap)} of server {e}",
                )

    frames, slots, users = data["frames"], data["slots_per_frame"], data["users"]
    if ok(frames, slots) and frames * slots > MAX_SLOTS:
        problems.add(
            "slots_per_frame",
            f"{frames} frames × {slots} slots is above optkit's limit of {MAX_SLOTS} slots",
        )
    if ok(frames) and n_servers is not None and n_models is not None:
        entries = frames * n_servers * n_models
        if entries > MAX_DECISION_ENTRIES:
            problems.add(
                "frames",
                f"{frames} frames × {n_servers} servers × {n_models} models = {entries} cache "
                f"entries, above optkit's limit of {MAX_DECISION_ENTRIES}",
            )
    occupied: dict[tuple[int, int, int], int] = {}
    for r, req in valid_items(requests):
        rpath = join("requests", r)
        _check_index(
            req["frame"],
            frames if ok(frames) else None,
            join(rpath, "frame"),
            "frame",
            problems,
            "instance",
        )
        _check_index(
            req["slot"],
            slots if ok(slots) else None,
            join(rpath, "slot"),
            "slot",
            problems,
            "each frame",
        )
        _check_index(
            req["user"],
            users if ok(users) else None,
            join(rpath, "user"),
            "user",
            problems,
            "instance",
        )
        _check_index(
            req["server"], n_servers, join(rpath, "server"), "server", problems, "instance"
        )
        _check_index(req["model"], n_models, join(rpath, "model"), "model", problems, "instance")
        if ok(req["frame"], req["slot"], req["user"]):
            where = (req["frame"], req["slot"], req["user"])
            if where in occupied:
                problems.add(
                    join(rpath, "user"),
                    f"user {where[2]} already makes request {occupied[where]} in frame {where[0]}, slot {where[1]} "
                    "(at most one request per user and slot)",
                )
            else:
                occupied[where] = r


def build(data: dict[str, Any]) -> CachingInstance:
    """Build the frozen instance from data that passed :data:`SPEC` and :func:`check`."""
    return CachingInstance(
        name=data["name"],
        seed=data["seed"],
        generator=generator_from(data["generator"]),
        frames=data["frames"],
        slots_per_frame=data["slots_per_frame"],
        users=data["users"],
        weights=Weights(**data["weights"]),
        cloud=Cloud(**data["cloud"]),
        servers=tuple(
            Server(**{**s, "links": tuple(Link(**link) for link in s["links"])})
            for s in data["servers"]
        ),
        models=tuple(
            Model(**{**m, "quality": tuple((int(s), float(q)) for s, q in m["quality"])})
            for m in data["models"]
        ),
        initial_cache=tuple(tuple(c) for c in data["initial_cache"]),
        requests=tuple(Request(**r) for r in data["requests"]),
    )
