"""Checkpoint files of a training run, written atomically, read safely.

A run directory holds:

- ``checkpoint.pt`` — everything to continue the same run: the agent's networks, optimisers,
  replay buffer and RNG, Python's / NumPy's / torch's RNG states, and the loop's state (step,
  episode, the actions of the episode in progress so that it is replayed exactly);
- ``policy.pt`` — what acting needs: the agent's name, hyperparameters and networks, the env
  spec and its spaces and dimensions (small; ``optkit solve --method policy:DIR`` reads it);
- ``run.json`` — the same facts, readable; ``evaluations.jsonl`` — one line per evaluation.

Both ``.pt`` files are ``{"format": ..., "version": 1, ...}`` dictionaries of plain values and
tensors, loaded with ``torch.load(weights_only=True)`` (no code is unpickled).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from optkit.errors import OptkitError
from optkit.instances.jsonio import atomic_file

CHECKPOINT_FORMAT = "optkit.drl.checkpoint"
POLICY_FORMAT = "optkit.drl.policy"
VERSION = 1
CHECKPOINT = "checkpoint.pt"
POLICY = "policy.pt"
RUN = "run.json"
EVALUATIONS = "evaluations.jsonl"


def describe_space(space: gym.spaces.Space) -> dict[str, Any]:
    """A space as plain values (infinite bounds as None), to store and compare."""
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n)}
    if isinstance(space, gym.spaces.Box):

        def finite(values: np.ndarray) -> list[float | None]:
            return [float(v) if math.isfinite(v) else None for v in values.reshape(-1).tolist()]

        return {
            "type": "Box",
            "shape": list(space.shape),
            "low": finite(space.low),
            "high": finite(space.high),
        }
    raise OptkitError(f"unsupported space {space}")


def space_from_description(described: dict[str, Any]) -> gym.spaces.Space:
    """The space :func:`describe_space` described (float32 boxes)."""
    if described["type"] == "Discrete":
        return gym.spaces.Discrete(described["n"])
    shape = tuple(described["shape"])

    def bound(values: list[float | None], fill: float) -> np.ndarray:
        return np.array([fill if v is None else v for v in values], np.float32).reshape(shape)

    return gym.spaces.Box(
        bound(described["low"], -np.inf), bound(described["high"], np.inf), shape, np.float32
    )


def show_space(described: dict[str, Any]) -> str:
    """``Discrete(64)`` or ``Box(57,)`` from :func:`describe_space`."""
    if described["type"] == "Discrete":
        return f"Discrete({described['n']})"
    return f"Box{tuple(described['shape'])}"


def save_atomic(payload: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename: a reader (or a
    crash, or a second Ctrl-C) sees the old file or the new one, never half of one."""
    with atomic_file(path, binary=True, fsync=True) as fh:
        torch.save(payload, fh)


def load_file(path: Path, fmt: str) -> dict[str, Any]:
    """Read a checkpoint or policy file; one clear line when it is missing or not ours."""
    if path.is_dir():
        path = path / (CHECKPOINT if fmt == CHECKPOINT_FORMAT else POLICY)
    if not path.exists():
        raise OptkitError(f"{path}: no such file (is {path.parent} a training run directory?)")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or foreign files raise many kinds of errors
        raise OptkitError(f"{path}: not a readable optkit file ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise OptkitError(f"{path}: not an {fmt} file")
    if data.get("version") != VERSION:
        raise OptkitError(
            f"{path}: {fmt} version {data.get('version')} is not supported (this optkit reads {VERSION})"
        )
    return data


def check_spaces_match(
    stored: dict[str, Any], env: gym.Env, where: str, env_name: str, stored_env: str
) -> None:
    """One line when an env's spaces differ from those a checkpoint was made for."""
    now = {
        "observation": describe_space(env.observation_space),
        "action": describe_space(env.action_space),
    }
    if now != stored:
        raise OptkitError(
            f"{where} was trained on env {stored_env} (observation "
            f"{show_space(stored['observation'])}, action {show_space(stored['action'])}); "
            f"this env {env_name} has observation {show_space(now['observation'])}, "
            f"action {show_space(now['action'])}"
        )
