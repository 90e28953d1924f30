"""The diffusion actor: schedule, chain shape and range, gradients through the chain,
reproducibility, and the latent start."""

from __future__ import annotations

import math

import torch

from optkit.drl.diffusion import DiffusionActor, DiffusionChain, vp_betas


def test_vp_schedule_matches_its_formula() -> None:
    betas = vp_betas(5)
    i = 3
    expected = 1 - math.exp(-0.1 / 5 - 0.5 * 9.9 * (2 * i - 1) / 25)
    assert math.isclose(float(betas[i - 1]), expected, rel_tol=1e-12)
    assert torch.all((betas > 0) & (betas < 1)) and torch.all(betas[1:] > betas[:-1])


def test_chain_gives_bounded_actions_with_gradients_through_every_step() -> None:
    torch.manual_seed(0)
    chain = DiffusionChain(obs_dim=3, action_dim=4, hidden=(16, 16), steps=5)
    obs = torch.randn(8, 3)
    x = chain(obs)
    assert x.shape == (8, 4) and torch.all(x.abs() <= 1)
    x.sum().backward()
    first = chain.denoiser.net[0].weight.grad
    assert first is not None and first.abs().sum() > 0


def test_same_seed_same_actions_and_a_latent_start_is_used() -> None:
    actor = DiffusionActor(obs_dim=2, action_dim=3, hidden=(8,), steps=4)
    obs = torch.ones(2, 2)
    torch.manual_seed(5)
    a = actor(obs)
    torch.manual_seed(5)
    b = actor(obs)
    assert torch.equal(a, b)
    chain = DiffusionChain(obs_dim=2, action_dim=3, hidden=(8,), steps=1)  # one step: no noise
    start = torch.tensor([[0.5, -0.5, 0.0], [0.5, -0.5, 0.0]])
    assert torch.equal(chain(obs, start=start), chain(obs, start=start))
    assert not torch.equal(chain(obs, start=start), chain(obs, start=-start))
