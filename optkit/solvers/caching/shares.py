"""Exact bandwidth shares of one home server in one slot, given routing and steps (DESIGN §2.4).

With the routing and the steps fixed, each request r has a radio term a_r/b_r (``a_r`` =
``radio_s_share``, seconds at the full bandwidth) and a *slack* σ_r = D_r − (delay without the
radio part), so its utility depends on its share b_r through

    f_r(b) = −w_d·a_r/b − w_l·max(0, a_r/b − σ_r)        (concave in b)

and the shares solve max Σ_r f_r(b_r) s.t. Σ_r b_r ≤ 1. Its KKT conditions give, with the
bandwidth price ν = 1/t², each share as a median of three lines in t:

    b_r(t) = median(√(w_d a_r)·t,  a_r/σ_r,  √((w_d + w_l) a_r)·t)     (σ_r > 0)
    b_r(t) = √((w_d + w_l) a_r)·t                                      (σ_r ≤ 0: late anyway)

so Σ_r b_r(t) is piecewise linear and nondecreasing in t, and Σ b = 1 is solved *exactly* by
sorting its breakpoints (no bisection, no tolerance). The late multiplier λ_r ∈ [0, 1] (1: late,
0: on time, between: exactly on the deadline) is a supergradient of the value in σ_r / w_l: the
slot solver uses it for its Lagrangian bounds (:mod:`optkit.solvers.caching.allocation`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: Share given to a request with nothing to transmit (a share must be > 0).
TINY_SHARE = 1e-12


def group_shares(
    radio_s: Sequence[float], slack_s: Sequence[float], w_delay: float, w_late: float
) -> tuple[list[float], float, list[float]]:
    """Optimal shares of one group, their value Σ f_r(b_r) and the late multipliers λ_r.

    ``radio_s[i]``: a_i in seconds (radio delay at the full bandwidth); ``slack_s[i]``: σ_i in
    seconds (deadline minus the delay without the radio part). Shares sum to 1 (up to
    :data:`TINY_SHARE` for requests with a_i = 0).
    """
    n = len(radio_s)
    if n == 0:
        return [], 0.0, []
    w_high = w_delay + w_late
    shares = [0.0] * n
    lam = [0.0] * n
    value = 0.0
    active = [i for i in range(n) if radio_s[i] > 0]
    for i in range(n):
        if radio_s[i] <= 0 and slack_s[i] < 0:
            value -= w_late * (-slack_s[i])
            lam[i] = 1.0
    if not active or w_high <= 0:
        # the shares do not matter: split equally
        return [1.0 / n] * n, value, lam

    lo, hi, kink, t_star = _level(
        [radio_s[i] for i in active], [slack_s[i] for i in active], w_delay, w_late
    )
    # shares at t_star (t_star = inf: all on time at their kinks with bandwidth to spare, w_d = 0)
    b_active = []
    for j in range(len(active)):
        b = kink[j] if math.isinf(t_star) else max(lo[j] * t_star, min(kink[j], hi[j] * t_star))
        b_active.append(b)
    total = sum(b_active)
    if total < 1.0:  # leftover only when every request sits at its kink (w_d = 0): spread it
        b_active = [b / total for b in b_active]
    n_idle = n - len(active)
    scale = 1.0 - n_idle * TINY_SHARE
    nu = 0.0 if math.isinf(t_star) else 1.0 / (t_star * t_star)
    for j, i in enumerate(active):
        b = b_active[j] * scale
        shares[i] = b
        radio = radio_s[i] / b
        late = radio - slack_s[i]
        value -= w_delay * radio + (w_late * late if late > 0 else 0.0)
        if w_late <= 0:
            lam[i] = 0.0
        elif not math.isinf(kink[j]) and abs(b_active[j] - kink[j]) <= 1e-12 * kink[j]:
            # on the deadline: ν·b²/a = w_d + w_l·λ
            lam[i] = min(1.0, max(0.0, (nu * b_active[j] ** 2 / radio_s[i] - w_delay) / w_late))
        else:
            lam[i] = 1.0 if late > 0 else 0.0
    for i in range(n):
        if radio_s[i] <= 0:
            shares[i] = TINY_SHARE
    return shares, value, lam


def _level(
    radio_s: Sequence[float], slack_s: Sequence[float], w_delay: float, w_late: float
) -> tuple[list[float], list[float], list[float], float]:
    """For requests with a_i > 0: the lines lo_i·t and hi_i·t, the kinks a_i/σ_i and the level
    t* at which Σ b_i(t*) = 1 (inf when the kinks leave bandwidth to spare)."""
    w_high = w_delay + w_late
    active = range(len(radio_s))
    # each active request: b(t) = median(lo·t, kink, hi·t) (kink = inf when always late)
    lo = [math.sqrt(w_delay * radio_s[i]) for i in active]
    hi = [math.sqrt(w_high * radio_s[i]) for i in active]
    kink = [radio_s[i] / slack_s[i] if slack_s[i] > 0 else math.inf for i in active]
    # breakpoints in t where a request's share changes slope
    events: list[tuple[float, int, float]] = []  # (t, index, change of slope)
    slope = 0.0
    constant = 0.0
    for j in range(len(active)):
        if math.isinf(kink[j]):
            slope += hi[j]
            continue
        slope += hi[j]  # starts on its late line hi·t (t small)
        events.append((kink[j] / hi[j], j, -hi[j]))  # reaches the kink: constant
        if lo[j] > 0:
            events.append((kink[j] / lo[j], j, lo[j]))  # leaves the kink on its lo line
    events.sort()
    # Σ b(t) = slope·t + constant on each interval between events
    t_star = math.inf
    for t_event, j, change in events:
        total_at_event = slope * t_event + constant
        if total_at_event >= 1.0:
            break
        if change < 0:  # request j becomes constant at its kink
            slope += change
            constant += kink[j]
        else:  # request j leaves its kink
            slope += change
            constant -= kink[j]
    if slope > 0:
        t_star = (1.0 - constant) / slope
    return lo, hi, kink, t_star


def bandwidth_price(
    radio_s: Sequence[float], slack_s: Sequence[float], w_delay: float, w_late: float
) -> float:
    """ν: the optimal dual price of the group's bandwidth (Σ b ≤ 1) at these slacks, so that
    the group's value is min over ν of ν + Σ_r max_b [f_r(b) − ν·b] and this ν attains it."""
    active = [i for i in range(len(radio_s)) if radio_s[i] > 0]
    if not active or w_delay + w_late <= 0:
        return 0.0
    t_star = _level([radio_s[i] for i in active], [slack_s[i] for i in active], w_delay, w_late)[3]
    return 0.0 if math.isinf(t_star) else 1.0 / (t_star * t_star)


def priced_radio_value(
    radio_s: float, deadline_s: float, kappa_s: np.ndarray, nu: float, w_delay: float, w_late: float
) -> np.ndarray:
    """max over 0 < b ≤ 1 of −w_d·a/b − w_l·max(0, a/b + κ − D) − ν·b for each κ in
    ``kappa_s`` (a request alone with its bandwidth priced at ν): concave in κ. The share is
    median(√(w_d a/ν), a/(D − κ), √((w_d + w_l) a/ν)), capped at 1."""
    kappa = np.asarray(kappa_s, float)
    a = radio_s
    if a <= 0:
        return -w_late * np.maximum(0.0, kappa - deadline_s)
    if w_delay + w_late <= 0:
        return np.zeros_like(kappa)  # the share does not matter: b → 0 costs nothing
    if nu <= 0:
        b = np.ones_like(kappa)
    else:
        low = math.sqrt(w_delay * a / nu)
        high = math.sqrt((w_delay + w_late) * a / nu)
        room = deadline_s - kappa
        with np.errstate(divide="ignore"):
            kink = np.where(room > 0, a / np.where(room > 0, room, 1.0), math.inf)
        b = np.minimum(np.maximum(low, np.minimum(kink, high)), 1.0)
    radio = a / b
    result: np.ndarray = (
        -w_delay * radio - w_late * np.maximum(0.0, radio + kappa - deadline_s) - nu * b
    )
    return result


def late_dual_constant(
    radio_s: Sequence[float], lam: Sequence[float], w_delay: float, w_late: float
) -> float:
    """h(λ) = max_b Σ_r −(w_d + w_l·λ_r)·a_r/b_r over Σ b ≤ 1, i.e. −(Σ_r √((w_d + w_l λ_r) a_r))².

    For every λ ∈ [0,1]^n, ``group value ≤ h(λ) + w_l·Σ_r λ_r σ_r`` (Lagrangian duality on the
    late penalty's max(0, ·)), with equality at the optimal λ: the bound the slot solver uses.
    """
    root = 0.0
    for a, l_r in zip(radio_s, lam, strict=True):
        if a > 0:
            root += math.sqrt((w_delay + w_late * l_r) * a)
    return -root * root
