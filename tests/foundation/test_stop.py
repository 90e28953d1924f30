"""The cooperative stop request (optkit.solvers.stop): the CLI's first Ctrl-C asks the run to
end with what it has, a second one aborts; outside the CLI nothing changes."""

from __future__ import annotations

import os
import signal

import pytest

import optkit
from optkit.solvers import stop


def test_the_first_ctrl_c_requests_a_stop_and_the_second_aborts() -> None:
    notices: list[bool] = []
    with stop.first_ctrl_c_stops(lambda: notices.append(True)):
        assert not stop.requested()
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested() and notices == [True]
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)  # the handler runs before the next line
    assert not stop.requested()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_request_outside_the_cli_is_a_no_op() -> None:
    """A library caller has nobody to clear the request: a solver that caught Ctrl-C itself
    must not leave every later bnb run stopping at once."""
    stop.request()
    assert not stop.requested()
    inst = optkit.generate("caching", "edgeaigc", "tiny", seed=3)[0]
    assert optkit.solve(inst, "bnb").status is optkit.Status.OPTIMAL


def test_scheduling_milps_solve_no_further_part_once_a_stop_is_requested() -> None:
    """A stop requested (here before the start) leaves every part to greedy-opt: status
    time_limit, a valid bound, greedy-opt's make-spans."""
    instance = optkit.generate("scheduling", "amcoedge", "small", seed=11)[0]
    greedy = optkit.solve(instance, "greedy-opt")
    with stop.first_ctrl_c_stops(lambda: None):
        stop.request()
        result = optkit.solve(instance, "highs")
    assert result.status is optkit.Status.TIME_LIMIT and result.feasible
    assert result.objective == greedy.objective
    assert result.bound is not None and result.objective is not None
    assert result.bound <= result.objective + 1e-9
    assert "not reached" in result.message
