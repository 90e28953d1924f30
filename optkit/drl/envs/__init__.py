"""Gymnasium environments built from optkit instances (DESIGN §7), and Gymnasium's own.

=================  ============================  =========================================
name               one step per                  action
=================  ============================  =========================================
``caching-slot``   slot (short timescale)        Box [−1, 1]^(servers·3·users)
``caching-frame``  frame (long timescale)        Discrete 2^(servers·models) (``index``) or
                                                 Box [−1, 1]^(servers·models) (``scores``)
``scheduling``     task                          Discrete (allowed server subsets; or
                                                 ``k-subset`` / ``partner``, see its doc)
``gym:ID``         Gymnasium's env ``ID``        (e.g. ``gym:CartPole-v1``, for checks)
=================  ============================  =========================================

Which agent drives which env: a caching run defaults to ``caching-slot`` for continuous agents
and ``caching-frame`` (``index``) for discrete ones; a continuous agent on ``caching-frame``
uses ``scores``. Scheduling has one env, for discrete agents.

An :class:`EnvSpec` names an env, its instance source and its options; it is what a checkpoint
stores, so a trained policy rebuilds the same env on any instance of the same dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from optkit.drl.envs.caching import (
    ALLOCATION_RULES,
    CACHE_POLICIES,
    CachingFrameEnv,
    CachingSlotEnv,
    frame_spaces,
    show_dims,
    slot_spaces,
)
from optkit.drl.envs.caching_core import SHARE_SCALE, CachingEpisode
from optkit.drl.envs.scheduling import ACTIONS as SCHEDULING_ACTIONS
from optkit.drl.envs.scheduling import SchedulingEnv
from optkit.drl.envs.sources import (
    FixedSource,
    FolderSource,
    GeneratedSource,
    InstanceSource,
    fixed,
    generated_instance,
    source_from_dict,
)
from optkit.errors import OptkitError

#: Env name → (family, {option: (default, allowed values, or a type)}). The cache policies and
#: allocation rules are read when an env is made, so ones registered later (an exact per-slot
#: allocation, say) are accepted by name.
ENVS: dict[str, tuple[str, dict[str, tuple[Any, Any]]]] = {
    "caching-slot": (
        "caching",
        {"cache_policy": ("lfu", CACHE_POLICIES), "share_scale": (SHARE_SCALE, float)},
    ),
    "caching-frame": (
        "caching",
        {
            "frame_action": ("index", ("index", "scores")),
            "allocation": ("equal", ALLOCATION_RULES),
            "share_scale": (SHARE_SCALE, float),
        },
    ),
    # k: servers per task of the k-subset action (None: min(3, servers))
    "scheduling": ("scheduling", {"action": ("subset", SCHEDULING_ACTIONS), "k": (None, int)}),
}


def default_env(family: str, discrete: bool) -> str:
    """The env a family trains on by default for a discrete or a continuous agent."""
    if family == "scheduling":
        return "scheduling"
    return "caching-frame" if discrete else "caching-slot"


@dataclass(frozen=True)
class EnvSpec:
    """An env name, its instance source (``source.to_dict()``; None for ``gym:``) and its
    options (validated; defaults filled in)."""

    name: str
    source: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str | None:
        return ENVS[self.name][0] if self.name in ENVS else None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "options": dict(self.options)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnvSpec:
        return cls(data["name"], data.get("source"), dict(data.get("options") or {}))


def check_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` checked against env ``name`` with the defaults filled in (one-line errors
    for an unknown env, option or value)."""
    if name.startswith("gym:"):
        if options:
            raise OptkitError(f"env {name} takes no options (got {', '.join(options)})")
        return {}
    if name not in ENVS:
        known = ", ".join([*ENVS, "gym:ID"])
        raise OptkitError(f"unknown env {name!r} (known: {known})")
    allowed = ENVS[name][1]
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key not in allowed:
            known = ", ".join(allowed) or "none"
            raise OptkitError(f"unknown option {key!r} of env {name} (known: {known})")
        default, rule = allowed[key]
        if value is None and default is None:  # an option whose default is "not set"
            out[key] = None
            continue
        if isinstance(rule, tuple | dict):
            if value not in rule:
                raise OptkitError(
                    f"env option {key}={value!r} is not one of {', '.join(map(str, rule))}"
                )
        else:
            try:
                value = rule(value)
            except (TypeError, ValueError):
                raise OptkitError(f"env option {key}={value!r} is not a {rule.__name__}") from None
        out[key] = value
    return {key: out.get(key, default) for key, (default, _) in allowed.items()}


OptkitEnv = CachingSlotEnv | CachingFrameEnv | SchedulingEnv


def make_env(spec: EnvSpec, source: InstanceSource | None = None) -> gym.Env[Any, Any]:
    """Build the env of ``spec``; ``source`` overrides the spec's instance source (a held-out
    set, or the one instance a policy solves)."""
    if spec.name.startswith("gym:"):
        try:
            env: gym.Env[Any, Any] = gym.make(spec.name[4:])
        except gym.error.Error as exc:
            raise OptkitError(f"cannot make Gymnasium env {spec.name[4:]!r}: {exc}") from None
        return env
    return make_optkit_env(spec, source)


def make_optkit_env(spec: EnvSpec, source: InstanceSource | None = None) -> OptkitEnv:
    """:func:`make_env` for optkit's own envs (typed: they have ``dims`` and ``solution``)."""
    if spec.name.startswith("gym:"):
        raise OptkitError(f"env {spec.name} is not built from optkit instances")
    options = check_options(spec.name, spec.options)
    if source is None:
        if spec.source is None:
            raise OptkitError(f"env {spec.name} needs an instance source")
        source = source_from_dict(spec.source)
    if spec.name == "caching-slot":
        return CachingSlotEnv(source, options["cache_policy"], options["share_scale"])
    if spec.name == "caching-frame":
        return CachingFrameEnv(
            source, options["frame_action"], options["allocation"], options["share_scale"]
        )
    return SchedulingEnv(source, options["action"], options["k"])


__all__ = [
    "ENVS",
    "CachingEpisode",
    "CachingFrameEnv",
    "CachingSlotEnv",
    "EnvSpec",
    "FixedSource",
    "FolderSource",
    "GeneratedSource",
    "InstanceSource",
    "OptkitEnv",
    "SchedulingEnv",
    "check_options",
    "default_env",
    "fixed",
    "frame_spaces",
    "generated_instance",
    "make_env",
    "make_optkit_env",
    "show_dims",
    "slot_spaces",
    "source_from_dict",
]
