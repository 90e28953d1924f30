"""HiGHS quirks shared by every part of optkit that runs HiGHS."""

from __future__ import annotations

import os
import sys
from typing import Any


def reset_highs_threads() -> None:
    """HiGHS keeps one thread scheduler per process, sized by the first run: a later run that
    asks for another thread count ends at once with status 'not set' (seen after any HiGHS run
    with its default threads). Dropping the scheduler lets the next run size it again."""
    import highspy

    highspy.Highs.resetThreadScheduler(True)


def quiet_highs() -> Any:
    """A new ``highspy.Highs`` with its output off. The first one made in a process prints a
    banner on the process's standard output from C++ (not through ``sys.stdout``), which would
    end up inside machine-readable output such as ``optkit solve --json``: it is made here with
    file descriptor 1 pointed at the null device."""
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highs = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("threads", 1)
    return highs
