"""Pieces shared by both families' instance formats."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from optkit.instances.schema import (
    Anything,
    Integer,
    ListOf,
    Nullable,
    OneOf,
    Record,
    Text,
)

VERSION: Final = 1
CACHING_FORMAT: Final = "optkit.caching"
SCHEDULING_FORMAT: Final = "optkit.scheduling"
SOLUTION_FORMAT: Final = "optkit.solution"
FAMILIES: Final = ("caching", "scheduling")
#: The sense of each family's objective.
SENSE: Final[dict[str, Literal["max", "min"]]] = {"caching": "max", "scheduling": "min"}

# Size limits. Counts that size arrays (slots, users, steps) are capped when a file is read, so
# that a slip such as ``"frames": 1e12`` is a broken rule naming the field, not a memory error
# inside a solver. Each limit is far above the largest preset (caching large: 24 × 20 slots,
# 64 users, steps up to ~50; scheduling large: 101 slots) and far below what breaks numpy.
#: Slots of the horizon: caching ``frames × slots_per_frame``, scheduling ``slots``.
MAX_SLOTS: Final = 1_000_000
#: Caching ``users`` (the slot environment's actions grow with it).
MAX_USERS: Final = 100_000
#: Denoising steps of one generation: a model's ``steps_max``, the cloud's ``steps``.
MAX_STEPS: Final = 10_000
#: A server's ``step_capacity`` per slot (the per-slot dynamic programs run over it).
MAX_STEP_CAPACITY: Final = 1_000_000
#: Entries of a caching solution's cache, ``frames × servers × models``, and of a scheduling
#: horizon's queues, ``slots × servers``.
MAX_DECISION_ENTRIES: Final = 100_000_000

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _name_ok(name: str) -> bool:
    return bool(_NAME.match(name)) and len(name) <= 200


#: Instance names become file names (``DIR/<name>.json``), so they are restricted.
NAME: Final = Text(
    rule="is not a valid name (letters, digits, '.', '_', '-'; starting with a letter or digit)",
    ok=_name_ok,
)

GENERATOR: Final = Nullable(
    Record(
        {
            "preset": Text(),
            "size": Text(),
            "params": Anything(),
            "assumed": ListOf(Text()),
        }
    )
)


def header_fields(format_name: str) -> dict[str, Any]:
    return {
        "format": OneOf((format_name,)),
        "version": OneOf((VERSION,)),
        "name": NAME,
        "seed": Nullable(Integer(ge=0)),
        "generator": GENERATOR,
    }


@dataclass(frozen=True)
class GeneratorInfo:
    """How a generated instance was made: preset, size, every parameter, and which are assumed.

    ``assumed`` names the keys of ``params`` whose values come from no public source (optkit's
    own choices); everything else is from the authors' papers or public code.
    """

    preset: str
    size: str
    params: Mapping[str, Any] = field(hash=False)
    assumed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "size": self.size,
            "params": dict(self.params),
            "assumed": list(self.assumed),
        }


def generator_from(data: Any) -> GeneratorInfo | None:
    if data is None:
        return None
    return GeneratorInfo(
        preset=data["preset"],
        size=data["size"],
        params=data["params"] if isinstance(data["params"], dict) else {"value": data["params"]},
        assumed=tuple(data["assumed"]),
    )
