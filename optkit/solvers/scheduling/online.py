"""The online state of the scheduling family (DESIGN §3.3), written once for every online
method and for the DRL scheduling environment.

Tasks are decided one at a time in their global order (by slot, then file order). Before a
task is decided the state holds exactly what the authors' environments let a scheduler see:

- ``queue_gcycles[j]``: Q_j(k), the work waiting at server j at the start of the slot;
- ``earlier_gcycles[j]``: W, the work assigned to j earlier in this slot;
- ``uplink_s[b]``: TX, the uplink backlog of base station b in this slot (seconds).

From them ``waits(n)`` gives w_{n,j} = (Q_j(k) + W_j)/f_j + [j ≠ b_n]·TX_{b_n} and
``process(n)`` gives a_{n,j}. ``apply(n, servers, fractions)`` commits a decision and returns
its make-span; ``end_slot()`` moves the queues to the next slot,
Q_j(k+1) = max(0, Q_j(k) + W_j − f_j Δ). A failed task's work is still done (it is applied
like any other).

The arithmetic is the evaluator's, operation for operation (plain Python floats), so a
make-span computed here is bit-identical to the one :func:`optkit.evaluate` reports for the
same decisions (a test checks it); in particular the failure rule T > ``fail_threshold_s``
cannot disagree between the two. Hot loops can use the list forms ``wait_list(n)`` and
``process_list(n)`` with :func:`~optkit.solvers.scheduling.waterfill.fill`.

Typical use::

    state = SchedulingState(instance)
    for n in range(instance.compiled.n_tasks):
        state.advance_to(int(instance.compiled.task_slot[n]))
        waits, process = state.waits(n), state.process(n)
        servers, fractions = ...  # the policy's choice
        make_span = state.apply(n, servers, fractions)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from optkit.instances.scheduling import SchedulingInstance


class SchedulingState:
    """Queues, same-slot work and uplink backlogs while tasks are decided in order.

    Units: Gcycles for work, seconds for times. ``slot`` is the current slot k, ``next_task``
    the index of the next task to decide (tasks of earlier slots are all decided).

    The state is kept in plain Python lists: a decision touches a handful of servers, where
    numpy's per-call overhead costs more than the arithmetic, and list arithmetic is the
    evaluator's own (hence bit-identical make-spans). The constants come from the compiled
    view once.
    """

    def __init__(self, instance: SchedulingInstance) -> None:
        c = instance.compiled
        self.instance = instance
        self.compiled = c
        self.slot = 0
        self.next_task = 0
        self._queue: list[float] = c.queue0_gcycles.tolist()
        self._earlier = [0.0] * c.n_servers
        self._uplink = [0.0] * c.n_servers
        self._servers = range(c.n_servers)
        self._cpu: list[float] = c.cpu_ghz.tolist()
        self._rate: list[float] = c.rate_mbps.tolist()
        self._capacity: list[float] = c.capacity_gcycles_per_slot.tolist()
        self._bs: list[int] = c.task_bs.tolist()
        self._slot_of: list[int] = c.task_slot.tolist()
        self._work: list[float] = c.task_work_gcycles.tolist()
        self._data: list[float] = c.task_input_mbit.tolist()
        self._process: list[list[float]] = c.process_s.tolist()
        self._slot_end: list[int] = c.slot_start[1:].tolist()

    def copy(self) -> SchedulingState:
        """An independent copy (for look-ahead); the instance and its constants are shared."""
        other = object.__new__(SchedulingState)
        other.__dict__.update(self.__dict__)
        other._queue = list(self._queue)
        other._earlier = list(self._earlier)
        other._uplink = list(self._uplink)
        return other

    @property
    def done(self) -> bool:
        """Whether every task has been decided."""
        return self.next_task >= self.compiled.n_tasks

    @property
    def queue_gcycles(self) -> np.ndarray:
        """Q_j(k): the work queued at each server at the start of the current slot."""
        return np.array(self._queue)

    def queue_list(self) -> list[float]:
        """:attr:`queue_gcycles` as a plain list (do not modify it)."""
        return self._queue

    @property
    def earlier_gcycles(self) -> np.ndarray:
        """W: the work assigned to each server earlier in the current slot."""
        return np.array(self._earlier)

    @property
    def uplink_s(self) -> np.ndarray:
        """TX: each base station's uplink backlog in the current slot (seconds)."""
        return np.array(self._uplink)

    def waits(self, task: int) -> np.ndarray:
        """w_{n,j} (seconds) of ``task`` at every server j, given the decisions so far.

        ``task`` must belong to the current slot (see :meth:`advance_to`).
        """
        return np.array(self.wait_list(task))

    def wait_list(self, task: int) -> list[float]:
        """:meth:`waits` as a plain list (the allocation-free form for hot loops)."""
        self._check_slot(task)
        b = self._bs[task]
        uplink = self._uplink[b]
        queue, earlier, cpu = self._queue, self._earlier, self._cpu
        # (Q + W)/f + [j ≠ b]·TX, in the evaluator's order of operations
        return [
            (queue[j] + earlier[j]) / cpu[j] + (uplink if j != b else 0.0) for j in self._servers
        ]

    def process(self, task: int) -> np.ndarray:
        """a_{n,j} (seconds) of ``task`` at every server j: the whole task's processing (and
        transfer, when j is not its base station). Read-only view of the compiled instance."""
        row: np.ndarray = self.compiled.process_s[task]
        return row

    def process_list(self, task: int) -> list[float]:
        """:meth:`process` as a plain list (do not modify it)."""
        return self._process[task]

    def cost(self, make_span_s: float) -> float:
        """cost_n of a make-span: itself when on time, φ·T_dl when the task failed."""
        c = self.compiled
        if make_span_s > c.fail_threshold_s:
            return float(c.failure_penalty * c.deadline_s)
        return float(make_span_s)

    def apply(
        self,
        task: int,
        servers: Sequence[int] | np.ndarray,
        fractions: Sequence[float] | np.ndarray,
    ) -> float:
        """Commit ``task``'s decision (``servers`` with their ``fractions``) and return its
        make-span T_n (seconds). Tasks must be applied in order, within the current slot."""
        if task != self.next_task:
            raise ValueError(f"task {task} applied out of order (next is {self.next_task})")
        if isinstance(servers, np.ndarray):
            servers = servers.tolist()
        if isinstance(fractions, np.ndarray):
            fractions = fractions.tolist()
        waits = self.wait_list(task)
        process = self._process[task]
        b = self._bs[task]
        work, data = self._work[task], self._data[task]
        earlier, rate = self._earlier, self._rate
        uplink = self._uplink[b]
        make_span = -math.inf
        for j, x in zip(servers, fractions, strict=True):
            make_span = max(make_span, x * process[j] + waits[j])
            earlier[j] += x * work
            if j != b:
                uplink += x * data / rate[j]
        self._uplink[b] = uplink
        self.next_task += 1
        return float(make_span)

    def end_slot(self) -> None:
        """Close the current slot: every task of it must have been applied."""
        if self.next_task < self._slot_end[self.slot]:
            raise ValueError(
                f"slot {self.slot} still has undecided tasks (next is task {self.next_task})"
            )
        queue, earlier, capacity = self._queue, self._earlier, self._capacity
        self._queue = [max(0.0, queue[j] + earlier[j] - capacity[j]) for j in self._servers]
        self._earlier = [0.0] * len(queue)
        self._uplink = [0.0] * len(queue)
        self.slot += 1

    def advance_to(self, slot: int) -> None:
        """Close slots until ``slot`` is the current one (no-op when it already is)."""
        while self.slot < slot:
            self.end_slot()

    def _check_slot(self, task: int) -> None:
        if self._slot_of[task] != self.slot:
            raise ValueError(
                f"task {task} is in slot {self._slot_of[task]}, the state is in slot {self.slot}"
            )


__all__ = ["SchedulingState"]
