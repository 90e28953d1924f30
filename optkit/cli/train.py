"""``optkit train``: train a DRL agent on generated or given instances, with progress,
held-out evaluation, atomic checkpoints, ``--resume`` and a Ctrl-C that keeps a checkpoint."""

from __future__ import annotations

from pathlib import Path

import click
import torch
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from optkit.cli.common import err, num, out, percent, round_off
from optkit.drl.agents import agent_class, agent_names, make_config
from optkit.drl.compose import (
    CompositionTrainer,
    describe_composition,
    is_composition,
    new_composition_run,
)
from optkit.drl.config import describe, parse_assignments, read_toml
from optkit.drl.evaluation import EvalReport
from optkit.drl.setup import EVAL_SEED, Choices, check_resume, new_run, new_run_dir
from optkit.drl.train import Progress as TrainProgress
from optkit.drl.train import Trainer
from optkit.instances import FAMILIES
from optkit.instances.generators import SIZES


def _eval_text(report: EvalReport | None) -> str:
    if report is None:
        return "eval -"
    if report.mean_objective is None:
        return f"eval return {num(report.mean_return, 4)}"
    text = f"eval {num(report.mean_objective, 5)}"
    if report.regret is not None:
        return f"{text} · regret {num(round_off(report.regret), 3)}"
    if report.gap_to_baseline is not None:
        return f"{text} · gap vs {report.baseline} {percent(round_off(report.gap_to_baseline))}"
    return text


@click.command()
@click.argument("agent", metavar="AGENT")
@click.option("--family", type=click.Choice(FAMILIES), help="instance family")
@click.option("--preset", help="caching: t2drl, edgeaigc; scheduling: smcoedge, amcoedge")
@click.option("--size", type=click.Choice(SIZES), default="small", show_default=True)
@click.option(
    "--env",
    "env_name",
    help="caching-slot | caching-frame | scheduling | gym:ID (default: by family and agent)",
)
@click.option("--steps", type=click.IntRange(min=1), help="total env steps of the run")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="run directory"
)
@click.option("--resume", is_flag=True, help="continue the run in --out (up to --steps)")
@click.option(
    "--set", "sets", multiple=True, metavar="KEY=VALUE", help="a hyperparameter (repeatable)"
)
@click.option(
    "--env-set", "env_sets", multiple=True, metavar="KEY=VALUE", help="an env option (repeatable)"
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML file of hyperparameters ([env] table: env options)",
)
@click.option(
    "--instances",
    type=click.Path(file_okay=False, path_type=Path),
    help="train on the instance files of this folder",
)
@click.option(
    "--train-count",
    type=click.IntRange(min=1),
    help="cycle over this many generated training instances",
)
@click.option(
    "--eval-instances",
    type=click.Path(file_okay=False, path_type=Path),
    help="held-out instance folder",
)
@click.option(
    "--eval-count",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="held-out instances generated",
)
@click.option(
    "--eval-seed",
    type=click.IntRange(min=0),
    default=EVAL_SEED,
    show_default=True,
    help="seed of the held-out set",
)
@click.option(
    "--eval-every",
    type=click.IntRange(min=0),
    default=0,
    help="env steps between evaluations [steps/10]",
)
@click.option(
    "--checkpoint-every",
    type=click.IntRange(min=0),
    default=0,
    help="env steps between checkpoints [as --eval-every]",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N")
@click.option(
    "--threads", type=click.IntRange(min=1), default=1, show_default=True, help="torch CPU threads"
)
@click.option("--show-config", is_flag=True, help="print the agent's hyperparameters and exit")
@click.option("-q", "--quiet", is_flag=True, help="no progress bar")
def train(
    agent: str,
    family: str | None,
    preset: str | None,
    size: str,
    env_name: str | None,
    steps: int | None,
    seed: int,
    out_dir: Path | None,
    resume: bool,
    sets: tuple[str, ...],
    env_sets: tuple[str, ...],
    config_file: Path | None,
    instances: Path | None,
    train_count: int | None,
    eval_instances: Path | None,
    eval_count: int,
    eval_seed: int,
    eval_every: int,
    checkpoint_every: int,
    device: str,
    threads: int,
    show_config: bool,
    quiet: bool,
) -> None:
    """Train AGENT (dqn, ddqn, discrete-sac, diffusion-sac, ddpg, td3, sac, d3pg; scheduling
    systems: ddrl-amsa, smcoedge, drlcoedge) and write a run directory.

    \b
    AGENT may also be a caching composition: t2drl (DDQN caching + D3PG allocation),
    t2drl-ddpg, edgeaigc-td3 (TD3 on both timescales), hybrid (DDQN caching + exact
    allocation), hybrid-td3 (TD3 caching scores + exact allocation, beyond the DDQN's 4096
    joint caches); --steps counts slots, hyperparameters are frame.KEY / slot.KEY.

    \b
    Envs: caching-frame (one step per frame: the cache; default for discrete agents),
    caching-slot (one step per slot: shares, steps, routing; default for continuous agents),
    scheduling (one step per task: a server subset), gym:ID (a Gymnasium env, for checks).
    The held-out set is scored by optkit.evaluate against the family's plain baseline.
    The run directory serves as a method: optkit solve FILES --method policy:DIR.

    \b
      optkit train ddqn --family caching --preset t2drl --size small --steps 20000 --out runs/ddqn
      optkit train td3 --family caching --preset t2drl --steps 50000 --out runs/td3 --set tau=0.01
      optkit train dqn --env gym:CartPole-v1 --steps 50000 --out runs/cartpole
      optkit train ddqn --steps 40000 --out runs/ddqn --resume
    """
    joint = is_composition(agent)  # one line for an unknown name, listing agents and compositions
    cls = None if joint else agent_class(agent)
    hyper: dict[str, object] = {}
    env_options: dict[str, object] = {}
    if config_file is not None:
        hyper, env_options = read_toml(config_file)
    hyper.update(parse_assignments(sets))
    env_options.update(parse_assignments(env_sets, "--env-set"))
    if show_config:
        where = "optkit.drl.compose" if cls is None else cls.__module__
        table = Table(title=f"{agent} hyperparameters ({where})", title_justify="left")
        for col in ("name", "value", "meaning"):
            table.add_column(col)
        rows = describe_composition(agent, hyper) if joint else describe(make_config(agent, hyper))
        for name, value, doc in rows:
            table.add_row(name, escape(value), escape(doc))
        out.print(table)
        return
    if out_dir is None:
        raise click.UsageError("--out DIR is needed")
    torch.set_num_threads(threads)
    choices = Choices(
        agent=agent,
        steps=steps or 1,
        seed=seed,
        family=family,
        preset=preset,
        size=size,
        env=env_name,
        hyperparameters=hyper,
        env_options=env_options,
        instances=instances,
        train_count=train_count,
        eval_instances=eval_instances,
        eval_count=eval_count,
        eval_seed=eval_seed,
        eval_every=eval_every,
        checkpoint_every=checkpoint_every,
        device=device,
    )
    trainer: Trainer | CompositionTrainer
    if resume:
        check_resume(out_dir, choices)
        trainer = (CompositionTrainer if joint else Trainer).resume(out_dir, steps)
    else:
        if steps is None:
            raise click.UsageError("--steps N is needed")
        new_run_dir(out_dir)
        if joint:
            trainer = CompositionTrainer(new_composition_run(choices), out_dir)
        else:
            trainer = Trainer(new_run(choices), out_dir)
    run = trainer.run_spec
    err.print(
        f"training {agent} on {run.env.name} · {trainer.device} · from step {trainer.step} "
        f"to {run.settings.steps} · {escape(str(out_dir))}"
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TextColumn("{task.fields[ret]}"),
        TextColumn("{task.fields[evaluation]}"),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
    ) as bar:
        task = bar.add_task(
            agent,
            total=run.settings.steps,
            completed=trainer.step,
            rate="",
            ret="return -",
            evaluation=_eval_text(trainer.last_eval),
        )

        def show(p: TrainProgress) -> None:
            ret = "return -" if p.recent_return is None else f"return {num(p.recent_return, 4)}"
            bar.update(
                task,
                completed=p.step,
                rate=f"{p.steps_per_s:,.0f} steps/s",
                ret=ret,
                evaluation=_eval_text(p.last_eval),
            )

        outcome = trainer.run(on_progress=show)
    last = outcome.last_eval
    out.print(
        f"{agent}: {outcome.step} steps, {outcome.episodes} episodes · {_eval_text(last)} · "
        f"run directory {escape(str(out_dir))} (method policy:{escape(str(out_dir))})",
        soft_wrap=True,  # one line, however long the paths
    )
    if outcome.interrupted:
        click.echo(
            f"optkit: interrupted at step {outcome.step}; checkpoint written, continue with "
            f"optkit train {agent} --out {out_dir} --resume",
            err=True,
        )
        raise click.exceptions.Exit(130)


__all__ = ["agent_names", "train"]
