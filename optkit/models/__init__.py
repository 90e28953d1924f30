"""Pyomo formulations of both families, exactly as DESIGN §2.4 and §3.4 write them.

Each family module provides::

    build(instance, *, relax: bool = False) -> pyomo.environ.ConcreteModel
        the program (``relax=True``: integrality dropped); maximisation for caching,
        minimisation for scheduling, objective in the family's own units
    nonlinear_reason(instance) -> str | None
        why the program is not linear (None when it is): ``export`` refuses lp/mps with it
    extract(instance, model, method: str) -> Solution
        the solution in optkit's format from a solved model (binaries rounded)

:func:`build` and :func:`nonlinear_reason` here dispatch on the instance's family.
"""

from __future__ import annotations

import importlib
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
