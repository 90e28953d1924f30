"""Evaluating a policy: greedy rollouts, on a held-out instance set (scored by
:func:`optkit.evaluate`, compared with the family's plain baseline and, where a ``.solu`` file
gives them, with reference optima) or on a Gymnasium env (mean return)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from optkit.drl.envs import EnvSpec, fixed, make_env, make_optkit_env
from optkit.evaluate import evaluate
from optkit.gaps import BASELINE, Sense, normalised_regret, policy_gap
from optkit.instances.common import SENSE
from optkit.instances.io import Instance
from optkit.instances.solu import read_solu_folder


class Actor(Protocol):
    def act(self, obs: np.ndarray, step: int = 0, explore: bool = False) -> Any: ...


@dataclass(frozen=True)
class EvalReport:
    """One evaluation. ``mean_objective`` / ``mean_baseline``: the evaluator's objectives on
    the held-out set (family sense); ``gap_to_baseline``: mean of
    ``policy_gap(value, baseline)`` (< 0: better than the baseline; None where a baseline is
    missing or ~0); ``regret``: mean normalised regret where reference optima are known."""

    step: int
    episodes: int
    mean_return: float
    mean_objective: float | None = None
    mean_baseline: float | None = None
    gap_to_baseline: float | None = None
    regret: float | None = None
    baseline: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def rollout(env: gym.Env, agent: Actor, **reset: Any) -> tuple[float, int]:
    """One greedy episode (``explore=False``); returns (return, steps)."""
    obs, _ = env.reset(**reset)
    total, steps, done = 0.0, 0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(agent.act(obs, explore=False))
        total += float(reward)
        steps += 1
        done = terminated or truncated
    return total, steps


def read_references(folder: Path, family: str | None = None) -> dict[str, float]:
    """Reference optima (``=opt=`` and ``=best=`` values) of the ``*.solu`` files in a folder
    (``family``: the instances', so that an ``=best=`` beating an ``=opt=`` is refused)."""
    sense: Sense | None = None if family is None else SENSE[family]
    return {
        name: ref.value
        for name, ref in read_solu_folder(folder, sense).items()
        if ref.value is not None
    }


class HeldOutEvaluator:
    """Greedy rollouts of a policy on fixed instances, each decision sequence scored by
    :func:`optkit.evaluate` (the baselines are solved once)."""

    def __init__(
        self,
        spec: EnvSpec,
        instances: Sequence[Instance],
        references: dict[str, float] | None = None,
    ) -> None:
        from optkit.solvers import solve

        self.instances = list(instances)
        self.env = make_optkit_env(spec, source=fixed(self.instances))
        self.family = self.instances[0].family
        self.sense: Sense = "max" if SENSE[self.family] == "max" else "min"
        self.references = references or {}
        self.baseline = BASELINE[self.family]
        self.baselines: list[float | None] = []
        for instance in self.instances:
            result = solve(instance, self.baseline)
            self.baselines.append(result.objective)

    def __call__(self, agent: Actor, step: int) -> EvalReport:
        returns, objectives, gaps, regrets = [], [], [], []
        for instance, base in zip(self.instances, self.baselines, strict=True):
            ret, _ = rollout(self.env, agent, options={"instance": instance})
            ev = evaluate(instance, self.env.solution("policy"))
            if not ev.feasible or ev.objective is None:  # the envs make this impossible
                raise RuntimeError(
                    f"policy decisions infeasible on {instance.name}: {ev.violations[0]}"
                )
            returns.append(ret)
            objectives.append(ev.objective)
            gaps.append(None if base is None else policy_gap(ev.objective, base, self.sense))
            ref = self.references.get(instance.name)
            if ref is not None and base is not None:
                regrets.append(normalised_regret(ev.objective, ref, base, self.sense))
        known_bases = [b for b in self.baselines if b is not None]
        return EvalReport(
            step=step,
            episodes=len(self.instances),
            mean_return=_mean(returns),
            mean_objective=_mean(objectives),
            mean_baseline=_mean(known_bases) if len(known_bases) == len(self.baselines) else None,
            gap_to_baseline=_mean_or_none(gaps),
            regret=_mean_or_none(regrets) if regrets else None,
            baseline=self.baseline,
        )


class ReturnEvaluator:
    """Mean greedy return over ``episodes`` episodes of a Gymnasium env, seeded
    ``seed, seed + 1, …`` every time (the same episodes at each evaluation)."""

    def __init__(self, spec: EnvSpec, episodes: int = 10, seed: int = 10_000) -> None:
        self.env = make_env(spec)
        self.episodes, self.seed = episodes, seed

    def __call__(self, agent: Actor, step: int) -> EvalReport:
        returns = [rollout(self.env, agent, seed=self.seed + i)[0] for i in range(self.episodes)]
        return EvalReport(step=step, episodes=self.episodes, mean_return=_mean(returns))


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else math.nan


def _mean_or_none(values: Sequence[float | None]) -> float | None:
    if not values or any(v is None for v in values):
        return None
    return float(np.mean([v for v in values if v is not None]))
