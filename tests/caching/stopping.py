"""A ``bnb`` solver that hits its time limit after a given number of checks (tests of what a
stopped search reports)."""

from __future__ import annotations

from optkit.solvers.caching import bnb


class StoppingSolver(bnb._Solver):
    """Raises the time limit after ``budget`` checks (never while ``budget`` is None)."""

    budget: int | None = None

    def check_time(self) -> None:
        if self.budget is not None:
            self.budget -= 1
            if self.budget < 0:
                raise bnb._Timeout
