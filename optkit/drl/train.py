"""The training loop: one agent, one env, periodic evaluation, atomic checkpoints, exact resume.

``Trainer(run, out).run()`` trains ``run.settings.steps`` env steps. Every ``eval_every``
steps the greedy policy is evaluated (on the held-out set of ``run.eval_source``, or on the
Gymnasium env itself); every ``checkpoint_every`` steps, at the end and on Ctrl-C the run
directory is written (see :mod:`optkit.drl.checkpoint`). ``Trainer.resume(out)`` continues the
same run: it restores every network, optimiser, replay buffer and RNG, and replays the actions
of the episode in progress, so the resumed run takes exactly the steps the uninterrupted one
would have taken.

Ctrl-C (SIGINT) only sets a flag; the loop stops between two steps, writes the checkpoint and
returns (a second Ctrl-C aborts at once; the previous checkpoint stays intact).
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from optkit import __version__
from optkit.drl.agents import Agent, OffPolicyConfig, make_agent, make_config
from optkit.drl.checkpoint import (
    CHECKPOINT,
    CHECKPOINT_FORMAT,
    EVALUATIONS,
    POLICY,
    POLICY_FORMAT,
    RUN,
    VERSION,
    check_spaces_match,
    describe_space,
    load_file,
    save_atomic,
)
from optkit.drl.common import choose_device, global_rng_state, seed_everything, set_global_rng_state
from optkit.drl.config import to_dict
from optkit.drl.envs import EnvSpec, make_env, source_from_dict
from optkit.drl.evaluation import EvalReport, HeldOutEvaluator, ReturnEvaluator, read_references
from optkit.errors import OptkitError
from optkit.instances.jsonio import write_json

#: Episodes in the "recent return" of the progress display.
RECENT_EPISODES = 20


@dataclass(frozen=True)
class TrainSettings:
    """How long and how a run trains. ``eval_every`` / ``checkpoint_every`` in env steps (0:
    a tenth of ``steps``, and as ``eval_every``); ``eval_episodes`` for Gymnasium envs."""

    steps: int
    seed: int = 0
    eval_every: int = 0
    checkpoint_every: int = 0
    eval_episodes: int = 10
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise OptkitError(f"--steps must be >= 1, got {self.steps}")
        if self.seed < 0:
            raise OptkitError(f"--seed must be >= 0, got {self.seed}")

    @property
    def eval_interval(self) -> int:
        return self.eval_every or max(1, self.steps // 10)

    @property
    def checkpoint_interval(self) -> int:
        return self.checkpoint_every or self.eval_interval


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines a run (stored in its checkpoint and ``run.json``)."""

    agent: str
    config: OffPolicyConfig
    env: EnvSpec
    settings: TrainSettings
    eval_source: dict[str, Any] | None = None  #: held-out set (a source's to_dict), None: gym

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "config": to_dict(self.config),
            "env": self.env.to_dict(),
            "settings": self.settings.__dict__.copy(),
            "eval_source": self.eval_source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        return cls(
            agent=data["agent"],
            config=make_config(data["agent"], data["config"]),
            env=EnvSpec.from_dict(data["env"]),
            settings=TrainSettings(**data["settings"]),
            eval_source=data.get("eval_source"),
        )


@dataclass(frozen=True)
class Progress:
    """What a progress display shows (``recent_return`` over the last episodes)."""

    step: int
    total: int
    episodes: int
    recent_return: float | None
    steps_per_s: float
    last_eval: EvalReport | None


@dataclass
class Outcome:
    """How :meth:`Trainer.run` ended."""

    step: int
    episodes: int
    interrupted: bool
    last_eval: EvalReport | None
    evaluations: list[EvalReport] = field(default_factory=list)


def run_head(spec: dict[str, Any], spaces: Any, dims: dict[str, int]) -> dict[str, Any]:
    """The fields every file of a run starts with: versions, the run's spec, spaces, dims."""
    return {
        "version": VERSION,
        "optkit_version": __version__,
        **spec,
        "spaces": spaces,
        "dims": dims,
    }


def write_run(
    out: Path,
    head: dict[str, Any],
    training_state: dict[str, Any],
    acting_state: dict[str, Any],
    loop: dict[str, Any],
    status: str,
    step: int,
    episodes: int,
) -> None:
    """Write a run's three files, each atomically: ``checkpoint.pt`` (``training_state``
    with the replay memory, every RNG, the ``loop``), ``policy.pt`` (``acting_state``) and
    the human-readable ``run.json``."""
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        **head,
        "agent_state": training_state,
        "rng": global_rng_state(),
        "loop": loop,
    }
    save_atomic(checkpoint, out / CHECKPOINT)
    save_atomic({"format": POLICY_FORMAT, **head, "agent_state": acting_state}, out / POLICY)
    summary = {
        "format": "optkit.drl.run",
        **head,
        "status": status,
        "step": step,
        "episodes": episodes,
        "last_eval": loop["last_eval"],
    }
    write_json(out / RUN, plain(summary))


def append_evaluation(out: Path, report: EvalReport) -> None:
    """One line of ``evaluations.jsonl`` per evaluation."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / EVALUATIONS).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(plain(report.to_json()), allow_nan=False) + "\n")


class StopOnSigint:
    """Ctrl-C handling of a training loop: the first sets ``stop_requested`` (the loop ends
    where it can and saves), a second aborts at once."""

    stop_requested: bool

    def _install_sigint(self) -> Callable[[], None] | None:
        """Install the handler; returns what restores the previous one (None off the main
        thread, where signals cannot be handled)."""
        if threading.current_thread() is not threading.main_thread():
            return None
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum: int, frame: Any) -> None:
            if self.stop_requested:  # a second Ctrl-C: abort now
                signal.signal(signal.SIGINT, signal.default_int_handler)
                raise KeyboardInterrupt
            self.stop_requested = True

        signal.signal(signal.SIGINT, handler)

        def restore() -> None:
            signal.signal(signal.SIGINT, previous)

        return restore


class Trainer(StopOnSigint):
    """A run in a directory (see the module doc)."""

    def __init__(self, run: RunSpec, out: Path | str) -> None:
        self.run_spec, self.out = run, Path(out)
        self.device = choose_device(run.settings.device)
        seed = run.settings.seed
        seed_everything(seed)
        self.env = make_env(run.env)
        self.agent: Agent = make_agent(
            run.agent,
            self.env.observation_space,
            self.env.action_space,
            run.config,
            self.device,
            seed,
        )
        self.spaces = {
            "observation": describe_space(self.env.observation_space),
            "action": describe_space(self.env.action_space),
        }
        self.dims: dict[str, int] = dict(getattr(self.env.unwrapped, "dims", {}))
        self.evaluator = self._make_evaluator()
        self.step = self.episodes = 0
        self.recent: deque[float] = deque(maxlen=RECENT_EPISODES)
        self.last_eval: EvalReport | None = None
        self.stop_requested = False
        self._begin_episode(first=True)

    # ------------------------------------------------------------------ set-up

    def _make_evaluator(self) -> Callable[[Agent, int], EvalReport]:
        run = self.run_spec
        if run.eval_source is None:
            return ReturnEvaluator(
                run.env, run.settings.eval_episodes, seed=run.settings.seed + 10_000
            )
        source = source_from_dict(run.eval_source)
        instances = source.instances()  # type: ignore[attr-defined]
        family = instances[0].family if instances else None
        refs = (
            read_references(Path(run.eval_source["folder"]), family)
            if "folder" in run.eval_source
            else {}
        )
        return HeldOutEvaluator(run.env, instances, refs)

    def _begin_episode(self, first: bool = False) -> None:
        """Reset the env, remembering what redoes this reset exactly."""
        unwrapped: Any = self.env.unwrapped
        env_state = unwrapped.get_state() if hasattr(unwrapped, "get_state") else None
        if first:
            self.episode_start: dict[str, Any] = {
                "seed": self.run_spec.settings.seed,
                "env": env_state,
            }
            self.obs, _ = self.env.reset(seed=self.run_spec.settings.seed)
        else:
            rng = unwrapped.np_random.bit_generator.state
            self.episode_start = {"np_random": rng, "env": env_state}
            self.obs, _ = self.env.reset()
        self.episode_return = 0.0
        self.episode_actions: list[Any] = []

    # ------------------------------------------------------------------ the loop

    def run(
        self,
        on_progress: Callable[[Progress], None] | None = None,
        on_eval: Callable[[EvalReport], None] | None = None,
        handle_sigint: bool = True,
    ) -> Outcome:
        """Train up to ``settings.steps``; see the module doc for evaluation, checkpoints and
        Ctrl-C."""
        total = self.run_spec.settings.steps
        every_eval = self.run_spec.settings.eval_interval
        every_save = self.run_spec.settings.checkpoint_interval
        evaluations: list[EvalReport] = []
        restore = self._install_sigint() if handle_sigint else None
        started, start_step, shown = time.perf_counter(), self.step, 0.0
        try:
            while self.step < total and not self.stop_requested:
                self._one_step()
                if self.step % every_eval == 0 or self.step == total:
                    report = self.evaluate()
                    evaluations.append(report)
                    if on_eval:
                        on_eval(report)
                if self.step % every_save == 0 or self.step == total:
                    self.save("finished" if self.step == total else "running")
                now = time.perf_counter()
                if on_progress and (now - shown > 0.2 or self.step == total):
                    shown = now
                    rate = (self.step - start_step) / max(now - started, 1e-9)
                    on_progress(self._progress(total, rate))
        finally:
            if restore:
                restore()
        interrupted = self.step < total
        if interrupted:
            self.save("interrupted")
        return Outcome(self.step, self.episodes, interrupted, self.last_eval, evaluations)

    def _one_step(self) -> None:
        action = self.agent.act(self.obs, self.step, explore=True)
        next_obs, reward, terminated, truncated, _ = self.env.step(action)
        self.agent.remember(self.obs, action, float(reward), next_obs, terminated)
        self.episode_actions.append(action)
        self.episode_return += float(reward)
        self.obs = next_obs
        self.agent.learn(self.step)
        self.step += 1
        if terminated or truncated:
            self.recent.append(self.episode_return)
            self.episodes += 1
            self._begin_episode()

    def evaluate(self) -> EvalReport:
        """Evaluate the greedy policy now (torch's RNG is left as it was)."""
        with torch.random.fork_rng(devices=[]):
            report = self.evaluator(self.agent, self.step)
        self.last_eval = report
        append_evaluation(self.out, report)
        return report

    def _progress(self, total: int, rate: float) -> Progress:
        recent = float(np.mean(self.recent)) if self.recent else None
        return Progress(self.step, total, self.episodes, recent, rate, self.last_eval)

    # ------------------------------------------------------------------ checkpoints

    def save(self, status: str = "running") -> None:
        """Write ``checkpoint.pt``, ``policy.pt`` and ``run.json`` atomically."""
        head = run_head(self.run_spec.to_dict(), self.spaces, self.dims)
        actions = self.episode_actions
        packed = (
            torch.tensor(actions, dtype=torch.int64)
            if self.agent.discrete
            else torch.from_numpy(
                np.asarray(actions, np.float32).reshape(len(actions), self.agent.action_dim)
            )
        )
        loop = {
            "step": self.step,
            "episodes": self.episodes,
            "episode_return": self.episode_return,
            "episode_actions": packed,
            "episode_start": self.episode_start,
            "recent": list(self.recent),
            "last_eval": None if self.last_eval is None else self.last_eval.to_json(),
        }
        write_run(
            self.out,
            head,
            self.agent.state_dict(replay=True),
            self.agent.state_dict(replay=False),
            loop,
            status,
            self.step,
            self.episodes,
        )

    @classmethod
    def resume(cls, out: Path | str, steps: int | None = None) -> Trainer:
        """Continue the run in ``out`` (up to ``steps`` in total when given)."""
        out = Path(out)
        data = load_file(out / CHECKPOINT, CHECKPOINT_FORMAT)
        run = RunSpec.from_dict(data)
        if steps is not None:
            if steps < data["loop"]["step"]:
                raise OptkitError(
                    f"{out}: the run is at step {data['loop']['step']}, beyond --steps {steps}"
                )
            run = replace(run, settings=replace(run.settings, steps=steps))
        trainer = cls(run, out)
        check_spaces_match(
            data["spaces"], trainer.env, f"checkpoint {out}", run.env.name, run.env.name
        )
        trainer.agent.load_state_dict(data["agent_state"])
        trainer._restore_loop(data["loop"])
        set_global_rng_state(data["rng"])
        return trainer

    def _restore_loop(self, loop: dict[str, Any]) -> None:
        self.step, self.episodes = int(loop["step"]), int(loop["episodes"])
        self.recent = deque(loop["recent"], maxlen=RECENT_EPISODES)
        self.last_eval = EvalReport(**loop["last_eval"]) if loop["last_eval"] else None
        # redo the episode in progress: same reset, same actions, no transitions stored
        start = loop["episode_start"]
        unwrapped: Any = self.env.unwrapped
        if start.get("env") is not None:
            unwrapped.set_state(start["env"])
        if "seed" in start:
            self.obs, _ = self.env.reset(seed=start["seed"])
        else:
            unwrapped.np_random.bit_generator.state = start["np_random"]
            self.obs, _ = self.env.reset()
        self.episode_start = start
        self.episode_return, self.episode_actions = 0.0, []
        for packed in loop["episode_actions"]:
            action = int(packed) if self.agent.discrete else packed.numpy()
            self.obs, reward, _, _, _ = self.env.step(action)
            self.episode_return += float(reward)
            self.episode_actions.append(action)
        if self.episode_return != loop["episode_return"]:
            raise OptkitError(
                f"{self.out}: replaying the episode in progress gave return {self.episode_return}, "
                f"the checkpoint says {loop['episode_return']} (env or optkit version changed?)"
            )


def plain(value: Any) -> Any:
    """JSON-able: non-finite floats become None, tuples lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
