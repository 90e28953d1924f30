"""A trained policy as a method: ``optkit solve FILES --method policy:RUN_DIR``.

The run directory's ``policy.pt`` names the agent, its networks, the env spec and the
dimensions the networks were built for. On each instance the same env is rebuilt around that
instance and the greedy policy plays one episode; its decisions are the solution, scored by
:func:`optkit.evaluate` like any other method's (status ``feasible``). An instance of other
dimensions (servers, models, users; servers and subsets for scheduling) is refused with one
line naming both. A composition's run (``optkit train t2drl``, …: a frame agent and a slot
agent, :mod:`optkit.drl.compose`) is loaded by that module and plays the same way.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from optkit.drl.agents import Agent, make_agent, make_config
from optkit.drl.checkpoint import (
    POLICY,
    POLICY_FORMAT,
    check_spaces_match,
    load_file,
    space_from_description,
)
from optkit.drl.common import choose_device
from optkit.drl.envs import EnvSpec, fixed, make_optkit_env, show_dims
from optkit.drl.evaluation import rollout
from optkit.errors import MethodRefused, OptkitError
from optkit.instances.io import Instance
from optkit.instances.solution import Solution
from optkit.solvers.registry import SolveOptions
from optkit.solvers.result import Result, Status, finish

if TYPE_CHECKING:
    from optkit.drl.compose import TrainedComposition


@dataclass(frozen=True)
class TrainedPolicy:
    """A policy loaded from a run directory."""

    path: Path
    agent_name: str
    agent: Agent
    env: EnvSpec
    spaces: dict[str, Any]
    dims: dict[str, int]

    @property
    def family(self) -> str | None:
        return self.env.family

    def describe(self) -> str:
        return show_dims(self.dims)

    def play(self, instance: Instance, method: str) -> Solution:
        """One greedy episode on ``instance``; its decisions as a solution."""
        # the caller names the method (policy:RUN_DIR) and the instance beside the message
        where = "the policy"
        if self.family is None:
            raise MethodRefused(f"{where} was trained on {self.env.name}, not on an optkit family")
        if instance.family != self.family:
            raise MethodRefused(
                f"{where} was trained on {self.family} instances; {instance.name} is a "
                f"{instance.family} instance"
            )
        try:
            env = make_optkit_env(self.env, source=fixed(instance))
        except MethodRefused:
            raise
        except OptkitError as exc:  # the env cannot play this instance (e.g. too few servers)
            raise MethodRefused(str(exc)) from None
        dims = dict(env.dims)
        if dims != self.dims:
            raise MethodRefused(
                f"{where} was built for {show_dims(self.dims)}; {instance.name} has {show_dims(dims)}"
            )
        check_spaces_match(self.spaces, env, f"policy {self.path}", self.env.name, self.env.name)
        rollout(env, self.agent, options={"instance": instance})
        solution: Solution = env.solution(method)
        return solution


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> TrainedPolicy | TrainedComposition:
    del mtime  # part of the cache key: a rewritten file is read again
    data = load_file(Path(path), POLICY_FORMAT)
    if data.get("composition"):  # a frame agent and a slot agent (optkit.drl.compose)
        from optkit.drl.compose import load_trained_composition

        return load_trained_composition(Path(path).parent, data)
    name = data["agent"]
    # a policy acts only: no replay memory worth the name
    config = dataclasses.replace(make_config(name, data["config"]), buffer_size=1)
    with torch.random.fork_rng(devices=[]):  # building networks must not move the caller's RNG
        agent = make_agent(
            name,
            space_from_description(data["spaces"]["observation"]),
            space_from_description(data["spaces"]["action"]),
            config,
            choose_device("auto"),
            seed=0,
        )
    agent.load_state_dict(
        {k: v for k, v in data["agent_state"].items() if k in ("networks", "extra")}
    )
    return TrainedPolicy(
        Path(path).parent,
        name,
        agent,
        EnvSpec.from_dict(data["env"]),
        data["spaces"],
        dict(data["dims"]),
    )


def load_policy(run_dir: str | Path) -> TrainedPolicy | TrainedComposition:
    """The policy of a training run directory (or of a ``policy.pt`` file): one agent's, or a
    composition's (:class:`~optkit.drl.compose.TrainedComposition`, same ``play``)."""
    p = Path(run_dir)
    path = p / POLICY if p.is_dir() else p
    if not path.exists():
        raise OptkitError(
            f"{p}: no trained policy here ({POLICY} missing; is it an optkit train --out directory?)"
        )
    return _load(str(path.resolve()), path.stat().st_mtime)


def solve(instance: Instance, options: SolveOptions) -> Result:
    """The ``policy`` method (variant: the run directory)."""
    if not options.variant:
        raise OptkitError("method policy needs its training run directory: --method policy:DIR")
    start = time.perf_counter()
    policy = load_policy(options.variant)
    method = f"policy:{options.variant}"
    solution = policy.play(instance, method)
    return finish(
        instance,
        method,
        Status.FEASIBLE,
        solution=solution,
        wall_time_s=time.perf_counter() - start,
        seed=options.seed,
    )
