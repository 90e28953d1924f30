"""From a user's choices to a :class:`~optkit.drl.train.RunSpec` (what ``optkit train`` does
before training), with a one-line error for every choice that cannot work.

Instances: training draws the endless stream of ``--preset/--size`` with the run's ``--seed``
(or cycles its first ``--train-count``), or cycles the files of ``--instances DIR``. The held-out
set is the first ``--eval-count`` instances of the same preset and size with ``--eval-seed``
(default :data:`EVAL_SEED`, the same for every run, so runs compare on one set; it must differ
from the training seed, which keeps the two streams disjoint), or the files of
``--eval-instances DIR`` (whose ``*.solu`` reference optima, if any, give the normalised
regret).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optkit.drl.agents import agent_class, make_config
from optkit.drl.checkpoint import CHECKPOINT, CHECKPOINT_FORMAT, load_file
from optkit.drl.envs import ENVS, EnvSpec, FolderSource, GeneratedSource, check_options, default_env
from optkit.drl.train import RunSpec, TrainSettings
from optkit.errors import OptkitError
from optkit.instances import FAMILIES

#: Seed of the default held-out set (``optkit generate … --seed 1000000`` writes it).
EVAL_SEED = 1_000_000


@dataclass(frozen=True)
class Choices:
    """What the user asked for (the options of ``optkit train``)."""

    agent: str
    steps: int
    seed: int = 0
    family: str | None = None
    preset: str | None = None
    size: str = "small"
    env: str | None = None
    hyperparameters: dict[str, Any] | None = None
    env_options: dict[str, Any] | None = None
    instances: Path | None = None
    train_count: int | None = None
    eval_instances: Path | None = None
    eval_count: int = 8
    eval_seed: int = EVAL_SEED
    eval_every: int = 0
    checkpoint_every: int = 0
    device: str = "auto"


def new_run(c: Choices) -> RunSpec:
    """The run ``c`` describes (validated; nothing is trained or written)."""
    cls = agent_class(c.agent)
    config = make_config(c.agent, c.hyperparameters)
    settings = TrainSettings(
        steps=c.steps,
        seed=c.seed,
        eval_every=c.eval_every,
        checkpoint_every=c.checkpoint_every,
        device=c.device,
    )
    env_name = c.env
    if cls.family is not None:
        _check_family_bound(c.agent, cls.family, c.family, env_name)
    if env_name is not None and env_name.startswith("gym:"):
        spec = EnvSpec(env_name, None, check_options(env_name, c.env_options or {}))
        return RunSpec(c.agent, config, spec, settings, None)
    family = _family(c, env_name)
    env_name = env_name or default_env(family, cls.discrete)
    options = {**cls.env_options(config), **(c.env_options or {})}
    if env_name == "caching-frame" and "frame_action" not in options:
        options["frame_action"] = "index" if cls.discrete else "scores"
    options = check_options(env_name, options)
    if c.instances is not None:
        train: Any = FolderSource(c.instances, family)
    else:
        if c.preset is None:
            raise OptkitError("--preset is needed (or --instances DIR) to know what to train on")
        train = GeneratedSource(family, c.preset, c.size, c.seed, c.train_count)
    if c.eval_instances is not None:
        if c.instances is not None and c.eval_instances.resolve() == c.instances.resolve():
            raise OptkitError(
                "--eval-instances must be another folder than --instances (a held-out set)"
            )
        held_out: Any = FolderSource(c.eval_instances, family)
    else:
        preset = c.preset if c.preset is not None else _preset_of(train)
        if c.instances is None and c.eval_seed == c.seed:
            raise OptkitError(
                f"--eval-seed {c.eval_seed} equals --seed: the held-out set would be training data"
            )
        held_out = GeneratedSource(family, preset, c.size, c.eval_seed, c.eval_count)
    return RunSpec(
        c.agent, config, EnvSpec(env_name, train.to_dict(), options), settings, held_out.to_dict()
    )


def _check_family_bound(agent: str, bound: str, family: str | None, env_name: str | None) -> None:
    """One line when an agent built for one family is asked to train on another (or on a
    Gymnasium env); an unknown env name is left to :func:`_family`'s line."""
    foreign = env_name is not None and (
        env_name.startswith("gym:") or (env_name in ENVS and ENVS[env_name][0] != bound)
    )
    if foreign:
        raise OptkitError(
            f"{agent} is a {bound} agent: it cannot train on env {env_name} "
            f"(use --family {bound}, or leave --env out)"
        )
    if family is not None and family != bound:
        raise OptkitError(
            f"{agent} is a {bound} agent: it cannot train on {family} instances "
            f"(use --family {bound})"
        )


def _family(c: Choices, env_name: str | None) -> str:
    if env_name is not None:
        if env_name not in ENVS:
            check_options(env_name, {})  # raises the "unknown env" line
        env_family = ENVS[env_name][0]
        if c.family is not None and c.family != env_family:
            raise OptkitError(f"env {env_name} is a {env_family} env, not {c.family}")
        return env_family
    if c.family is None:
        raise OptkitError("--family is needed (caching or scheduling), or --env gym:ID")
    if c.family not in FAMILIES:
        raise OptkitError(f"unknown family {c.family!r} (known: {', '.join(FAMILIES)})")
    return c.family


def _preset_of(source: FolderSource) -> str:
    generator = source.get(0).generator
    if generator is None:
        raise OptkitError(
            "--preset (or --eval-instances) is needed: the training files name no preset"
        )
    return generator.preset


def check_resume(out: Path, c: Choices) -> None:
    """One line when ``--resume`` is asked with choices that contradict the run in ``out``
    (another agent, family, env or preset: a checkpoint from another environment)."""
    data = load_file(out / CHECKPOINT, CHECKPOINT_FORMAT)
    if data["agent"] != c.agent:
        raise OptkitError(f"{out} holds a {data['agent']} run, not {c.agent}")
    env, source = data["env"], data["env"].get("source") or {}
    family = source.get("family")
    checks = [
        ("env", c.env, env["name"]),
        ("family", c.family, family),
        ("preset", c.preset, source.get("preset")),
    ]
    for what, asked, stored in checks:
        if asked is not None and asked != stored:
            raise OptkitError(
                f"{out} holds a checkpoint from another environment: trained with {what} "
                f"{stored}, not {asked}"
            )
    if c.hyperparameters or c.env_options:
        raise OptkitError("--set, --env-set and --config cannot change a run being resumed")


def new_run_dir(out: Path) -> None:
    """A new run must not overwrite another."""
    if (out / CHECKPOINT).exists():
        raise OptkitError(
            f"{out} already holds a run ({CHECKPOINT}); pass --resume to continue it or choose another --out"
        )
