"""``optkit gap``: policies and heuristics measured by their gap to the reference optimum.

Every method named (any ``optkit solve`` method: ``policy:RUN_DIR``, a heuristic, even an
exact one) runs on every instance of ``--instances DIR``; each objective comes from
:func:`optkit.evaluate` (through :func:`optkit.solvers.result.finish`). The reference optimum
of an instance is, in this order: an ``=opt=`` line of a ``*.solu`` file in DIR, a proof in the
``--reference`` results files, a ``=best=`` value of either (marked: a gap to it may be
negative), or — when none has it — the family's exact method run now (``bnb`` for caching,
``highs`` for scheduling, under ``--time-limit``; a run stopped by the limit gives a ``best``
reference). The table gives per method (DESIGN §4's conventions, :mod:`optkit.gaps`): mean /
median / p95 relative policy gap, mean normalised regret against the family's plain baseline
(caching ``no-cache:equal``, scheduling ``local``), the family's own figures (caching: hit
ratio and total utility; scheduling: mean make-span and failure rate), and the time per
decision: the method's wall time over the instance's decisions (caching: slots; scheduling:
tasks), after one discarded warm-up run (loading a policy is not a decision).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.table import Table

from optkit.cli.common import err, expand_files, num, out, percent, seconds
from optkit.errors import OptkitError
from optkit.gaps import Sense, normalised_regret, policy_gap
from optkit.instances.common import SENSE
from optkit.instances.io import Instance, load_instance
from optkit.instances.jsonio import write_text_atomic
from optkit.instances.solu import Reference, read_solu_folder, references_from_results
from optkit.solvers import read_results
from optkit.solvers.registry import lookup, solve
from optkit.solvers.result import Result, Status

#: The exact method that supplies a missing reference, by family.
EXACT = {"caching": "bnb", "scheduling": "highs"}
#: The family's plain baseline of the normalised regret (DESIGN §4).
BASELINE = {"caching": "no-cache:equal", "scheduling": "local"}


@dataclass(frozen=True)
class MethodRow:
    """One method's line of the table; gaps and regrets over the instances it solved that
    have a reference (``None`` when there are none)."""

    method: str
    solved: int
    errors: int
    mean_gap: float | None
    median_gap: float | None
    p95_gap: float | None
    mean_regret: float | None
    mean_objective: float | None
    figures: dict[str, float | None]
    time_per_decision_s: float | None
    error: str | None = None
    per_instance: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class GapReport:
    family: str
    instances: int
    references: dict[str, int]
    rows: list[MethodRow]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


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


def references(
    instances: Sequence[Instance],
    folder: Path,
    results: Sequence[Path],
    time_limit: float,
) -> tuple[dict[str, Reference], dict[str, int]]:
    """The reference of every instance (see the module doc) and how many came from where."""
    solu = read_solu_folder(folder)
    from_results = {
        r.name: r for r in references_from_results(rec for p in results for rec in read_results(p))
    }
    refs: dict[str, Reference] = {}
    counts = {"solu": 0, "results": 0, "solved": 0, "best": 0, "none": 0}
    for inst in instances:
        name = inst.name
        found = [s.get(name) for s in (solu, from_results)]
        proven = [r for r in found if r is not None and r.kind == "opt"]
        known = proven or [r for r in found if r is not None and r.kind == "best"]
        if known:
            ref = known[0]
            counts["solu" if ref is found[0] else "results"] += 1
        else:
            result = solve(inst, EXACT[inst.family], time_limit=time_limit)
            if result.objective is None:
                counts["none"] += 1
                continue
            ref = Reference(
                name, "opt" if result.status == Status.OPTIMAL else "best", result.objective
            )
            counts["solved"] += 1
        counts["best"] += ref.kind == "best"
        refs[name] = ref
    return refs, counts


def decisions(instance: Instance) -> int:
    """Decisions an episode makes: caching slots, scheduling tasks."""
    if instance.family == "caching":
        return int(instance.frames * instance.slots_per_frame)  # type: ignore[union-attr]
    return len(instance.tasks)  # type: ignore[union-attr]


def _figures(family: str, results: Sequence[Result]) -> dict[str, float | None]:
    keys = (
        ("hit_ratio", "total_utility")
        if family == "caching"
        else ("mean_make_span_s", "failure_rate")
    )

    def mean(key: str) -> float | None:
        values = [float(r.metrics[key]) for r in results if r.metrics and key in r.metrics]
        return float(np.mean(values)) if values else None

    return {k: mean(k) for k in keys}


def measure(
    methods: Sequence[str],
    instances: Sequence[Instance],
    refs: dict[str, Reference],
    ref_counts: dict[str, int],
    seed: int = 0,
    time_limit: float | None = None,
) -> GapReport:
    """Run every method on every instance and summarise (see the module doc)."""
    family = instances[0].family
    sense: Sense = "max" if SENSE[family] == "max" else "min"
    for method in methods:
        lookup(family, method)  # unknown names: one line before anything runs
        if method.startswith("policy:"):
            from optkit.drl.policy import load_policy

            load_policy(method.partition(":")[2])
    baseline = {i.name: solve(i, BASELINE[family], seed=seed).objective for i in instances}
    rows = []
    for method in methods:
        solve(instances[0], method, seed=seed, time_limit=time_limit)  # warm-up, discarded
        done: list[Result] = []
        gaps: list[float] = []
        regrets: list[float] = []
        per_instance: dict[str, dict[str, Any]] = {}
        first_error: str | None = None
        wall, count = 0.0, 0
        for inst in instances:
            result = solve(inst, method, seed=seed, time_limit=time_limit)
            if result.status == Status.ERROR or result.objective is None:
                first_error = first_error or result.message or result.status.value
                per_instance[inst.name] = {"status": result.status.value, "error": result.message}
                continue
            done.append(result)
            wall += result.wall_time_s
            count += decisions(inst)
            ref, base = refs.get(inst.name), baseline[inst.name]
            gap = regret = None
            if ref is not None and ref.value is not None:
                gap = policy_gap(result.objective, ref.value, sense)
                if base is not None:
                    regret = normalised_regret(result.objective, ref.value, base, sense)
            if gap is not None:
                gaps.append(gap)
            if regret is not None:
                regrets.append(regret)
            per_instance[inst.name] = {
                "status": result.status.value,
                "objective": result.objective,
                "reference": None if ref is None else ref.value,
                "gap": gap,
                "regret": regret,
            }

        def stat(values: list[float], q: float | None = None) -> float | None:
            if not values:
                return None
            return float(np.mean(values) if q is None else np.quantile(values, q))

        rows.append(
            MethodRow(
                method=method,
                solved=len(done),
                errors=len(instances) - len(done),
                mean_gap=stat(gaps),
                median_gap=stat(gaps, 0.5),
                p95_gap=stat(gaps, 0.95),
                mean_regret=stat(regrets),
                mean_objective=stat([float(r.objective) for r in done if r.objective is not None]),
                figures=_figures(family, done),
                time_per_decision_s=wall / count if count else None,
                error=first_error,
                per_instance=per_instance,
            )
        )
    return GapReport(family, len(instances), ref_counts, rows)


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
