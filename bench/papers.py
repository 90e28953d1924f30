"""The papers' comparisons rebuilt on optkit instances, every system judged by its gap to the
proven optimum (issue 7).

    python bench/papers.py --quick     # short trainings, a few minutes on 2 cores
    python bench/papers.py             # the issue's budgets (a quiet machine, about an hour)

Tables (printed, and written as markdown to bench/out/papers.md):

1. Scheduling, per preset (``amcoedge`` and ``smcoedge``, ``small``): DDRL-AMSA (diffusion SAC
   over server subsets), SMCoEdge (top-k DQN, k = 3), DRLCoEdge (DQN, one partner server;
   refused by ``smcoedge``'s exactly-3 rule), RandCoEdge, greedy-opt (the authors' online
   "Optimal"), fastest-k, local, and the clairvoyant optimum (``highs``, which also gives the
   references) — mean make-span, failure rate, objective, mean / median / p95 gap, time per
   decision, training time. Each system trains on the preset's generated stream (seed 0) and is
   measured on a disjoint held-out set (seed 1 000 000), through ``optkit.measure.measure``.
2. CartPole-v1 (the seed paper's only published DRL check): diffusion SAC vs DQN vs discrete
   SAC, fixed seeds (quick: 0 and 1, 15 000 steps; full: 0, 1, 2, 30 000 steps), the final
   greedy average return over 20 episodes per seed. Each agent at its defaults but for the
   widths (64, 64), 1 000 random steps first and, for diffusion SAC, γ = 0.99 (its default is
   the scheduling papers' 0.95).
3. Caching: ``bench/papers_caching.py``'s ``run(quick)`` when that file exists.

Protocol: one process, one torch thread, fixed seeds. Training times on a shared machine are
noisy: run it twice and compare.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

import optkit  # noqa: E402
from optkit.drl.agents import make_config  # noqa: E402
from optkit.drl.envs import EnvSpec  # noqa: E402
from optkit.drl.setup import EVAL_SEED, Choices, new_run  # noqa: E402
from optkit.drl.train import RunSpec, Trainer, TrainSettings  # noqa: E402
from optkit.measure import measure, references  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "papers.md"
console = Console(width=None if os.isatty(1) else 160)

#: system → (agent, hyperparameters); steps come from the mode
SYSTEMS = {"DDRL-AMSA": "ddrl-amsa", "SMCoEdge": "smcoedge", "DRLCoEdge": "drlcoedge"}
ONLINE = {
    "RandCoEdge": "rand-coedge",
    "greedy-opt": "greedy-opt",
    "fastest-k": "fastest-k",
    "local": "local",
}


def train(agent: str, preset: str, steps: int, out: Path) -> tuple[Path, float]:
    """Train ``agent`` on ``preset`` small; (run directory, seconds)."""
    spec = new_run(
        Choices(
            agent=agent,
            steps=steps,
            seed=0,
            family="scheduling",
            preset=preset,
            size="small",
            eval_count=4,
            eval_every=steps,
            device="cpu",
        )
    )
    start = time.perf_counter()
    Trainer(spec, out).run(handle_sigint=False)
    return out, time.perf_counter() - start


def scheduling(preset: str, steps: int, held_out: int, work: Path) -> tuple[Table, str]:
    folder = work / f"{preset}-held-out"
    folder.mkdir()
    instances = optkit.generate("scheduling", preset, "small", seed=EVAL_SEED, count=held_out)
    for inst in instances:
        optkit.save(inst, folder / f"{inst.name}.json")
    refs, counts = references(instances, folder, [], time_limit=120.0)
    methods: dict[str, str] = {}
    trained: dict[str, float] = {}
    for label, agent in SYSTEMS.items():
        try:
            run, seconds = train(agent, preset, steps, work / f"{preset}-{agent}")
        except optkit.errors.OptkitError as exc:
            console.print(f"[yellow]{label} on {preset}: {exc}[/]")
            continue
        methods[label], trained[label] = f"policy:{run}", seconds
        console.print(f"{label} on {preset}: trained {steps} steps in {seconds:.0f} s")
    methods |= ONLINE
    methods["optimum (highs)"] = "highs"
    report = measure(list(methods.values()), instances, refs, counts, seed=0, time_limit=120.0)
    headers = [
        "system",
        "make-span (s)",
        "failure rate",
        "objective",
        "mean gap",
        "median gap",
        "p95 gap",
        "time/decision",
        "training",
    ]
    table = Table(title=f"scheduling · {preset} small · {held_out} held-out instances")
    for i, h in enumerate(headers):
        table.add_column(h, justify="left" if i == 0 else "right")
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for (label, _), row in zip(methods.items(), report.rows, strict=True):
        if row.solved == 0:
            cells = [label, "refused", "", "", "", "", "", "", ""]
        else:
            f = row.figures
            cells = [
                label,
                f"{f['mean_make_span_s']:.5f}",
                f"{100 * (f['failure_rate'] or 0):.1f} %",
                f"{row.mean_objective:.5f}",
                _pct(row.mean_gap),
                _pct(row.median_gap),
                _pct(row.p95_gap),
                f"{1000 * (row.time_per_decision_s or 0):.2f} ms",
                f"{trained[label]:.0f} s" if label in trained else "-",
            ]
        table.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
    note = f"references: {counts}; training: {steps} env steps per system, seed 0, 1 thread"
    return table, f"### {preset} small\n\n{note}\n\n" + "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f} %"


CARTPOLE = {
    "dqn": {"learning_starts": "1000", "exploration_steps": "10000", "hidden": "64,64"},
    "discrete-sac": {"learning_starts": "1000", "hidden": "64,64"},
    "diffusion-sac": {"learning_starts": "1000", "hidden": "64,64", "gamma": "0.99"},
}


def cartpole(steps: int, seeds: list[int], work: Path) -> tuple[Table, str]:
    table = Table(title=f"CartPole-v1 · {steps} steps · seeds {seeds} · greedy return (20 ep.)")
    headers = ["agent", "mean final return", "per seed", "training"]
    for i, h in enumerate(headers):
        table.add_column(h, justify="left" if i == 0 else "right")
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for agent, values in CARTPOLE.items():
        returns, seconds = [], []
        for seed in seeds:
            spec = RunSpec(
                agent,
                make_config(agent, values),
                EnvSpec("gym:CartPole-v1"),
                TrainSettings(steps=steps, seed=seed, eval_every=steps, eval_episodes=20),
            )
            start = time.perf_counter()
            outcome = Trainer(spec, work / f"cartpole-{agent}-{seed}").run(handle_sigint=False)
            seconds.append(time.perf_counter() - start)
            assert outcome.last_eval is not None
            returns.append(outcome.last_eval.mean_return)
        cells = [
            agent,
            f"{statistics.mean(returns):.1f}",
            ", ".join(f"{r:.0f}" for r in returns),
            f"{statistics.mean(seconds):.0f} s",
        ]
        table.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
        console.print(f"CartPole {agent}: {cells[1]} ({cells[2]})")
    return table, "\n".join(lines) + "\n"


def caching(quick: bool) -> str:
    path = HERE / "papers_caching.py"
    if not path.exists():
        return "caching part: bench/papers_caching.py not present\n"
    spec = importlib.util.spec_from_file_location("papers_caching", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text: str = module.run(quick)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short trainings (minutes)")
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["scheduling", "cartpole", "caching"]
    )
    parser.add_argument(
        "--cartpole-seeds", nargs="+", type=int, help="CartPole seeds (quick: 0 1; full: 0 1 2)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    steps = 20_000 if args.quick else 40_000
    held_out = 4 if args.quick else 8
    cart_steps, seeds = (15_000, [0, 1]) if args.quick else (30_000, [0, 1, 2])
    seeds = args.cartpole_seeds or seeds
    sections = [f"# The papers' systems ({'quick' if args.quick else 'full'} mode)\n"]
    OUT.parent.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "scheduling" not in args.skip:
            sections.append("## Scheduling\n")
            for preset in ("amcoedge", "smcoedge"):
                table, md = scheduling(preset, steps, held_out, work)
                console.print(table)
                sections.append(md)
                OUT.write_text("\n".join(sections), encoding="utf-8")
        if "cartpole" not in args.skip:
            table, md = cartpole(cart_steps, seeds, work)
            console.print(table)
            sections += ["## CartPole-v1\n", md]
            OUT.write_text("\n".join(sections), encoding="utf-8")
        if "caching" not in args.skip:
            text = caching(args.quick)
            console.print(text)
            sections += ["## Caching\n", text]
    OUT.write_text("\n".join(sections), encoding="utf-8")
    console.print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
