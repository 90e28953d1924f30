"""``optkit gap``: the command line of :mod:`optkit.measure` (policies and heuristics measured
by their gap to the reference optimum; the conventions are documented there)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from optkit.cli.common import err, expand_files, num, out, percent, seconds
from optkit.errors import OptkitError
from optkit.instances.io import Instance, load_instance
from optkit.instances.jsonio import write_text_atomic
from optkit.measure import GapReport, MethodRow, measure, references


def load_set(folder: Path) -> list[Instance]:
    """The instances of a folder (one family; one-line errors otherwise)."""
    if not folder.is_dir():
        raise OptkitError(f"{folder}: not a folder")
    try:
        files = expand_files([folder])
    except OptkitError:
        raise OptkitError(f"{folder}: no instance files (*.json) in this folder") from None
    instances = [load_instance(p) for p in files]
    families = sorted({i.family for i in instances})
    if len(families) > 1:
        raise OptkitError(
            f"{folder}: mixed families ({' and '.join(families)}); one family per gap table"
        )
    return instances


FIGURE_TITLES = {
    "hit_ratio": "hit ratio",
    "total_utility": "utility",
    "mean_make_span_s": "make-span (s)",
    "failure_rate": "failure rate",
}


def _cells(row: MethodRow) -> list[str]:
    figures = [
        percent(v) if k in ("hit_ratio", "failure_rate") else num(v, 5)
        for k, v in row.figures.items()
    ]
    return [
        row.method,
        f"{row.solved}" + (f" ({row.errors} refused)" if row.errors else ""),
        percent(row.mean_gap),
        percent(row.median_gap),
        percent(row.p95_gap),
        num(row.mean_regret, 3),
        num(row.mean_objective, 6),
        *figures,
        seconds(row.time_per_decision_s),
    ]


def _headers(report: GapReport) -> list[str]:
    figures = [FIGURE_TITLES[k] for k in (report.rows[0].figures if report.rows else {})]
    return [
        "method",
        "solved",
        "mean gap",
        "median gap",
        "p95 gap",
        "regret",
        "objective",
        *figures,
        "time/decision",
    ]


def _reference_line(report: GapReport) -> str:
    c = report.references
    parts = [f"{c[k]} from {k}" for k in ("solu", "results", "solved") if c[k]]
    line = f"{report.instances} {report.family} instances; references: " + (
        ", ".join(parts) or "none"
    )
    if c["best"]:
        line += f" ({c['best']} only best known: gaps to them may be negative)"
    if c["none"]:
        line += f"; {c['none']} without a reference"
    return line


def markdown(report: GapReport) -> str:
    """The gap table as a markdown table (with the references line above it)."""
    lines = [_reference_line(report), "", "| " + " | ".join(_headers(report)) + " |"]
    lines.append("|" + "---|" * len(_headers(report)))
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in report.rows]
    return "\n".join(lines) + "\n"


def print_table(report: GapReport) -> None:
    table = Table(title="gap to the reference optimum")
    for i, header in enumerate(_headers(report)):
        table.add_column(header, justify="left" if i == 0 else "right")
    for row in report.rows:
        table.add_row(*_cells(row))
    out.print(_reference_line(report))
    out.print(table)
    for row in report.rows:
        if row.error:
            err.print(f"{row.method}: {row.errors} instance(s) refused, e.g.: {row.error}")


@click.command()
@click.argument("methods", nargs=-1, required=True, metavar="POLICY...")
@click.option(
    "--instances",
    "folder",
    type=click.Path(path_type=Path),
    required=True,
    help="folder of held-out instances (its *.solu files give reference optima)",
)
@click.option(
    "--reference",
    "results",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="results.jsonl with reference runs (repeatable)",
)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="seconds for the exact method where no reference is known",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.option(
    "--markdown",
    "markdown_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="also write the table as markdown",
)
def gap(
    methods: tuple[str, ...],
    folder: Path,
    results: tuple[Path, ...],
    time_limit: float,
    seed: int,
    as_json: bool,
    markdown_path: Path | None,
) -> None:
    """Measure policies and heuristics by their gap to the reference optimum.

    Each POLICY is any method name (policy:RUN_DIR, greedy-opt, lfu, ...). References come from
    DIR's *.solu files, then --reference results, else the family's exact method is run (bnb
    for caching, highs for scheduling) under --time-limit. Gap: (v − OPT)/|OPT| for
    minimisation, (OPT − v)/|OPT| for maximisation; regret: normalised against the family's
    plain baseline. Example:

    \b
      optkit gap policy:runs/ddrl greedy-opt rand-coedge --instances sets/held-out
    """
    instances = load_set(folder)
    refs, counts = references(instances, folder, results, time_limit)
    report = measure(methods, instances, refs, counts, seed=seed)
    if markdown_path is not None:
        write_text_atomic(markdown_path, markdown(report))
    if as_json:
        out.print_json(json.dumps(report.to_json(), allow_nan=False, default=_jsonable))
    else:
        print_table(report)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"not JSON-able: {value!r}")
