"""Generators of benchmark instances (DESIGN §5).

``generate(family, preset, size, seed, count)`` returns ``count`` instances named
``<preset>-<size>-s<seed>-<i:03d>``; instance i draws from
``numpy.random.SeedSequence(seed).spawn(count)[i]`` (PCG64), so the same arguments give the
same instances — and, written with :func:`optkit.save`, byte-identical files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from optkit.instances.generators import caching as _caching
from optkit.instances.generators import scheduling as _scheduling
from optkit.instances.generators.common import SIZES, check_choice, instance_rngs
from optkit.instances.io import Instance, save

PRESETS: dict[str, dict[str, str]] = {
    "caching": {
        "t2drl": "T2DRL-like: one edge server, quality vs latency (all constants assumed)",
        "edgeaigc": "EdgeAIGC-like: several linked servers and a slower, dearer cloud (assumed)",
    },
    "scheduling": {
        "smcoedge": "SMCoEdge defaults: 0.1 s slots, 10-40 Mbit tasks, exactly 3 servers",
        "amcoedge": "AMCoEdge defaults: 1 s slots, 2-5 Mbit tasks, any server subset",
    },
}


def _maker(family: str, preset: str) -> Callable[..., Instance]:
    check_choice(family, tuple(PRESETS), "family")
    check_choice(preset, tuple(PRESETS[family]), f"{family} preset")
    return _caching.make if family == "caching" else _scheduling.make


def iter_generate(
    family: str, preset: str, size: str, seed: int = 0, count: int = 1
) -> Iterator[Instance]:
    """Yield the instances one by one (for progress bars on large sets)."""
    make = _maker(family, preset)
    check_choice(size, SIZES, "size")
    if count < 1:
        raise ValueError("count must be at least 1")
    if seed < 0:
        raise ValueError("seed must be >= 0")
    for index, rng in enumerate(instance_rngs(seed, count)):
        yield make(preset, size, seed, index, rng)


def generate(family: str, preset: str, size: str, seed: int = 0, count: int = 1) -> list[Instance]:
    """``count`` instances of a preset and size (see the module docstring)."""
    return list(iter_generate(family, preset, size, seed, count))


def write_set(
    family: str, preset: str, size: str, seed: int, count: int, out: str | os.PathLike[str]
) -> list[Path]:
    """Generate and write a set; returns the written paths."""
    paths = []
    for instance in iter_generate(family, preset, size, seed, count):
        path = Path(out) / f"{instance.name}.json"
        save(instance, path)
        paths.append(path)
    return paths


__all__ = ["PRESETS", "SIZES", "generate", "iter_generate", "write_set"]
