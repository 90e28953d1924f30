"""A small declarative reader for optkit's JSON documents.

A spec describes the shape of a document (records with required fields, lists, numbers with
bounds, integers, texts, nullable values). :func:`read` walks a parsed JSON value against a spec,
records *every* broken rule as ``path: rule`` in a :class:`Problems`, and returns the readable
part (``INVALID`` where a value broke its rule). Semantic rules that involve several fields
(indices in range, concavity, ...) are checked by the family modules on what was readable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final


class _Invalid:
    """Marker for a value that broke its rule (already reported)."""

    _instance: _Invalid | None = None

    def __new__(cls) -> _Invalid:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "INVALID"

    def __bool__(self) -> bool:
        return False


INVALID: Final = _Invalid()


class Problems:
    """Collects broken rules of one document, each as ``source: path: rule``."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, rule: str) -> None:
        self.items.append((path or "(top level)", rule))

    @property
    def messages(self) -> list[str]:
        return [f"{self.source}: {path}: {rule}" for path, rule in self.items]

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)


def join(path: str, key: str | int) -> str:
    """JSON path of a child: ``requests[3].model``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def show(value: Any) -> str:
    """A value as it appears in a message: JSON spelling, shortened."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        text = repr(value) if len(value) <= 40 else repr(value[:37] + "...")
        return '"' + text[1:-1] + '"'
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return repr(value)
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def counted(n: int, noun: str) -> str:
    """``1 server``, ``3 servers`` (regular plurals only)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def fmt(value: float) -> str:
    """A number as written in a message (short, exact enough)."""
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f"{value:.10g}"


# --------------------------------------------------------------------------------------------
# Specs


class Spec:
    """Base class of value specs."""

    def read(self, value: Any, path: str, problems: Problems) -> Any:
        raise NotImplementedError


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Number(Spec):
    """A finite JSON number, optionally integral, with optional bounds ``> gt`` / ``>= ge`` and
    a size limit ``<= le`` (optkit's, see :mod:`optkit.instances.common`)."""

    gt: float | None = None
    ge: float | None = None
    integer: bool = False
    le: float | None = None

    def read(self, value: Any, path: str, problems: Problems) -> Any:
        kind = "an integer" if self.integer else "a number"
        if not is_number(value):
            problems.add(path, f"{show(value)} is not {kind}")
            return INVALID
        if not math.isfinite(value):
            problems.add(path, f"{show(value)} is not finite")
            return INVALID
        if self.integer and not isinstance(value, int):
            problems.add(path, f"{show(value)} is not an integer")
            return INVALID
        if self.gt is not None and not value > self.gt:
            problems.add(path, f"{show(value)} must be > {fmt(self.gt)}")
            return INVALID
        if self.ge is not None and not value >= self.ge:
            problems.add(path, f"{show(value)} must be >= {fmt(self.ge)}")
            return INVALID
        if self.le is not None and not value <= self.le:
            problems.add(path, f"{show(value)} is above optkit's limit of {fmt(self.le)}")
            return INVALID
        return int(value) if self.integer else float(value)


def Integer(ge: int | None = None, le: int | None = None) -> Number:
    return Number(ge=ge, integer=True, le=le)


POSITIVE: Final = Number(gt=0)
NONNEGATIVE: Final = Number(ge=0)


@dataclass(frozen=True)
class Text(Spec):
    """A JSON string; ``pattern`` (a description and a predicate) optionally restricts it."""

    rule: str | None = None
    ok: Any = None  # Callable[[str], bool]

    def read(self, value: Any, path: str, problems: Problems) -> Any:
        if not isinstance(value, str):
            problems.add(path, f"{show(value)} is not a string")
            return INVALID
        if self.ok is not None and not self.ok(value):
            problems.add(path, f"{show(value)} {self.rule}")
            return INVALID
        return value


@dataclass(frozen=True)
class Flag(Spec):
    """A JSON boolean."""

    def read(self, value: Any, path: str, problems: Problems) -> Any:
        if not isinstance(value, bool):
            problems.add(path, f"{show(value)} is not true or false")
            return INVALID
        return value


@dataclass(frozen=True)
class OneOf(Spec):
    """One of a fixed set of JSON values (``format``, ``version``, ``family``)."""

    choices: tuple[Any, ...]

    def read(self, value: Any, path: str, problems: Problems) -> Any:
        for choice in self.choices:
            if value == choice and type(value) is type(choice):
                return value
        allowed = ", ".join(show(c) for c in self.choices)
        problems.add(path, f"{show(value)} is not one of {allowed}")
        return INVALID


@dataclass(frozen=True)
class Nullable(Spec):
    inner: Spec

    def read(self, value: Any, path: str, problems: Problems) -> Any:
        return None if value is None else self.inner.read(value, path, problems)


@dataclass(frozen=True)
class Anything(Spec):
    """Free-form JSON (``generator.params``)."""

    def read(self, value: Any, path: str, problems: Problems) -> Any:
        return value


@dataclass(frozen=True)
class ListOf(Spec):
    item: Spec
    min_len: int = 0
    what: str = "item"

    def read(self, value: Any, path: str, problems: Problems) -> Any:
        if not isinstance(value, list):
            problems.add(path, f"{show(value)} is not a list")
            return INVALID
        if len(value) < self.min_len:
            problems.add(path, f"needs at least {self.min_len} {self.what}(s), has {len(value)}")
        return [self.item.read(v, join(path, i), problems) for i, v in enumerate(value)]


@dataclass(frozen=True)
class Record(Spec):
    """A JSON object with exactly these fields (``optional`` ones may be absent)."""

    fields: dict[str, Spec]
    optional: frozenset[str] = field(default_factory=frozenset)

    def read(self, value: Any, path: str, problems: Problems) -> Any:
        if not isinstance(value, dict):
            problems.add(path, f"{show(value)} is not an object")
            return INVALID
        out: dict[str, Any] = {}
        for name, spec in self.fields.items():
            if name in value:
                out[name] = spec.read(value[name], join(path, name), problems)
            elif name in self.optional:
                out[name] = None
            else:
                problems.add(join(path, name), "missing required field")
                out[name] = INVALID
        for name in value:
            if name not in self.fields:
                problems.add(join(path, name), "unknown field")
        return out


def read(spec: Spec, value: Any, problems: Problems, path: str = "") -> Any:
    """Read ``value`` against ``spec``; broken rules go to ``problems``."""
    return spec.read(value, path, problems)


def ok(*values: Any) -> bool:
    """True when none of ``values`` is INVALID (they can be used for semantic checks)."""
    return all(v is not INVALID for v in values)


def valid_items(values: Any) -> list[tuple[int, Any]]:
    """(index, value) of the readable entries of a list that may itself be INVALID."""
    if not isinstance(values, list):
        return []
    return [(i, v) for i, v in enumerate(values) if v is not INVALID]
