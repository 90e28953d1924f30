"""The scheduling environment (``scheduling``, DESIGN §3, §7): one step per task.

The action is an index into ``compiled.allowed_subsets`` (every server subset the instance
allows, by size then lexicographically; ``Discrete(len(subsets))``), so ``max_servers`` and
``exact_servers`` hold by construction. The task's workload is split over the chosen servers by
exact water-filling (:func:`optkit.solvers.scheduling.waterfill.fill`). The reward is −cost_n (the make-span, or
φ·T_dl when the task fails), so an episode's rewards sum to minus the objective of
:meth:`SchedulingEnv.solution` as :func:`optkit.evaluate` scores it. The delays follow §3.3 in
the evaluator's order of operations, task by task (the shared
:class:`~optkit.solvers.scheduling.online.SchedulingState`), so each cost is the evaluator's to
the bit.

Two further action interfaces (env option ``action``) serve the papers' systems, each with
the same water-filling and the same reward:

- ``k-subset`` (option ``k``, default min(3, J)): ``Discrete(C(J, k))``, an index into
  ``itertools.combinations(range(J), k)`` — exactly k servers (SMCoEdge's top-k DQN);
- ``partner``: ``Discrete(J)``, the local server of the task's base station plus server j
  (j = the local one: the local server alone) — DRLCoEdge's one collaborating server.

An instance whose ``max_servers`` / ``exact_servers`` forbid the subsets an interface produces
is refused with one line.

Observation before task n (float32, 4·J + 1 values): ``[a_{n,j} processing + transfer time (s)
per server, w_{n,j} wait (s) per server (queue, work queued earlier this slot, uplink backlog),
Q_j / (f_j·Δ) queue in slots of work per server, one-hot of the task's base station,
slot / slots]``. Only the current task and the past are visible.
"""

from __future__ import annotations

import itertools
from math import comb
from typing import Any

import gymnasium as gym
import numpy as np

from optkit.drl.envs.sources import InstanceSource
from optkit.errors import OptkitError
from optkit.instances.scheduling import SchedulingInstance
from optkit.instances.solution import SchedulingSolution, TaskDecision
from optkit.solvers.scheduling.online import SchedulingState
from optkit.solvers.scheduling.online_methods import DEFAULT_K
from optkit.solvers.scheduling.waterfill import fill


def scheduling_dims(instance: SchedulingInstance) -> dict[str, int]:
    """The dimensions a scheduling policy's networks are built for."""
    return {
        "servers": len(instance.servers),
        "subsets": len(instance.compiled.allowed_subsets),
    }


def _show(dims: dict[str, int]) -> str:
    return " and ".join(
        f"{v} {'allowed ' if k == 'subsets' else ''}{k if v != 1 else k.rstrip('s')}"
        for k, v in dims.items()
    )


#: The action interfaces (see the module doc).
ACTIONS = ("subset", "k-subset", "partner")


class SchedulingEnv(gym.Env[np.ndarray, Any]):
    """One step per task (see the module doc); ``options={"instance": inst}`` in ``reset``
    plays a given instance."""

    def __init__(
        self, source: InstanceSource, action: str = "subset", k: int | None = None
    ) -> None:
        if action not in ACTIONS:
            raise OptkitError(f"unknown scheduling action {action!r} (known: {', '.join(ACTIONS)})")
        self.action_kind = action
        if source.family != "scheduling":
            raise OptkitError(
                f"the scheduling environment needs scheduling instances, not {source.family}"
            )
        self.source = source
        self.next_index = 0
        first = source.get(0)
        assert isinstance(first, SchedulingInstance)
        self.dims = self._dims(first)
        J = self.dims["servers"]
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (4 * J + 1,), np.float32)
        self.k = min(DEFAULT_K, J) if k is None else k
        if action == "k-subset":
            if not 1 <= self.k <= J:
                raise OptkitError(
                    f"k-subset action: k = {self.k} servers per task, but {first.name} has {J} "
                    f"servers; choose k in 1..{J} (smcoedge: --set k=N; other agents: "
                    "--env-set k=N) or leave it out for min(3, servers)"
                )
            self._k_subsets = list(itertools.combinations(range(J), self.k))
            self.action_space = gym.spaces.Discrete(comb(J, self.k))
        elif action == "partner":
            self.action_space = gym.spaces.Discrete(J)
        else:
            self.action_space = gym.spaces.Discrete(self.dims["subsets"])
        self._load(first)

    # ---------------------------------------------------------------- gymnasium API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        if "instance" in options:
            instance = options["instance"]
        else:
            instance = self.source.get(self.next_index)
            self.next_index += 1
        if not isinstance(instance, SchedulingInstance):
            raise OptkitError(
                f"{instance.name}: the scheduling environment needs a scheduling instance"
            )
        dims = self._dims(instance)
        if dims != self.dims:
            raise OptkitError(
                f"{instance.name}: {_show(dims)}, but this environment was built for "
                f"{_show(self.dims)}"
            )
        if not instance.tasks:
            raise OptkitError(f"{instance.name}: no tasks, nothing to play")
        self._load(instance)
        return self._observe(), {"instance": instance.name}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        n, state = self.task, self.state
        servers = self._servers(int(action))
        process, wait = state.process_list(n), self._wait
        fractions, _ = fill([process[j] for j in servers], [wait[j] for j in servers])
        cost = state.cost(state.apply(n, servers, fractions))
        self.decisions.append(TaskDecision(servers, tuple(fractions)))
        self.task += 1
        done = self.task == self._n_tasks
        if not done:
            self._advance()
        return self._observe(), -cost, done, False, {}

    def _dims(self, instance: SchedulingInstance) -> dict[str, int]:
        """What the networks depend on: the allowed subsets only under the ``subset`` action."""
        dims = scheduling_dims(instance)
        if self.action_kind != "subset":
            del dims["subsets"]
        return dims

    def _servers(self, action: int) -> tuple[int, ...]:
        """The server subset an action names under this env's interface."""
        if self.action_kind == "k-subset":
            return self._k_subsets[action]
        if self.action_kind == "partner":
            local = self._bs[self.task]
            return (local,) if action == local else tuple(sorted((local, action)))
        return self._subsets[action]

    def _check_interface(self, instance: SchedulingInstance) -> None:
        """One line when the instance forbids subsets this env's interface produces."""
        sizes = instance.compiled.allowed_sizes()
        needed = {"k-subset": [self.k], "partner": [1, 2]}.get(self.action_kind, [])
        missing = [s for s in needed if s not in sizes]
        if missing:
            rule = (
                f"exactly {instance.max_servers}"
                if instance.exact_servers
                else f"at most {instance.max_servers}"
            )
            raise OptkitError(
                f"{instance.name}: the {self.action_kind} action needs tasks on "
                f"{' and '.join(map(str, needed))} server(s), the instance allows {rule}"
            )

    # ---------------------------------------------------------------- state

    def _load(self, instance: SchedulingInstance) -> None:
        self._check_interface(instance)
        c = instance.compiled
        self.instance = instance
        self.state = SchedulingState(instance)
        self._J, self._n_tasks = c.n_servers, c.n_tasks
        self._bs, self._task_slot = c.task_bs.tolist(), c.task_slot.tolist()
        self._capacity = c.capacity_gcycles_per_slot.tolist()
        self._slots = c.slots
        self._subsets = [tuple(int(j) for j in np.flatnonzero(row)) for row in c.allowed_subsets]
        self.task = 0
        self.decisions: list[TaskDecision] = []
        self._advance()

    @property
    def slot(self) -> int:
        return self.state.slot

    def _advance(self) -> None:
        """Close the slots before the current task's (queues drain), then compute its waits."""
        self.state.advance_to(self._task_slot[self.task])
        self._wait = self.state.wait_list(self.task)

    def _observe(self) -> np.ndarray:
        J = self._J
        if self.task == self._n_tasks:
            return np.zeros(4 * J + 1, np.float32)
        onehot = [0.0] * J
        onehot[self._bs[self.task]] = 1.0
        queue, capacity = self.state.queue_list(), self._capacity
        return np.array(
            self.state.process_list(self.task)
            + self._wait
            + [queue[j] / capacity[j] for j in range(J)]
            + onehot
            + [self.slot / self._slots],
            np.float32,
        )

    def get_state(self) -> dict[str, Any]:
        """What a checkpoint needs besides ``np_random`` to redo the next reset."""
        return {"next_index": self.next_index}

    def set_state(self, state: dict[str, Any]) -> None:
        self.next_index = int(state["next_index"])

    def solution(self, method: str) -> SchedulingSolution:
        """The finished episode's decisions (scored by :func:`optkit.evaluate`)."""
        if self.task != self._n_tasks:
            raise RuntimeError("the episode is not finished")
        return SchedulingSolution(self.instance.name, method, tuple(self.decisions))
