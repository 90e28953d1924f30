"""One HiGHS quirk shared by every method that runs HiGHS through Pyomo."""

from __future__ import annotations


def reset_highs_threads() -> None:
    """HiGHS keeps one thread scheduler per process, sized by the first run: a later run that
    asks for another thread count ends at once with status 'not set' (seen after any HiGHS run
    with its default threads). Dropping the scheduler lets the next run size it again."""
    import highspy

    highspy.Highs.resetThreadScheduler(True)
