"""The price of not knowing the future: how close *any* non-anticipative caching policy can get
to the clairvoyant optimum, on the held-out set of ``bench/papers_caching.py``.

For each instance, :func:`optkit.solvers.caching.foresight.non_anticipative_bound` averages
exact solves over relabellings of the requests' models (the generators' popularity ranking is a
uniformly random permutation, so every relabelling is equally likely) and bounds what a policy
that picks frame 0's caches blind can expect: objective ≤ ``objective bound``, gap to the
clairvoyant optimum ≥ ``gap bound``. The mean of the per-instance gap bounds bounds the mean gap
any non-anticipative policy — LFU, a trained DDQN, the hybrid — can expect on this set; the
realised gaps of the blind heuristics on the instances as given are printed beside it.

    python bench/caching_foresight.py --quick   # 4 instances, 8 relabellings (about a minute)
    python bench/caching_foresight.py           # 10 instances, 30 relabellings (5–10 minutes)

Prints a rich table and writes ``bench/out/caching_foresight.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

import optkit
from optkit.gaps import policy_gap
from optkit.instances.caching import CachingInstance
from optkit.solvers.caching.foresight import ForesightBound, non_anticipative_bound
from optkit.solvers.caching.heuristics import popularity_oracle_policy
from optkit.solvers.caching.plan import optimal_allocation

OUT = Path(__file__).parent / "out"
PRESET, SIZE, HELD_OUT_SEED = "t2drl", "small", 1_000_000  # bench/papers_caching.py's set
BLIND = ["lfu:optimal", "random:optimal", "no-cache:optimal"]
#: A hand-built blind policy with exact allocation (see :func:`blind_knapsack`).
BLIND_KNAPSACK = "best blind frame 0 + last frame's knapsack"


def blind_knapsack(instance: CachingInstance, bound: ForesightBound) -> float:
    """The objective of a policy that never sees a frame's requests before choosing its
    caches: frame 0 the bound's best blind cache, every later frame the popularity oracle's
    knapsack on the *previous* frame's counts, every slot allocated exactly."""
    c = instance.compiled
    oracle = popularity_oracle_policy(instance, np.random.default_rng(0))  # [frame] on its counts
    cache = np.zeros_like(oracle)
    for v, models in enumerate(bound.best_first_cache):
        cache[0, v, list(models)] = True
    cache[1:] = oracle[:-1]
    solution, _ = optimal_allocation(c, instance.name, "blind-knapsack", cache)
    return optkit.evaluate(instance, solution).objective


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 instances, 8 relabellings")
    parser.add_argument("--instances", type=int, help="held-out instances (default 10)")
    parser.add_argument("--samples", type=int, help="relabellings per instance (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="draw of the relabellings")
    args = parser.parse_args()
    count = args.instances or (4 if args.quick else 10)
    samples = args.samples or (8 if args.quick else 30)
    console = Console(width=None if os.isatty(1) else 160)
    instances = [
        i
        for i in optkit.generate("caching", PRESET, SIZE, seed=HELD_OUT_SEED, count=count)
        if isinstance(i, CachingInstance)
    ]
    bounds: list[ForesightBound] = []
    realised: dict[str, list[float]] = {m: [] for m in [*BLIND, BLIND_KNAPSACK]}
    start = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("instances", total=count * samples)
        for inst in instances:
            bound = non_anticipative_bound(
                inst,
                samples=samples,
                seed=args.seed,
                progress=lambda done, total: progress.advance(task),
            )
            bounds.append(bound)
            values = {m: optkit.solve(inst, m).objective for m in BLIND}
            values[BLIND_KNAPSACK] = blind_knapsack(inst, bound)
            for method, value in values.items():
                gap = None if value is None else policy_gap(value, bound.optimum, "max")
                if gap is not None:
                    realised[method].append(gap)
    headers = [
        "instance",
        "first caches",
        "optimum",
        "mean optimum (relabelled)",
        "objective bound",
        "gap bound",
    ]
    rows = [
        [
            b.instance,
            str(b.first_caches),
            f"{b.optimum:.3f}",
            f"{b.mean_optimum:.3f}",
            f"{b.objective_bound:.3f} ± {b.objective_stderr:.3f}",
            "-" if b.gap_bound is None else f"{b.gap_bound:.1%} ± {b.gap_stderr:.1%}",
        ]
        for b in bounds
    ]
    gap_bounds = [b.gap_bound for b in bounds if b.gap_bound is not None]
    mean_bound = statistics.fmean(gap_bounds) if gap_bounds else None
    # standard error of the mean of independent per-instance estimates
    errors = [b.gap_stderr for b in bounds if b.gap_bound is not None]
    mean_err = sum(e * e for e in errors) ** 0.5 / len(errors) if errors else 0.0
    median_bound = statistics.median(gap_bounds) if gap_bounds else None
    table = Table(title=f"Non-anticipative bound · {PRESET} {SIZE} · {samples} relabellings")
    for h in headers:
        table.add_column(h, justify="left" if h == "instance" else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    summary = [
        f"Mean gap bound over {len(gap_bounds)} instances: "
        + ("-" if mean_bound is None else f"**{mean_bound:.1%}** ± {mean_err:.1%}")
        + (
            ""
            if median_bound is None
            else f" (median of the per-instance bounds {median_bound:.1%})"
        )
        + " — no non-anticipative policy can expect a smaller mean gap to the clairvoyant "
        "optimum on this set.",
        "Realised mean gap of blind policies (exact allocation) on the instances as given: "
        + ", ".join(f"{m} {statistics.fmean(v):.1%}" for m, v in realised.items() if v)
        + ".",
        f"Total time {time.perf_counter() - start:.0f} s "
        f"({sum(b.solves for b in bounds)} exact solves).",
    ]
    for line in summary:
        console.print(line)
    lines = [
        f"## Non-anticipative bound ({'quick' if args.quick else 'full'})",
        "",
        f"`{PRESET}` {SIZE}, held-out seed {HELD_OUT_SEED}, {count} instances, {samples} "
        f"relabellings each (seed {args.seed}); ± one standard error over the relabellings.",
        "",
        "| " + " | ".join(headers) + " |",
        "|---|" + "---:|" * (len(headers) - 1),
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        *summary,
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "caching_foresight.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
