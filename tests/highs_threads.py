"""Leave HiGHS's process-wide thread scheduler sized for another thread count, as any earlier
HiGHS run with its default threads does (the failure both `highs` methods must survive)."""

from __future__ import annotations


def size_highs_scheduler(threads: int) -> None:
    import highspy

    highspy.Highs.resetThreadScheduler(True)
    other = highspy.Highs()
    other.setOptionValue("output_flag", False)
    other.setOptionValue("threads", threads)
    other.passModel(highspy.HighsLp())
    other.run()
