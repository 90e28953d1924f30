"""Pyomo formulations of both families, exactly as DESIGN §2.4 and §3.4 write them.

Each family module provides::

    build(instance, *, relax: bool = False) -> pyomo.environ.ConcreteModel
        the program (``relax=True``: integrality dropped); maximisation for caching,
        minimisation for scheduling, objective in the family's own units
    nonlinear_reason(instance) -> str | None
        why the program is not linear (None when it is): ``export`` refuses lp/mps with it
    extract(instance, model, method: str) -> Solution
        the solution in optkit's format from a solved model (binaries rounded)

:func:`build` and :func:`nonlinear_reason` here dispatch on the instance's family;
:func:`write` hands the program to outside solvers (``optkit export``).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

from optkit.errors import OptkitError
from optkit.instances.io import Instance


def family_module(instance: Instance) -> ModuleType:
    try:
        return importlib.import_module(f"optkit.models.{instance.family}")
    except ModuleNotFoundError as exc:
        if exc.name == f"optkit.models.{instance.family}":
            raise OptkitError(f"no Pyomo model for the {instance.family} family yet") from None
        raise


def build(instance: Instance, *, relax: bool = False) -> Any:
    """The Pyomo model of ``instance`` (see the module docstring)."""
    return family_module(instance).build(instance, relax=relax)


def nonlinear_reason(instance: Instance) -> str | None:
    reason: str | None = family_module(instance).nonlinear_reason(instance)
    return reason


#: optkit's export formats → the names of Pyomo's writers.
EXPORT_FORMATS = {"nl": "nl", "lp": "cpxlp", "mps": "mps", "gms": "gams"}


def export_files(path: Path, fmt: str) -> list[Path]:
    """The files :func:`write` writes for ``path``: the program, and for ``nl`` its symbol map
    beside it (``.col``: variable names, ``.row``: constraint names, in the program's order)."""
    if fmt == "nl":
        return [path, path.with_suffix(".col"), path.with_suffix(".row")]
    return [path]


def write(instance: Instance, path: Path, fmt: str) -> list[Path]:
    """Write the program of ``instance`` in format ``fmt`` (a key of :data:`EXPORT_FORMATS`) to
    ``path``, whatever its extension, with readable names: in the file itself for lp, mps and
    gms, in the symbol map files for nl. lp and mps take linear programs only (one-line
    :class:`OptkitError` otherwise). Returns the files written, the program first."""
    if fmt not in EXPORT_FORMATS:
        raise OptkitError(f"unknown export format {fmt!r} (known: {', '.join(EXPORT_FORMATS)})")
    if fmt in ("lp", "mps"):
        reason = nonlinear_reason(instance)
        if reason is not None:
            raise OptkitError(
                f"cannot write {fmt}: the program of {instance.name} is not linear ({reason}); "
                "use nl or gms"
            )
    from pyomo.opt import WriterFactory

    model = build(instance)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the writer itself, not model.write: that one guesses a format from the extension and
    # warns when it differs from the one asked for (x.json written as nl)
    writer = WriterFactory(EXPORT_FORMATS[fmt])
    writer(model, str(path), lambda _: True, {"symbolic_solver_labels": True})
    return export_files(path, fmt)
