"""``optkit gap``: the command line of :mod:`optkit.measure` (policies and heuristics measured
by their gap to the reference optimum; the conventions are documented there)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import click
from rich.progress import Progress
from rich.table import Table

from optkit.cli.common import TIME_LIMIT, err, num, out, percent, round_off, seconds
from optkit.errors import OptkitError
from optkit.gaps import AGREE_TOLERANCE
from optkit.instances.jsonio import write_text_atomic
from optkit.measure import (
    GapReport,
    MethodRow,
    check_methods,
    foresight,
    load_set,
    measure,
    references,
)

FIGURE_TITLES = {
    "hit_ratio": "hit ratio",
    "total_utility": "utility",
    "mean_make_span_s": "make-span (s)",
    "failure_rate": "failure rate",
}


def shown(value: float | None) -> float | None:
    """A gap or a regret as the tables show it: 0 when its size is below the agreement tolerance
    (DESIGN §4), where it is round-off (``-1.33e-13 %``), not a gap; --json keeps every value
    exact."""
    return round_off(value, AGREE_TOLERANCE)


def _cells(row: MethodRow) -> list[str]:
    figures = [
        percent(v) if k in ("hit_ratio", "failure_rate") else num(v, 5)
        for k, v in row.figures.items()
    ]
    return [
        row.method,
        f"{row.solved}" + (f" ({row.errors} refused)" if row.errors else ""),
        percent(shown(row.mean_gap)),
        percent(shown(row.median_gap)),
        percent(shown(row.p95_gap)),
        num(shown(row.mean_regret), 3),
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


def _foresight_line(report: GapReport) -> str | None:
    f = report.foresight
    if f is None:
        return None
    if f.mean_gap_bound is None:
        line = f"foresight bound: no instance bounded ({f.first_refusal or 'no relative gaps'})"
    else:
        line = (
            f"foresight bound ({f.samples} relabellings, {f.bounded} instances): no "
            f"non-anticipative policy can expect a mean gap below "
            f"{percent(shown(f.mean_gap_bound))}"
        )
    if f.refused and f.mean_gap_bound is not None:
        line += f"; {f.refused} instance(s) not bounded, e.g.: {f.first_refusal}"
    return line


def markdown(report: GapReport) -> str:
    """The gap table as a markdown table (with the references line above it and the
    foresight line, when asked for, below)."""
    lines = [_reference_line(report), "", "| " + " | ".join(_headers(report)) + " |"]
    lines.append("|" + "---|" * len(_headers(report)))
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in report.rows]
    extra = _foresight_line(report)
    if extra is not None:
        lines += ["", extra]
    return "\n".join(lines) + "\n"


def print_table(report: GapReport) -> None:
    table = Table(title="gap to the reference optimum")
    for i, header in enumerate(_headers(report)):
        table.add_column(header, justify="left" if i == 0 else "right")
    for row in report.rows:
        table.add_row(*_cells(row))
    out.print(_reference_line(report))
    out.print(table)
    extra = _foresight_line(report)
    if extra is not None:
        out.print(extra)
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
    type=TIME_LIMIT,
    default=60.0,
    show_default=True,
    help="seconds for the exact method where no reference is known",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--foresight",
    "foresight_samples",
    type=click.IntRange(min=1),
    help="caching: also bound the mean gap of any non-anticipative policy (N relabellings "
    "of each instance, each costing one exact solve per first-frame cache)",
)
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
    foresight_samples: int | None,
    as_json: bool,
    markdown_path: Path | None,
) -> None:
    """Measure policies and heuristics by their gap to the reference optimum.

    Each POLICY is any method name (policy:RUN_DIR, greedy-opt, lfu, ...). References come from
    DIR's *.solu files, then --reference results, else the family's exact method is run (bnb
    for caching, highs for scheduling) under --time-limit. References that contradict each
    other, or a proven optimum that a feasible run beats by more than 1e-6, are an error (that
    proof is wrong). Gap: (v − OPT)/|OPT| for minimisation, (OPT − v)/|OPT| for maximisation;
    regret: normalised against the family's plain baseline. --foresight N (caching) adds the least mean gap any policy that does not
    see the future can expect on the set (exact solves over N relabellings of the requests'
    models; see optkit.solvers.caching.foresight). Examples:

    \b
      optkit gap policy:runs/ddrl greedy-opt rand-coedge --instances sets/held-out
      optkit gap policy:runs/hybrid lfu random --instances sets/caching --foresight 30
    """
    instances = load_set(folder)
    if foresight_samples is not None and instances[0].family != "caching":
        raise OptkitError(f"{folder}: --foresight applies to caching sets only")
    check_methods(instances[0].family, methods)  # before any reference is solved
    with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("references", total=None)

        def progress(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total)

        refs, counts = references(instances, folder, results, time_limit, progress)
        report = measure(methods, instances, refs, counts, seed=seed, progress=progress)
    if foresight_samples is not None:
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("foresight bound", total=len(instances))
            summary = foresight(
                instances,
                foresight_samples,
                seed,
                progress=lambda done, total: bar.update(task, completed=done),
            )
        report = dataclasses.replace(report, foresight=summary)
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
