"""``optkit solve``: run methods on instance files; results lines and solution files out."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from optkit.cli.common import (
    FILES,
    TIME_LIMIT,
    FiniteFloatRange,
    err,
    expand_files,
    num,
    out,
    percent,
    refuse_overwriting,
    round_off,
    seconds,
)
from optkit.instances.io import Instance, load_instance
from optkit.instances.jsonio import write_json
from optkit.solvers import (
    Result,
    Status,
    append_results,
    lookup,
    methods,
    read_results,
    solve,
    stop,
)
from optkit.solvers.registry import exists, same_method

STATUS_STYLE = {
    Status.OPTIMAL: "green",
    Status.GAP_LIMIT: "green",
    Status.TIME_LIMIT: "yellow",
    Status.FEASIBLE: "cyan",
    Status.BOUND_ONLY: "cyan",
    Status.ERROR: "red",
}


class _SolveCommand(click.Command):
    """``solve --help`` ends with the methods of each family, their variants and summaries."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        for family in ("caching", "scheduling"):
            with formatter.section(f"{family.capitalize()} methods (NAME[:VARIANT])"):
                formatter.write_dl([(info.usage, info.summary) for info in methods(family)])


def _plan(instances: list[Instance], method_names: tuple[str, ...]) -> list[tuple[Instance, str]]:
    """The runs: each method on the instances of the families it exists for, in file order.
    A method that fits none of them, or a variant its method does not take, is an error before
    anything runs; instances a method skips (another family's) are noted in one line."""
    families = sorted({i.family for i in instances})
    runs: list[tuple[Instance, str]] = []
    skipped: list[str] = []
    for name in method_names:
        fits = [f for f in families if exists(f, name)]
        if not fits:
            lookup(families[0], name)  # raises the one-line "unknown method" error
        for family in fits:
            lookup(family, name)  # raises the one-line "unknown variant" error
        runs.extend((i, name) for i in instances if i.family in fits)
        others = [i.family for i in instances if i.family not in fits]
        if others:
            skipped.append(
                f"{len(others)} {others[0]} instance(s) for {name} (a {' and '.join(fits)} method)"
            )
    if skipped:
        click.echo(f"optkit: note: skipped {'; '.join(skipped)}", err=True)
    runs.sort(key=lambda run: instances.index(run[0]))
    return runs


def _check_outputs(
    paths: list[Path],
    instances: list[Instance],
    results_path: Path | None,
    solutions_dir: Path | None,
) -> None:
    """Refuse outputs that would overwrite an input file, and solution files that two inputs
    would write (two instances with one name)."""
    if results_path is not None:
        refuse_overwriting("--out", results_path, paths)
    if solutions_dir is None:
        return
    first: dict[str, Path] = {}
    for path, instance in zip(paths, instances, strict=True):
        if instance.name in first and not first[instance.name].samefile(path):
            raise click.UsageError(
                f"--solutions: {first[instance.name]} and {path} are both instance "
                f"{instance.name!r}, so both would write {solutions_dir / instance.name}.json; "
                "solve them separately"
            )
        first.setdefault(instance.name, path)
        refuse_overwriting("--solutions", solutions_dir / f"{instance.name}.json", paths)


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
            percent(round_off(r.gap)),
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
    type=TIME_LIMIT,
    help="seconds per instance and method (above 0, at most 1e9)",
)
@click.option(
    "--gap",
    type=FiniteFloatRange(min=0, max=1, max_open=True),
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
    interrupted command keeps what it finished. The first Ctrl-C stops after the current run,
    which bnb, scip and the scheduling MILPs end early with their best solution and proven
    bound; a second aborts it; exit status 130. Exit status 1 when any run ends in error.
    """
    paths = expand_files(files)
    instances = [load_instance(p) for p in paths]
    if solutions_dir is not None and len(method_names) > 1:
        raise click.UsageError("--solutions needs a single --method (files are named by instance)")
    _check_outputs(paths, instances, results_path, solutions_dir)
    # results are appended: an existing --out must be a results file (never an instance or
    # any other file that appending would spoil)
    recorded = (
        read_results(results_path)
        if results_path is not None and results_path.is_file() and results_path.stat().st_size
        else []
    )
    runs = _plan(instances, method_names)
    if resume:
        if results_path is None:
            raise click.UsageError("--resume needs --out (the results file to continue)")
        done: dict[str, list[str]] = {}
        for record in recorded:
            if record["seed"] == seed:
                done.setdefault(record["instance"], []).append(record["method"])
        before = len(runs)
        runs = [
            (i, m)
            for i, m in runs
            if not any(same_method(i.family, m, rec) for rec in done.get(i.name, []))
        ]
        if not runs:
            click.echo(
                f"resuming: all {before} runs are already in {results_path}; nothing to run",
                err=True,
            )
            return
        if before > len(runs):
            click.echo(
                f"resuming: {before - len(runs)} of {before} runs already in {results_path}",
                err=True,
            )
    results: list[Result] = []
    interrupted = False
    total = len(runs)

    def stopping() -> None:  # through the progress bar's console: the bar stays intact
        err.print(
            "optkit: stopping after this run (bnb, scip and the scheduling MILPs end it early "
            "with what they have; Ctrl-C again to abort it)",
            markup=False,
        )

    try:
        with (
            stop.first_ctrl_c_stops(stopping),
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=True,
                disable=verbose or not err.is_terminal,  # a pipe: no blank line
            ) as bar,
        ):
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
                if stop.requested():
                    interrupted = True
                    break
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
