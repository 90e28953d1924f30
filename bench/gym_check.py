"""Check optkit's agents on environments nobody here wrote, and measure env throughput.

    python bench/gym_check.py            # 3 seeds per agent, then throughput (about 25 min on 2 cores)
    python bench/gym_check.py --quick    # 1 seed per agent, shorter throughput runs (about 8 min)
    python bench/gym_check.py --only throughput

Learning: DQN and Double DQN on CartPole-v1, DDPG, TD3 and SAC on Pendulum-v1, through the
same ``Trainer`` as ``optkit train`` (recipes below, fixed seeds, one torch thread). The final
average return is the greedy policy's mean over 10 fixed evaluation episodes after the last
step. Widely reported levels: CartPole-v1 500 at most, 475 counts as solved (Gymnasium's
reward threshold); Pendulum-v1 has no threshold, TD3 and SAC are commonly reported around
−150 to −200 (targets here: ≥ 475 and ≥ −250).

Throughput: random valid actions (drawn beforehand) on the unwrapped env, instance generation
and reset excluded, one thread; the median of 3 timed runs is reported with the preset and
size. Results are printed and written as markdown to ``bench/out/gym_check.md``.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from optkit.drl.agents import make_config
from optkit.drl.envs import CachingSlotEnv, EnvSpec, GeneratedSource, SchedulingEnv
from optkit.drl.envs.caching import CachingFrameEnv
from optkit.drl.train import RunSpec, Trainer, TrainSettings

OUT = Path(__file__).resolve().parent / "out"
console = Console()
if not console.is_terminal:  # files and pipes: full-width tables
    console.width = 160

# CartPole: few large bursts of updates, the learning rate annealed to 0 over the run (DQN's
# final greedy policy is otherwise often caught in one of its collapses).
CARTPOLE = {
    "learning_rate": 2.3e-3,
    "batch_size": 64,
    "buffer_size": 100_000,
    "learning_starts": 1_000,
    "train_frequency": 64,
    "gradient_steps": 32,
    "target_network_frequency": 64,
    "exploration_steps": 8_000,
    "end_e": 0.04,
    "lr_anneal_steps": 50_000,
}
PENDULUM = {"gamma": 0.98, "learning_starts": 1_000, "batch_size": 256, "hidden": "128,128"}


@dataclass(frozen=True)
class Recipe:
    agent: str
    env: str
    steps: int
    hyperparameters: dict[str, Any]
    target: float
    reported: str


RECIPES = [
    Recipe("dqn", "CartPole-v1", 50_000, CARTPOLE, 475, "500 max, 475 solved"),
    Recipe("ddqn", "CartPole-v1", 50_000, CARTPOLE, 475, "500 max, 475 solved"),
    Recipe(
        "ddpg",
        "Pendulum-v1",
        20_000,
        {**PENDULUM, "actor_learning_rate": 1e-3, "critic_learning_rate": 1e-3},
        -250,
        "about −150…−200 (TD3/SAC)",
    ),
    Recipe(
        "td3",
        "Pendulum-v1",
        20_000,
        {**PENDULUM, "actor_learning_rate": 1e-3, "critic_learning_rate": 1e-3},
        -250,
        "about −150…−200",
    ),
    Recipe(
        "sac",
        "Pendulum-v1",
        20_000,
        {**PENDULUM, "policy_learning_rate": 1e-3, "q_learning_rate": 1e-3},
        -250,
        "about −150…−200",
    ),
]


def train_once(recipe: Recipe, seed: int, root: Path) -> tuple[float, float]:
    """(final average return, wall seconds) of one seeded run."""
    run = RunSpec(
        recipe.agent,
        make_config(recipe.agent, recipe.hyperparameters),
        EnvSpec(f"gym:{recipe.env}"),
        TrainSettings(steps=recipe.steps, seed=seed, eval_every=recipe.steps, device="cpu"),
    )
    start = time.perf_counter()
    outcome = Trainer(run, root / f"{recipe.agent}-{seed}").run(handle_sigint=False)
    assert outcome.last_eval is not None
    return outcome.last_eval.mean_return, time.perf_counter() - start


def learning(seeds: list[int], agents: list[str] | None) -> list[str]:
    table = Table(title="Learning checks (final greedy return, 10 episodes)", title_justify="left")
    for col in (
        "agent",
        "env",
        "steps",
        "returns by seed",
        "mean",
        "minutes/run",
        "reported",
        "target",
    ):
        table.add_column(col)
    lines = [
        "| agent | env | steps | final return by seed | mean | minutes per run | widely reported | target met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for recipe in RECIPES:
            if agents and recipe.agent not in agents:
                continue
            results = [train_once(recipe, seed, Path(tmp)) for seed in seeds]
            returns = [r for r, _ in results]
            minutes = statistics.mean(t for _, t in results) / 60
            met = all(r >= recipe.target for r in returns)
            shown = ", ".join(f"{r:.1f}" for r in returns)
            verdict = f"{'yes' if met else 'NO'} (≥ {recipe.target})"
            table.add_row(
                recipe.agent,
                recipe.env,
                f"{recipe.steps:,}",
                shown,
                f"{np.mean(returns):.1f}",
                f"{minutes:.1f}",
                recipe.reported,
                verdict,
            )
            lines.append(
                f"| {recipe.agent} | {recipe.env} | {recipe.steps:,} | {shown} | {np.mean(returns):.1f} "
                f"| {minutes:.1f} | {recipe.reported} | {verdict} |"
            )
    console.print(table)
    return lines


def throughput(env: Any, steps: int, repeats: int = 3) -> float:
    """Median steps per second over ``repeats`` runs of about ``steps`` steps; random valid
    actions drawn beforehand; reset (and instance generation) outside the timed part."""
    rng = np.random.default_rng(0)
    space = env.action_space
    if hasattr(space, "n"):
        actions: Any = rng.integers(0, space.n, 4096).tolist()
    else:
        actions = list(rng.uniform(-1, 1, (4096, *space.shape)).astype(np.float32))
    rates = []
    for _ in range(repeats):
        done_steps, elapsed = 0, 0.0
        while done_steps < steps:
            env.reset()
            step, i, done = env.step, done_steps, False
            start = time.perf_counter()
            while not done:
                done = step(actions[i % 4096])[2]
                i += 1
            elapsed += time.perf_counter() - start
            done_steps = i
        rates.append(done_steps / elapsed)
    return statistics.median(rates)


def throughputs(quick: bool) -> list[str]:
    n = 20_000 if quick else 100_000
    cases = [
        ("caching-slot", "t2drl", "small", CachingSlotEnv, 20_000),
        ("caching-slot", "t2drl", "medium", CachingSlotEnv, 20_000),
        ("caching-slot", "edgeaigc", "small", CachingSlotEnv, 20_000),
        ("caching-slot", "edgeaigc", "medium", CachingSlotEnv, 20_000),
        ("caching-frame", "t2drl", "small", CachingFrameEnv, None),
        ("scheduling", "amcoedge", "medium", SchedulingEnv, 50_000),
        ("scheduling", "smcoedge", "medium", SchedulingEnv, 50_000),
        ("scheduling", "amcoedge", "large", SchedulingEnv, 50_000),
    ]
    table = Table(title="Env throughput (one thread, random valid actions)", title_justify="left")
    for col in ("env", "preset · size", "steps/s", "target"):
        table.add_column(col)
    lines = [
        "| env | preset · size | steps per second (median of 3) | target |",
        "|---|---|---|---|",
    ]
    for name, preset, size, cls, target in cases:
        family = "scheduling" if name == "scheduling" else "caching"
        env = cls(GeneratedSource(family, preset, size, seed=1, count=4))
        rate = throughput(env, n if name != "caching-frame" else n // 10)
        verdict = "-" if target is None else f"{'yes' if rate >= target else 'NO'} (≥ {target:,})"
        table.add_row(name, f"{preset} · {size}", f"{rate:,.0f}", verdict)
        lines.append(f"| {name} | {preset} · {size} | {rate:,.0f} | {verdict} |")
    console.print(table)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, shorter throughput runs")
    parser.add_argument("--only", choices=("learning", "throughput"), help="run one part")
    parser.add_argument("--agents", nargs="*", help="a subset of dqn ddqn ddpg td3 sac")
    parser.add_argument("--seeds", type=int, nargs="*", help="seeds (default 1 2 3; quick: 1)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = args.seeds or ([1] if args.quick else [1, 2, 3])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    header = [
        "# gym_check",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M')} · {platform.processor() or platform.machine()} · "
        f"{os.cpu_count()} CPUs · load average at start {load:.2f} · torch {torch.__version__} "
        f"(1 thread) · mode {'quick' if args.quick else 'full'}",
        "",
    ]
    lines = list(header)
    if args.only in (None, "learning"):
        lines += [*learning(seeds, args.agents), ""]
    if args.only in (None, "throughput"):
        lines += [*throughputs(args.quick), ""]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "gym_check.md").write_text("\n".join(lines), encoding="utf-8")
    console.print(f"written {OUT / 'gym_check.md'}")


if __name__ == "__main__":
    main()
