"""bnb vs SCIP on the caching family (DESIGN §6 benchmark protocol), plus the relaxation's
bound gap and the per-slot allocation time.

Protocol: one process, imports done and one warm-up run discarded; one thread everywhere
(BLAS via the environment variables set below, SCIP, Clarabel); a fixed SCIP seed; the wall
time of ``optkit.solve`` including model construction; median of ``--repeats`` runs per
instance. Reported: the per-instance time ratio SCIP/bnb (median) and the shifted geometric
mean of times (shift 1 s) over the instances both solve, and separately the instances where
SCIP needs ≥ 10 s.

    python bench/caching_exact.py --quick          # a few minutes
    python bench/caching_exact.py                  # small and medium sets, 300 s limit
    python bench/caching_exact.py --sets medium --no-extras --out medium.md
    python bench/caching_exact.py --sets medium --no-extras --only scip   # one method now ...
    python bench/caching_exact.py --sets medium --no-extras --reuse scip  # ... the table later
    python bench/caching_exact.py --sets medium --preset edgeaigc --bnb bnb:frames --only bnb:frames

Every run is also appended to ``bench/out/caching_exact_runs.jsonl``; ``--reuse M`` takes M's
rows from there (same instance and time limit) instead of running it again, and ``--only M``
runs just M (the table shows the other as missing). Prints tables and writes ``bench/out/caching_exact.md``. Timings on a shared machine are noisy:
run it twice and compare.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import optkit  # noqa: E402
from optkit.instances.caching import CachingInstance  # noqa: E402
from optkit.solvers.caching.allocation import allocate_slot  # noqa: E402
from optkit.solvers.caching.bnb import solve as _bnb_import_check  # noqa: E402,F401

OUT = Path(__file__).resolve().parent / "out"
RUNS = OUT / "caching_exact_runs.jsonl"
#: Medium set: t2drl (one server, late weight 2, 6 frames) and edgeaigc (4 linked servers, late
#: weight 2, 4 frames), fixed seeds.
N_MEDIUM = {"t2drl": 4, "edgeaigc": 3}


def instance_sets(quick: bool) -> dict[str, list[CachingInstance]]:
    """Fixed sets: small (t2drl and edgeaigc, late weight 2, several servers for edgeaigc) and
    medium."""
    n_small = 2 if quick else 5
    sets: dict[str, list[CachingInstance]] = {"small": [], "medium": []}
    for preset in ("t2drl", "edgeaigc"):
        n_medium = 1 if quick else N_MEDIUM[preset]
        sets["small"] += optkit.generate("caching", preset, "small", seed=100, count=n_small)  # type: ignore[arg-type]
        sets["medium"] += optkit.generate("caching", preset, "medium", seed=100, count=n_medium)  # type: ignore[arg-type]
    return sets


def stored(inst: CachingInstance, method: str, time_limit: float) -> dict | None:
    """The last stored run of ``method`` on ``inst`` with this time limit, if any."""
    found = None
    if RUNS.exists():
        for line in RUNS.read_text().splitlines():
            row = json.loads(line)
            if (row["instance"], row["method"], row["limit"]) == (inst.name, method, time_limit):
                found = row
    return found


def run_or_reuse(
    inst: CachingInstance, method: str, time_limit: float, repeats: int, only: set, reuse: set
) -> dict | None:
    """A run's figures: stored (``reuse``), fresh (appended to the runs file), or None when
    ``only`` leaves the method out."""
    if method in reuse:
        return stored(inst, method, time_limit)
    if only and method not in only:
        return None
    row = timed(inst, method, time_limit, repeats)
    RUNS.parent.mkdir(parents=True, exist_ok=True)
    with RUNS.open("a") as f:
        record = {"instance": inst.name, "method": method, "limit": time_limit, **row}
        f.write(json.dumps(record) + "\n")
    return row


def timed(inst: CachingInstance, method: str, time_limit: float, repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = optkit.solve(inst, method, time_limit=time_limit, seed=0, threads=1)
        runs.append((time.perf_counter() - start, result))
        if result.status is not optkit.Status.OPTIMAL:
            break  # a run that hits the limit is not repeated
    wall = statistics.median(t for t, _ in runs)
    result = runs[-1][1]
    return {
        "status": result.status.value,
        "objective": result.objective,
        "bound": result.bound,
        "nodes": result.nodes,
        "time": wall,
    }


def shifted_geomean(values: list[float], shift: float = 1.0) -> float:
    return math.exp(sum(math.log(v + shift) for v in values) / len(values)) - shift


def fmt(x: float | None, digits: int = 10) -> str:
    return "-" if x is None else f"{x:.{digits}g}"


MISSING: dict = {"status": "-", "objective": None, "bound": None, "nodes": "-", "time": math.nan}


def compare(
    sets: dict[str, list[CachingInstance]],
    limit: float,
    repeats: int,
    only: set | None = None,
    reuse: set | None = None,
    bnb: str = "bnb",
) -> list[str]:
    lines: list[str] = []
    for name, instances in sets.items():
        rows = []
        header = f"| instance ({bnb}) | bnb status | bnb objective | bnb bound | bnb nodes | bnb time (s) | scip status | scip objective | scip bound | scip nodes | scip time (s) | ratio | agree |"
        lines += [f"\n### {name} set (time limit {limit:g} s)\n", header, "|" + "---|" * 13]
        print(f"\n{name} set")
        print(header)
        for inst in instances:
            b = run_or_reuse(inst, bnb, limit, repeats, only or set(), reuse or set()) or MISSING
            s = run_or_reuse(inst, "scip", limit, repeats, only or set(), reuse or set()) or MISSING
            both = b["status"] == s["status"] == "optimal"
            ratio = s["time"] / b["time"] if both else None
            agree = (
                optkit.agree(b["objective"], s["objective"])
                if b["objective"] is not None and s["objective"] is not None
                else None
            )
            row = (
                f"| {inst.name} | {b['status']} | {fmt(b['objective'])} | {fmt(b['bound'])} | {b['nodes']} "
                f"| {b['time']:.3f} | {s['status']} | {fmt(s['objective'])} | {fmt(s['bound'])} | {s['nodes']} "
                f"| {s['time']:.3f} | {fmt(ratio, 4)} | {agree} |"
            )
            print(row, flush=True)
            lines.append(row)
            rows.append((b, s, ratio))
        summary = ""
        presets = sorted({inst.name.split("-")[0] for inst in instances})
        groups = [("all", rows)] + [
            (p, [row for inst, row in zip(instances, rows, strict=True) if inst.name.startswith(p)])
            for p in presets
        ]
        for label, group in groups if len(presets) > 1 else groups[:1]:
            summary += _summary(label, group)
        print(summary)
        lines.append(summary)
    return lines


def _summary(label: str, rows: list[tuple[dict, dict, float | None]]) -> str:
    solved = [(b, s, r) for b, s, r in rows if r is not None]
    if solved:
        ratios = [r for _, _, r in solved]
        text = (
            f"\n[{label}] both optimal on {len(solved)}/{len(rows)}: per-instance time ratio "
            f"scip/bnb median {statistics.median(ratios):.1f}x (min {min(ratios):.1f}x); "
            f"shifted geometric mean (1 s) bnb "
            f"{shifted_geomean([b['time'] for b, _, _ in solved]):.3f} s, scip "
            f"{shifted_geomean([s['time'] for _, s, _ in solved]):.3f} s"
        )
        hard = [(b, s, r) for b, s, r in solved if s["time"] >= 10]
        if hard:
            text += (
                f"\n[{label}] SCIP ≥ 10 s on {len(hard)}: median ratio "
                f"{statistics.median([r for _, _, r in hard]):.1f}x, shifted geomean bnb "
                f"{shifted_geomean([b['time'] for b, _, _ in hard]):.3f} s, scip "
                f"{shifted_geomean([s['time'] for _, s, _ in hard]):.3f} s"
            )
    else:
        text = f"\n[{label}] no instance solved to optimality by both."
    only_bnb = [b for b, s, _ in rows if b["status"] == "optimal" and s["status"] != "optimal"]
    only_scip = [b for b, s, _ in rows if s["status"] == "optimal" and b["status"] != "optimal"]
    text += (
        f"\n[{label}] proven optimal by bnb but not by SCIP within the limit: {len(only_bnb)}; "
        f"by SCIP but not by bnb: {len(only_scip)}"
    )
    return text


def relaxation_gaps(instances: list[CachingInstance], limit: float) -> list[str]:
    """(bound − optimum)/max(|optimum|, 1) of ``relax`` and ``relax-sets`` where bnb proves
    the optimum."""
    lines = [
        "\n### Relaxation bounds on the small set\n",
        "| instance | optimum | relax | gap | relax-sets | gap |",
        "|---|---|---|---|---|---|",
    ]
    print("\nrelaxations")
    gaps: dict[str, list[float]] = {"relax": [], "relax-sets": []}
    for inst in instances:
        opt = optkit.solve(inst, "bnb", time_limit=limit)
        cells = [inst.name, "-"]
        proven = opt.status is optkit.Status.OPTIMAL and opt.objective is not None
        if proven:
            cells[1] = f"{opt.objective:.10g}"
        for method in ("relax", "relax-sets"):
            rel = optkit.solve(inst, method)
            cells.append(fmt(rel.bound))
            if proven and rel.bound is not None and opt.objective is not None:
                gap = (rel.bound - opt.objective) / max(abs(opt.objective), 1.0)
                gaps[method].append(gap)
                cells.append(f"{100 * gap:.2f} %")
            else:
                cells.append("-")
        row = "| " + " | ".join(cells) + " |"
        print(row)
        lines.append(row)
    for method, values in gaps.items():
        if values:
            text = (
                f"\n{method}: relative bound gap (bound − opt)/max(|opt|, 1) median "
                f"{100 * statistics.median(values):.2f} %, max {100 * max(values):.2f} %"
            )
            print(text)
            lines.append(text)
    return lines


def allocation_timing(quick: bool) -> list[str]:
    """Median time of one exact slot allocation on t2drl small, caches from the optimum."""
    lines = ["\n### Exact per-slot allocation (t2drl small, optimal caches)\n"]
    times = []
    for inst in optkit.generate("caching", "t2drl", "small", seed=100, count=2 if quick else 5):
        assert isinstance(inst, CachingInstance)
        result = optkit.solve(inst, "bnb")
        assert result.solution is not None
        c = inst.compiled
        cache = np.zeros((c.frames, c.n_servers, c.n_models), bool)
        for t, frame in enumerate(result.solution.cache):
            for e, models in enumerate(frame):
                cache[t, e, list(models)] = True
        for g in range(c.n_slots):
            for _ in range(5):
                start = time.perf_counter()
                allocate_slot(c, g, cache[g // c.slots_per_frame])
                times.append(time.perf_counter() - start)
    text = (
        f"{len(times)} allocations: median {1e3 * statistics.median(times):.3f} ms, "
        f"p90 {1e3 * float(np.percentile(times, 90)):.3f} ms, max {1e3 * max(times):.3f} ms"
    )
    print("\nallocation:", text)
    lines.append(text)
    return lines


def write(lines: list[str], path: Path) -> None:
    """The report so far, replaced atomically (an interrupted run keeps what it has)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer instances, 60 s limit")
    parser.add_argument("--limit", type=float, default=None, help="time limit per run (s)")
    parser.add_argument("--repeats", type=int, default=None, help="runs per instance (median)")
    parser.add_argument(
        "--sets", default="small,medium", help="comma-separated: small, medium (default both)"
    )
    parser.add_argument(
        "--no-extras", action="store_true", help="skip the relaxation and allocation figures"
    )
    parser.add_argument("--out", default="caching_exact.md", help="report name in bench/out/")
    parser.add_argument(
        "--only", default="", help="comma-separated methods to run (the --bnb method, scip)"
    )
    parser.add_argument(
        "--bnb", default="bnb", help="the bnb method or variant (bnb, bnb:tree, bnb:frames)"
    )
    parser.add_argument(
        "--preset", default="", help="only instances of this preset (t2drl or edgeaigc)"
    )
    parser.add_argument(
        "--reuse", default="", help="comma-separated methods whose stored runs are reused"
    )
    args = parser.parse_args()
    limit = args.limit or (60.0 if args.quick else 300.0)
    repeats = args.repeats or (1 if args.quick else 3)
    every = instance_sets(args.quick)
    chosen = [name.strip() for name in args.sets.split(",") if name.strip()]
    sets = {name: [i for i in every[name] if i.name.startswith(args.preset)] for name in chosen}
    path = OUT / args.out
    warm = every["small"][0]
    optkit.solve(warm, args.bnb)  # warm-up, discarded
    optkit.solve(warm, "scip")
    lines = [
        f"# bnb vs SCIP on caching ({time.strftime('%Y-%m-%d %H:%M')}, quick={args.quick}, "
        f"limit {limit:g} s, median of {repeats})"
    ]
    for name, instances in sets.items():
        only = {m.strip() for m in args.only.split(",") if m.strip()}
        reuse = {m.strip() for m in args.reuse.split(",") if m.strip()}
        lines += compare({name: instances}, limit, repeats, only, reuse, args.bnb)
        write(lines, path)
    if not args.no_extras:
        lines += relaxation_gaps(every["small"], limit)
        write(lines, path)
        lines += allocation_timing(args.quick)
        write(lines, path)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
