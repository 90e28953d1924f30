"""Diffusion SAC for discrete actions (AGOD's D2SAC, Du et al. 2024; LAD-TS, Xu et al. 2024).

The actor is the reverse chain of :class:`~optkit.drl.diffusion.DiffusionChain` conditioned on
the state; its denoised vector x_0 gives the logits of a categorical policy. Two maps
(``logits``):

- ``softmax`` (the default, as the public AGOD / LAD-TS code): π(·|s) = softmax(x_0), the chain
  unclamped, so any probability vector is reachable and every logit has a gradient;
- ``standardised`` (optkit's, kept by ``ddrl-amsa``): π(·|s) = softmax(L·(x_0 − mean x_0) /
  std x_0) with L = ``logit_scale``. It was chosen on the 31-subset scheduling env while the
  temperature annealed to 0 (see below): there the public map saturated (probability 1.0 on a
  4-server subset while the critic ranked all 5 servers best, no gradient left to move it) and a
  clamp or tanh bound tied or froze coordinates at the bounds. Standardising removes two degrees
  of freedom (location and scale), so it is **degenerate for two actions**: the standardised
  2-vector is ±(1/√2, −1/√2), the policy is pinned at probabilities (0.944, 0.056) at L = 2 and
  the gradient through the standardisation is ~1e-6 — the actor cannot learn (CartPole-v1:
  greedy return 9, below random play). With n actions it leaves n − 2 degrees of freedom; use
  it only for many actions.

Training samples from π, the greedy policy takes the argmax. Twin critics Q_1, Q_2(s) → R^n
with Polyak-averaged targets; expectations over π replace sampled actions (as in discrete SAC):

- critic target: r + γ·(1 − done)·Σ_a π(a|s')·(min Q̂(s', a) − α·log π(a|s'))
  (``entropy_in_target``; without it, AGOD's target Σ_a π(a|s')·min Q̂(s', a));
- actor loss: E_s[Σ_a π(a|s)·(α·log π(a|s) − min Q(s, a))], back-propagated through every
  denoising step;
- temperature: learned by default towards a target entropy of ``target_entropy_scale``·log n
  nats (0.89, CleanRL's and optkit's discrete SAC's: an entropy every policy can reach, so α
  settles where the policy keeps exploring); ``target_entropy`` in nats overrides it. LAD-TS's
  code uses −1 nats — below any discrete entropy, so α falls without end (an annealed
  temperature, α → 0 and the policy towards a deterministic one); ``ddrl-amsa`` keeps that
  setting, measured on its scheduling env. On CartPole-v1 (``bench/papers.py``: 15 000 steps,
  softmax map, greedy return) the annealed α reached 125 on seed 0, the 0.89·log 2 target 234,
  370 and 425 on seeds 0, 1, 2 (discrete SAC: 366, 376, 409). With
  ``autotune=false`` α stays fixed at ``alpha`` (AGOD's 0.05, no entropy in its target: set
  ``entropy_in_target=false`` too to reproduce it).

Choices the public code makes and optkit follows: 5 denoising steps, the VP schedule, no
clamping of x̂_0 inside the chain (AGOD's ``clip_denoised=False``), actor lr 1e-4, critic lr
1e-3, τ = 0.005, γ = 0.95, widths 256 (AGOD; LAD-TS uses 20). The critics' target uses the
current actor (LAD-TS), not a target actor (AGOD). AGOD's denoiser ends in a tanh; optkit's
(shared with D3PG) does not.

Latent action (``latent_start``, LAD-TS's variant): the chain starts from the previous
decision's action probabilities instead of Gaussian noise (LAD-TS keeps one store per task
position, initialised N(0, 1); optkit keeps the last decision's, the reading "previous action
probabilities" allows when tasks have no fixed positions). The start is part of the state the
critic and actor see in replay: the buffer stores [obs, start] and [next obs, probabilities
produced], so training rebuilds the chain the agent acted with.

Greedy actions run the chain with a fixed noise seed (the global torch generator is left as
it was), so a trained policy is a deterministic function of its input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from optkit.drl.agents.base import Agent, OffPolicyConfig
from optkit.drl.agents.networks import SoftActorCritic
from optkit.drl.common import mlp
from optkit.drl.diffusion import DiffusionChain
from optkit.drl.replay import Batch, ReplayBuffer
from optkit.errors import OptkitError

#: Seed of the chain's noise in greedy actions.
GREEDY_NOISE_SEED = 0
#: Normalised observations are clipped to ±this.
NORM_CLIP = 10.0
#: The maps from the denoised vector to the policy's logits (see the module doc).
LOGIT_MAPS = ("softmax", "standardised")


class RunningNorm(nn.Module):
    """Per-feature running mean and variance of the observations seen in training (Welford's
    update, one row at a time); ``forward`` standardises and clips to ±:data:`NORM_CLIP`, or
    passes through when disabled. Buffers, so checkpoints and policies keep the statistics."""

    mean: torch.Tensor
    var: torch.Tensor
    count: torch.Tensor

    def __init__(self, dim: int, enabled: bool) -> None:
        super().__init__()
        self.enabled = enabled
        self.register_buffer("mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(dim, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def observe(self, row: np.ndarray) -> None:
        if not self.enabled:
            return
        x = torch.as_tensor(row, dtype=torch.float64, device=self.mean.device)
        self.count += 1
        delta = x - self.mean
        self.mean += delta / self.count
        # running population variance: var_n = var_{n-1} + (δ·δ' − var_{n-1}) / n
        self.var += (delta * (x - self.mean) - self.var) / self.count

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled or self.count < 2:
            return x
        std = torch.sqrt(self.var + 1e-8).float()
        return ((x - self.mean.float()) / std).clamp(-NORM_CLIP, NORM_CLIP)


@dataclass(frozen=True)
class DiffusionSACConfig(OffPolicyConfig):
    gamma: float = 0.95
    """discount factor (AGOD and LAD-TS: 0.95)"""
    batch_size: int = 256
    """transitions per gradient step"""
    actor_learning_rate: float = 1e-4
    """Adam learning rate of the diffusion actor (AGOD, LAD-TS: 1e-4)"""
    critic_learning_rate: float = 1e-3
    """Adam learning rate of the twin critics (AGOD, LAD-TS: 1e-3)"""
    alpha_learning_rate: float = 3e-4
    """Adam learning rate of the temperature (LAD-TS: 3e-4)"""
    tau: float = 0.005
    """target critic update rate"""
    alpha: float = 0.05
    """entropy temperature α (its start value when autotune is on; AGOD and LAD-TS: 0.05)"""
    autotune: bool = True
    """learn α towards target_entropy (LAD-TS); false: fixed α (AGOD)"""
    target_entropy_scale: float = 0.89
    """learned temperature's target entropy = scale · log(actions) (optkit's discrete SAC)"""
    target_entropy: float | None = None
    """target entropy in nats, overriding the scale (LAD-TS: −1, an annealed α)"""
    entropy_in_target: bool = True
    """the entropy term in the critic target (LAD-TS); false: AGOD's target"""
    denoising_steps: int = 5
    """steps of the reverse diffusion chain (AGOD, LAD-TS: 5)"""
    logits: str = "softmax"
    """softmax: π = softmax(x_0) (AGOD, LAD-TS); standardised: softmax(L·standardised x_0)"""
    logit_scale: float = 2.0
    """L of the standardised map (optkit's; unused by softmax)"""
    latent_start: bool = False
    """start the chain from the previous decision's probabilities (LAD-TS's latent action)"""
    reward_scale: float = 1.0
    """rewards are multiplied by this before they enter replay (optkit's; 1: as given)"""
    normalise_obs: bool = False
    """standardise observations by running statistics of the training ones (optkit's)"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.denoising_steps < 1:
            raise OptkitError(f"denoising_steps must be >= 1, got {self.denoising_steps}")
        if self.logits not in LOGIT_MAPS:
            raise OptkitError(f"logits must be one of {', '.join(LOGIT_MAPS)}, got {self.logits!r}")
        if not 0 <= self.target_entropy_scale <= 1:
            raise OptkitError(
                f"target_entropy_scale must be in [0, 1], got {self.target_entropy_scale}"
            )
        if self.logit_scale <= 0:
            raise OptkitError(f"logit_scale must be > 0, got {self.logit_scale}")
        if self.alpha <= 0:
            raise OptkitError(f"alpha must be > 0, got {self.alpha}")
        if not 0 < self.tau <= 1:
            raise OptkitError(f"tau must be in (0, 1], got {self.tau}")


class DiffusionSAC(SoftActorCritic, Agent):
    name = "diffusion-sac"
    discrete = True
    Config = DiffusionSACConfig
    config: DiffusionSACConfig

    def __init__(
        self,
        observation_space: gym.spaces.Space,
        action_space: gym.spaces.Space,
        config: DiffusionSACConfig,
        device: torch.device,
        seed: int,
    ) -> None:
        super().__init__(observation_space, action_space, config, device, seed)
        h, n = config.hidden, self.n_actions
        self.build_soft(
            DiffusionChain(
                self.obs_dim, n, h, config.denoising_steps, clip_denoised=False, clamp_output=False
            ).to(device),
            mlp(self.obs_dim, h, n).to(device),
            mlp(self.obs_dim, h, n).to(device),
            config.alpha,
            (config.actor_learning_rate, config.critic_learning_rate, config.alpha_learning_rate),
            device,
        )
        self.target_entropy = (
            config.target_entropy
            if config.target_entropy is not None
            else config.target_entropy_scale * math.log(n)
        )
        self.norm = RunningNorm(self.obs_dim, config.normalise_obs).to(device)
        self.latent = self.rng.standard_normal(n).astype(np.float32)
        self._latent_used = self.latent
        if config.latent_start:
            # replay rows are [obs, chain start]: training rebuilds the chain the agent ran
            self.replay = ReplayBuffer(
                config.buffer_size, (self.obs_dim + n,), (), np.int64, seed=seed + 1, device=device
            )

    # ---------------------------------------------------------------- policy

    def policy(
        self, obs: torch.Tensor, start: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(probabilities, log-probabilities), each [batch, n], of normalised observations."""
        x = self.actor(obs, start)
        if self.config.logits == "softmax":
            return F.softmax(x, dim=1), F.log_softmax(x, dim=1)
        if x.shape[1] > 1:
            x = (x - x.mean(dim=1, keepdim=True)) / (x.std(dim=1, keepdim=True) + 1e-6)
        logits = self.config.logit_scale * x
        return F.softmax(logits, dim=1), F.log_softmax(logits, dim=1)

    def _split(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self.config.latent_start:
            return rows, None
        return rows[:, : self.obs_dim], rows[:, self.obs_dim :]

    def act(self, obs: np.ndarray, step: int = 0, explore: bool = False) -> Any:
        start = torch.as_tensor(self.latent[None, :], device=self.device)
        self._latent_used = self.latent
        if explore and step < self.config.learning_starts:
            action = self.random_action()
            probs = np.full(self.n_actions, 1.0 / self.n_actions, np.float32)
        else:
            with torch.no_grad():
                if explore:
                    p, _ = self.policy(self.norm(self.obs_tensor(obs)), start)
                    action = int(torch.multinomial(p[0], 1).item())
                else:
                    with torch.random.fork_rng(devices=[]):
                        torch.manual_seed(GREEDY_NOISE_SEED)
                        p, _ = self.policy(self.norm(self.obs_tensor(obs)), start)
                    action = int(p[0].argmax().item())
            probs = p[0].cpu().numpy().astype(np.float32)
        if self.config.latent_start:
            self.latent = probs
        return action

    def remember(
        self, obs: np.ndarray, action: Any, reward: float, next_obs: np.ndarray, terminated: bool
    ) -> None:
        reward = reward * self.config.reward_scale
        self.norm.observe(np.asarray(obs, np.float32).reshape(-1))
        if not self.config.latent_start:
            super().remember(obs, action, reward, next_obs, terminated)
            return
        flat = np.asarray(obs, np.float32).reshape(-1)
        nxt = np.asarray(next_obs, np.float32).reshape(-1)
        self.replay.add(
            np.concatenate([flat, self._latent_used]),
            action,
            reward,
            np.concatenate([nxt, self.latent]),
            terminated,
        )

    # ---------------------------------------------------------------- learning

    def update(self, batch: Batch) -> dict[str, float]:
        c = self.config
        obs, start = self._split(batch.obs)
        next_obs, next_start = self._split(batch.next_obs)
        obs, next_obs = self.norm(obs), self.norm(next_obs)
        alpha = self.temperature().detach() if c.autotune else torch.tensor(c.alpha)
        with torch.no_grad():
            next_probs, next_log_probs = self.policy(next_obs, next_start)
            next_q = torch.min(self.q1_target(next_obs), self.q2_target(next_obs))
            if c.entropy_in_target:
                next_q = next_q - alpha * next_log_probs
            soft_value = (next_probs * next_q).sum(dim=1)
            target = batch.rewards + c.gamma * (1.0 - batch.terminated) * soft_value
        taken = batch.actions.long().unsqueeze(1)
        q1 = self.q1(obs).gather(1, taken).squeeze(1)
        q2 = self.q2(obs).gather(1, taken).squeeze(1)
        q_loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        self.q_optimiser.zero_grad()
        q_loss.backward()
        self.q_optimiser.step()

        probs, log_probs = self.policy(obs, start)
        with torch.no_grad():
            q = torch.min(self.q1(obs), self.q2(obs))
        actor_loss = (probs * (alpha * log_probs - q)).sum(dim=1).mean()
        self.actor_optimiser.zero_grad()
        actor_loss.backward()
        self.actor_optimiser.step()
        entropy = -(probs.detach() * log_probs.detach()).sum(dim=1)
        if c.autotune:
            alpha_loss = (self.temperature() * (entropy - self.target_entropy)).mean()
            self.step_temperature(alpha_loss)
        self.update_targets(c.tau)
        return {
            "losses/q": q_loss.item(),
            "losses/actor": actor_loss.item(),
            "losses/alpha": float(alpha.item()),
            "losses/entropy": float(entropy.mean().item()) / math.log(max(self.n_actions, 2)),
        }

    # ---------------------------------------------------------------- state

    def networks(self) -> dict[str, nn.Module]:
        return {**super().networks(), "norm": self.norm}

    def extra_state(self) -> dict[str, Any]:
        return {"latent": self.latent.tolist(), "latent_used": self._latent_used.tolist()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "latent" in state:
            self.latent = np.asarray(state["latent"], np.float32)
            self._latent_used = np.asarray(state["latent_used"], np.float32)
