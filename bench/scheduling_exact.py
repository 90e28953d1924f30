"""Scheduling family: the clairvoyant MILP optimum against the online methods, and how far the
MILP's proofs scale (issue 5).

    python bench/scheduling_exact.py --quick     # a few minutes
    python bench/scheduling_exact.py             # the full tables (a quiet machine, about an hour)

Tables (printed, and written as markdown to bench/out/scheduling_exact.md):

1. Per preset (``smcoedge`` with its exactly-3 rule, the same instances with any subset, and
   ``amcoedge``), on ``small`` instances: the MILP optimum (``highs``, checked against ``scip``)
   and ``greedy-opt``, ``fastest-k``, ``random-k``, ``local`` — mean make-span, failure rate,
   mean cost per task, mean policy gap to the optimum, time per decision.
2. ``greedy-opt``'s time per decision on ``large`` instances (5 servers: 31 subsets under
   ``amcoedge``, 10 under ``smcoedge``'s exactly-3), the whole online loop included, and every
   online method's make-span and failure rate at that scale (the authors' episode size).
3. MILP scaling: one slot holding the first m tasks of a ``large`` slot (m grows), then whole
   ``small`` and ``medium`` horizons — seconds and status of HiGHS and SCIP under a time limit.

Protocol (DESIGN §6): one process, imports done and a warm-up run discarded, one thread
everywhere, fixed seeds; online times are the median of ``--repeats`` runs; exact solves run once
(they are the slow part; the status says whether they proved optimality). Timings on a shared
machine are noisy: run it twice and compare.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import statistics  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402
from rich.table import Table  # noqa: E402

import optkit  # noqa: E402
from optkit.instances.scheduling import SchedulingInstance  # noqa: E402
from optkit.solvers.result import Result  # noqa: E402
from optkit.solvers.scheduling.decompose import parts  # noqa: E402

OUT = Path(__file__).resolve().parent / "out" / "scheduling_exact.md"
ONLINE = ("greedy-opt", "fastest-k", "random-k", "local")
console = Console(width=None if os.isatty(1) else 150)


@dataclasses.dataclass
class Report:
    """Markdown sections, written after every table so an interrupted run keeps them."""

    title: str
    sections: list[str] = dataclasses.field(default_factory=list)

    def add(self, heading: str, grid: Grid, note: str = "") -> None:
        console.print(grid.rich())
        if note:
            console.print(note)
        self.sections.append(
            f"## {heading}\n\n{grid.markdown()}\n" + (f"\n{note}\n" if note else "")
        )
        self.write()

    def write(self) -> None:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        tmp = OUT.with_suffix(".md.tmp")
        tmp.write_text(f"# {self.title}\n\n" + "\n".join(self.sections), encoding="utf-8")
        tmp.replace(OUT)


@dataclasses.dataclass
class Grid:
    """A table kept as strings, shown with rich and written as markdown."""

    title: str
    headers: list[str]
    rows: list[list[str]] = dataclasses.field(default_factory=list)

    def add_row(self, *cells: str) -> None:
        self.rows.append(list(cells))

    def rich(self) -> Table:
        table = Table(title=self.title)
        for i, header in enumerate(self.headers):
            table.add_column(header, justify="left" if i == 0 else "right")
        for row in self.rows:
            table.add_row(*row)
        return table

    def markdown(self) -> str:
        lines = [f"**{self.title}**", "", "| " + " | ".join(self.headers) + " |"]
        lines.append("|---|" + "---:|" * (len(self.headers) - 1))
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


def seconds(value: float) -> str:
    if value < 1e-3:
        return f"{value * 1e6:.1f} µs"
    if value < 1.0:
        return f"{value * 1e3:.2f} ms"
    return f"{value:.2f} s"


def timed(fn: Callable[[], Result], repeats: int) -> tuple[Result, float]:
    """The last result and the median of the method's own wall time over ``repeats`` runs
    (``Result.wall_time_s``: the decisions, not the evaluator's scoring afterwards)."""
    results = [fn() for _ in range(repeats)]
    return results[-1], statistics.median(r.wall_time_s for r in results)


def any_subset(instance: SchedulingInstance) -> SchedulingInstance:
    return dataclasses.replace(
        instance, name=instance.name + "-any", max_servers=None, exact_servers=False
    )


def warm_up() -> None:
    instance = optkit.generate("scheduling", "amcoedge", "tiny", seed=0)[0]
    for method in ("highs", "scip", "enumerate", *ONLINE):
        optkit.solve(instance, method)


def compare_policies(args: argparse.Namespace, report: Report, progress: Progress) -> None:
    groups = {
        "smcoedge (exactly 3)": optkit.generate(
            "scheduling", "smcoedge", "small", seed=args.seed, count=args.count
        ),
        "amcoedge (any subset)": optkit.generate(
            "scheduling", "amcoedge", "small", seed=args.seed, count=args.count
        ),
    }
    groups["smcoedge (any subset)"] = [any_subset(i) for i in groups["smcoedge (exactly 3)"]]
    for label, instances in groups.items():
        task = progress.add_task(label, total=len(instances) * (2 + len(ONLINE)))
        rows: dict[str, list[tuple[Result, float, int]]] = {}
        optimum: dict[str, float] = {}
        agree = 0
        exact_times: dict[str, list[float]] = {"highs": [], "scip": []}
        for inst in instances:
            n = len(inst.tasks)
            highs = optkit.solve(inst, "highs", time_limit=args.time_limit)
            progress.advance(task)
            scip = optkit.solve(inst, "scip", time_limit=args.time_limit)
            progress.advance(task)
            rows.setdefault("clairvoyant MILP (highs)", []).append((highs, highs.wall_time_s, n))
            exact_times["highs"].append(highs.wall_time_s)
            exact_times["scip"].append(scip.wall_time_s)
            assert highs.objective is not None and scip.objective is not None
            agree += optkit.agree(highs.objective, scip.objective)
            optimum[inst.name] = highs.objective
            for method in ONLINE:
                result, wall = timed(
                    lambda m=method, i=inst: optkit.solve(i, m, seed=args.seed), args.repeats
                )
                rows.setdefault(method, []).append((result, wall, n))
                progress.advance(task)
        table = Grid(
            f"{label}: {len(instances)} small instances",
            [
                "method",
                "runs",
                "mean make-span",
                "failure rate",
                "cost / task",
                "gap to optimum",
                "time / decision",
            ],
        )
        for method, runs in rows.items():
            done = [(r, w, n) for r, w, n in runs if r.objective is not None]
            if not done:
                table.add_row(method, "refused", "-", "-", "-", "-", "-")
                continue
            spans = [r.metrics["mean_make_span_s"] for r, _, _ in done]  # type: ignore[index]
            fails = [r.metrics["failure_rate"] for r, _, _ in done]  # type: ignore[index]
            cost = [r.objective / n for r, _, n in done]  # type: ignore[operator]
            gaps = [
                optkit.policy_gap(r.objective, optimum[r.instance], "min")  # type: ignore[arg-type]
                for r, _, _ in done
            ]
            mean_gap = max(0.0, statistics.mean(g for g in gaps if g is not None))  # no "-0.00"
            per_decision = sum(w for _, w, _ in done) / sum(n for _, _, n in done)
            statuses = sorted({r.status.value for r, _, _ in done})
            table.add_row(
                method,
                f"{len(done)} {'/'.join(statuses)}",
                f"{statistics.mean(spans):.4f} s",
                f"{100 * statistics.mean(fails):.1f} %",
                f"{statistics.mean(cost):.4f} s",
                f"{100 * mean_gap:.2f} %",
                seconds(per_decision),
            )
        per_instance = "; ".join(
            f"{m} median {seconds(statistics.median(t))}, max {seconds(max(t))}"
            for m, t in exact_times.items()
        )
        note = (
            f"highs and scip agree (1e-6) on {agree}/{len(instances)} instances. "
            f"MILP time per instance: {per_instance}. "
            "Online methods see only the present state; the MILP sees the whole horizon. "
            "Gap: (cost − optimum)/optimum, mean over instances."
        )
        report.add(f"Policies on {label}", table, note)


def greedy_speed(args: argparse.Namespace, report: Report) -> None:
    table = Grid(
        "greedy-opt time per decision (whole online loop)",
        ["instance", "tasks", "subsets", "time / decision"],
    )
    for preset in ("amcoedge", "smcoedge"):
        inst = optkit.generate("scheduling", preset, args.speed_size, seed=args.seed)[0]
        _, wall = timed(lambda i=inst: optkit.solve(i, "greedy-opt"), args.repeats)
        subsets = len(inst.compiled.allowed_subsets)
        table.add_row(
            inst.name, str(len(inst.tasks)), str(subsets), seconds(wall / len(inst.tasks))
        )
    report.add(
        "greedy-opt speed",
        table,
        "Median over the repeats of the method's own time (scoring by optkit.evaluate excluded).",
    )


def online_at_scale(args: argparse.Namespace, report: Report) -> None:
    table = Grid(
        f"online methods on {args.speed_size} instances (no proof at this size)",
        ["instance", "method", "mean make-span", "failure rate", "mean servers", "time / decision"],
    )
    for preset in ("amcoedge", "smcoedge"):
        base = optkit.generate("scheduling", preset, args.speed_size, seed=args.seed)[0]
        for inst in (base, any_subset(base)) if preset == "smcoedge" else (base,):
            for method in ONLINE:
                r = optkit.solve(inst, method, seed=args.seed)
                if r.metrics is None:
                    table.add_row(inst.name, method, "refused", "-", "-", "-")
                    continue
                table.add_row(
                    inst.name,
                    r.method,
                    f"{r.metrics['mean_make_span_s']:.4f} s",
                    f"{100 * r.metrics['failure_rate']:.2f} %",
                    f"{r.metrics['mean_servers']:.2f}",
                    seconds(r.wall_time_s / len(inst.tasks)),
                )
    report.add(
        "Online methods at the authors' scale",
        table,
        "For context only, the authors' AMCoEdge repository stores mean make-spans from its own "
        "runs (not a paper table; their model caps waits and failed tasks at T_dl): Optimal "
        "0.2069 s, AMCoEdge 0.2116 s, SMCoEdge (k = 3) 0.2479 s, RandCoEdge 0.3014 s.",
    )


def one_slot(instance: SchedulingInstance, m: int) -> SchedulingInstance:
    tasks = tuple(t for t in instance.tasks if t.slot == 0)[:m]
    return dataclasses.replace(instance, name=f"{instance.name}-slot0-{m}", slots=1, tasks=tasks)


def scaling(args: argparse.Namespace, report: Report, progress: Progress) -> None:
    table = Grid(
        f"MILP scaling (time limit {args.time_limit:g} s)",
        ["instance", "tasks", "largest part", "highs", "scip", "highs gap"],
    )
    cases: list[SchedulingInstance] = []
    for preset in ("amcoedge", "smcoedge"):
        big = optkit.generate("scheduling", preset, "large", seed=args.seed)[0]
        cases += [one_slot(big, m) for m in args.slot_tasks]
    for preset in ("amcoedge", "smcoedge"):
        for size in args.horizons:
            cases += optkit.generate("scheduling", preset, size, seed=args.seed, count=1)
    task = progress.add_task("MILP scaling", total=len(cases))
    stop = set()  # (preset-group, solver) that already ran out of time on fewer tasks
    for inst in cases:
        group = inst.name.rsplit("-", 1)[0] if "slot0" in inst.name else inst.name
        largest = max(p.end_task - p.first_task for p in parts(inst))
        cells = []
        highs_gap = "-"
        for method in ("highs", "scip"):
            key = (group, method)
            if key in stop:
                cells.append("skipped")
                continue
            r = optkit.solve(inst, method, time_limit=args.time_limit)
            cells.append(f"{seconds(r.wall_time_s)} {r.status.value}")
            if method == "highs" and r.gap is not None:
                highs_gap = f"{100 * r.gap:.2f} %"
            if r.status is optkit.Status.TIME_LIMIT and "slot0" in inst.name:
                stop.add(key)
        table.add_row(inst.name, str(len(inst.tasks)), str(largest), *cells, highs_gap)
        progress.advance(task)
    report.add(
        "MILP scaling",
        table,
        "One slot: the first m tasks of slot 0 of a large instance (all in one part). "
        "Horizons: whole generated instances, split into independent parts where the queues "
        "provably empty. 'skipped': a smaller case of the same kind already hit the limit.",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer instances, shorter limits")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, help="small instances per preset")
    parser.add_argument("--time-limit", type=float, help="seconds per exact solve")
    parser.add_argument("--repeats", type=int, help="runs per online timing (median)")
    args = parser.parse_args()
    quick = args.quick
    args.count = args.count or (3 if quick else 10)
    args.time_limit = args.time_limit or (20.0 if quick else 120.0)
    args.repeats = args.repeats or 3
    args.speed_size = "medium" if quick else "large"
    args.slot_tasks = list(range(2, 9)) if quick else list(range(2, 13))
    args.horizons = ["small"] if quick else ["small", "medium"]
    report = Report(
        f"Scheduling: exact vs online ({'quick' if quick else 'full'}, seed {args.seed})"
    )
    warm_up()
    with Progress(console=console, transient=True) as progress:
        try:
            greedy_speed(args, report)
            online_at_scale(args, report)
            compare_policies(args, report, progress)
            scaling(args, report, progress)
        except KeyboardInterrupt:
            console.print("interrupted: the tables finished so far are written")
    console.print(f"markdown: {OUT}")


if __name__ == "__main__":
    main()
