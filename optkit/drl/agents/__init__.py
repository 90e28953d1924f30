"""The agents, one module each, by name. Later agents (D3PG, diffusion SAC, …) add themselves
with :func:`register_agent`; modules are imported on first use.

=================  ==========  ========================================================
name               actions     module
=================  ==========  ========================================================
``dqn``            discrete    :mod:`optkit.drl.agents.dqn`
``ddqn``           discrete    :mod:`optkit.drl.agents.ddqn` (Double DQN)
``discrete-sac``   discrete    :mod:`optkit.drl.agents.discrete_sac`
``ddpg``           continuous  :mod:`optkit.drl.agents.ddpg`
``td3``            continuous  :mod:`optkit.drl.agents.td3`
``sac``            continuous  :mod:`optkit.drl.agents.sac`
``diffusion-sac``  discrete    :mod:`optkit.drl.agents.diffusion_sac` (AGOD / LAD-TS)
``ddrl-amsa``      discrete    :mod:`optkit.drl.agents.coedge` (diffusion SAC, subsets)
``smcoedge``       discrete    :mod:`optkit.drl.agents.coedge` (top-k DQN, k servers)
``drlcoedge``      discrete    :mod:`optkit.drl.agents.coedge` (DQN, one partner server)
``d3pg``           continuous  :mod:`optkit.drl.agents.d3pg` (DDPG, diffusion actor)
=================  ==========  ========================================================
"""

from __future__ import annotations

import importlib
from typing import Any

import gymnasium as gym
import torch

from optkit.drl.agents.base import Agent, OffPolicyConfig
from optkit.drl.config import override
from optkit.errors import OptkitError

_AGENTS: dict[str, str] = {
    "dqn": "optkit.drl.agents.dqn:DQN",
    "ddqn": "optkit.drl.agents.ddqn:DoubleDQN",
    "discrete-sac": "optkit.drl.agents.discrete_sac:DiscreteSAC",
    "ddpg": "optkit.drl.agents.ddpg:DDPG",
    "td3": "optkit.drl.agents.td3:TD3",
    "sac": "optkit.drl.agents.sac:SAC",
    # diffusion SAC and the scheduling papers' systems (issue 7)
    "diffusion-sac": "optkit.drl.agents.diffusion_sac:DiffusionSAC",
    "ddrl-amsa": "optkit.drl.agents.coedge:DDRLAMSA",
    "smcoedge": "optkit.drl.agents.coedge:SMCoEdge",
    "drlcoedge": "optkit.drl.agents.coedge:DRLCoEdge",
    # the papers' agents (issue 7), caching side
    "d3pg": "optkit.drl.agents.d3pg:D3PG",
}


def register_agent(name: str, target: str) -> None:
    """Add an agent class as ``"module:Class"`` (a subclass of :class:`Agent`)."""
    _AGENTS[name] = target


def agent_names() -> list[str]:
    return list(_AGENTS)


def agent_class(name: str) -> type[Agent]:
    """The class of agent ``name``; one-line error for an unknown name."""
    if name not in _AGENTS:
        raise OptkitError(f"unknown agent {name!r} (known: {', '.join(_AGENTS)})")
    module, _, attr = _AGENTS[name].partition(":")
    cls: type[Agent] = getattr(importlib.import_module(module), attr)
    return cls


def make_config(name: str, values: dict[str, Any] | None = None) -> OffPolicyConfig:
    """Agent ``name``'s hyperparameters: defaults with ``values`` applied."""
    return override(agent_class(name).Config(), values or {}, name)


def make_agent(
    name: str,
    observation_space: gym.spaces.Space,
    action_space: gym.spaces.Space,
    config: OffPolicyConfig,
    device: torch.device,
    seed: int,
) -> Agent:
    """Build agent ``name`` (the caller seeds torch first: networks draw their initial weights
    from its generator)."""
    return agent_class(name)(observation_space, action_space, config, device, seed)


__all__ = [
    "Agent",
    "OffPolicyConfig",
    "agent_class",
    "agent_names",
    "make_agent",
    "make_config",
    "register_agent",
]
