"""Shared pieces of the generators: seeding, rounding, the preset registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from optkit.errors import OptkitError

SIZES: Final = ("tiny", "small", "medium", "large")
#: Quality breakpoints lie on this grid so that concavity survives writing them out.
QUALITY_GRID: Final = 2.0**-12


def round6(x: float) -> float:
    """Round to 6 significant digits (every generated float except quality breakpoints)."""
    return float(f"{float(x):.6g}")


def instance_rngs(seed: int, count: int) -> list[np.random.Generator]:
    """One PCG64 generator per instance: instance i draws from SeedSequence(seed).spawn(count)[i].

    Children of a SeedSequence depend only on their index, so instance i is the same whatever
    ``count`` is.
    """
    return [
        np.random.Generator(np.random.PCG64(child))
        for child in np.random.SeedSequence(seed).spawn(count)
    ]


def instance_name(preset: str, size: str, seed: int, index: int) -> str:
    return f"{preset}-{size}-s{seed}-{index:03d}"


@dataclass(frozen=True)
class Preset:
    """A named generator: ``make(size, seed, index, rng)`` returns one instance."""

    family: str
    name: str
    summary: str
    make: Callable[[str, int, int, np.random.Generator], Any]


def check_choice(value: str, choices: tuple[str, ...] | list[str], what: str) -> None:
    if value not in choices:
        raise OptkitError(f"unknown {what} {value!r} (known: {', '.join(choices)})")
