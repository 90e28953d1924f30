"""Pieces every agent shares, written once: device choice, seeding and RNG states, the MLP
builder, the Polyak update, the action scaler of continuous agents."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from optkit.errors import OptkitError


def choose_device(preference: str = "auto") -> torch.device:
    """``auto``: CUDA when present, else the CPU; ``cpu``; ``cuda`` (or ``cuda:N``) must exist.
    Nothing in optkit names a device otherwise."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if preference == "cpu":
        return torch.device("cpu")
    if preference.startswith("cuda"):
        if not torch.cuda.is_available():
            raise OptkitError(f"device {preference!r} asked for, but CUDA is not available here")
        return torch.device(preference)
    raise OptkitError(f"unknown device {preference!r} (known: auto, cpu, cuda, cuda:N)")


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's global and torch's (CPU and CUDA) generators. Agents, replay
    buffers and envs own generators seeded from the same number (see their constructors)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def global_rng_state() -> dict[str, Any]:
    """Python's, NumPy's global and torch's RNG states, in types a checkpoint loads safely."""
    legacy = np.random.get_state(legacy=False)
    assert isinstance(legacy, dict)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {**legacy, "state": {**legacy["state"], "key": legacy["state"]["key"].tolist()}},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_global_rng_state(state: dict[str, Any]) -> None:
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    legacy = state["numpy"]
    np.random.set_state(
        {
            **legacy,
            "state": {**legacy["state"], "key": np.asarray(legacy["state"]["key"], np.uint32)},
        }
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def new_rng(seed: int) -> np.random.Generator:
    """A component's own NumPy generator (PCG64)."""
    return np.random.Generator(np.random.PCG64(seed))


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    state = dict(rng.bit_generator.state)
    return state


def set_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    rng.bit_generator.state = state


def mlp(
    inputs: int,
    hidden: Sequence[int],
    outputs: int,
    activation: type[nn.Module] = nn.ReLU,
    output_activation: type[nn.Module] | None = None,
) -> nn.Sequential:
    """``inputs → hidden… → outputs`` with ``activation`` between layers (PyTorch's default
    initialisation)."""
    layers: list[nn.Module] = []
    width = inputs
    for h in hidden:
        layers += [nn.Linear(width, h), activation()]
        width = h
    layers.append(nn.Linear(width, outputs))
    if output_activation is not None:
        layers.append(output_activation())
    return nn.Sequential(*layers)


@torch.no_grad()
def polyak_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """target ← (1 − τ)·target + τ·source, parameter by parameter; τ = 1 copies exactly."""
    for t, s in zip(target.parameters(), source.parameters(), strict=True):
        if tau == 1.0:
            t.copy_(s)
        else:
            t.lerp_(s, tau)


class ActionScaler(nn.Module):
    """Maps [−1, 1] to a Box's bounds and back (continuous agents act in [−1, 1])."""

    scale: torch.Tensor
    bias: torch.Tensor

    def __init__(self, low: np.ndarray, high: np.ndarray) -> None:
        super().__init__()
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise OptkitError("continuous agents need a bounded action space")
        self.scale_np = ((high - low) / 2.0).astype(np.float32)
        self.bias_np = ((high + low) / 2.0).astype(np.float32)
        self.register_buffer("scale", torch.as_tensor(self.scale_np))
        self.register_buffer("bias", torch.as_tensor(self.bias_np))

    def forward(self, unit: torch.Tensor) -> torch.Tensor:
        return unit * self.scale + self.bias

    def to_unit(self, action: torch.Tensor) -> torch.Tensor:
        return (action - self.bias) / self.scale

    def to_env(self, unit: np.ndarray) -> np.ndarray:
        """A NumPy unit action on the env's bounds (float32)."""
        out: np.ndarray = (unit * self.scale_np + self.bias_np).astype(np.float32)
        return out
