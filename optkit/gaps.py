"""Gap conventions (DESIGN §4). One helper each; the docstrings are the reference.

Senses: ``"max"`` (caching: utility) and ``"min"`` (scheduling: cost). ``optkit.SENSE`` maps a
family to its sense.
"""

from __future__ import annotations

from typing import Literal

Sense = Literal["max", "min"]

#: Tolerance of "exact methods agree" (DESIGN §4).
AGREE_TOLERANCE = 1e-6


#: The family's plain baseline (DESIGN §4): the v_base of :func:`normalised_regret`.
BASELINE = {"caching": "no-cache:equal", "scheduling": "local"}


def solver_gap(primal: float, dual: float, sense: Sense = "max") -> float:
    """An exact method's own certificate: ``|primal − dual| / max(|primal|, |dual|, 1)``.

    ``primal`` is the objective of the best solution found, ``dual`` the proven bound (upper
    for maximisation, lower for minimisation). 0 means proven optimal. The sense is accepted
    for symmetry with the other helpers; the formula does not depend on it.
    """
    del sense
    return abs(primal - dual) / max(abs(primal), abs(dual), 1.0)


def policy_gap(value: float, optimum: float, sense: Sense) -> float | None:
    """Relative gap of a policy's value to the reference optimum OPT.

    ``(OPT − value)/|OPT|`` for maximisation, ``(value − OPT)/|OPT|`` for minimisation: ≥ 0 for
    a feasible policy up to tolerance, 0 when the policy is optimal. ``None`` when
    ``|OPT| < 1e-9`` (the ratio means nothing there; use :func:`normalised_regret`).
    """
    if abs(optimum) < 1e-9:
        return None
    diff = optimum - value if sense == "max" else value - optimum
    return diff / abs(optimum)


def normalised_regret(value: float, optimum: float, baseline: float, sense: Sense) -> float | None:
    """``(OPT − value)/(OPT − baseline)`` (signs flipped for minimisation).

    ``baseline`` is the family's plain baseline on the same instance (caching: ``no-cache`` with
    equal shares; scheduling: ``local``). 0 is optimal, 1 is no better than the baseline; it
    needs no natural zero of the objective, which caching utility lacks. ``None`` when
    ``OPT == baseline``.
    """
    span = optimum - baseline
    if span == 0:
        return None
    return (optimum - value) / span


def agree(a: float, b: float, tol: float = AGREE_TOLERANCE) -> bool:
    """Exact methods agree when ``|a − b| ≤ tol · max(1, |a|, |b|)``."""
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))
