"""Gap conventions (DESIGN §4). One helper each; the docstrings are the reference.

Senses: ``"max"`` (caching: utility) and ``"min"`` (scheduling: cost). ``optkit.SENSE`` maps a
family to its sense. Any other sense raises :class:`ValueError` (a typo such as ``"maximise"``
must not silently measure the other way).
"""

from __future__ import annotations

from typing import Literal

Sense = Literal["max", "min"]

#: Tolerance of "exact methods agree" (DESIGN §4).
AGREE_TOLERANCE = 1e-6


#: The family's plain baseline (DESIGN §4): the v_base of :func:`normalised_regret`.
BASELINE = {"caching": "no-cache:equal", "scheduling": "local"}


def check_sense(sense: object) -> Sense:
    """``sense`` itself when it is ``"max"`` or ``"min"``; :class:`ValueError` otherwise."""
    if sense == "max" or sense == "min":
        return sense
    raise ValueError(f"sense must be 'max' or 'min', got {sense!r}")


def solver_gap(primal: float, dual: float, sense: Sense = "max") -> float:
    """An exact method's own certificate: ``|primal − dual| / max(|primal|, |dual|, 1)``.

    ``primal`` is the objective of the best solution found, ``dual`` the proven bound (upper
    for maximisation, lower for minimisation). 0 means proven optimal. The sense is accepted
    for symmetry with the other helpers; the formula does not depend on it.
    """
    check_sense(sense)
    return abs(primal - dual) / max(abs(primal), abs(dual), 1.0)


def policy_gap(value: float, optimum: float, sense: Sense) -> float | None:
    """Relative gap of a policy's value to the reference optimum OPT.

    ``(OPT − value)/|OPT|`` for maximisation, ``(value − OPT)/|OPT|`` for minimisation: ≥ 0 for
    a feasible policy up to tolerance, 0 when the policy is optimal. ``None`` when
    ``|OPT| < 1e-9`` (the ratio means nothing there; use :func:`normalised_regret`).
    """
    check_sense(sense)
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
    check_sense(sense)
    span = optimum - baseline
    if span == 0:
        return None
    return (optimum - value) / span


def agree(a: float, b: float, tol: float = AGREE_TOLERANCE) -> bool:
    """Exact methods agree when ``|a − b| ≤ tol · max(1, |a|, |b|)``; ``tol`` ≥ 0."""
    if not tol >= 0:
        raise ValueError(f"tolerance must be >= 0, got {tol!r}")
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def beats(value: float, reference: float, sense: Sense, tol: float = AGREE_TOLERANCE) -> bool:
    """Whether ``value`` is better than ``reference`` in ``sense`` by more than the agreement
    tolerance (:func:`agree`). A feasible value that beats a proven optimum proves that optimum
    wrong."""
    better = value > reference if check_sense(sense) == "max" else value < reference
    return better and not agree(value, reference, tol)
