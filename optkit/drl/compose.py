"""Two-timescale compositions of the papers' caching systems (DESIGN §7, issue 7).

A composition owns a **frame agent** (the cache of each frame, long timescale) and a **slot
agent** (routing, shares and steps of each slot, short timescale) — or optkit's exact per-slot
allocation in the slot agent's place — and plays one episode over an instance with the
frame's cache feeding the slot decisions, on :class:`~optkit.drl.envs.CachingEpisode`:

=================  =====================  ======================  ==========================
name               frame agent (cache)    slot agent              what it is
=================  =====================  ======================  ==========================
``t2drl``          DDQN, ``index``        D3PG                    T2DRL (Liu et al., TMC)
``t2drl-ddpg``     DDQN, ``index``        DDPG (MLP actor)        T2DRL's main ablation
``edgeaigc-td3``   TD3, ``scores``        TD3                     EdgeAIGC (Wen et al., DCN)
``hybrid``         DDQN, ``index``        exact (allocate_slot)   optkit's own design
``hybrid-td3``     TD3, ``scores``        exact (allocate_slot)   the hybrid beyond 4096
                                                                  joint caches (edgeaigc)
=================  =====================  ======================  ==========================

Training on the two timescales, as T2DRL describes it: both learners act in the same episode;
the slot agent stores one transition per slot (reward: the slot's utility) and learns at every
slot; the frame agent stores one transition per frame whose reward is the sum of that frame's
slot utilities minus w_s·GB loaded (so a frame agent's return is the objective) and learns at
every frame. ``--steps`` counts slots (short-timescale steps).

What is optkit's choice (the papers' state, action and reward are not public, references §1.3,
§2.2): the observations and action encodings of :mod:`optkit.drl.envs.caching_core`; the slot
agents' discount γ = 0 — in this model a slot's decisions change nothing a later slot sees (the
cache is the frame agent's), so the slot problem is a contextual bandit and any γ > 0 would
only add the critic's own noise to its target; EdgeAIGC's "TD3 decides what to cache and who
serves" is read as TD3 on both timescales (two TD3 learners with the same hyperparameters),
since a cache can only change at a frame boundary in optkit's model.

A run directory has the files of :mod:`optkit.drl.checkpoint` with ``"composition": true``;
checkpoints are written between episodes, so a resumed run continues exactly.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from optkit.drl.agents import Agent, OffPolicyConfig, agent_names, make_agent, make_config
from optkit.drl.checkpoint import (
    CHECKPOINT,
    CHECKPOINT_FORMAT,
    describe_space,
    load_file,
    space_from_description,
)
from optkit.drl.common import choose_device, seed_everything, set_global_rng_state
from optkit.drl.config import describe, to_dict
from optkit.drl.envs import EnvSpec, frame_spaces, show_dims, slot_spaces, source_from_dict
from optkit.drl.envs.caching import caching_dims, exact_allocation
from optkit.drl.envs.caching_core import CachingEpisode
from optkit.drl.evaluation import EvalReport
from optkit.drl.setup import Choices, new_run
from optkit.drl.train import (
    RECENT_EPISODES,
    Outcome,
    Progress,
    StopOnSigint,
    TrainSettings,
    append_evaluation,
    run_head,
    write_run,
)
from optkit.errors import MethodRefused, OptkitError
from optkit.evaluate import evaluate
from optkit.gaps import BASELINE, normalised_regret, policy_gap
from optkit.instances.caching import CachingInstance
from optkit.instances.io import Instance
from optkit.instances.solution import CachingSolution

#: The env name a composition's run records (it drives :class:`CachingEpisode` directly).
ENV_NAME = "caching-two-timescale"
#: Slot agent name standing for optkit's exact per-slot allocation.
EXACT = "exact"
#: Shares are softmax(share_scale · a) (:mod:`~optkit.drl.envs.caching_core`). The
#: compositions use 1 (share ratios up to e² ≈ 7.4) rather than the env's 3 (up to e⁶ ≈ 403):
#: random slot actions on t2drl small then lose −37 at the 1st percentile of a slot's utility
#: instead of −264 (the optimum's mean is −2.5), which keeps the critics' regression targets
#: from being dominated by a few starved requests. optkit's choice; ``--env-set share_scale=3``
#: restores the env's.
COMPOSITION_SHARE_SCALE = 1.0


@dataclass(frozen=True)
class Composition:
    """Which agents a composition pairs, with its default hyperparameters (``frame`` and
    ``slot``, applied before the user's ``--set frame.KEY=…`` / ``slot.KEY=…``)."""

    name: str
    frame_agent: str
    frame_action: str  #: ``index`` (discrete frame agent) or ``scores`` (continuous)
    slot_agent: str  #: an agent name or :data:`EXACT`
    summary: str
    frame_defaults: dict[str, Any] = field(default_factory=dict)
    slot_defaults: dict[str, Any] = field(default_factory=dict)


# Defaults sized for the small presets (an episode of t2drl small is 3 frames of 5 slots):
# learning begins early and exploration decays over a few thousand frames. Assumed by optkit.
_FRAME_DQN = {
    "hidden": (128, 128),
    "batch_size": 64,
    "buffer_size": 20_000,
    "learning_starts": 200,
    "exploration_steps": 1_500,
    "target_network_frequency": 100,
    "learning_rate": 5e-4,
}
_FRAME_TD3 = {
    "hidden": (128, 128),
    "batch_size": 64,
    "buffer_size": 20_000,
    "learning_starts": 200,
}
_SLOT = {"gamma": 0.0, "batch_size": 128, "learning_starts": 500, "buffer_size": 100_000}
# T2DRL's D3PG learns at DDPG's rates (3e-4) instead of GDMOPT's 1e-4 (the plain d3pg agent's
# default). Measured on t2drl small (seed 0, slots with the optimal caches, median gap to the
# exact per-slot optimum): after 15 000 slots 104 % at 1e-4, 54 % at 3e-4 (DDPG: 52 %); after
# 5 000 slots 145 % → 86 % (seed 1: 145 % → 79 %), mostly from the critic's rate alone (84 %),
# while 1e-3 diverges (259 %). At 1e-4 the critic fits only the neighbourhood of its own actor's
# actions: it scored DDPG's (truly better) actions 2.5 below its own and its own 0.8 too high.
# optkit's choice.
_D3PG_SLOT = {**_SLOT, "actor_learning_rate": 3e-4, "critic_learning_rate": 3e-4}

COMPOSITIONS: dict[str, Composition] = {
    c.name: c
    for c in (
        Composition(
            "t2drl",
            "ddqn",
            "index",
            "d3pg",
            "T2DRL: DDQN caching per frame + D3PG (diffusion actor) allocation per slot",
            _FRAME_DQN,
            _D3PG_SLOT,
        ),
        Composition(
            "t2drl-ddpg",
            "ddqn",
            "index",
            "ddpg",
            "T2DRL's ablation: DDQN caching + DDPG (MLP actor) allocation",
            _FRAME_DQN,
            {**_SLOT, "policy_frequency": 1},
        ),
        Composition(
            "edgeaigc-td3",
            "td3",
            "scores",
            "td3",
            "EdgeAIGC: TD3 caching (per-model scores) + TD3 allocation",
            _FRAME_TD3,
            _SLOT,
        ),
        Composition(
            "hybrid",
            "ddqn",
            "index",
            EXACT,
            "DDQN caching + optkit's exact per-slot allocation (no paper has it)",
            _FRAME_DQN,
        ),
        # The hybrid where a DDQN's cache index cannot go (more than 4096 joint caches, e.g.
        # edgeaigc small: 2^18): EdgeAIGC's TD3 caching scores over exact allocation.
        Composition(
            "hybrid-td3",
            "td3",
            "scores",
            EXACT,
            "TD3 caching (per-model scores) + optkit's exact per-slot allocation",
            _FRAME_TD3,
        ),
    )
}


def composition_names() -> list[str]:
    return list(COMPOSITIONS)


def is_composition(name: str) -> bool:
    """Whether ``optkit train NAME`` trains a composition (True) or one agent (False); a name
    that is neither is one line listing both kinds."""
    if name in COMPOSITIONS:
        return True
    if name in agent_names():
        return False
    raise OptkitError(
        f"unknown agent {name!r} (agents: {', '.join(agent_names())}; caching compositions: "
        f"{', '.join(COMPOSITIONS)})"
    )


def composition(name: str) -> Composition:
    if name not in COMPOSITIONS:
        raise OptkitError(f"unknown composition {name!r} (known: {', '.join(COMPOSITIONS)})")
    return COMPOSITIONS[name]


# ------------------------------------------------------------------------------ hyperparameters


@dataclass(frozen=True)
class CompositionConfig:
    """The frame agent's and the slot agent's hyperparameters (``slot`` None: exact)."""

    frame: OffPolicyConfig
    slot: OffPolicyConfig | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "frame": to_dict(self.frame),
            "slot": None if self.slot is None else to_dict(self.slot),
        }


def make_composition_config(name: str, values: dict[str, Any] | None = None) -> CompositionConfig:
    """Defaults of composition ``name`` with ``values`` (keys ``frame.KEY`` or ``slot.KEY``)."""
    comp = composition(name)
    sides: dict[str, dict[str, Any]] = {
        "frame": dict(comp.frame_defaults),
        "slot": dict(comp.slot_defaults),
    }
    for key, value in (values or {}).items():
        side, dot, rest = key.partition(".")
        if not dot or side not in sides or not rest:
            raise OptkitError(
                f"hyperparameter {key!r} of {name}: write frame.KEY or slot.KEY "
                f"(frame agent {comp.frame_agent}, slot agent {comp.slot_agent})"
            )
        if side == "slot" and comp.slot_agent == EXACT:
            raise OptkitError(f"{name} has no slot agent (exact allocation): {key!r}")
        sides[side][rest] = value
    frame = make_config(comp.frame_agent, sides["frame"])
    slot = None if comp.slot_agent == EXACT else make_config(comp.slot_agent, sides["slot"])
    return CompositionConfig(frame, slot)


def config_from_dict(name: str, data: dict[str, Any]) -> CompositionConfig:
    """A stored :meth:`CompositionConfig.to_dict` back (no defaults re-applied)."""
    comp = composition(name)
    slot = None if data.get("slot") is None else make_config(comp.slot_agent, data["slot"])
    return CompositionConfig(make_config(comp.frame_agent, data["frame"]), slot)


def describe_composition(
    name: str, values: dict[str, Any] | None = None
) -> list[tuple[str, str, str]]:
    """(name, value, doc) rows for ``optkit train NAME --show-config``."""
    config = make_composition_config(name, values)
    rows = [(f"frame.{k}", v, d) for k, v, d in describe(config.frame)]
    if config.slot is not None:
        rows += [(f"slot.{k}", v, d) for k, v, d in describe(config.slot)]
    return rows


# ------------------------------------------------------------------------------ the pair


def joint_spaces(episode: CachingEpisode) -> dict[str, dict[str, Any]]:
    """The described spaces of both timescales of ``episode``'s instance."""
    f_obs, f_act = frame_spaces(episode)
    s_obs, s_act = slot_spaces(episode)
    return {
        "frame": {"observation": describe_space(f_obs), "action": describe_space(f_act)},
        "slot": {"observation": describe_space(s_obs), "action": describe_space(s_act)},
    }


class JointAgent:
    """A frame agent and a slot agent (or the exact allocation) playing caching episodes."""

    def __init__(
        self,
        comp: Composition,
        config: CompositionConfig,
        spaces: dict[str, dict[str, Any]],
        device: torch.device,
        seed: int,
        share_scale: float = COMPOSITION_SHARE_SCALE,
    ) -> None:
        """``spaces``: ``{"frame"|"slot": {"observation"|"action": described space}}`` (as
        :func:`joint_spaces` gives and checkpoints store); ``share_scale``: the episodes'."""
        self.comp, self.config, self.spaces = comp, config, spaces
        self.share_scale = share_scale
        f_obs, f_act = (
            space_from_description(spaces["frame"][k]) for k in ("observation", "action")
        )
        s_obs, s_act = (
            space_from_description(spaces["slot"][k]) for k in ("observation", "action")
        )
        self.frame: Agent = make_agent(comp.frame_agent, f_obs, f_act, config.frame, device, seed)
        self.slot: Agent | None = None
        if config.slot is not None:
            # another seed: the two agents' generators must not draw the same numbers
            self.slot = make_agent(comp.slot_agent, s_obs, s_act, config.slot, device, seed + 7919)
        self.frame_steps = self.slot_steps = 0

    def new_episode(self, instance: CachingInstance) -> CachingEpisode:
        return CachingEpisode(instance, self.comp.frame_action, self.share_scale)

    def play(self, ep: CachingEpisode, learn: bool) -> float:
        """Play ``ep`` to its end; ``learn``: explore, store transitions and learn on both
        timescales (else the greedy policies). Returns the episode's return (its objective)."""
        total = 0.0
        obs_f = ep.frame_observation()
        while not ep.done:
            a_f = self.frame.act(obs_f, self.frame_steps, explore=learn)
            reward_f = ep.begin_frame(ep.cache_from_action(a_f))
            while not ep.frame_done:
                reward_f += self._play_slot(ep, learn)
            next_f = ep.frame_observation()
            if learn:
                self.frame.remember(obs_f, a_f, reward_f, next_f, ep.done)
                self.frame.learn(self.frame_steps)
                self.frame_steps += 1
            obs_f = next_f
            total += reward_f
        return total

    def _play_slot(self, ep: CachingEpisode, learn: bool) -> float:
        if self.slot is None:
            reward = ep.play_slot(*exact_allocation(ep))
            self.slot_steps += learn
            return reward
        obs = ep.slot_observation()
        action = self.slot.act(obs, self.slot_steps, explore=learn)
        reward = ep.play_action(action)
        if learn:
            # the slot "episode" is the frame: the next frame's cache is not this agent's doing
            self.slot.remember(obs, action, reward, ep.slot_observation(), ep.frame_done)
            self.slot.learn(self.slot_steps)
            self.slot_steps += 1
        return reward

    def solve(self, instance: CachingInstance, method: str) -> CachingSolution:
        """One greedy episode on ``instance``; its decisions."""
        ep = self.new_episode(instance)
        self.play(ep, learn=False)
        return ep.solution(method)

    def state_dict(self, replay: bool = True) -> dict[str, Any]:
        return {
            "frame": self.frame.state_dict(replay),
            "slot": None if self.slot is None else self.slot.state_dict(replay),
            "frame_steps": self.frame_steps,
            "slot_steps": self.slot_steps,
        }

    def load_state_dict(self, state: dict[str, Any], acting_only: bool = False) -> None:
        def part(s: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in s.items() if k in ("networks", "extra")} if acting_only else s

        self.frame.load_state_dict(part(state["frame"]))
        if self.slot is not None:
            self.slot.load_state_dict(part(state["slot"]))
        self.frame_steps, self.slot_steps = int(state["frame_steps"]), int(state["slot_steps"])


# ------------------------------------------------------------------------------ training


@dataclass(frozen=True)
class CompositionRun:
    """Everything that defines a composition's run (stored in its files)."""

    agent: str
    config: CompositionConfig
    env: EnvSpec
    settings: TrainSettings
    eval_source: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "composition": True,
            "config": self.config.to_dict(),
            "env": self.env.to_dict(),
            "settings": self.settings.__dict__.copy(),
            "eval_source": self.eval_source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompositionRun:
        return cls(
            agent=data["agent"],
            config=config_from_dict(data["agent"], data["config"]),
            env=EnvSpec.from_dict(data["env"]),
            settings=TrainSettings(**data["settings"]),
            eval_source=data.get("eval_source"),
        )


def new_composition_run(c: Choices) -> CompositionRun:
    """The run ``c`` (an ``optkit train`` with a composition as AGENT) describes."""
    comp = composition(c.agent)
    if c.env is not None:
        raise OptkitError(f"{c.agent} plays both caching timescales; --env does not apply")
    if c.family not in (None, "caching"):
        raise OptkitError(
            f"{c.agent} is a caching composition: it cannot train on {c.family} instances "
            "(use --family caching, or leave --family out)"
        )
    config = make_composition_config(c.agent, c.hyperparameters)
    share_scale = COMPOSITION_SHARE_SCALE
    for key, value in (c.env_options or {}).items():
        if key != "share_scale":
            raise OptkitError(f"{c.agent} takes one env option, share_scale (got {key!r})")
        try:
            share_scale = float(value)
        except ValueError:
            raise OptkitError(f"env option share_scale={value!r} is not a float") from None
        if not share_scale > 0:
            raise OptkitError(f"env option share_scale must be > 0, got {value!r}")
    options = {"frame_action": comp.frame_action, "share_scale": share_scale}
    # the instance sources and their checks are the frame agent's run's
    frame_run = new_run(
        replace(
            c,
            agent=comp.frame_agent,
            family="caching",
            env="caching-frame",
            hyperparameters=None,
            env_options={"frame_action": comp.frame_action},
        )
    )
    env = EnvSpec(ENV_NAME, frame_run.env.source, options)
    return CompositionRun(c.agent, config, env, frame_run.settings, frame_run.eval_source)


class HeldOut:
    """Greedy episodes of a joint agent on fixed instances, scored by :func:`evaluate`."""

    def __init__(self, instances: list[Instance]) -> None:
        from optkit.solvers import solve

        self.instances = [i for i in instances if isinstance(i, CachingInstance)]
        self.baseline = BASELINE["caching"]
        self.baselines: list[float] = []
        for instance in self.instances:
            value = solve(instance, self.baseline).objective
            if value is None:  # the plain baseline is always feasible
                raise RuntimeError(f"{instance.name}: the baseline {self.baseline} has no value")
            self.baselines.append(value)

    def __call__(self, joint: JointAgent, step: int, references: dict[str, float]) -> EvalReport:
        objectives: list[float] = []
        gaps: list[float | None] = []
        regrets: list[float] = []
        with torch.random.fork_rng(devices=[]):
            for instance, base in zip(self.instances, self.baselines, strict=True):
                ev = evaluate(instance, joint.solve(instance, "policy"))
                if not ev.feasible or ev.objective is None:  # the episode makes this impossible
                    raise RuntimeError(f"infeasible decisions on {instance.name}")
                objectives.append(ev.objective)
                gaps.append(policy_gap(ev.objective, base, "max"))
                ref = references.get(instance.name)
                if ref is not None:
                    regret = normalised_regret(ev.objective, ref, base, "max")
                    if regret is not None:
                        regrets.append(regret)
        mean = float(np.mean(objectives))
        return EvalReport(
            step=step,
            episodes=len(objectives),
            mean_return=mean,
            mean_objective=mean,
            mean_baseline=float(np.mean(self.baselines)),
            gap_to_baseline=None
            if None in gaps
            else float(np.mean([g for g in gaps if g is not None])),
            regret=float(np.mean(regrets)) if regrets else None,
            baseline=self.baseline,
        )


class CompositionTrainer(StopOnSigint):
    """A composition's run in a directory: the interface of :class:`optkit.drl.train.Trainer`
    (``run``, ``save``, ``resume``, ``step``, ``last_eval``, ``run_spec``, ``device``).
    Evaluations and checkpoints happen at the first episode end after each interval."""

    def __init__(self, run: CompositionRun, out: Path | str) -> None:
        from optkit.drl.evaluation import read_references

        self.run_spec, self.out = run, Path(out)
        self.comp = composition(run.agent)
        self.device = choose_device(run.settings.device)
        seed_everything(run.settings.seed)
        if run.env.source is None:
            raise OptkitError(f"{run.agent} needs an instance source")
        self.source = source_from_dict(run.env.source)
        first = self.source.get(0)
        if not isinstance(first, CachingInstance):
            raise OptkitError(f"{run.agent} trains on caching instances")
        self.dims = caching_dims(first)
        self.joint = JointAgent(
            self.comp,
            run.config,
            joint_spaces(CachingEpisode(first, self.comp.frame_action)),
            self.device,
            run.settings.seed,
            _share_scale(run.env),
        )
        self.held_out: HeldOut | None = None
        self.references: dict[str, float] = {}
        if run.eval_source is not None:
            held = source_from_dict(run.eval_source)
            self.held_out = HeldOut(held.instances())  # type: ignore[attr-defined]
            if "folder" in run.eval_source:
                self.references = read_references(Path(run.eval_source["folder"]), "caching")
        self.next_index = self.episodes = 0
        self.recent: deque[float] = deque(maxlen=RECENT_EPISODES)
        self.last_eval: EvalReport | None = None
        self.stop_requested = False

    @property
    def step(self) -> int:
        return self.joint.slot_steps

    def _next_instance(self) -> CachingInstance:
        instance = self.source.get(self.next_index)
        self.next_index += 1
        if not isinstance(instance, CachingInstance) or caching_dims(instance) != self.dims:
            raise OptkitError(
                f"{instance.name}: training instances must all have {show_dims(self.dims)}"
            )
        return instance

    def run(
        self,
        on_progress: Callable[[Progress], None] | None = None,
        on_eval: Callable[[EvalReport], None] | None = None,
        handle_sigint: bool = True,
    ) -> Outcome:
        """Train up to ``settings.steps`` slots (whole episodes; Ctrl-C stops at the end of the
        episode in progress and writes the checkpoint)."""
        settings = self.run_spec.settings
        total = settings.steps
        evaluations: list[EvalReport] = []
        restore = self._install_sigint() if handle_sigint else None
        started, start_step = time.perf_counter(), self.step
        try:
            while self.step < total and not self.stop_requested:
                before = self.step
                ep = self.joint.new_episode(self._next_instance())
                self.recent.append(self.joint.play(ep, learn=True))
                self.episodes += 1
                done = self.step >= total
                if done or self.step // settings.eval_interval > before // settings.eval_interval:
                    report = self.evaluate()
                    evaluations.append(report)
                    if on_eval:
                        on_eval(report)
                if done or self.step // settings.checkpoint_interval > (
                    before // settings.checkpoint_interval
                ):
                    self.save("finished" if done else "running")
                if on_progress:
                    rate = (self.step - start_step) / max(time.perf_counter() - started, 1e-9)
                    recent = float(np.mean(self.recent))
                    on_progress(
                        Progress(self.step, total, self.episodes, recent, rate, self.last_eval)
                    )
        finally:
            if restore:
                restore()
        interrupted = self.step < total
        if interrupted:
            self.save("interrupted")
        return Outcome(self.step, self.episodes, interrupted, self.last_eval, evaluations)

    def evaluate(self) -> EvalReport:
        if self.held_out is None:
            raise OptkitError(f"{self.run_spec.agent}: no held-out set")
        report = self.held_out(self.joint, self.step, self.references)
        self.last_eval = report
        append_evaluation(self.out, report)
        return report

    def save(self, status: str = "running") -> None:
        """``checkpoint.pt`` (both agents with their replay, every RNG, the loop), ``policy.pt``
        and ``run.json``, each written atomically."""
        loop = {
            "episodes": self.episodes,
            "next_index": self.next_index,
            "recent": list(self.recent),
            "last_eval": None if self.last_eval is None else self.last_eval.to_json(),
        }
        write_run(
            self.out,
            run_head(self.run_spec.to_dict(), self.joint.spaces, self.dims),
            self.joint.state_dict(replay=True),
            self.joint.state_dict(False),
            loop,
            status,
            self.step,
            self.episodes,
        )

    @classmethod
    def resume(cls, out: Path | str, steps: int | None = None) -> CompositionTrainer:
        """Continue the run in ``out`` (up to ``steps`` slots in total when given)."""
        out = Path(out)
        data = load_file(out / CHECKPOINT, CHECKPOINT_FORMAT)
        run = CompositionRun.from_dict(data)
        at = int(data["agent_state"]["slot_steps"])
        if steps is not None:
            if steps < at:
                raise OptkitError(f"{out}: the run is at step {at}, beyond --steps {steps}")
            run = replace(run, settings=replace(run.settings, steps=steps))
        trainer = cls(run, out)
        if data["spaces"] != trainer.joint.spaces:
            raise OptkitError(f"checkpoint {out}: its spaces differ from this optkit's caching env")
        trainer.joint.load_state_dict(data["agent_state"])
        loop = data["loop"]
        trainer.episodes, trainer.next_index = int(loop["episodes"]), int(loop["next_index"])
        trainer.recent = deque(loop["recent"], maxlen=RECENT_EPISODES)
        trainer.last_eval = EvalReport(**loop["last_eval"]) if loop["last_eval"] else None
        set_global_rng_state(data["rng"])
        return trainer


def _share_scale(env: EnvSpec) -> float:
    return float(env.options.get("share_scale", COMPOSITION_SHARE_SCALE))


def is_composition_file(data: dict[str, Any]) -> bool:
    return bool(data.get("composition"))


# ------------------------------------------------------------------------------ acting


@dataclass(frozen=True)
class TrainedComposition:
    """A composition's policy loaded from a run directory (the interface of
    :class:`optkit.drl.policy.TrainedPolicy`: ``play``, ``family``, ``describe``)."""

    path: Path
    agent_name: str
    joint: JointAgent
    dims: dict[str, int]
    family: str = "caching"

    def describe(self) -> str:
        return show_dims(self.dims)

    def play(self, instance: Instance, method: str) -> CachingSolution:
        """One greedy episode on ``instance``; refused for another family or dimensions."""
        where = "the policy"  # the caller names the method (policy:RUN_DIR) beside it
        if not isinstance(instance, CachingInstance):
            raise MethodRefused(
                f"{where} ({self.agent_name}) plays caching instances; {instance.name} is "
                f"a {instance.family} instance"
            )
        dims = caching_dims(instance)
        if dims != self.dims:
            raise MethodRefused(
                f"{where} was built for {show_dims(self.dims)}; {instance.name} has {show_dims(dims)}"
            )
        return self.joint.solve(instance, method)


def load_trained_composition(path: Path, data: dict[str, Any]) -> TrainedComposition:
    """The policy in a composition's ``policy.pt`` (already read, ``data``)."""
    name = data["agent"]
    comp = composition(name)
    config = config_from_dict(name, data["config"])
    # acting needs no replay memory worth the name
    config = CompositionConfig(
        dataclasses.replace(config.frame, buffer_size=1),
        None if config.slot is None else dataclasses.replace(config.slot, buffer_size=1),
    )
    dims = dict(data["dims"])
    with torch.random.fork_rng(devices=[]):  # building networks must not move the caller's RNG
        joint = JointAgent(
            comp,
            config,
            data["spaces"],
            choose_device("auto"),
            seed=0,
            share_scale=_share_scale(EnvSpec.from_dict(data["env"])),
        )
    joint.load_state_dict(data["agent_state"], acting_only=True)
    return TrainedComposition(path, name, joint, dims)


__all__ = [
    "COMPOSITIONS",
    "Composition",
    "CompositionConfig",
    "CompositionRun",
    "CompositionTrainer",
    "JointAgent",
    "TrainedComposition",
    "composition",
    "composition_names",
    "describe_composition",
    "is_composition_file",
    "joint_spaces",
    "load_trained_composition",
    "make_composition_config",
    "new_composition_run",
]
