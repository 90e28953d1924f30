"""Shared CLI helpers: consoles, file arguments, number formatting."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import click
from rich.console import Console

from optkit.errors import OptkitError

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)
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


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.3g} %"
