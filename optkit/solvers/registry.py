"""The method registry behind :func:`optkit.solve`.

A method is named ``name`` or ``name:variant`` (``no-cache:equal``, ``policy:runs/t2drl``). Each
family has a table of method names → ``"module:function"`` targets, imported on first use so
that the CLI starts fast and optional backends are only needed when used. A target has the
signature ``fn(instance, options: SolveOptions) -> Result``; it may raise
:class:`~optkit.errors.MethodRefused`, which ``solve`` turns into a ``Result`` with status
``error`` and the refusal as message. A refusal's message does not repeat the method's name:
whoever shows it (the CLI, ``optkit gap``) says which method and instance it is about.

A method takes only the variants it declares: a fixed list (``lfu:equal``), an open argument
(:class:`VariantArg`: ``fastest-k:K``, ``policy:RUN_DIR``), or none; :func:`lookup` refuses
anything else with one line, before anything runs.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from optkit.errors import MethodRefused, OptkitError
from optkit.instances.io import Instance
from optkit.solvers.result import Result, error_result

#: The longest time limit a method accepts, in seconds (about 31 years: "no limit" in practice,
#: and within every backend's range — SCIP refuses limits above 1e20).
MAX_TIME_LIMIT_S = 1e9


def check_time_limit(time_limit: float | None) -> None:
    """Raise :class:`OptkitError` unless ``time_limit`` is None or a finite number of seconds
    in (0, :data:`MAX_TIME_LIMIT_S`]."""
    if time_limit is None:
        return
    if not (math.isfinite(time_limit) and 0 < time_limit <= MAX_TIME_LIMIT_S):
        raise OptkitError(
            f"time limit must be a number of seconds above 0 and at most 1e9, got {time_limit:g}"
        )


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
class VariantArg:
    """An open variant: ``metavar`` as help shows it (``K``), ``meaning`` what it stands for
    (a noun phrase), ``accepts`` the test, ``normalise`` the spelling results carry
    (``03`` → ``3``); ``required`` when the method cannot run without one."""

    metavar: str
    meaning: str
    accepts: Callable[[str], bool]
    normalise: Callable[[str], str] = str
    required: bool = False


def _positive_integer(text: str) -> bool:
    return text.isascii() and text.isdigit() and int(text) >= 1


#: ``fastest-k:K``, ``random-k:K``: servers per task.
SERVER_COUNT = VariantArg(
    "K",
    "an integer >= 1 (servers per task)",
    _positive_integer,
    lambda text: str(int(text)),
)
#: ``policy:RUN_DIR``: a training run directory (its files are checked when it is loaded).
RUN_DIR = VariantArg("RUN_DIR", "a training run directory", bool, required=True)


@dataclass(frozen=True)
class MethodInfo:
    name: str
    family: str
    target: str
    summary: str
    kind: str  # "exact", "relaxation", "heuristic", "policy", "baseline"
    variants: tuple[str, ...] = ()
    default_variant: str | None = None
    variant_arg: VariantArg | None = None

    @property
    def usage(self) -> str:
        """How the name is written with its variants: ``lfu[:optimal|equal]``, ``policy:RUN_DIR``."""
        choices = [*self.variants, *([self.variant_arg.metavar] if self.variant_arg else [])]
        if not choices:
            return self.name
        joined = "|".join(choices)
        if self.variant_arg is not None and self.variant_arg.required:
            return f"{self.name}:{joined}"
        return f"{self.name}[:{joined}]"


_METHODS: dict[tuple[str, str], MethodInfo] = {}


def register(
    family: str,
    name: str,
    target: str,
    summary: str,
    kind: str,
    variants: tuple[str, ...] = (),
    default_variant: str | None = None,
    variant_arg: VariantArg | None = None,
) -> None:
    """Add (or replace) a method of ``family``. The method takes the ``variants`` listed and,
    with ``variant_arg``, any variant that rule accepts; with neither, no variant at all."""
    _METHODS[(family, name)] = MethodInfo(
        name, family, target, summary, kind, variants, default_variant, variant_arg
    )


def methods(family: str | None = None) -> list[MethodInfo]:
    """The registered methods, optionally of one family."""
    _load_builtin()
    return [info for (fam, _), info in sorted(_METHODS.items()) if family in (None, fam)]


def canonical(info: MethodInfo, variant: str | None) -> str:
    """The name results carry: ``name`` or ``name:variant`` (the default variant made explicit)."""
    return f"{info.name}:{variant}" if variant else info.name


def exists(family: str, method: str) -> bool:
    """Whether ``family`` has a method of this name (the variant is not looked at)."""
    _load_builtin()
    return (family, method.partition(":")[0]) in _METHODS


def lookup(family: str, method: str) -> tuple[MethodInfo, str | None]:
    """Resolve ``name[:variant]`` for ``family``; an unknown name or a variant the method does
    not take raises :class:`OptkitError` (one line listing the known ones)."""
    _load_builtin()
    name, colon, variant = method.partition(":")
    info = _METHODS.get((family, name))
    if info is None:
        known = ", ".join(sorted(n for f, n in _METHODS if f == family))
        raise OptkitError(f"unknown method {method!r} for the {family} family (known: {known})")
    arg = info.variant_arg
    if colon and variant not in info.variants:
        if arg is None or not arg.accepts(variant):
            raise OptkitError(f"unknown variant {method!r} ({_variant_rule(info)})")
        variant = arg.normalise(variant)
    if not variant:
        if arg is not None and arg.required:
            raise OptkitError(f"method {name} needs {arg.meaning}: --method {name}:{arg.metavar}")
        variant = info.default_variant or ""
    return info, variant or None


def _variant_rule(info: MethodInfo) -> str:
    """What ``info`` takes after the colon, as one clause."""
    known = [f"{info.name}:{v}" for v in info.variants]
    if info.variant_arg is not None:
        arg = info.variant_arg
        known.append(f"{info.name}:{arg.metavar} with {arg.metavar} {arg.meaning}")
    if not known:
        return f"{info.name} takes no variant"
    return f"known: {', '.join(known)}"


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
    check_time_limit(time_limit)
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
