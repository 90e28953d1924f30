"""Shared CLI helpers: consoles, file arguments, option types, number formatting."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from optkit.errors import OptkitError
from optkit.solvers.registry import check_time_limit

out = Console(highlight=False, soft_wrap=False)
# notes and errors are one line each: never wrapped by rich (a terminal folds them itself;
# a file or a pipe gets the whole line), whatever the width
err = Console(stderr=True, highlight=False, soft_wrap=True)
if not out.is_terminal:  # files and pipes: do not squeeze tables into 80 columns
    out.width = 160


def expand_files(paths: Iterable[Path]) -> list[Path]:
    """Files as given; a folder stands for the ``*.json`` files below it (sorted)."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(q for q in p.rglob("*.json") if q.is_file())
            if not found:
                raise OptkitError(f"{p}: no .json files in this folder")
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            raise OptkitError(f"{p}: no such file")
    return files


FILES = click.argument(
    "files", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="FILES..."
)


def refuse_overwriting(option: str, output: Path, inputs: Iterable[Path]) -> None:
    """A usage error when ``output`` is one of the ``inputs`` (the same file, however named)."""
    if not output.exists():
        return
    for path in inputs:
        if path.exists() and output.samefile(path):
            given = "" if output == path else f" ({path})"
            raise click.UsageError(
                f"{option}: {output} is an input file{given}; choose another path for the output"
            )


class FiniteFloatRange(click.FloatRange):
    """A float range that also refuses nan (which compares false with every bound)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{number} is not a finite number", param, ctx)
        return number


class TimeLimit(click.ParamType):
    """Seconds, as :func:`optkit.solvers.registry.check_time_limit` accepts them."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        try:
            check_time_limit(seconds)
        except OptkitError as exc:
            self.fail(str(exc), param, ctx)
        return seconds


TIME_LIMIT = TimeLimit()


def num(value: float | None, digits: int = 6) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e12:
        return f"{value:.1f}"
    return f"{value:.{digits}g}"


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1e-3:
        return f"{value * 1e6:.1f} µs"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


#: Gaps and regrets (ratios) smaller than this in magnitude are round-off and shown as 0:
#: the exact methods' tolerances are 1e-9, and a policy's objective is summed in floating point.
ROUND_OFF = 1e-9


def round_off(value: float | None, tolerance: float = ROUND_OFF) -> float | None:
    """``value``, or 0 when it is below ``tolerance`` in magnitude (for display only)."""
    return None if value is None else (0.0 if abs(value) < tolerance else value)


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.3g} %"
