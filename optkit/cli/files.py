"""``optkit generate | validate | info | evaluate``: files in, files or tables out."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from optkit.cli.common import FILES, err, expand_files, num, out
from optkit.errors import InvalidFileError, OptkitError
from optkit.evaluate import evaluate
from optkit.instances import FAMILIES
from optkit.instances.caching import CachingInstance
from optkit.instances.common import SOLUTION_FORMAT
from optkit.instances.generators import PRESETS, SIZES, iter_generate
from optkit.instances.io import Document, Instance, expect_solution, from_dict, load_instance
from optkit.instances.jsonio import read_json, write_json
from optkit.instances.scheduling import SchedulingInstance
from optkit.instances.schema import counted
from optkit.instances.solution import CachingSolution
from optkit.instances.summary import summarize


def describe(doc: Document) -> str:
    """One line about a valid document."""
    if isinstance(doc, CachingInstance):
        return (
            f"caching instance {doc.name!r}: {counted(len(doc.servers), 'server')}, "
            f"{counted(len(doc.models), 'model')}, {counted(len(doc.requests), 'request')}, "
            f"{doc.frames}×{doc.slots_per_frame} slots"
        )
    if isinstance(doc, CachingSolution):
        return (
            f"caching solution for {doc.instance!r} by {doc.method!r} "
            f"({counted(len(doc.requests), 'request')})"
        )
    if isinstance(doc, SchedulingInstance):
        return (
            f"scheduling instance {doc.name!r}: {counted(len(doc.servers), 'server')}, "
            f"{counted(len(doc.tasks), 'task')}, {counted(doc.slots, 'slot')}"
        )
    return (
        f"scheduling solution for {doc.instance!r} by {doc.method!r} "
        f"({counted(len(doc.tasks), 'task')})"
    )


@click.command()
@click.argument("family", type=click.Choice(FAMILIES))
@click.option(
    "--preset", required=True, help="caching: t2drl, edgeaigc; scheduling: smcoedge, amcoedge"
)
@click.option("--size", type=click.Choice(SIZES), default="small", show_default=True)
@click.option(
    "--count", type=click.IntRange(min=1), default=1, show_default=True, help="instances to write"
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="folder to write into",
)
def generate(family: str, preset: str, size: str, count: int, seed: int, out_dir: Path) -> None:
    """Write COUNT instances of a preset as OUT/<preset>-<size>-s<SEED>-<NNN>.json, where NNN
    is the instance's index, zero-padded: 000, 001, ...

    The same arguments write byte-identical files. Presets:

    \b
    caching     t2drl     one edge server, quality vs latency
                edgeaigc  several linked servers, a slower and dearer cloud
    scheduling  smcoedge  SMCoEdge defaults (exactly 3 servers per task; tiny: 2)
                amcoedge  AMCoEdge defaults (any subset)
    """
    instances = iter_generate(family, preset, size, seed, count)
    written = 0
    with Progress(
        TextColumn("generating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=count < 5 or not err.is_terminal,  # in a pipe it would leave a blank line
    ) as bar:
        task = bar.add_task("generate", total=count)
        for instance in instances:
            write_json(out_dir / f"{instance.name}.json", instance.to_dict())
            written += 1
            bar.advance(task)
    out.print(
        f"wrote {written} {family} instance(s) ({preset}, {size}, seed {seed}) to {escape(str(out_dir))}",
        soft_wrap=True,
    )


@click.command()
@FILES
@click.option(
    "--instance",
    "instance_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="also check the feasibility of solution files against this instance",
)
@click.option("-q", "--quiet", is_flag=True, help="print only problems")
def validate(files: tuple[Path, ...], instance_path: Path | None, quiet: bool) -> None:
    """Check instance and solution files (folders: their *.json files).

    Every broken rule is printed as one line: FILE: JSON.PATH: RULE. Exit status 0 when every
    file is valid, 1 when any is not, 2 when a file cannot be read at all (not UTF-8 text, no
    permission; every other file is still checked).
    """
    instance = load_instance(instance_path) if instance_path else None
    bad = unreadable = 0
    paths = expand_files(files)
    for path in paths:
        problems: list[str] = []
        doc: Document | None = None
        try:
            data = read_json(path)
            if (
                instance is not None
                and isinstance(data, dict)
                and data.get("format") == SOLUTION_FORMAT
            ):
                ev = evaluate(instance, data)
                problems = [f"{path}: {v}" for v in ev.violations]
            if not problems:
                doc = from_dict(data, str(path))
        except InvalidFileError as exc:
            problems = exc.messages
        except OptkitError as exc:  # not even text: nothing to validate
            unreadable += 1
            click.echo(str(exc))
            continue
        if problems:
            bad += 1
            for line in problems:
                click.echo(line)
        elif not quiet:
            assert doc is not None
            click.echo(f"ok  {path}: {describe(doc)}")
    if not quiet or bad or unreadable:
        counts = f"{len(paths) - bad - unreadable} valid, {bad} invalid"
        click.echo(counts + (f", {unreadable} unreadable" if unreadable else ""))
    if unreadable:
        raise click.exceptions.Exit(2)
    if bad:
        raise click.exceptions.Exit(1)


@click.command()
@FILES
def info(files: tuple[Path, ...]) -> None:
    """A readable summary of instances: sizes, loads, popularity, step and storage pressure."""
    for path in expand_files(files):
        render_summary(load_instance(path))


def render_summary(instance: Instance) -> None:
    summary = summarize(instance)
    out.rule(f"[bold]{escape(summary.title)}")
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    for key, value in summary.facts:
        facts.add_row(escape(key), escape(value))
    out.print(facts)
    for t in summary.tables:
        table = Table(
            title=escape(t.title),
            title_justify="left",
            caption=escape(t.note) or None,
            caption_justify="left",
        )
        for col in t.columns:
            table.add_column(
                escape(col), justify="left" if col in ("server", "model", "links") else "right"
            )
        for row in t.rows:
            table.add_row(*(escape(str(v)) for v in row))
        out.print(table)


METRIC_LABELS = {
    "total_utility": "total utility",
    "switch_cost": "switch cost (w_s · GB)",
    "hit_ratio": "hit ratio",
    "edge_ratio": "edge ratio",
    "mean_delay_s": "mean delay (s)",
    "p95_delay_s": "p95 delay (s)",
    "mean_quality": "mean quality",
    "total_cost": "total cost",
    "late_share": "late share",
    "gb_loaded": "GB loaded",
    "mean_make_span_s": "mean make-span (s)",
    "failure_rate": "failure rate",
    "mean_servers": "mean servers per task",
    "utilisation": "utilisation per server",
}


@click.command(name="evaluate")
@click.argument("instance_path", metavar="INSTANCE", type=click.Path(path_type=Path))
@click.argument("solution_path", metavar="SOLUTION", type=click.Path(path_type=Path))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='print {"feasible", "violations", "objective", "metrics"}',
)
def evaluate_cmd(instance_path: Path, solution_path: Path, as_json: bool) -> None:
    """Check SOLUTION against INSTANCE and print its objective and metrics.

    Every violated feasibility rule is listed (JSON path first); the objective is computed
    whenever the decisions can be read. Exit status 0 when feasible, 1 when not, 2 when a file
    cannot be read or is not what is expected (an instance given as the solution).
    """
    instance = load_instance(instance_path)
    data = read_json(solution_path)
    expect_solution(data, str(solution_path))  # the wrong file is a usage error (exit 2)
    ev = evaluate(instance, data)
    if as_json:
        click.echo(json.dumps(ev.to_json(), indent=2))
    else:
        sense = "maximise" if instance.family == "caching" else "minimise"
        table = Table(
            title=f"{escape(instance.name)} ({instance.family}, {sense})", title_justify="left"
        )
        table.add_column("metric")
        table.add_column("value", justify="right")
        table.add_row("[bold]objective", f"[bold]{num(ev.objective, 10)}")
        for key, value in (ev.metrics or {}).items():
            shown = ", ".join(f"{v:.3g}" for v in value) if isinstance(value, list) else num(value)
            table.add_row(METRIC_LABELS.get(key, key), shown)
        out.print(table)
        if ev.feasible:
            out.print("[green]feasible")
        else:
            out.print(f"[red]infeasible: {len(ev.violations)} violation(s)")
            for v in ev.violations:
                click.echo(f"{solution_path}: {v}")
    if not ev.feasible:
        raise click.exceptions.Exit(1)


__all__ = ["PRESETS", "evaluate_cmd", "generate", "info", "validate"]
