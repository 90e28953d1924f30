"""Independent parts of a scheduling instance (exact, not a heuristic).

Slots are coupled only through the queues Q_j(k). When the instance's own bounds show that
every queue is 0 at the start of slot k whatever the decisions (``Bounds.queue_max[k] == 0``:
even if all earlier work went to one server, it is done within the slot), the slots before k
and from k on are separate programs: the optimum is the sum of their optima, and a solution is
the concatenation of theirs. On the ``amcoedge`` preset (1 s slots, fast servers) every slot is
its own part; on ``smcoedge`` (0.1 s slots) parts span a few slots. Branch-and-bound time grows
exponentially with the tasks of a program, so solving the parts one by one is much faster than
the whole horizon at once.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np

from optkit.instances.scheduling import SchedulingInstance
from optkit.models.scheduling import bounds


@dataclass(frozen=True)
class Part:
    """Slots ``[first_slot, end_slot)`` and tasks ``[first_task, end_task)`` of the original
    instance, as an instance of their own (slots renumbered from 0; initial queues those of
    the original at ``first_slot``, which are the file's for slot 0 and exactly 0 otherwise)."""

    first_slot: int
    end_slot: int
    first_task: int
    end_task: int
    instance: SchedulingInstance


def parts(instance: SchedulingInstance) -> list[Part]:
    """The independent parts of ``instance`` that hold tasks, in slot order."""
    c = instance.compiled
    queue_max = bounds(c).queue_max
    cuts = [0] + [k for k in range(1, c.slots) if not np.any(queue_max[k] > 0)] + [c.slots]
    found = []
    for first, end in itertools.pairwise(cuts):
        first_task, end_task = int(c.slot_start[first]), int(c.slot_start[end])
        if first_task == end_task:
            continue
        tasks = tuple(
            dataclasses.replace(t, slot=t.slot - first) for t in instance.tasks[first_task:end_task]
        )
        servers = instance.servers
        if first > 0:
            servers = tuple(dataclasses.replace(s, queue_gcycles=0.0) for s in servers)
        sub = dataclasses.replace(
            instance,
            name=f"{instance.name}[slots {first}-{end - 1}]",
            slots=end - first,
            servers=servers,
            tasks=tasks,
        )
        found.append(Part(first, end, first_task, end_task, sub))
    return found


__all__ = ["Part", "parts"]
