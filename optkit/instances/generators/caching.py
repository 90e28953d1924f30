"""Caching presets ``t2drl`` and ``edgeaigc`` (DESIGN §5).

Physical model: users move in a disc of radius 250 m around their base station (random waypoint,
1–3 m/s, slot length 1 s); spectral efficiency η = log2(1 + SNR) with SNR from a fixed power
spectral density, path loss 128.1 + 37.6·log10(d km) dB and Rayleigh fading per slot, clipped to
[0.1, 10] bit/s/Hz; each user requests at most one model per slot (probability ``p_request``)
from a Zipf(0.8) popularity whose ranking drifts between frames.

None of the T2DRL or EdgeAIGC constants are public, so **every** constant here is optkit's own
choice: each is written into the instance's ``generator.params`` and named in
``generator.assumed``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from optkit.instances.caching import (
    CachingInstance,
    Cloud,
    Link,
    Model,
    Request,
    Server,
    Weights,
)
from optkit.instances.common import GeneratorInfo
from optkit.instances.generators.common import QUALITY_GRID, instance_name, round6


@dataclass(frozen=True)
class CachingSize:
    servers: int
    models: int
    users: int
    frames: int
    slots_per_frame: int
    p_request: float
    step_values: int


SIZES: dict[str, dict[str, CachingSize]] = {
    "t2drl": {
        "tiny": CachingSize(1, 3, 3, 2, 2, 0.6, 5),
        "small": CachingSize(1, 6, 6, 3, 5, 0.7, 21),
        "medium": CachingSize(1, 10, 10, 6, 10, 0.7, 41),
        "large": CachingSize(1, 20, 30, 24, 20, 0.7, 41),
    },
    "edgeaigc": {
        "tiny": CachingSize(2, 3, 3, 2, 2, 0.6, 5),
        "small": CachingSize(3, 6, 9, 3, 4, 0.7, 21),
        "medium": CachingSize(4, 10, 16, 4, 8, 0.7, 41),
        "large": CachingSize(8, 20, 64, 12, 10, 0.7, 41),
    },
}

# Constants shared by both presets (all assumed; see the module docstring).
COMMON: dict[str, Any] = {
    "zipf_exponent": 0.8,
    "rank_swap_probability": 0.5,
    "disc_radius_m": 250.0,
    "min_distance_m": 10.0,
    "user_speed_mps": [1.0, 3.0],
    "slot_seconds_mobility": 1.0,
    "tx_psd_dbm_per_hz": -50.0,
    "noise_psd_dbm_per_hz": -174.0,
    "noise_figure_db": 9.0,
    "path_loss_db": "128.1 + 37.6*log10(d_km)",
    "spectral_efficiency_clip": [0.1, 10.0],
    "storage_fraction_of_models": [0.3, 0.5],
    "model_size_gb": [2.0, 8.0],
    "output_mbit": [1.0, 4.0],
    "seconds_per_step": [0.02, 0.06],
    "overhead_s": [0.1, 0.5],
    "steps_min": [10, 20],
    "quality_low": [0.2, 0.4],
    "quality_high": [0.8, 0.95],
    "quality_curvature": [1.5, 4.0],
    "quality_pieces_max": 4,
    "input_mbit": [0.1, 2.0],
    "max_delay_s": [1.5, 4.0],
    "step_capacity_fraction": [0.5, 0.8],
}

PRESET: dict[str, dict[str, Any]] = {
    # T2DRL: quality vs latency at one edge server, no prices (w_c = 0).
    "t2drl": {
        "weights": {"quality": 2.0, "delay": 1.0, "cost": 0.0, "late": 2.0, "switch": 0.05},
        "bandwidth_mhz": [20.0, 20.0],
        "server_speed": [1.0, 1.0],
        "server_cost_per_step": [0.0, 0.0],
        "cloud_rate_mbps": [20.0, 50.0],
        "cloud_latency_s": [0.3, 0.6],
        "cloud_speed": 1.0,
        "cloud_cost_per_step": 0.0,
        "link_rate_mbps": [100.0, 500.0],
        "link_latency_s": [0.005, 0.02],
        "topology": "ring",
    },
    # EdgeAIGC: response time and cost over several servers; the cloud is slower and dearer.
    "edgeaigc": {
        "weights": {"quality": 0.5, "delay": 1.0, "cost": 1.0, "late": 2.0, "switch": 0.02},
        "bandwidth_mhz": [10.0, 20.0],
        "server_speed": [0.8, 1.2],
        "server_cost_per_step": [0.002, 0.004],
        "cloud_rate_mbps": [50.0, 100.0],
        "cloud_latency_s": [0.3, 0.6],
        "cloud_speed": 0.7,
        "cloud_cost_per_step": 0.01,
        "link_rate_mbps": [100.0, 500.0],
        "link_latency_s": [0.005, 0.02],
        "topology": "ring",
    },
}


def _uniform(rng: np.random.Generator, bounds: list[float], n: int | None = None) -> Any:
    lo, hi = bounds
    return rng.uniform(lo, hi) if n is None else rng.uniform(lo, hi, n)


def quality_curve(
    smin: int, smax: int, q_low: float, q_high: float, curvature: float, pieces_max: int
) -> tuple[tuple[int, float], ...]:
    """Breakpoints of a saturating concave curve on the 2⁻¹² grid.

    Slopes are rounded down to the grid and made nonincreasing before the values are summed,
    so every breakpoint is an exact grid multiple and the curve is exactly concave.
    """
    if smin == smax:
        return ((smin, math.floor(q_high / QUALITY_GRID) * QUALITY_GRID),)
    span = smax - smin
    pieces = min(span, pieces_max)
    xs = sorted({smin + round(j * span / pieces) for j in range(pieces + 1)})

    def target(s: int) -> float:
        u = (s - smin) / span
        return q_low + (q_high - q_low) * (1 - math.exp(-curvature * u)) / (
            1 - math.exp(-curvature)
        )

    units = [math.floor(target(xs[0]) / QUALITY_GRID)]
    slope_cap = math.inf
    for a, b in itertools.pairwise(xs):
        ideal = (target(b) - target(a)) / (b - a) / QUALITY_GRID
        slope = min(math.floor(ideal), slope_cap)
        slope_cap = slope
        units.append(units[-1] + int(slope) * (b - a))
    return tuple((x, u * QUALITY_GRID) for x, u in zip(xs, units, strict=True))


def _spectral_efficiency(
    rng: np.random.Generator, distance_m: np.ndarray, c: dict[str, Any]
) -> np.ndarray:
    d_km = np.maximum(distance_m, c["min_distance_m"]) / 1000.0
    path_loss_db = 128.1 + 37.6 * np.log10(d_km)
    fading = rng.exponential(1.0, len(distance_m))  # |h|² of Rayleigh fading
    snr_db = (
        c["tx_psd_dbm_per_hz"]
        - path_loss_db
        + 10 * np.log10(fading)
        - c["noise_psd_dbm_per_hz"]
        - c["noise_figure_db"]
    )
    eta = np.log2(1 + 10 ** (snr_db / 10))
    lo, hi = c["spectral_efficiency_clip"]
    clipped: np.ndarray = np.clip(eta, lo, hi)
    return clipped


def _in_disc(rng: np.random.Generator, n: int, radius: float) -> np.ndarray:
    r = radius * np.sqrt(rng.uniform(0, 1, n))
    a = rng.uniform(0, 2 * np.pi, n)
    return np.column_stack([r * np.cos(a), r * np.sin(a)])


def _drift(rng: np.random.Generator, ranking: list[int], frame: int, p: float) -> list[int]:
    """Adjacent ranks swap with probability p per pair; pairs alternate (0,1),(2,3),… and
    (1,2),(3,4),… between frames so every rank can move."""
    out = list(ranking)
    for i in range(frame % 2, len(out) - 1, 2):
        if rng.uniform() < p:
            out[i], out[i + 1] = out[i + 1], out[i]
    return out


def _links(E: int, topology: str) -> list[tuple[int, int]]:
    if E < 2:
        return []
    if E == 2 or topology == "line":
        return [(e, e + 1) for e in range(E - 1)]
    return [(e, (e + 1) % E) for e in range(E)]


def make(
    preset: str, size: str, seed: int, index: int, rng: np.random.Generator
) -> CachingInstance:
    """Draw one instance; redrawn from the same stream until it has a request."""
    while True:
        instance = _draw(preset, size, seed, index, rng)
        if instance.requests:
            return instance


def _draw(
    preset: str, size: str, seed: int, index: int, rng: np.random.Generator
) -> CachingInstance:
    dims = SIZES[preset][size]
    c = {**COMMON, **PRESET[preset]}
    E, M, U = dims.servers, dims.models, dims.users
    T, K, V = dims.frames, dims.slots_per_frame, dims.step_values

    models = []
    for m in range(M):
        smin = int(rng.integers(c["steps_min"][0], c["steps_min"][1] + 1))
        curve = quality_curve(
            smin,
            smin + V - 1,
            _uniform(rng, c["quality_low"]),
            _uniform(rng, c["quality_high"]),
            _uniform(rng, c["quality_curvature"]),
            c["quality_pieces_max"],
        )
        models.append(
            Model(
                name=f"m{m}",
                size_gb=round6(_uniform(rng, c["model_size_gb"])),
                output_mbit=round6(_uniform(rng, c["output_mbit"])),
                seconds_per_step=round6(_uniform(rng, c["seconds_per_step"])),
                overhead_s=round6(_uniform(rng, c["overhead_s"])),
                steps_min=smin,
                steps_max=smin + V - 1,
                quality=curve,
            )
        )
    total_gb = sum(m.size_gb for m in models)
    smallest_gb = min(m.size_gb for m in models)
    mid_steps = float(np.mean([(m.steps_min + m.steps_max) / 2 for m in models]))
    per_slot = U * dims.p_request / E
    links = _links(E, c["topology"])
    servers = []
    for e in range(E):
        fraction = _uniform(rng, c["storage_fraction_of_models"])
        capacity = round(_uniform(rng, c["step_capacity_fraction"]) * per_slot * mid_steps)
        servers.append(
            Server(
                name=f"es{e}",
                # at least the smallest model fits, so caching is never moot
                storage_gb=round6(max(fraction * total_gb, smallest_gb)),
                bandwidth_mhz=round6(_uniform(rng, c["bandwidth_mhz"])),
                step_capacity=int(max(capacity, max(m.steps_max for m in models))),
                speed=round6(_uniform(rng, c["server_speed"])),
                cost_per_step=round6(_uniform(rng, c["server_cost_per_step"])),
                links=tuple(
                    Link(
                        to=b,
                        rate_mbps=round6(_uniform(rng, c["link_rate_mbps"])),
                        latency_s=round6(_uniform(rng, c["link_latency_s"])),
                    )
                    for a, b in links
                    if a == e
                ),
            )
        )
    cloud = Cloud(
        rate_mbps=round6(_uniform(rng, c["cloud_rate_mbps"])),
        latency_s=round6(_uniform(rng, c["cloud_latency_s"])),
        steps=round(mid_steps),
        speed=c["cloud_speed"],
        cost_per_step=c["cloud_cost_per_step"],
    )

    home = np.arange(U) % E
    position = _in_disc(rng, U, c["disc_radius_m"])
    waypoint = _in_disc(rng, U, c["disc_radius_m"])
    speed = _uniform(rng, c["user_speed_mps"], U)
    zipf = np.arange(1, M + 1, dtype=float) ** -c["zipf_exponent"]
    zipf /= zipf.sum()
    ranking = [int(m) for m in rng.permutation(M)]
    requests = []
    for t in range(T):
        if t > 0:
            ranking = _drift(rng, ranking, t, c["rank_swap_probability"])
        for k in range(K):
            # random waypoint: move toward the waypoint; pick a new one on arrival
            step = speed * c["slot_seconds_mobility"]
            delta = waypoint - position
            dist = np.linalg.norm(delta, axis=1)
            arrive = dist <= step
            with np.errstate(invalid="ignore", divide="ignore"):
                position = np.where(
                    arrive[:, None],
                    waypoint,
                    position + delta * (step / np.maximum(dist, 1e-12))[:, None],
                )
            fresh = _in_disc(rng, U, c["disc_radius_m"])
            waypoint = np.where(arrive[:, None], fresh, waypoint)
            speed = np.where(arrive, _uniform(rng, c["user_speed_mps"], U), speed)
            asks = rng.uniform(0, 1, U) < dims.p_request
            ranks = rng.choice(M, size=U, p=zipf)
            eta = _spectral_efficiency(rng, np.linalg.norm(position, axis=1), c)
            data = _uniform(rng, c["input_mbit"], U)
            deadline = _uniform(rng, c["max_delay_s"], U)
            for u in np.flatnonzero(asks):
                requests.append(
                    Request(
                        frame=t,
                        slot=k,
                        user=int(u),
                        server=int(home[u]),
                        model=ranking[int(ranks[u])],
                        input_mbit=round6(data[u]),
                        spectral_efficiency=round6(eta[u]),
                        max_delay_s=round6(deadline[u]),
                    )
                )
    params = {"index": index, **c, "sizes": vars(dims).copy()}
    assumed = [key for key in params if key != "index"]
    return CachingInstance(
        name=instance_name(preset, size, seed, index),
        seed=seed,
        generator=GeneratorInfo(preset=preset, size=size, params=params, assumed=tuple(assumed)),
        frames=T,
        slots_per_frame=K,
        users=U,
        weights=Weights(**c["weights"]),
        cloud=cloud,
        servers=tuple(servers),
        models=tuple(models),
        initial_cache=tuple(() for _ in range(E)),
        requests=tuple(requests),
    )
