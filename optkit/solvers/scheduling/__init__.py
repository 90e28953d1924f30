"""Scheduling-family solvers (DESIGN §3, §6).

- :mod:`.waterfill`: the best fractions of one task on its own (water-filling).
- :mod:`.online`: :class:`SchedulingState`, the online state (queues, same-slot work, uplink
  backlog) shared by every online method and the DRL environment.
- :mod:`.online_methods`: ``greedy-opt``, ``fastest-k``, ``random-k`` (``local`` is in
  :mod:`optkit.solvers.baselines`).
- :mod:`.allocation`: the LP left when every binary is fixed.
- :mod:`.decompose`: the horizon's independent parts (slots that queues cannot couple).
- :mod:`.exact`: the MILP by HiGHS and SCIP; :mod:`.enumerate`: the brute-force oracle.
"""

from optkit.solvers.scheduling.online import SchedulingState
from optkit.solvers.scheduling.waterfill import waterfill, waterfill_subsets

__all__ = ["SchedulingState", "waterfill", "waterfill_subsets"]
