"""``optkit solve``: run methods on instance files; results lines and solution files out."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from optkit.cli.common import FILES, err, expand_files, num, out, percent, seconds
from optkit.errors import OptkitError
from optkit.instances.io import Instance, load_instance
from optkit.instances.jsonio import write_json
from optkit.solvers import Result, Status, append_results, lookup, methods, read_results, solve
from optkit.solvers.registry import same_method

STATUS_STYLE = {
    Status.OPTIMAL: "green",
    Status.GAP_LIMIT: "green",
    Status.TIME_LIMIT: "yellow",
    Status.FEASIBLE: "cyan",
    Status.BOUND_ONLY: "cyan",
    Status.ERROR: "red",
}


def _method_help() -> str:
    lines = []
    for family in ("caching", "scheduling"):
        for info in methods(family):
            variants = f" [:{'|'.join(info.variants)}]" if info.variants else ""
            lines.append(f"{family:<11} {info.name}{variants}: {info.summary}")
    return "\n".join(lines)


class _SolveCommand(click.Command):
    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_paragraph()
        formatter.write_text("Methods:")
        with formatter.indentation():
            for line in _method_help().splitlines():
                formatter.write_text(line)


def _exists(family: str, method: str) -> bool:
    try:
        lookup(family, method)
    except OptkitError:
        return False
    return True


def results_table(results: list[Result]) -> Table:
    table = Table(title_justify="left")
    for col, justify in (
        ("instance", "left"),
        ("method", "left"),
        ("status", "left"),
        ("objective", "right"),
        ("bound", "right"),
        ("gap", "right"),
        ("time", "right"),
        ("nodes", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in results:
        style = STATUS_STYLE[r.status]
        table.add_row(
            escape(r.instance),
            escape(r.method),
            f"[{style}]{r.status.value}",
            num(r.objective, 10),
            num(r.bound, 10),
            percent(r.gap),
            seconds(r.wall_time_s),
            "-" if r.nodes is None else str(r.nodes),
        )
    return table


@click.command(cls=_SolveCommand)
@FILES
@click.option(
    "-m",
    "--method",
    "method_names",
    multiple=True,
    required=True,
    help="method name (repeat for several)",
)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0, min_open=True),
    help="seconds per instance and method",
)
@click.option(
    "--gap",
    type=click.FloatRange(min=0, max=1, max_open=True),
    help="stop exact methods at this relative gap",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--out",
    "results_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="append one results line per run (JSON Lines)",
)
@click.option(
    "--solutions",
    "solutions_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="write each solution as DIR/<instance>.json",
)
@click.option(
    "--resume",
    is_flag=True,
    help="skip runs already recorded in --out (same instance, method, seed)",
)
@click.option("-v", "--verbose", is_flag=True, help="show the methods' progress logs")
def solve_cmd(
    files: tuple[Path, ...],
    method_names: tuple[str, ...],
    time_limit: float | None,
    gap: float | None,
    seed: int,
    threads: int,
    results_path: Path | None,
    solutions_dir: Path | None,
    resume: bool,
    verbose: bool,
) -> None:
    """Solve instance files (folders: their *.json files) with one or more methods.

    Objectives come from optkit.evaluate. Results lines are appended as each run ends, so an
    interrupted run keeps what it finished. Exit status 1 when any run ends in error.
    """
    paths = expand_files(files)
    instances = [load_instance(p) for p in paths]
    # each method runs on the instances of the families it exists for; one that fits none of
    # the given instances is an error (before anything runs)
    families = sorted({i.family for i in instances})
    runs: list[tuple[Instance, str]] = []
    for name in method_names:
        fits = [f for f in families if _exists(f, name)]
        if not fits:
            lookup(families[0], name)  # raises the one-line "unknown method" error
        runs.extend((i, name) for i in instances if i.family in fits)
    runs.sort(key=lambda run: instances.index(run[0]))
    if resume:
        if results_path is None:
            raise click.UsageError("--resume needs --out (the results file to continue)")
        done: dict[str, list[str]] = {}
        if results_path.exists():
            for record in read_results(results_path):
                if record["seed"] == seed:
                    done.setdefault(record["instance"], []).append(record["method"])
        before = len(runs)
        runs = [
            (i, m)
            for i, m in runs
            if not any(same_method(i.family, m, rec) for rec in done.get(i.name, []))
        ]
        if before > len(runs):
            click.echo(
                f"resuming: {before - len(runs)} of {before} runs already in {results_path}",
                err=True,
            )
    if solutions_dir is not None and len(method_names) > 1:
        raise click.UsageError("--solutions needs a single --method (files are named by instance)")
    results: list[Result] = []
    interrupted = False
    total = len(runs)
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=verbose or total < 2,
        ) as bar:
            task = bar.add_task("solving", total=total)
            for instance, name in runs:
                bar.update(task, description=f"{instance.name} · {name}")
                result = solve(
                    instance,
                    name,
                    time_limit=time_limit,
                    gap=gap,
                    seed=seed,
                    threads=threads,
                    verbose=verbose,
                )
                results.append(result)
                if results_path is not None:
                    append_results(results_path, result)
                if solutions_dir is not None and result.solution is not None:
                    write_json(solutions_dir / f"{instance.name}.json", result.solution.to_dict())
                bar.advance(task)
    except KeyboardInterrupt:
        interrupted = True
    out.print(results_table(results))
    for r in results:
        if r.message:
            click.echo(f"{r.instance} · {r.method}: {r.message}", err=True)
    if interrupted:
        click.echo(f"optkit: interrupted after {len(results)} of {total} runs", err=True)
        raise click.exceptions.Exit(130)
    if any(r.status is Status.ERROR for r in results):
        raise click.exceptions.Exit(1)
