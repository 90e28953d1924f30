"""Hand-made instances and solutions whose numbers are worked out by hand in the tests."""

from __future__ import annotations

import copy
from typing import Any


def caching_instance() -> dict[str, Any]:
    return copy.deepcopy(
        {
            "format": "optkit.caching",
            "version": 1,
            "name": "hand-caching",
            "seed": None,
            "generator": None,
            "frames": 2,
            "slots_per_frame": 1,
            "users": 3,
            "weights": {"quality": 2.0, "delay": 1.0, "cost": 0.5, "late": 4.0, "switch": 0.1},
            "cloud": {
                "rate_mbps": 10.0,
                "latency_s": 0.2,
                "steps": 60,
                "speed": 2.0,
                "cost_per_step": 0.01,
            },
            "servers": [
                {
                    "name": "es0",
                    "storage_gb": 10.0,
                    "bandwidth_mhz": 10.0,
                    "step_capacity": 25,
                    "speed": 1.0,
                    "cost_per_step": 0.002,
                    "links": [{"to": 1, "rate_mbps": 50.0, "latency_s": 0.05}],
                },
                {
                    "name": "es1",
                    "storage_gb": 8.0,
                    "bandwidth_mhz": 20.0,
                    "step_capacity": 40,
                    "speed": 2.0,
                    "cost_per_step": 0.004,
                    "links": [],
                },
                {
                    "name": "es2",
                    "storage_gb": 5.0,
                    "bandwidth_mhz": 5.0,
                    "step_capacity": 10,
                    "speed": 1.0,
                    "cost_per_step": 0.0,
                    "links": [],
                },
            ],
            "models": [
                {
                    "name": "m0",
                    "size_gb": 6.0,
                    "output_mbit": 2.0,
                    "seconds_per_step": 0.02,
                    "overhead_s": 0.1,
                    "steps_min": 10,
                    "steps_max": 30,
                    "quality": [[10, 0.5], [20, 0.8], [30, 0.9]],
                },
                {
                    "name": "m1",
                    "size_gb": 4.0,
                    "output_mbit": 1.0,
                    "seconds_per_step": 0.05,
                    "overhead_s": 0.2,
                    "steps_min": 5,
                    "steps_max": 15,
                    "quality": [[5, 0.3], [15, 0.6]],
                },
            ],
            "initial_cache": [[0], [], []],
            "requests": [
                # r0: served at home, 20 steps
                {"frame": 0, "slot": 0, "user": 0, "server": 0, "model": 0, "input_mbit": 1.0,
                 "spectral_efficiency": 2.0, "max_delay_s": 3.0},
                # r1: served by the linked neighbour es1, late
                {"frame": 0, "slot": 0, "user": 1, "server": 0, "model": 1, "input_mbit": 2.0,
                 "spectral_efficiency": 1.0, "max_delay_s": 1.0},
                # r2: cloud, whose 60 steps lie above m0's range (quality clamps to 30)
                {"frame": 0, "slot": 0, "user": 2, "server": 1, "model": 0, "input_mbit": 0.5,
                 "spectral_efficiency": 4.0, "max_delay_s": 5.0},
                # r3: frame 1 at home after loading m1
                {"frame": 1, "slot": 0, "user": 0, "server": 0, "model": 1, "input_mbit": 1.0,
                 "spectral_efficiency": 2.0, "max_delay_s": 2.0},
            ],
        }
    )  # fmt: skip


def caching_solution() -> dict[str, Any]:
    return {
        "format": "optkit.solution",
        "version": 1,
        "family": "caching",
        "instance": "hand-caching",
        "method": "hand",
        "cache": [[[0], [1], []], [[1], [1], []]],
        "requests": [
            {"server": 0, "bandwidth": 0.5, "steps": 20},
            {"server": 1, "bandwidth": 0.5, "steps": 10},
            {"server": "cloud", "bandwidth": 1.0, "steps": None},
            {"server": 0, "bandwidth": 1.0, "steps": 15},
        ],
    }


def scheduling_instance() -> dict[str, Any]:
    return {
        "format": "optkit.scheduling",
        "version": 1,
        "name": "hand-scheduling",
        "seed": None,
        "generator": None,
        "slots": 2,
        "slot_seconds": 1.0,
        "deadline_s": 1.0,
        "failure_penalty": 3.0,
        "max_servers": None,
        "exact_servers": False,
        "servers": [
            {"name": "s0", "cpu_ghz": 10.0, "rate_mbps": 100.0, "queue_gcycles": 15.0},
            {"name": "s1", "cpu_ghz": 20.0, "rate_mbps": 50.0, "queue_gcycles": 0.0},
            {"name": "s2", "cpu_ghz": 5.0, "rate_mbps": 200.0, "queue_gcycles": 0.0},
        ],
        "tasks": [
            {"slot": 0, "bs": 0, "input_mbit": 10.0, "density_gcycles_per_mbit": 0.5},
            {"slot": 0, "bs": 0, "input_mbit": 4.0, "density_gcycles_per_mbit": 1.0},
            {"slot": 1, "bs": 1, "input_mbit": 1.0, "density_gcycles_per_mbit": 2.0},
        ],
    }


def scheduling_solution() -> dict[str, Any]:
    return {
        "format": "optkit.solution",
        "version": 1,
        "family": "scheduling",
        "instance": "hand-scheduling",
        "method": "hand",
        "tasks": [
            {"servers": [0, 1], "fractions": [0.4, 0.6]},
            {"servers": [1, 2], "fractions": [1.0, 0.0]},
            {"servers": [0], "fractions": [1.0]},
        ],
    }
