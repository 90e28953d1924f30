"""The method registry behind :func:`optkit.solve`.

A method is named ``name`` or ``name:variant`` (``no-cache:equal``, ``policy:runs/t2drl``). Each
family has a table of method names → ``"module:function"`` targets, imported on first use so
that the CLI starts fast and optional backends are only needed when used. A target has the
signature ``fn(instance, options: SolveOptions) -> Result``; it may raise
:class:`~optkit.errors.MethodRefused`, which ``solve`` turns into a ``Result`` with status
``error`` and the refusal as message.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from optkit.errors import MethodRefused, OptkitError
from optkit.instances.io import Instance
from optkit.solvers.result import Result, error_result


@dataclass(frozen=True)
class SolveOptions:
    """What every method receives. ``time_limit`` in seconds (None: none); ``gap`` the relative
    gap at which exact methods may stop (None: prove optimality, tolerances 1e-9); ``variant``
    the part of the method name after ``:``."""

    time_limit: float | None = None
    gap: float | None = None
    seed: int = 0
    threads: int = 1
    verbose: bool = False
    variant: str | None = None


@dataclass(frozen=True)
class MethodInfo:
    name: str
    family: str
    target: str
    summary: str
    kind: str  # "exact", "relaxation", "heuristic", "policy", "baseline"
    variants: tuple[str, ...] = ()
    default_variant: str | None = None


_METHODS: dict[tuple[str, str], MethodInfo] = {}


def register(
    family: str,
    name: str,
    target: str,
    summary: str,
    kind: str,
    variants: tuple[str, ...] = (),
    default_variant: str | None = None,
) -> None:
    """Add (or replace) a method of ``family``. ``variants`` empty means any variant string."""
    _METHODS[(family, name)] = MethodInfo(
        name, family, target, summary, kind, variants, default_variant
    )


def methods(family: str | None = None) -> list[MethodInfo]:
    """The registered methods, optionally of one family."""
    _load_builtin()
    return [info for (fam, _), info in sorted(_METHODS.items()) if family in (None, fam)]


def canonical(info: MethodInfo, variant: str | None) -> str:
    """The name results carry: ``name`` or ``name:variant`` (the default variant made explicit)."""
    return f"{info.name}:{variant}" if variant else info.name


def lookup(family: str, method: str) -> tuple[MethodInfo, str | None]:
    """Resolve ``name[:variant]`` for ``family``; unknown names raise :class:`OptkitError`."""
    _load_builtin()
    name, _, variant = method.partition(":")
    info = _METHODS.get((family, name))
    if info is None:
        known = ", ".join(sorted(n for f, n in _METHODS if f == family))
        raise OptkitError(f"unknown method {method!r} for the {family} family (known: {known})")
    if not variant:
        variant = info.default_variant or ""
    if info.variants and variant not in info.variants:
        allowed = ", ".join(f"{name}:{v}" for v in info.variants)
        raise OptkitError(f"unknown variant {method!r} (known: {allowed})")
    return info, variant or None


def solve(
    instance: Instance,
    method: str,
    *,
    time_limit: float | None = None,
    gap: float | None = None,
    seed: int = 0,
    threads: int = 1,
    verbose: bool = False,
) -> Result:
    """Run ``method`` on ``instance`` and return its :class:`Result`, scored by
    :func:`optkit.evaluate`. Unknown methods raise :class:`OptkitError`; a method that refuses
    the instance returns status ``error`` with its reason."""
    info, variant = lookup(instance.family, method)
    if time_limit is not None and time_limit <= 0:
        raise OptkitError(f"time limit must be > 0 seconds, got {time_limit}")
    if gap is not None and not 0 <= gap < 1:
        raise OptkitError(f"gap must be in [0, 1), got {gap}")
    options = SolveOptions(time_limit, gap, seed, threads, verbose, variant)
    fn = _resolve(info)
    name = canonical(info, variant)
    start = time.perf_counter()
    try:
        result = fn(instance, options)
    except MethodRefused as exc:
        return error_result(
            instance, name, str(exc), wall_time_s=time.perf_counter() - start, seed=seed
        )
    # a method may refine an open default into a concrete variant (``fastest-k`` → ``fastest-k:3``
    # when the instance fixes k); otherwise results carry the canonical name
    if not (variant is None and result.method.startswith(f"{info.name}:")):
        result = replace(result, method=name)
    return replace(result, seed=seed)


def same_method(family: str, requested: str, recorded: str) -> bool:
    """Whether a results line's ``recorded`` method is a run of ``requested`` (for resuming)."""
    info, variant = lookup(family, requested)
    name = canonical(info, variant)
    return recorded == name or (variant is None and recorded.startswith(f"{info.name}:"))


def _resolve(info: MethodInfo) -> Callable[[Instance, SolveOptions], Result]:
    module, _, function = info.target.partition(":")
    fn: Callable[[Instance, SolveOptions], Result] = getattr(
        importlib.import_module(module), function
    )
    return fn


_builtin_loaded = False


def _load_builtin() -> None:
    global _builtin_loaded
    if not _builtin_loaded:
        _builtin_loaded = True
        importlib.import_module("optkit.solvers.methods")
