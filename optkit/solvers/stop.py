"""A cooperative stop request, for long runs interrupted from the keyboard.

Inside :func:`first_ctrl_c_stops` (the CLI's ``solve`` loop) the first Ctrl-C does not kill
the run: it sets the request, and a method that reads it ends as if its time limit had passed
— with its best solution and proven bound, status ``time_limit`` — so the CLI can record it
before it stops: ``bnb`` between nodes and slot allocations, the scheduling MILPs between the
parts of the horizon (greedy-opt for the parts not solved).
A method that does not read it finishes its run. A second Ctrl-C raises
:class:`KeyboardInterrupt` as usual. Outside the context Ctrl-C keeps Python's behaviour.

SCIP catches Ctrl-C itself while it solves (and stops with its best, Pyomo's ``interrupted``):
the backends then call :func:`request`, so that the CLI stops after that run as well.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

_REQUESTED = threading.Event()
_ACTIVE = threading.Event()  # inside first_ctrl_c_stops


def requested() -> bool:
    """Whether a stop was requested (the first Ctrl-C inside :func:`first_ctrl_c_stops`)."""
    return _REQUESTED.is_set()


def request() -> None:
    """Request a stop, as the first Ctrl-C would (for a solver that caught Ctrl-C itself).
    Outside :func:`first_ctrl_c_stops` nothing reads or clears the request: a no-op."""
    if _ACTIVE.is_set():
        _REQUESTED.set()


@contextmanager
def first_ctrl_c_stops(notice: Callable[[], None]) -> Iterator[None]:
    """While active, the first SIGINT sets the request and calls ``notice``; a second one
    raises :class:`KeyboardInterrupt`. Clears the request and restores the previous handler
    on exit. Outside the main thread (where no handler can be set) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if _REQUESTED.is_set():
            raise KeyboardInterrupt
        _REQUESTED.set()
        notice()

    previous = signal.signal(signal.SIGINT, handler)
    _ACTIVE.set()
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _ACTIVE.clear()
        _REQUESTED.clear()
