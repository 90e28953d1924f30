"""Where an environment's instances come from (DESIGN §7).

A source hands out instances by episode number. Three kinds:

- :class:`GeneratedSource`: a preset, a size and a seed stream. Episode ``i`` plays instance
  ``i`` of ``optkit generate FAMILY --preset P --size S --seed SEED`` — the very instance that
  command writes as ``<preset>-<size>-s<seed>-<i:03d>`` — so a held-out set is reproducible with
  ``optkit generate`` and can be solved exactly by any other method. With ``count`` the stream
  cycles over its first ``count`` instances; without, every episode sees a fresh instance.
  Training and held-out sets use different seeds, hence disjoint streams.
- :class:`FolderSource`: the ``*.json`` instance files of a folder, cycled in sorted order.
- :class:`FixedSource`: given instances (a held-out set in memory, or the one instance a
  trained policy is asked to solve).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from optkit.errors import OptkitError
from optkit.instances.generators import PRESETS, SIZES
from optkit.instances.generators import caching as caching_generator
from optkit.instances.generators import scheduling as scheduling_generator
from optkit.instances.generators.common import check_choice
from optkit.instances.io import Instance, load_instance


class InstanceSource(Protocol):
    """Instances by episode number (``get(i)``; sources cycle where they are finite)."""

    @property
    def family(self) -> str: ...

    def get(self, index: int) -> Instance: ...

    def describe(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


@lru_cache(maxsize=64)
def generated_instance(family: str, preset: str, size: str, seed: int, index: int) -> Instance:
    """Instance ``index`` of ``optkit.generate(family, preset, size, seed, count)`` for any
    ``count > index``, without generating the others (child ``index`` of ``SeedSequence(seed)``
    is ``SeedSequence(seed, spawn_key=(index,))``). Recent ones are kept (instances are
    immutable), so pools and held-out sets are generated once."""
    check_choice(family, tuple(PRESETS), "family")
    check_choice(preset, tuple(PRESETS[family]), f"{family} preset")
    check_choice(size, SIZES, "size")
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(index,))))
    make = caching_generator.make if family == "caching" else scheduling_generator.make
    instance: Instance = make(preset, size, seed, index, rng)
    return instance


@dataclass(frozen=True)
class GeneratedSource:
    """Instance ``i`` (or ``i mod count``) of a preset's seed stream (see the module doc)."""

    family: str
    preset: str
    size: str
    seed: int
    count: int | None = None

    def __post_init__(self) -> None:
        check_choice(self.family, tuple(PRESETS), "family")
        check_choice(self.preset, tuple(PRESETS[self.family]), f"{self.family} preset")
        check_choice(self.size, SIZES, "size")
        if self.seed < 0:
            raise OptkitError(f"seed must be >= 0, got {self.seed}")
        if self.count is not None and self.count < 1:
            raise OptkitError(f"instance count must be >= 1, got {self.count}")

    def get(self, index: int) -> Instance:
        i = index if self.count is None else index % self.count
        return generated_instance(self.family, self.preset, self.size, self.seed, i)

    def instances(self) -> list[Instance]:
        """Every instance of a finite source (a held-out set)."""
        if self.count is None:
            raise ValueError("an endless stream has no list of instances")
        return [self.get(i) for i in range(self.count)]

    def describe(self) -> str:
        n = "endless stream" if self.count is None else f"{self.count} instances"
        return f"{self.preset} {self.size}, seed {self.seed} ({n})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "generated",
            "family": self.family,
            "preset": self.preset,
            "size": self.size,
            "seed": self.seed,
            "count": self.count,
        }


@dataclass(frozen=True)
class FixedSource:
    """Given instances, cycled in order."""

    instances: tuple[Instance, ...]
    family: str = field(init=False)

    def __post_init__(self) -> None:
        if not self.instances:
            raise OptkitError("an instance source needs at least one instance")
        families = {i.family for i in self.instances}
        if len(families) != 1:
            raise OptkitError(f"instances of several families given: {', '.join(sorted(families))}")
        object.__setattr__(self, "family", families.pop())

    def get(self, index: int) -> Instance:
        return self.instances[index % len(self.instances)]

    def describe(self) -> str:
        return f"{len(self.instances)} given instance(s)"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "fixed", "family": self.family, "names": [i.name for i in self.instances]}


class FolderSource:
    """The ``*.json`` instance files below a folder, cycled in sorted order (loaded lazily,
    kept once loaded)."""

    def __init__(self, folder: str | Path, family: str | None = None) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise OptkitError(f"{self.folder}: no such folder")
        self.paths = sorted(p for p in self.folder.rglob("*.json") if p.is_file())
        if not self.paths:
            raise OptkitError(f"{self.folder}: no .json instance files in this folder")
        self._loaded: dict[int, Instance] = {}
        first = self.get(0)
        self.family = first.family
        if family is not None and family != self.family:
            raise OptkitError(
                f"{self.paths[0]}: a {self.family} instance, but the {family} family was asked for"
            )

    def get(self, index: int) -> Instance:
        i = index % len(self.paths)
        if i not in self._loaded:
            instance = load_instance(self.paths[i])
            if self._loaded and instance.family != self.family:
                raise OptkitError(
                    f"{self.paths[i]}: a {instance.family} instance among {self.family} instances"
                )
            self._loaded[i] = instance
        return self._loaded[i]

    def instances(self) -> list[Instance]:
        return [self.get(i) for i in range(len(self.paths))]

    def describe(self) -> str:
        return f"{len(self.paths)} files in {self.folder}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "folder", "family": self.family, "folder": str(self.folder)}


def source_from_dict(data: dict[str, Any]) -> InstanceSource:
    """Rebuild a generated or folder source from :meth:`to_dict` (fixed sources are not
    rebuilt: their instances live in memory)."""
    kind = data.get("kind")
    if kind == "generated":
        return GeneratedSource(
            data["family"], data["preset"], data["size"], int(data["seed"]), data["count"]
        )
    if kind == "folder":
        return FolderSource(data["folder"], data["family"])
    raise OptkitError(f"cannot rebuild an instance source of kind {kind!r}")


def fixed(instances: Sequence[Instance] | Instance) -> FixedSource:
    """A :class:`FixedSource` of one or several instances."""
    if isinstance(instances, Sequence):
        return FixedSource(tuple(instances))
    return FixedSource((instances,))
