"""How fast the exact per-slot allocation (``allocate_slot``) is, slot by slot, and where it is
slow.

Every slot of t2drl and edgeaigc instances (small, medium, large; fixed seeds) under several
caches (fixed seeds): random caches holding each (server, model) with probability 0.3, 0.5 or
0.8 (storage ignored: the allocation takes any cache), every server empty, every server full.
Reported per (instance, cache): median, p90, p99 and max milliseconds per slot and the most
search nodes one slot took. A per-slot watchdog stops a slot after ``--watchdog`` seconds; every
slot over 1 s is listed with what reproduces it (``--repro``). Targets (issue 4): a t2drl
small slot in under 1 ms median; every slot of the large instances under 1 s.

One process, one thread (BLAS), slot data built before timing (first use per instance). Times
on a shared machine are noisy: run it twice.

    python bench/allocation_speed.py --quick      # one instance per preset and size, ~2 min
    python bench/allocation_speed.py              # two instances each, all caches
    python bench/allocation_speed.py --repro t2drl large 100 0 0.5 44
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from types import FrameType  # noqa: E402

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

import optkit  # noqa: E402
from optkit.instances.caching import CachingInstance  # noqa: E402
from optkit.solvers.caching.allocation import allocate_slot, slot_data  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
SEED = 100
CACHE_SEED = 0
#: Cache kinds: a fraction of (server, model) pairs cached at random, or every / no model.
CACHES = ("0.3", "0.5", "0.8", "empty", "full")
#: Slots slower than this (seconds) are listed.
SLOW_S = 1.0


class _Watchdog(Exception):
    """A slot ran past the watchdog."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _Watchdog


def caches(inst: CachingInstance, kind: str, cache_seed: int) -> np.ndarray:
    """The caches of every frame (bool [frames, servers, models]) of one kind."""
    c = inst.compiled
    shape = (c.frames, c.n_servers, c.n_models)
    if kind == "empty":
        return np.zeros(shape, bool)
    if kind == "full":
        return np.ones(shape, bool)
    rng = np.random.default_rng([cache_seed, int(float(kind) * 100)])
    result: np.ndarray = rng.random(shape) < float(kind)
    return result


@dataclass(frozen=True)
class SlotTime:
    slot: int
    seconds: float  # inf: stopped by the watchdog
    nodes: int
    requests: int


def time_slots(
    inst: CachingInstance, cache: np.ndarray, watchdog: float, limit: int | None = None
) -> list[SlotTime]:
    """Time allocate_slot on every slot (the first ``limit``), each under the watchdog."""
    c = inst.compiled
    slots = range(c.n_slots if limit is None else min(limit, c.n_slots))
    for g in slots:
        slot_data(c, g)  # built once per instance: not the allocation's time
    out = []
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for g in slots:
            start = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, watchdog)
            try:
                alloc = allocate_slot(c, g, cache[g // c.slots_per_frame])
                seconds, nodes = time.perf_counter() - start, alloc.nodes
            except _Watchdog:
                seconds, nodes = float("inf"), -1
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            out.append(SlotTime(g, seconds, nodes, len(c.slot_requests(g))))
    finally:
        signal.signal(signal.SIGALRM, previous)
    return out


def _ms(x: float, watchdog: float = float("inf")) -> str:
    """Milliseconds; a time at the watchdog shows as ≥ the watchdog (the slot was stopped)."""
    if x >= watchdog:
        return f"≥{1e3 * watchdog:.0f}"
    return f"{1e3 * x:.3f}" if x < 0.01 else f"{1e3 * x:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one instance each, fewer caches")
    parser.add_argument("--count", type=int, default=2, help="instances per preset and size")
    parser.add_argument("--sizes", default="small,medium,large")
    parser.add_argument("--presets", default="t2drl,edgeaigc")
    parser.add_argument("--caches", default=",".join(CACHES))
    parser.add_argument("--watchdog", type=float, default=10.0, help="seconds per slot")
    parser.add_argument(
        "--repro",
        nargs=6,
        metavar=("PRESET", "SIZE", "SEED", "INDEX", "CACHE", "SLOT"),
        help="time one slot again (instance INDEX of generate(PRESET, SIZE, seed=SEED))",
    )
    parser.add_argument("--out", default="allocation_speed.md")
    args = parser.parse_args()
    console = Console()
    if args.repro:
        preset, size, seed, index, kind, slot = args.repro
        inst = optkit.generate("caching", preset, size, seed=int(seed), count=int(index) + 1)[-1]
        assert isinstance(inst, CachingInstance)
        cache = caches(inst, kind, CACHE_SEED)
        c = inst.compiled
        g = int(slot)
        slot_data(c, g)
        start = time.perf_counter()
        alloc = allocate_slot(c, g, cache[g // c.slots_per_frame])
        console.print(
            f"{inst.name} cache {kind} slot {g}: {len(alloc.requests)} requests, "
            f"{_ms(time.perf_counter() - start)} ms, {alloc.nodes} nodes, value {alloc.value!r}"
        )
        return

    count = 1 if args.quick else args.count
    kinds = (
        ["0.5", "full"]
        if args.quick and args.caches == ",".join(CACHES)
        else args.caches.split(",")
    )
    table = Table(title="allocate_slot per slot (ms)")
    header = ["instance", "cache", "slots", "req/slot", "median", "p90", "p99", "max", "nodes max"]
    for name in header:
        table.add_column(name, justify="left" if name in ("instance", "cache") else "right")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    slow: list[str] = []
    for preset in args.presets.split(","):
        for size in args.sizes.split(","):
            instances = optkit.generate("caching", preset, size, seed=SEED, count=count)
            for index, inst in enumerate(instances):
                assert isinstance(inst, CachingInstance)
                for kind in kinds:
                    cache = caches(inst, kind, CACHE_SEED)
                    times = time_slots(inst, cache, args.watchdog)
                    # a stopped slot counts as the watchdog (so the percentiles stay finite)
                    seconds = np.minimum([t.seconds for t in times], args.watchdog)
                    busy = [t.requests for t in times]
                    cells = [
                        inst.name,
                        kind,
                        str(len(times)),
                        f"{np.mean(busy):.1f}",
                        _ms(float(np.median(seconds)), args.watchdog),
                        _ms(float(np.percentile(seconds, 90)), args.watchdog),
                        _ms(float(np.percentile(seconds, 99)), args.watchdog),
                        _ms(float(seconds.max()), args.watchdog),
                        str(max(t.nodes for t in times)),
                    ]
                    table.add_row(*cells)
                    lines.append("| " + " | ".join(cells) + " |")
                    for t in times:
                        if t.seconds > SLOW_S:
                            slow.append(
                                f"{inst.name} cache {kind} slot {t.slot} ({t.requests} requests): "
                                f"{_ms(t.seconds, args.watchdog)} ms — reproduce: --repro {preset} {size} {SEED} "
                                f"{index} {kind} {t.slot}"
                            )
                    console.print(f"{inst.name} cache {kind}: max {cells[7]} ms")
    console.print(table)
    summary = f"slots over {SLOW_S:g} s: {len(slow)}"
    console.print(summary)
    for line in slow:
        console.print("  " + line)
    OUT.mkdir(exist_ok=True)
    text = "\n".join(
        [
            "## allocate_slot per slot (ms)\n",
            f"watchdog {args.watchdog:g} s per slot; caches seeded {CACHE_SEED}; "
            f"instances generate(preset, size, seed={SEED}, count={count})\n",
            *lines,
            "",
            summary,
            *[f"- {line}" for line in slow],
            "",
        ]
    )
    (OUT / args.out).write_text(text)
    console.print(f"written {OUT / args.out}")


if __name__ == "__main__":
    main()
