"""What no caching policy can reach without foresight: a bound on the expected objective (and
on the expected gap to the clairvoyant optimum) of every *non-anticipative* policy.

The reference optimum of a caching instance knows every request in advance; a policy does not.
In particular frame 0's caches are chosen before a single request is seen. When the model
labels of the request process are *exchangeable* — relabelling the models of every request by
one permutation σ gives an equally likely request sequence for the same servers, models and
users — that blindness has a price that can be computed exactly with the exact solvers.

optkit's generators are exchangeable in this sense: the first frame's popularity ranking is a
uniformly random permutation of the models, drawn independently of everything else, and the
drift between frames and the users' draws never look at a label.

The argument. Write R for the requests, V(c₀, R) for the optimum when frame 0's caches are
fixed to c₀ and everything after is chosen knowing R (a clairvoyant continuation), and OPT(R)
for the unconstrained optimum. A non-anticipative policy picks c₀ from the static data alone,
and afterwards can do no better than the clairvoyant continuation, so on every relabelling σR
its objective is ≤ V(c₀, σR). Given the static data and the set {σR}, every relabelling is
equally likely, hence

    E[objective] ≤ max_{c₀} mean_σ V(c₀, σR)
    E[gap]       ≥ min_{c₀} mean_σ (OPT(σR) − V(c₀, σR)) / |OPT(σR)|

(maximisation; the gap of :func:`optkit.gaps.policy_gap`). Averaging the per-instance figures
over a benchmark set bounds the *mean* objective and the *mean* gap a policy can expect there
(not its median: a bound on expectations is linear, a quantile is not). The means over σ run
over every permutation when there are at most ``samples`` of them (exact), else over
``samples`` uniform draws (an estimate, reported with its standard error: a maximum of sample
means errs upwards, on the bound's safe side, in expectation).

Each V(c₀, σR) is solved exactly: frame 0 by the per-slot allocation under c₀ (less the switch
cost of loading c₀), frames 1… by ``bnb`` on the instance cut after frame 0 with c₀ as its
initial cache. c₀ runs over every joint cache that fits the storage (all models — a blind
policy cannot know which will be asked for), so the work grows with that count
(``max_caches``) times the samples.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optkit.errors import MethodRefused
from optkit.gaps import policy_gap
from optkit.instances.caching import CachingInstance
from optkit.solvers.caching.plan import SlotValues
from optkit.solvers.registry import solve
from optkit.solvers.result import Status

#: Joint first-frame caches enumerated at most (each costs one exact solve per sample).
MAX_CACHES = 256


@dataclass(frozen=True)
class ForesightBound:
    """The bounds of one instance (see the module doc). Objectives in the objective's units.

    ``optimum``: OPT of the instance as given; ``mean_optimum``: mean OPT(σR) over the
    relabellings; ``objective_bound`` ≥ E[objective] and ``gap_bound`` ≤ E[gap] of every
    non-anticipative policy (``None`` when some |OPT(σR)| < 1e-9, where a relative gap means
    nothing); ``*_stderr``: standard errors of the two over sampled relabellings (0 when all
    were enumerated); ``best_first_cache``: the model indices per server of the c₀ that
    attains ``objective_bound``.
    """

    instance: str
    relabellings: int
    exhaustive: bool
    first_caches: int
    optimum: float
    mean_optimum: float
    objective_bound: float
    objective_stderr: float
    gap_bound: float | None
    gap_stderr: float
    best_first_cache: tuple[tuple[int, ...], ...]
    solves: int
    wall_time_s: float


def first_frame_caches(instance: CachingInstance) -> list[tuple[tuple[int, ...], ...]]:
    """Every joint cache (model indices per server) that fits each server's storage."""
    sizes = [m.size_gb for m in instance.models]
    per_server = []
    for server in instance.servers:
        cap = server.storage_gb * (1 + 1e-9)
        per_server.append(
            [
                subset
                for r in range(len(sizes) + 1)
                for subset in itertools.combinations(range(len(sizes)), r)
                if sum(sizes[m] for m in subset) <= cap
            ]
        )
    count = math.prod(len(s) for s in per_server)
    if count > MAX_CACHES:
        raise MethodRefused(
            f"{instance.name}: {count} joint first-frame caches, the foresight bound enumerates "
            f"at most {MAX_CACHES}"
        )
    return list(itertools.product(*per_server))


def relabel(instance: CachingInstance, permutation: np.ndarray) -> CachingInstance:
    """The instance whose every request asks for model ``permutation[m]`` instead of m."""
    requests = tuple(
        dataclasses.replace(r, model=int(permutation[r.model])) for r in instance.requests
    )
    return dataclasses.replace(instance, requests=requests)


def _relabellings(models: int, samples: int, seed: int) -> tuple[list[np.ndarray], bool]:
    if math.factorial(models) <= samples:
        return [np.array(p) for p in itertools.permutations(range(models))], True
    rng = np.random.default_rng(seed)
    return [rng.permutation(models) for _ in range(samples)], False


def _optimum(instance: CachingInstance) -> float:
    result = solve(instance, "bnb")
    if result.status != Status.OPTIMAL or result.objective is None:
        raise MethodRefused(f"{instance.name}: bnb did not prove the optimum ({result.status})")
    return result.objective


def fixed_first_frame(instance: CachingInstance, first: tuple[tuple[int, ...], ...]) -> float:
    """V(c₀, R): the optimum when frame 0's caches are ``first`` (model indices per server)."""
    c = instance.compiled
    cache = np.zeros((len(instance.servers), len(instance.models)), bool)
    for e, models in enumerate(first):
        cache[e, list(models)] = True
    value = SlotValues(c).frame(0, cache)
    value -= float(c.w_switch * ((cache & ~c.initial_cache) * c.size_gb).sum())
    rest = tuple(dataclasses.replace(r, frame=r.frame - 1) for r in instance.requests if r.frame)
    if instance.frames == 1 or not rest:
        return value  # nothing after frame 0 (no requests: keeping c₀ costs nothing)
    later = dataclasses.replace(
        instance,
        name=f"{instance.name}#after-frame-0",
        frames=instance.frames - 1,
        initial_cache=first,
        requests=rest,
    )
    return value + _optimum(later)


def non_anticipative_bound(
    instance: CachingInstance,
    samples: int = 30,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> ForesightBound:
    """Bounds on what any non-anticipative policy can expect on ``instance`` (module doc).

    ``samples``: relabellings averaged over (all of them when there are no more than that);
    ``seed``: the draw of the relabellings; ``progress(done, total)`` is called after each
    relabelling. Raises :class:`MethodRefused` when there are more than :data:`MAX_CACHES`
    first-frame caches or an exact solve does not finish.
    """
    start = time.perf_counter()
    caches = first_frame_caches(instance)
    perms, exhaustive = _relabellings(len(instance.models), samples, seed)
    values = np.empty((len(caches), len(perms)))
    optima = np.empty(len(perms))
    for j, perm in enumerate(perms):
        relabelled = relabel(instance, perm)
        optima[j] = _optimum(relabelled)
        for i, first in enumerate(caches):
            values[i, j] = fixed_first_frame(relabelled, first)
        if progress is not None:
            progress(j + 1, len(perms))
    identity = [j for j, p in enumerate(perms) if np.array_equal(p, np.arange(len(p)))]
    optimum = float(optima[identity[0]]) if identity else _optimum(instance)
    means = values.mean(axis=1)
    best = int(np.argmax(means))
    n = len(perms)

    def stderr(row: np.ndarray) -> float:
        return 0.0 if exhaustive or n < 2 else float(row.std(ddof=1) / math.sqrt(n))

    gap_bound: float | None = None
    gap_err = 0.0
    if np.all(np.abs(optima) >= 1e-9):
        gaps = np.array(
            [[policy_gap(v, o, "max") for v, o in zip(row, optima, strict=True)] for row in values]
        )
        row = int(np.argmin(gaps.mean(axis=1)))
        gap_bound, gap_err = float(gaps[row].mean()), stderr(gaps[row])
    return ForesightBound(
        instance=instance.name,
        relabellings=n,
        exhaustive=exhaustive,
        first_caches=len(caches),
        optimum=optimum,
        mean_optimum=float(optima.mean()),
        objective_bound=float(means[best]),
        objective_stderr=stderr(values[best]),
        gap_bound=gap_bound,
        gap_stderr=gap_err,
        best_first_cache=caches[best],
        solves=values.size + n + (not identity),
        wall_time_s=time.perf_counter() - start,
    )
