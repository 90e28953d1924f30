"""Policies and heuristics measured by their gap to the reference optimum (``optkit gap``).

Every method named (any ``optkit solve`` method: ``policy:RUN_DIR``, a heuristic, even an
exact one) runs on every instance; each objective comes from :func:`optkit.evaluate` (through
:func:`optkit.solvers.result.finish`). The reference optimum of an instance is, in this order:
an ``=opt=`` line of a ``*.solu`` file in the set's folder, a proof in results files, a
``=best=`` value of either (marked: a gap to it may be negative), or — when none has it — the
family's exact method run now (``bnb`` for caching, ``highs`` for scheduling, under a time
limit; a run stopped by the limit gives a ``best`` reference). References that contradict
each other (two proofs that do not agree, a feasible value better than a proof) are an error
naming both (:func:`optkit.instances.solu.reconcile`), and so is a feasible solution of any
method run here that beats a proof by more than the agreement tolerance: the proof is wrong,
and its gaps would be silently wrong. Only methods that return a solution of the set's family
are measured (no relaxation, no policy trained on the other family). Per method (DESIGN §4's
conventions, :mod:`optkit.gaps`): mean / median / p95 relative policy gap, mean normalised
regret against the family's plain baseline, the family's own figures (caching: hit ratio and
total utility; scheduling: mean make-span and failure rate), and the time per decision: the
method's wall time over the instance's decisions (caching: slots; scheduling: tasks), after one
discarded warm-up run (loading a policy is not a decision).

For caching sets, :func:`foresight` adds what no policy can beat without knowing the future:
the mean over the instances of :func:`optkit.solvers.caching.foresight.non_anticipative_bound`'s
gap bound (a lower bound on the mean gap any non-anticipative policy can expect there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from optkit.errors import MethodRefused, OptkitError
from optkit.gaps import BASELINE, normalised_regret, policy_gap
from optkit.instances.common import SENSE
from optkit.instances.io import Instance, load_instance
from optkit.instances.solu import (
    Kind,
    Reference,
    check_feasible_value,
    read_solu_folder,
    reconcile,
    references_from_files,
)
from optkit.solvers.registry import lookup, solve
from optkit.solvers.result import Result, Status

#: The exact method that supplies a missing reference, by family.
EXACT = {"caching": "bnb", "scheduling": "highs"}


@dataclass(frozen=True)
class MethodRow:
    """One method's line of the table; gaps and regrets over the instances it solved that
    have a reference (``None`` when there are none)."""

    method: str
    solved: int
    errors: int
    mean_gap: float | None
    median_gap: float | None
    p95_gap: float | None
    mean_regret: float | None
    mean_objective: float | None
    figures: dict[str, float | None]
    time_per_decision_s: float | None
    error: str | None = None
    per_instance: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class ForesightSummary:
    """The non-anticipative bounds of a caching set (:func:`foresight`): means over the
    ``bounded`` instances (``refused`` had too many first-frame caches or no proof)."""

    samples: int
    bounded: int
    refused: int
    mean_gap_bound: float | None
    mean_objective_bound: float | None
    first_refusal: str | None
    per_instance: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class GapReport:
    family: str
    instances: int
    references: dict[str, int]
    rows: list[MethodRow]
    foresight: ForesightSummary | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def load_set(folder: Path) -> list[Instance]:
    """The instances of a folder (its ``*.json`` files, below it too): one family, every
    name once (a copy of an instance would be counted twice). One-line errors otherwise."""
    if not folder.is_dir():
        raise OptkitError(f"{folder}: not a folder")
    files = sorted(p for p in folder.rglob("*.json") if p.is_file())
    if not files:
        raise OptkitError(f"{folder}: no instance files (*.json) in this folder")
    instances = [load_instance(p) for p in files]
    families = sorted({i.family for i in instances})
    if len(families) > 1:
        raise OptkitError(
            f"{folder}: mixed families ({' and '.join(families)}); one family per gap table"
        )
    first: dict[str, Path] = {}
    for path, inst in zip(files, instances, strict=True):
        if inst.name in first:
            raise OptkitError(
                f"{folder}: {first[inst.name]} and {path} are both instance {inst.name}; "
                "each instance once per set (remove the copy)"
            )
        first[inst.name] = path
    return instances


def check_methods(family: str, methods: Sequence[str]) -> None:
    """Refuse, before anything runs, what cannot be measured on a ``family`` set: unknown
    names, a method or a trained policy of the other family, a relaxation (a bound, no
    solution) — one line each (:class:`OptkitError`)."""
    for method in methods:
        try:
            info, _ = lookup(family, method)
        except OptkitError:
            for other in sorted(set(SENSE) - {family}):
                try:
                    lookup(other, method)
                except OptkitError:
                    continue
                raise OptkitError(
                    f"{method} is a {other} method; the set holds {family} instances (a gap "
                    "table measures methods of the set's own family)"
                ) from None
            raise
        if info.kind == "relaxation":
            raise OptkitError(
                f"{method} is a relaxation: it gives a bound and no solution, so it has no gap "
                "to measure (the gap table measures policies, heuristics and exact methods)"
            )
        if info.name == "policy":
            from optkit.drl.policy import load_policy

            policy = load_policy(method.partition(":")[2])
            if policy.family != family:
                trained = (
                    f"{policy.family} instances"
                    if policy.family
                    else "an environment outside the optkit families"
                )
                raise OptkitError(
                    f"{method} was trained on {trained}; the set holds {family} instances (a "
                    "policy is measured on its own family)"
                )


def _unique_names(instances: Sequence[Instance]) -> None:
    names = [i.name for i in instances]
    for name in names:
        if names.count(name) > 1:
            raise OptkitError(f"instance {name} is given {names.count(name)} times; give it once")


#: ``progress(what, done, total)``: called before each run of a long loop.
Progress = Callable[[str, int, int], None]


def references(
    instances: Sequence[Instance],
    folder: Path,
    results: Sequence[Path],
    time_limit: float,
    progress: Progress | None = None,
) -> tuple[dict[str, Reference], dict[str, int]]:
    """The reference of every instance (see the module doc) and how many came from where."""
    _unique_names(instances)
    sense = SENSE[instances[0].family] if instances else None
    solu = read_solu_folder(folder, sense)
    from_results = references_from_files(results) if results else {}
    refs: dict[str, Reference] = {}
    counts = {"solu": 0, "results": 0, "solved": 0, "best": 0, "none": 0}
    to_solve = sum(inst.name not in solu and inst.name not in from_results for inst in instances)
    for inst in instances:
        name = inst.name
        in_solu, in_results = solu.get(name), from_results.get(name)
        ref: Reference | None = in_solu or in_results
        if in_solu is not None and in_results is not None:
            ref = reconcile(in_solu, in_results, SENSE[inst.family])
        if ref is not None:  # an =inf= one too: a feasible run below then proves it wrong
            counts["solu" if ref is in_solu else "results"] += 1
        else:
            method = EXACT[inst.family]
            if progress is not None:
                progress(
                    f"reference {name} · {method}", counts["solved"] + counts["none"], to_solve
                )
            result = solve(inst, method, time_limit=time_limit)
            if result.objective is None:
                counts["none"] += 1
                continue
            kind: Kind = "opt" if result.status == Status.OPTIMAL else "best"
            ref = Reference(name, kind, result.objective, f"{method} run now", SENSE[inst.family])
            counts["solved"] += 1
        counts["best"] += ref.kind == "best"
        refs[name] = ref
    return refs, counts


def decisions(instance: Instance) -> int:
    """Decisions an episode makes: caching slots, scheduling tasks."""
    if instance.family == "caching":
        return int(instance.frames * instance.slots_per_frame)  # type: ignore[union-attr]
    return len(instance.tasks)  # type: ignore[union-attr]


def _figures(family: str, results: Sequence[Result]) -> dict[str, float | None]:
    keys = (
        ("hit_ratio", "total_utility")
        if family == "caching"
        else ("mean_make_span_s", "failure_rate")
    )

    def mean(key: str) -> float | None:
        values = [float(r.metrics[key]) for r in results if r.metrics and key in r.metrics]
        return float(np.mean(values)) if values else None

    return {k: mean(k) for k in keys}


def measure(
    methods: Sequence[str],
    instances: Sequence[Instance],
    refs: dict[str, Reference],
    ref_counts: dict[str, int],
    seed: int = 0,
    time_limit: float | None = None,
    progress: Progress | None = None,
) -> GapReport:
    """Run every method on every instance and summarise (see the module doc)."""
    family = instances[0].family
    sense = SENSE[family]
    _unique_names(instances)
    check_methods(family, methods)  # one line before anything runs
    total, runs = len(instances) * (len(methods) + 1), 0

    def starting(what: str) -> None:
        nonlocal runs
        if progress is not None:
            progress(what, runs, total)
        runs += 1

    baseline: dict[str, float | None] = {}
    for inst in instances:
        starting(f"{inst.name} · {BASELINE[family]} (baseline)")
        base = solve(inst, BASELINE[family], seed=seed).objective
        if base is not None and inst.name in refs:
            check_feasible_value(refs[inst.name], base, f"{BASELINE[family]} finds", sense)
        baseline[inst.name] = base
    rows = []
    for method in methods:
        solve(instances[0], method, seed=seed, time_limit=time_limit)  # warm-up, discarded
        done: list[Result] = []
        gaps: list[float] = []
        regrets: list[float] = []
        per_instance: dict[str, dict[str, Any]] = {}
        first_error: str | None = None
        wall, count = 0.0, 0
        for inst in instances:
            starting(f"{inst.name} · {method}")
            result = solve(inst, method, seed=seed, time_limit=time_limit)
            if result.status == Status.ERROR or result.objective is None:
                first_error = first_error or result.message or result.status.value
                per_instance[inst.name] = {"status": result.status.value, "error": result.message}
                continue
            done.append(result)
            wall += result.wall_time_s
            count += decisions(inst)
            ref, base = refs.get(inst.name), baseline[inst.name]
            if ref is not None:
                check_feasible_value(ref, result.objective, f"{method} finds", sense)
            gap = regret = None
            if ref is not None and ref.value is not None:
                gap = policy_gap(result.objective, ref.value, sense)
                if base is not None:
                    regret = normalised_regret(result.objective, ref.value, base, sense)
            if gap is not None:
                gaps.append(gap)
            if regret is not None:
                regrets.append(regret)
            per_instance[inst.name] = {
                "status": result.status.value,
                "objective": result.objective,
                "reference": None if ref is None else ref.value,
                "gap": gap,
                "regret": regret,
            }

        def stat(values: list[float], q: float | None = None) -> float | None:
            if not values:
                return None
            return float(np.mean(values) if q is None else np.quantile(values, q))

        rows.append(
            MethodRow(
                method=method,
                solved=len(done),
                errors=len(instances) - len(done),
                mean_gap=stat(gaps),
                median_gap=stat(gaps, 0.5),
                p95_gap=stat(gaps, 0.95),
                mean_regret=stat(regrets),
                mean_objective=stat([float(r.objective) for r in done if r.objective is not None]),
                figures=_figures(family, done),
                time_per_decision_s=wall / count if count else None,
                error=first_error,
                per_instance=per_instance,
            )
        )
    return GapReport(family, len(instances), ref_counts, rows)


def foresight(
    instances: Sequence[Instance],
    samples: int = 30,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> ForesightSummary:
    """The non-anticipative bound of every caching instance (``samples`` relabellings each;
    :mod:`optkit.solvers.caching.foresight`); ``progress(done, total)`` after each instance."""
    from optkit.instances.caching import CachingInstance
    from optkit.solvers.caching.foresight import non_anticipative_bound

    per_instance: dict[str, dict[str, Any]] = {}
    gaps: list[float] = []
    objectives: list[float] = []
    refused, first_refusal = 0, None
    for i, inst in enumerate(instances):
        if not isinstance(inst, CachingInstance):
            raise OptkitError(f"{inst.name}: the foresight bound is for caching instances")
        try:
            bound = non_anticipative_bound(inst, samples=samples, seed=seed)
        except MethodRefused as exc:
            refused += 1
            first_refusal = first_refusal or str(exc)
        else:
            per_instance[inst.name] = asdict(bound)
            objectives.append(bound.objective_bound)
            if bound.gap_bound is not None:
                gaps.append(bound.gap_bound)
        if progress is not None:
            progress(i + 1, len(instances))
    return ForesightSummary(
        samples=samples,
        bounded=len(objectives),
        refused=refused,
        mean_gap_bound=float(np.mean(gaps)) if gaps else None,
        mean_objective_bound=float(np.mean(objectives)) if objectives else None,
        first_refusal=first_refusal,
        per_instance=per_instance,
    )
