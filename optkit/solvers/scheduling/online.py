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

The arithmetic is the evaluator's, operation for operation, so a make-span computed here is
bit-identical to the one :func:`optkit.evaluate` reports for the same decisions (a test checks
it); in particular the failure rule T > ``fail_threshold_s`` cannot disagree between the two.

Typical use::

    state = SchedulingState(instance)
    for n in range(instance.compiled.n_tasks):
        state.advance_to(int(instance.compiled.task_slot[n]))
        waits, process = state.waits(n), state.process(n)
        servers, fractions = ...  # the policy's choice
        make_span = state.apply(n, servers, fractions)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from optkit.instances.scheduling import SchedulingInstance


class SchedulingState:
    """Queues, same-slot work and uplink backlogs while tasks are decided in order.

    Units: Gcycles for work, seconds for times. ``slot`` is the current slot k, ``next_task``
    the index of the next task to decide (tasks of earlier slots are all decided).
    """

    def __init__(self, instance: SchedulingInstance) -> None:
        c = instance.compiled
        self.instance = instance
        self.compiled = c
        self.slot = 0
        self.next_task = 0
        self.queue_gcycles = c.queue0_gcycles.copy()
        self.earlier_gcycles = np.zeros(c.n_servers)
        self.uplink_s = np.zeros(c.n_servers)
        # per-task constants read in the hot path, as Python lists (faster to index than numpy)
        self._bs = c.task_bs.tolist()
        self._slot_of = c.task_slot.tolist()
        self._work = c.task_work_gcycles.tolist()
        self._data = c.task_input_mbit.tolist()
        self._rate = c.rate_mbps.tolist()

    def copy(self) -> SchedulingState:
        """An independent copy (for look-ahead); the instance and its arrays are shared."""
        other = object.__new__(SchedulingState)
        other.__dict__.update(self.__dict__)
        other.queue_gcycles = self.queue_gcycles.copy()
        other.earlier_gcycles = self.earlier_gcycles.copy()
        other.uplink_s = self.uplink_s.copy()
        return other

    @property
    def done(self) -> bool:
        """Whether every task has been decided."""
        return self.next_task >= self.compiled.n_tasks

    def waits(self, task: int) -> np.ndarray:
        """w_{n,j} (seconds) of ``task`` at every server j, given the decisions so far.

        ``task`` must belong to the current slot (see :meth:`advance_to`).
        """
        self._check_slot(task)
        c = self.compiled
        uplink = self.uplink_s[self._bs[task]]
        # (Q + W)/f + [j ≠ b]·TX, in the evaluator's order of operations
        waits: np.ndarray = (self.queue_gcycles + self.earlier_gcycles) / c.cpu_ghz + c.remote[
            task
        ] * uplink
        return waits

    def process(self, task: int) -> np.ndarray:
        """a_{n,j} (seconds) of ``task`` at every server j: the whole task's processing (and
        transfer, when j is not its base station). Read-only view of the compiled instance."""
        row: np.ndarray = self.compiled.process_s[task]
        return row

    def cost(self, make_span_s: float) -> float:
        """cost_n of a make-span: itself when on time, φ·T_dl when the task failed."""
        c = self.compiled
        if make_span_s > c.fail_threshold_s:
            return float(c.failure_penalty * c.deadline_s)
        return float(make_span_s)

    def apply(self, task: int, servers: Sequence[int], fractions: Sequence[float]) -> float:
        """Commit ``task``'s decision (``servers`` with their ``fractions``) and return its
        make-span T_n (seconds). Tasks must be applied in order, within the current slot."""
        if task != self.next_task:
            raise ValueError(f"task {task} applied out of order (next is {self.next_task})")
        waits = self.waits(task)
        process = self.compiled.process_s[task]
        b = self._bs[task]
        work, data = self._work[task], self._data[task]
        make_span = -np.inf
        uplink = float(self.uplink_s[b])
        earlier = self.earlier_gcycles
        for j, x in zip(servers, fractions, strict=True):
            j, x = int(j), float(x)
            finish = x * float(process[j]) + float(waits[j])
            make_span = max(make_span, finish)
            earlier[j] += x * work
            if j != b:
                uplink += x * data / self._rate[j]
        self.uplink_s[b] = uplink
        self.next_task += 1
        return float(make_span)

    def end_slot(self) -> None:
        """Close the current slot: every task of it must have been applied."""
        c = self.compiled
        if self.next_task < c.slot_start[self.slot + 1]:
            raise ValueError(
                f"slot {self.slot} still has undecided tasks (next is task {self.next_task})"
            )
        self.queue_gcycles = np.maximum(
            0.0, self.queue_gcycles + self.earlier_gcycles - c.capacity_gcycles_per_slot
        )
        self.earlier_gcycles[:] = 0.0
        self.uplink_s[:] = 0.0
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
