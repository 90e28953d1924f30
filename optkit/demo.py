"""``make demo``: the main job end to end on a small embedded default, through the real CLI.

Every step is an ``optkit`` command line, echoed before it runs, so the demo doubles as a tour.
Output goes to ``demo-out/`` (recreated on every run).
"""

from __future__ import annotations

import shlex
import shutil
import sys
import time
from pathlib import Path

from optkit.cli.main import main as optkit_main

OUT = Path("demo-out")

STEPS: list[tuple[str, str]] = [
    ("Generate small benchmark sets of both families (same seed, same bytes)",
     f"generate caching --preset t2drl --size small --count 3 --seed 1 --out {OUT}/caching"),
    ("",
     f"generate scheduling --preset amcoedge --size small --count 3 --seed 1 --out {OUT}/scheduling"),
    ("Validate every file", f"validate {OUT} --quiet"),
    ("Look at one instance", f"info {OUT}/caching/t2drl-small-s1-000.json"),
    ("Run the plain baselines; objectives come from optkit.evaluate",
     f"solve {OUT}/caching {OUT}/scheduling -m no-cache -m local --out {OUT}/results.jsonl"),
    ("Write one method's solutions and score one of them",
     f"solve {OUT}/caching -m no-cache --solutions {OUT}/solutions/no-cache"),
    ("", f"evaluate {OUT}/caching/t2drl-small-s1-000.json {OUT}/solutions/no-cache/t2drl-small-s1-000.json"),
    ("Prove the optima: optkit's branch-and-bound (caching) and the MILP through HiGHS (scheduling), "
     "beside heuristics and the authors' online baselines",
     f"solve {OUT}/caching -m bnb -m lfu -m popularity-oracle --out {OUT}/caching-results.jsonl"),
    ("", f"solve {OUT}/scheduling -m highs -m greedy-opt -m fastest-k --out {OUT}/scheduling-results.jsonl"),
    ("Keep the proven optima as reference files (MIPLIB .solu)",
     f"reference {OUT}/caching-results.jsonl --out {OUT}/caching/caching.solu"),
    ("", f"reference {OUT}/scheduling-results.jsonl --out {OUT}/scheduling/scheduling.solu"),
    ("Train a small DRL caching agent (the hybrid: Double DQN caching per frame, optkit's exact "
     "allocation per slot) and run it as a method",
     f"train hybrid --family caching --preset t2drl --size small --steps 3000 --eval-count 2 "
     f"--seed 1 --out {OUT}/runs/hybrid --quiet"),
    ("", f"solve {OUT}/caching -m policy:{OUT}/runs/hybrid --out {OUT}/caching-results.jsonl"),
    ("Measure every policy by its optimality gap against the proven optima",
     f"gap policy:{OUT}/runs/hybrid lfu lru no-cache --instances {OUT}/caching"),
    ("", f"gap greedy-opt fastest-k rand-coedge local --instances {OUT}/scheduling"),
]  # fmt: skip


def run_step(command: str) -> None:
    print(f"\n$ optkit {command}", flush=True)
    try:
        optkit_main(shlex.split(command))
    except SystemExit as exc:
        if exc.code not in (0, None):
            print(f"demo: step failed with exit status {exc.code}", file=sys.stderr)
            raise


def main() -> None:
    start = time.perf_counter()
    shutil.rmtree(OUT, ignore_errors=True)
    for title, command in STEPS:
        if title:
            print(f"\n── {title}")
        run_step(command)
    print(f"\ndemo finished in {time.perf_counter() - start:.1f} s; files in {OUT}/")


if __name__ == "__main__":
    main()
