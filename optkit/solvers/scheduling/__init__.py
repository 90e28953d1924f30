"""Scheduling-family solvers (DESIGN §3, §6).

- :mod:`.waterfill`: the best fractions of one task on its own (water-filling).
- :mod:`.online`: :class:`SchedulingState`, the online state (queues, same-slot work, uplink
  backlog) shared by every online method and the DRL environment.
- :mod:`.online_methods`: ``greedy-opt``, ``fastest-k``, ``random-k`` (``local`` is in
  :mod:`optkit.solvers.baselines`).
"""

from optkit.solvers.scheduling.online import SchedulingState
from optkit.solvers.scheduling.waterfill import waterfill, waterfill_subsets

__all__ = ["SchedulingState", "waterfill", "waterfill_subsets"]
