"""The scheduling environment (``scheduling``, DESIGN §3, §7): one step per task.

The action is an index into ``compiled.allowed_subsets`` (every server subset the instance
allows, by size then lexicographically; ``Discrete(len(subsets))``), so ``max_servers`` and
``exact_servers`` hold by construction. The task's workload is split over the chosen servers by
exact water-filling (:func:`water_fill`). The reward is −cost_n (the make-span, or
φ·T_dl when the task fails), so an episode's rewards sum to minus the objective of
:meth:`SchedulingEnv.solution` as :func:`optkit.evaluate` scores it. The delays follow §3.3 in
the evaluator's order of operations, task by task, so each cost is the evaluator's to the bit.

Observation before task n (float32, 4·J + 1 values): ``[a_{n,j} processing + transfer time (s)
per server, w_{n,j} wait (s) per server (queue, work queued earlier this slot, uplink backlog),
Q_j / (f_j·Δ) queue in slots of work per server, one-hot of the task's base station,
slot / slots]``. Only the current task and the past are visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from optkit.drl.envs.sources import InstanceSource
from optkit.errors import OptkitError
from optkit.instances.scheduling import SchedulingInstance
from optkit.instances.solution import SchedulingSolution, TaskDecision


def water_fill(process_s: Sequence[float], waits_s: Sequence[float]) -> tuple[list[float], float]:
    """Exact water-filling (DESIGN §6): x_j = (L − w_j)⁺ / a_j with the unique level L at which
    Σ x_j = 1. Returns the fractions (aligned with the inputs) and L (s). A server whose wait
    is above the level gets 0. O(k log k)."""
    k = len(process_s)
    order = sorted(range(k), key=waits_s.__getitem__)
    inverse = weighted = 0.0
    level = 0.0
    for pos, i in enumerate(order):
        inverse += 1.0 / process_s[i]
        weighted += waits_s[i] / process_s[i]
        level = (1.0 + weighted) / inverse
        if pos + 1 == k or level <= waits_s[order[pos + 1]]:
            break
    return [max(level - w, 0.0) / a for a, w in zip(process_s, waits_s, strict=True)], level


def scheduling_dims(instance: SchedulingInstance) -> dict[str, int]:
    """The dimensions a scheduling policy's networks are built for."""
    return {
        "servers": len(instance.servers),
        "subsets": len(instance.compiled.allowed_subsets),
    }


class SchedulingEnv(gym.Env[np.ndarray, Any]):
    """One step per task (see the module doc); ``options={"instance": inst}`` in ``reset``
    plays a given instance."""

    def __init__(self, source: InstanceSource) -> None:
        if source.family != "scheduling":
            raise OptkitError(
                f"the scheduling environment needs scheduling instances, not {source.family}"
            )
        self.source = source
        self.next_index = 0
        first = source.get(0)
        assert isinstance(first, SchedulingInstance)
        self.dims = scheduling_dims(first)
        J = self.dims["servers"]
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (4 * J + 1,), np.float32)
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
        dims = scheduling_dims(instance)
        if dims != self.dims:
            raise OptkitError(
                f"{instance.name}: {dims['servers']} servers and {dims['subsets']} allowed subsets, "
                f"but this environment was built for {self.dims['servers']} servers and "
                f"{self.dims['subsets']} subsets"
            )
        if not instance.tasks:
            raise OptkitError(f"{instance.name}: no tasks, nothing to play")
        self._load(instance)
        return self._observe(), {"instance": instance.name}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        n, b = self.task, self._bs[self.task]
        servers = self._subsets[int(action)]
        process, wait = self._process[n], self._wait
        fractions, _ = water_fill([process[j] for j in servers], [wait[j] for j in servers])
        # evaluator's order of operations (optkit/evaluate.py, _scheduling_scores)
        finish = max(x * process[j] + wait[j] for j, x in zip(servers, fractions, strict=True))
        cost = self._failure_cost if finish > self._threshold else finish
        self.decisions.append(TaskDecision(servers, tuple(fractions)))
        for j, x in zip(servers, fractions, strict=True):
            self._earlier[j] += x * self._work[n]
            if j != b:
                self._uplink[b] += x * self._data[n] / self._rate[j]
        self.task += 1
        done = self.task == self._n_tasks
        if not done:
            self._advance()
        return self._observe(), -cost, done, False, {}

    # ---------------------------------------------------------------- state

    def _load(self, instance: SchedulingInstance) -> None:
        c = instance.compiled
        self.instance = instance
        self._J, self._n_tasks = c.n_servers, c.n_tasks
        self._cpu, self._rate = c.cpu_ghz.tolist(), c.rate_mbps.tolist()
        self._work, self._data = c.task_work_gcycles.tolist(), c.task_input_mbit.tolist()
        self._bs, self._task_slot = c.task_bs.tolist(), c.task_slot.tolist()
        self._process = c.process_s.tolist()
        self._capacity = c.capacity_gcycles_per_slot.tolist()
        self._slots = c.slots
        self._threshold = c.fail_threshold_s
        self._failure_cost = c.failure_penalty * c.deadline_s
        self._subsets = [tuple(int(j) for j in np.flatnonzero(row)) for row in c.allowed_subsets]
        self._queue = c.queue0_gcycles.tolist()
        self._earlier = [0.0] * self._J  # W: work queued at j earlier this slot
        self._uplink = [0.0] * self._J  # TX: uplink backlog of each base station this slot
        self.slot, self.task = 0, 0
        self.decisions: list[TaskDecision] = []
        self._advance()

    def _advance(self) -> None:
        """Close the slots before the current task's (queues drain), then compute its waits."""
        target = self._task_slot[self.task]
        J = self._J
        while self.slot < target:
            queue, earlier, capacity = self._queue, self._earlier, self._capacity
            for j in range(J):
                queue[j] = max(0.0, queue[j] + earlier[j] - capacity[j])
            self._earlier = [0.0] * J
            self._uplink = [0.0] * J
            self.slot += 1
        b, queue, earlier, cpu = self._bs[self.task], self._queue, self._earlier, self._cpu
        tx = self._uplink[b]
        self._wait = [(queue[j] + earlier[j]) / cpu[j] + (tx if j != b else 0.0) for j in range(J)]

    def _observe(self) -> np.ndarray:
        J = self._J
        if self.task == self._n_tasks:
            return np.zeros(4 * J + 1, np.float32)
        onehot = [0.0] * J
        onehot[self._bs[self.task]] = 1.0
        queue, capacity = self._queue, self._capacity
        return np.array(
            self._process[self.task]
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
