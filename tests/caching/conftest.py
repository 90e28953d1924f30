"""Tiny caching instances for property tests: from every preset and hand-made variations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from hypothesis import strategies as st

import optkit
from optkit.instances import instance_from_dict
from optkit.instances.caching import CachingInstance


def preset_instance(preset: str, seed: int) -> CachingInstance:
    inst = optkit.generate("caching", preset, "tiny", seed=seed)[0]
    assert isinstance(inst, CachingInstance)
    return inst


@st.composite
def hand_made(draw: st.DrawFn) -> CachingInstance:
    """A tiny instance with the features the exact methods must get right: several linked
    servers, tight storage, binding step capacity, a cloud that may beat the edge, late and
    switch weights zero or not, an initial cache."""
    n_servers = draw(st.integers(1, 2))
    n_models = draw(st.integers(1, 3))
    frames = draw(st.integers(1, 2))
    slots = draw(st.integers(1, 2))
    users = draw(st.integers(1, 3))
    pos = st.floats(0.5, 3.0)
    models = []
    for m in range(n_models):
        smin = draw(st.integers(1, 6))
        span = draw(st.integers(0, 3))
        q0 = draw(st.floats(0.0, 0.5))
        points = [[smin, q0]]
        slope = draw(st.floats(0.0, 0.2))
        for s in range(smin + 1, smin + span + 1):
            slope *= draw(st.floats(0.3, 1.0))  # concave: slopes shrink
            points.append([s, points[-1][1] + slope])
        models.append(
            {
                "name": f"m{m}",
                "size_gb": draw(st.floats(1.0, 4.0)),
                "output_mbit": draw(st.floats(0.0, 3.0)),
                "seconds_per_step": draw(st.floats(0.0, 0.1)),
                "overhead_s": draw(st.floats(0.0, 0.5)),
                "steps_min": smin,
                "steps_max": smin + span,
                "quality": points,
            }
        )
    total_size = sum(m["size_gb"] for m in models)
    servers = []
    for e in range(n_servers):
        servers.append(
            {
                "name": f"es{e}",
                "storage_gb": draw(st.floats(1.0, max(1.0, total_size))),
                "bandwidth_mhz": draw(st.floats(1.0, 20.0)),
                "step_capacity": draw(st.integers(1, 16)),
                "speed": draw(pos),
                "cost_per_step": draw(st.floats(0.0, 0.02)),
                "links": [],
            }
        )
    if n_servers == 2 and draw(st.booleans()):
        servers[0]["links"] = [
            {
                "to": 1,
                "rate_mbps": draw(st.floats(10.0, 200.0)),
                "latency_s": draw(st.floats(0.0, 0.05)),
            }
        ]
    initial: list[list[int]] = []
    for e in range(n_servers):
        chosen: list[int] = []
        used = 0.0
        for m in range(n_models):
            if draw(st.booleans()) and used + models[m]["size_gb"] <= servers[e]["storage_gb"]:
                chosen.append(m)
                used += models[m]["size_gb"]
        initial.append(chosen)
    requests: list[dict[str, Any]] = []
    for t in range(frames):
        for k in range(slots):
            for u in range(users):
                if draw(st.booleans()):
                    requests.append(
                        {
                            "frame": t,
                            "slot": k,
                            "user": u,
                            "server": draw(st.integers(0, n_servers - 1)),
                            "model": draw(st.integers(0, n_models - 1)),
                            "input_mbit": draw(st.floats(0.0, 3.0)),
                            "spectral_efficiency": draw(st.floats(0.2, 6.0)),
                            "max_delay_s": draw(st.floats(0.3, 3.0)),
                        }
                    )
    data = {
        "format": "optkit.caching",
        "version": 1,
        "name": "hand-made",
        "seed": 0,
        "generator": None,
        "frames": frames,
        "slots_per_frame": slots,
        "users": users,
        "weights": {
            "quality": draw(st.sampled_from([0.0, 1.0, 2.0])),
            "delay": draw(st.sampled_from([0.0, 1.0])),
            "cost": draw(st.sampled_from([0.0, 1.0])),
            "late": draw(st.sampled_from([0.0, 2.0, 5.0])),
            "switch": draw(st.sampled_from([0.0, 0.1, 0.5])),
        },
        "cloud": {
            "rate_mbps": draw(st.floats(5.0, 200.0)),
            "latency_s": draw(st.floats(0.0, 0.5)),
            "steps": draw(st.integers(1, 10)),
            "speed": draw(st.floats(0.5, 4.0)),  # sometimes far better than the edge
            "cost_per_step": draw(st.floats(0.0, 0.02)),
        },
        "servers": servers,
        "models": models,
        "initial_cache": initial,
        "requests": requests,
    }
    inst = instance_from_dict(data)
    assert isinstance(inst, CachingInstance)
    return inst


tiny_instances = st.one_of(
    st.builds(preset_instance, st.sampled_from(["t2drl", "edgeaigc"]), st.integers(0, 10_000)),
    hand_made(),
)


def random_slot_caches(
    inst: CachingInstance, rng: np.random.Generator, density: float = 0.7
) -> Iterator[tuple[int, np.ndarray]]:
    """Each slot with requests, with a random cache of its frame (each (server, model) cached
    with probability ``density``, storage ignored: the per-slot allocation takes any cache)."""
    c = inst.compiled
    for g in range(c.n_slots):
        if len(c.slot_requests(g)):
            yield g, rng.random((c.n_servers, c.n_models)) < density
