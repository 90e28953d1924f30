"""Hyperparameters: one frozen dataclass per agent, a docstring under each field (as CleanRL's
``Args``), overridable by ``--set key=value`` or a TOML file.

A TOML file holds the agent's hyperparameters at the top level (or in an ``[agent]`` table)
and optionally the env's options in an ``[env]`` table::

    learning_rate = 0.001
    hidden = [256, 256]
    [env]
    cache_policy = "keep"
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import math
import textwrap
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from optkit.errors import OptkitError

C = TypeVar("C")


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass (and of its bases), by field name."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def _convert(value: Any, kind: Any, what: str) -> Any:
    """``value`` (a CLI string or a TOML value) as the field type ``kind``."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [k for k in typing.get_args(kind) if k is not type(None)]
        empty = value is None or (isinstance(value, str) and value.lower() in ("none", "null"))
        if empty and type(None) in typing.get_args(kind):
            return None
        return _convert(value, options[0], what)
    if origin is tuple:
        item = typing.get_args(kind)[0]
        if isinstance(value, str):
            value = [v for v in value.strip("[]() ").split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise OptkitError(f"{what}: {value!r} is not a list")
        return tuple(_convert(v, item, what) for v in value)
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise OptkitError(f"{what}: {value!r} is not true or false")
    if kind in (int, float, str):
        if kind is not str and isinstance(value, bool):
            raise OptkitError(f"{what}: {value!r} is not a number")
        try:
            if kind is int and isinstance(value, str):
                number = float(value)
                if not number.is_integer():
                    raise ValueError
                return int(number)
            if kind is int and isinstance(value, float):
                if not value.is_integer():
                    raise ValueError
                return int(value)
            converted = kind(str(value).strip() if kind is not str else value)
            if kind is float and not math.isfinite(converted):
                raise OptkitError(f"{what}: {value!r} is not a finite number")
            return converted
        except ValueError:
            raise OptkitError(
                f"{what}: {value!r} is not {'an' if kind is int else 'a'} {kind.__name__}"
            ) from None
    raise TypeError(f"unsupported hyperparameter type {kind!r}")


def override(config: C, values: dict[str, Any], owner: str) -> C:
    """A copy of ``config`` with ``values`` (strings or TOML values) converted to the fields'
    types; an unknown key or a bad value is one clear :class:`OptkitError`."""
    assert dataclasses.is_dataclass(config) and not isinstance(config, type)
    hints = typing.get_type_hints(type(config))
    names = [f.name for f in dataclasses.fields(config)]
    changes = {}
    for key, value in values.items():
        if key not in names:
            raise OptkitError(
                f"unknown hyperparameter {key!r} for {owner} (known: {', '.join(names)})"
            )
        changes[key] = _convert(value, hints[key], f"hyperparameter {key}")
    return dataclasses.replace(config, **changes)


def parse_assignments(items: tuple[str, ...] | list[str], what: str = "--set") -> dict[str, str]:
    """``["key=value", ...]`` as a dict (one-line error for an item without ``=``)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise OptkitError(f"{what} {item!r}: expected key=value")
        out[key.strip()] = value.strip()
    return out


def read_toml(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(agent hyperparameters, env options) from a TOML file (see the module doc)."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OptkitError(f"{p}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise OptkitError(f"{p}: invalid TOML ({exc})") from None
    env = data.pop("env", {})
    agent = data.pop("agent", {})
    if not isinstance(env, dict) or not isinstance(agent, dict):
        raise OptkitError(f"{p}: [env] and [agent] must be tables")
    tables = [k for k, v in data.items() if isinstance(v, dict)]
    if tables:
        raise OptkitError(f"{p}: unknown table [{tables[0]}] (known: [agent], [env])")
    return {**data, **agent}, env


def describe(config: Any) -> list[tuple[str, str, str]]:
    """(name, value, doc) of each field, for ``optkit train AGENT --show-config``."""
    docs = field_docs(type(config))
    return [
        (f.name, repr(getattr(config, f.name)), docs.get(f.name, ""))
        for f in dataclasses.fields(config)
    ]


def to_dict(config: Any) -> dict[str, Any]:
    """A config as plain JSON-able values (tuples as lists)."""
    return {
        f.name: list(v) if isinstance(v := getattr(config, f.name), tuple) else v
        for f in dataclasses.fields(config)
    }
