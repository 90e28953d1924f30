"""Networks shared by several agents. Continuous actors work in unit actions [−1, 1]; the agent
maps them onto the env's bounds with :class:`~optkit.drl.common.ActionScaler`. An actor is
anything with ``forward(obs) -> unit action`` (deterministic) — D3PG's diffusion actor plugs
in there."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from optkit.drl.common import mlp, polyak_update

#: Bounds of the Gaussian actor's log standard deviation (as in CleanRL's SAC).
LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


class QCritic(nn.Module):
    """Q(s, a) for continuous unit actions: an MLP on ``[obs, action]``."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(obs_dim + action_dim, hidden, 1)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([obs, action], dim=1)).squeeze(-1)


class DeterministicActor(nn.Module):
    """μ(s) ∈ [−1, 1]^n: an MLP with a tanh output (DDPG, TD3)."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden, action_dim, output_activation=nn.Tanh)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(obs)
        return out


class SquashedGaussianActor(nn.Module):
    """π(·|s): a Gaussian squashed by tanh into [−1, 1]^n (SAC)."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        width = hidden[-1]
        self.trunk: nn.Module = (
            mlp(obs_dim, hidden[:-1], width) if len(hidden) > 1 else nn.Linear(obs_dim, width)
        )
        self.mean = nn.Linear(width, action_dim)
        self.log_std = nn.Linear(width, action_dim)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.relu(self.trunk(obs))
        log_std = torch.tanh(self.log_std(h))
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (log_std + 1)
        return self.mean(h), log_std

    def sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(sampled unit action, its log-probability, the deterministic tanh(mean))."""
        mean, log_std = self(obs)
        normal = torch.distributions.Normal(mean, log_std.exp())
        x = normal.rsample()
        action = torch.tanh(x)
        # change of variables through tanh; 1e-6 keeps the log finite at |a| → 1
        log_prob = (normal.log_prob(x) - torch.log(1 - action.pow(2) + 1e-6)).sum(dim=1)
        return action, log_prob, torch.tanh(mean)


class CategoricalActor(nn.Module):
    """π(·|s) over n discrete actions: an MLP giving logits (discrete SAC)."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden, n_actions)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(probabilities, log-probabilities), each [batch, n]."""
        logits = self.net(obs)
        return F.softmax(logits, dim=1), F.log_softmax(logits, dim=1)


class Temperature(nn.Module):
    """The entropy temperature α = exp(log α) of the SAC agents, learnable (a module, so that
    checkpoints keep it with the networks)."""

    def __init__(self, alpha: float) -> None:
        super().__init__()
        self.log_alpha = nn.Parameter(torch.tensor(math.log(alpha)))

    def forward(self) -> torch.Tensor:
        return self.log_alpha.exp()


class SoftActorCritic:
    """What the SAC family shares (sac, discrete-sac, diffusion-sac; CleanRL's layout): an
    actor, twin critics with target copies and one optimiser for both, and the learned
    temperature α with its own. Agents mix it in before :class:`~optkit.drl.agents.base.Agent`
    so its ``networks``/``optimisers`` serve the checkpoints."""

    actor: nn.Module
    q1: nn.Module
    q2: nn.Module
    q1_target: nn.Module
    q2_target: nn.Module
    temperature: Temperature
    q_optimiser: torch.optim.Optimizer
    actor_optimiser: torch.optim.Optimizer
    alpha_optimiser: torch.optim.Optimizer

    def build_soft(
        self,
        actor: nn.Module,
        q1: nn.Module,
        q2: nn.Module,
        alpha: float,
        learning_rates: tuple[float, float, float],
        device: torch.device,
    ) -> None:
        """Keep the (already built, on ``device``) networks, copy the targets, make α and the
        optimisers; ``learning_rates``: (actor, critics, α). Draws no random numbers."""
        actor_lr, q_lr, alpha_lr = learning_rates
        self.actor, self.q1, self.q2 = actor, q1, q2
        self.q1_target, self.q2_target = copy.deepcopy(q1), copy.deepcopy(q2)
        self.q_optimiser = torch.optim.Adam([*q1.parameters(), *q2.parameters()], q_lr)
        self.actor_optimiser = torch.optim.Adam(actor.parameters(), actor_lr)
        self.temperature = Temperature(alpha).to(device)
        self.alpha_optimiser = torch.optim.Adam(self.temperature.parameters(), alpha_lr)

    def step_temperature(self, loss: torch.Tensor) -> None:
        self.alpha_optimiser.zero_grad()
        loss.backward()
        self.alpha_optimiser.step()

    def update_targets(self, tau: float) -> None:
        polyak_update(self.q1_target, self.q1, tau)
        polyak_update(self.q2_target, self.q2, tau)

    def networks(self) -> dict[str, nn.Module]:
        return {
            "actor": self.actor,
            "q1": self.q1,
            "q2": self.q2,
            "q1_target": self.q1_target,
            "q2_target": self.q2_target,
            "temperature": self.temperature,
        }

    def optimisers(self) -> dict[str, torch.optim.Optimizer]:
        return {"actor": self.actor_optimiser, "q": self.q_optimiser, "alpha": self.alpha_optimiser}
