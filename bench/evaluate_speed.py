"""How fast optkit.evaluate scores a solution, per preset and size.

Target (issue 3): a `large` instance well under a second. The solutions are the plain baselines'
(every request to the cloud / every task local), so every request or task is scored.

    python bench/evaluate_speed.py [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import optkit
from optkit.instances.generators import PRESETS, generate
from optkit.instances.solution import SchedulingSolution, TaskDecision
from optkit.solvers.baselines import no_cache
from optkit.solvers.registry import SolveOptions


def baseline_solution(inst: optkit.Instance) -> optkit.Solution:
    if inst.family == "caching":
        solution = no_cache(inst, SolveOptions()).solution  # type: ignore[arg-type]
        assert solution is not None
        return solution
    # every task local (the scheduling presets' exact_servers would refuse `local` itself)
    return SchedulingSolution(
        inst.name, "local", tuple(TaskDecision((t.bs,), (1.0,)) for t in inst.tasks)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="large size only, 3 repeats")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    sizes = ["large"] if args.quick else ["small", "medium", "large"]
    repeat = 3 if args.quick else args.repeat
    rows = []
    for family, presets in PRESETS.items():
        for preset in presets:
            for size in sizes:
                inst = generate(family, preset, size, seed=0)[0]
                solution = baseline_solution(inst)
                doc = solution.to_dict()
                optkit.evaluate(inst, solution)  # warm-up (builds the compiled view)
                typed, raw = [], []
                for _ in range(repeat):
                    t = time.perf_counter()
                    optkit.evaluate(inst, solution)
                    typed.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    optkit.evaluate(inst, doc)
                    raw.append(time.perf_counter() - t)
                n = len(inst.requests) if family == "caching" else len(inst.tasks)  # type: ignore[union-attr]
                rows.append((preset, size, n, statistics.median(typed), statistics.median(raw)))
    header = (
        "| preset | size | requests/tasks | evaluate (solution) | evaluate (raw JSON document) |"
    )
    lines = [header, "|---|---|---:|---:|---:|"]
    lines += [
        f"| {p} | {s} | {n} | {a * 1e3:.1f} ms | {b * 1e3:.1f} ms |" for p, s, n, a, b in rows
    ]
    table = "\n".join(lines)
    print(table)
    out = Path("bench/out")
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluate_speed.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
