"""Formats: Appendix A files, round trips, byte-identical generation, malformed files."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import optkit
from optkit.errors import InvalidFileError
from optkit.instances import from_dict, instance_from_dict, load, save
from optkit.instances.generators import PRESETS, SIZES, generate, write_set
from optkit.instances.jsonio import dumps
from tests.foundation.handmade import caching_instance, scheduling_instance

ALL_PRESETS = [(family, preset) for family in PRESETS for preset in PRESETS[family]]


@pytest.mark.parametrize(
    "name",
    [
        "appendix-caching.json",
        "appendix-caching-solution.json",
        "appendix-scheduling.json",
        "appendix-scheduling-solution.json",
        "greedy-knapsack.json",
        "waterfilling-not-joint-optimal.json",
    ],
)
def test_shipped_examples_are_valid(data_dir: Path, name: str) -> None:
    doc = load(data_dir / name)
    assert from_dict(doc.to_dict()) == doc


@pytest.mark.parametrize("family,preset", ALL_PRESETS)
@pytest.mark.parametrize("size", SIZES)
def test_round_trip_every_preset(tmp_path: Path, family: str, preset: str, size: str) -> None:
    inst = generate(family, preset, size, seed=7)[0]
    path = tmp_path / "a.json"
    save(inst, path)
    again = optkit.load_instance(path)
    assert again == inst
    save(again, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert inst.generator is not None and inst.generator.preset == preset


@pytest.mark.parametrize("family,preset", ALL_PRESETS)
def test_generation_is_byte_identical(tmp_path: Path, family: str, preset: str) -> None:
    first = write_set(family, preset, "small", seed=3, count=3, out=tmp_path / "one")
    second = write_set(family, preset, "small", seed=3, count=5, out=tmp_path / "two")
    assert len(second) == 5  # instance i does not depend on the count
    for a in first:
        assert a.read_bytes() == (tmp_path / "two" / a.name).read_bytes()
    assert [p.name for p in first] == [f"{preset}-small-s3-{i:03d}.json" for i in range(3)]
    other = generate(family, preset, "small", seed=4)[0]
    assert dumps(other.to_dict()) != first[0].read_text()


def test_generated_floats_have_six_significant_digits() -> None:
    inst = generate("caching", "edgeaigc", "small", seed=1)[0]
    for req in inst.requests:
        for value in (req.input_mbit, req.spectral_efficiency, req.max_delay_s):
            assert float(f"{value:.6g}") == value
    for model in inst.models:  # quality breakpoints lie on the 2^-12 grid instead
        for _, q in model.quality:
            assert (q * 4096).is_integer()


@pytest.mark.parametrize("family,preset", ALL_PRESETS)
def test_generated_instances_have_work_and_assumptions(family: str, preset: str) -> None:
    for inst in generate(family, preset, "tiny", seed=0, count=20):
        assert inst.requests if family == "caching" else inst.tasks  # type: ignore[union-attr]
        gen = inst.generator
        assert gen is not None
        assert set(gen.assumed) <= set(gen.params)
    if family == "caching":
        assert "zipf_exponent" in gen.assumed


def test_scheduling_presets_follow_the_authors() -> None:
    sm = generate("scheduling", "smcoedge", "large", seed=0)[0]
    am = generate("scheduling", "amcoedge", "small", seed=0)[0]
    assert [s.cpu_ghz for s in sm.servers] == [10, 20, 30, 40, 50]
    assert [s.rate_mbps for s in sm.servers] == [500, 425, 450, 400, 475]
    assert [s.rate_mbps for s in am.servers] == [400, 425, 450, 475, 500]
    assert sm.max_servers == 3 and sm.exact_servers and sm.slot_seconds == 0.1
    assert am.max_servers is None and am.failure_penalty == 10
    assert sm.generator is not None and sm.generator.assumed == ()  # the authors' own episode
    assert 6500 < len(sm.tasks) < 8500  # 5 BS × 50 positions × 101 slots × 0.3
    assert all(10 <= t.input_mbit <= 40 for t in sm.tasks)
    tiny = generate("scheduling", "amcoedge", "tiny", seed=0, count=10)
    assert all(len(i.servers) == 2 and len(i.tasks) <= 4 for i in tiny)


# --------------------------------------------------------------------------------------------
# Malformed files: every one gives its exact message (file: JSON path: rule), never a traceback.

Edit = Callable[[dict[str, Any]], Any]


def _put(path: str, value: Any) -> Edit:
    def apply(doc: dict[str, Any]) -> None:
        keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split(".")]
        target: Any = doc
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return apply


def _many_models_and_frames(doc: dict[str, Any]) -> None:
    """10^6 frames and 52 models: every count within its limit, the cache decisions not."""
    doc["frames"] = 10**6
    doc["models"] += [{**doc["models"][0], "name": f"extra{i}"} for i in range(50)]


def _drop(path: str) -> Edit:
    def apply(doc: dict[str, Any]) -> None:
        keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split(".")]
        target: Any = doc
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return apply


C, S = caching_instance, scheduling_instance
MALFORMED: list[tuple[str, Callable[[], dict[str, Any]], Edit, str]] = [
    ("unknown format", C, _put("format", "optkit.foo"), 'format: "optkit.foo" is not known (known formats: "optkit.caching", "optkit.scheduling", "optkit.solution")'),
    ("missing format", C, _drop("format"), "format: missing (known formats"),
    ("version", C, _put("version", 2), "version: 2 is not one of 1"),
    ("missing field", C, _drop("frames"), "frames: missing required field"),
    ("unknown field", C, _put("colour", "red"), "colour: unknown field"),
    ("unknown nested field", C, _put("weights.qualty", 1.0), "weights.qualty: unknown field"),
    ("string for integer", C, _put("frames", "2"), 'frames: "2" is not an integer'),
    ("float for integer", C, _put("users", 3.0), "users: 3.0 is not an integer"),
    ("at least one frame", C, _put("frames", 0), "frames: 0 must be >= 1"),
    ("negative weight", C, _put("weights.delay", -1.0), "weights.delay: -1.0 must be >= 0"),
    ("boolean for number", C, _put("cloud.rate_mbps", True), "cloud.rate_mbps: true is not a number"),
    ("null for number", C, _put("cloud.latency_s", None), "cloud.latency_s: null is not a number"),
    ("positive bandwidth", C, _put("servers.0.bandwidth_mhz", 0), "servers.0.bandwidth_mhz: 0 must be > 0".replace("servers.0", "servers[0]")),
    ("cloud steps", C, _put("cloud.steps", 0), "cloud.steps: 0 must be >= 1"),
    ("no servers", C, _put("servers", []), "servers: needs at least 1 server(s), has 0"),
    ("list expected", C, _put("models", {}), "models: an object is not a list"),
    ("link to itself", C, _put("servers.1.links", [{"to": 1, "rate_mbps": 50.0, "latency_s": 0.05}]), "servers[1].links[0].to: a server cannot link to itself"),
    ("link target", C, _put("servers.0.links.0.to", 5), "servers[0].links[0].to: 5 is not a server index (instance has 3 servers)"),
    ("link twice", C, _put("servers.0.links", [{"to": 1, "rate_mbps": 50.0, "latency_s": 0.05}] * 2), "servers[0].links[1].to: server 1 is linked twice"),
    ("link ends disagree", C, _put("servers.1.links", [{"to": 0, "rate_mbps": 60.0, "latency_s": 0.05}]), "servers[0].links[0].rate_mbps: 50 disagrees with 60 at servers[1].links[0] (a link listed at both ends must agree)"),
    ("not concave", C, _put("models.0.quality", [[10, 0.5], [20, 0.6], [30, 0.9]]), "models[0].quality[2]: quality is not concave: slope 0.03 after slope 0.01"),
    ("decreasing quality", C, _put("models.1.quality", [[5, 0.6], [15, 0.3]]), "models[1].quality[1]: quality decreases (it must be nondecreasing in steps)"),
    ("first breakpoint", C, _put("models.1.quality", [[6, 0.3], [15, 0.6]]), "models[1].quality[0]: first breakpoint is at 6 steps, not steps_min 5"),
    ("last breakpoint", C, _put("models.1.quality", [[5, 0.3], [14, 0.6]]), "models[1].quality[1]: last breakpoint is at 14 steps, not steps_max 15"),
    ("steps order", C, _put("models.0.steps_max", 5), "models[0].steps_max: 5 is below steps_min 10"),
    ("breakpoint steps increase", C, _put("models.0.quality", [[10, 0.5], [10, 0.6], [30, 0.9]]), "models[0].quality[1]: steps 10 do not increase (previous 10)"),
    ("breakpoint shape", C, _put("models.0.quality", [[10, 0.5, 1], [30, 0.9]]), "models[0].quality[0]: a breakpoint is [steps, quality], got 3 numbers"),
    ("request model (DESIGN's example)", C, _put("requests.1.model", 9), "requests[1].model: 9 is not a model index (instance has 2 models)"),
    ("request user", C, _put("requests.0.user", 3), "requests[0].user: 3 is not a user index (instance has 3 users)"),
    ("request frame", C, _put("requests.3.frame", 2), "requests[3].frame: 2 is not a frame index (instance has 2 frames)"),
    ("one request per user and slot", C, _put("requests.1.user", 0), "requests[1].user: user 0 already makes request 0 in frame 0, slot 0 (at most one request per user and slot)"),
    ("spectral efficiency", C, _put("requests.0.spectral_efficiency", 0.0), "requests[0].spectral_efficiency: 0.0 must be > 0"),
    ("initial cache storage", C, _put("initial_cache.1", [0, 1]), "initial_cache[1]: models of 10 GB do not fit storage_gb 8 of server 1"),
    ("initial cache lists", C, _put("initial_cache", [[0]]), "initial_cache: has 1 lists, one per server is needed (3)"),
    ("initial cache duplicate", C, _put("initial_cache.0", [0, 0]), "initial_cache[0][1]: model 0 is listed twice"),
    ("name", C, _put("name", "a/b"), 'name: "a/b" is not a valid name'),
    ("duplicate server name", C, _put("servers.2.name", "es0"), "servers[2].name: 'es0' is also the name of server 0"),
    ("tasks sorted", S, _put("tasks.2.slot", 0), None),  # filled below
    ("max_servers", S, _put("max_servers", 4), "max_servers: 4 is more than the 3 servers of the instance"),
    ("exact_servers needs max_servers", S, _put("exact_servers", True), "exact_servers: true needs max_servers (the exact number of servers per task)"),
    ("failure penalty", S, _put("failure_penalty", 0.5), "failure_penalty: 0.5 must be >= 1"),
    ("task bs", S, _put("tasks.0.bs", 3), "tasks[0].bs: 3 is not a server index (instance has 3 servers)"),
    ("task slot", S, _put("tasks.2.slot", 2), "tasks[2].slot: 2 is not a slot index (instance has 2 slots)"),
    ("task data", S, _put("tasks.0.input_mbit", 0.0), "tasks[0].input_mbit: 0.0 must be > 0"),
    ("flag", S, _put("exact_servers", "yes"), 'exact_servers: "yes" is not true or false'),
    ("negative queue", S, _put("servers.0.queue_gcycles", -1.0), "servers[0].queue_gcycles: -1.0 must be >= 0"),
    ("solution where an instance is expected", S, lambda d: d.update(format="optkit.solution"), None),
    # size limits (optkit.instances.common): a slip in a count is a rule, not a memory error
    ("frames limit", C, _put("frames", 10**30), "frames: 1000000000000000000000000000000 is above optkit's limit of 1000000"),
    ("slots limit", C, _put("slots_per_frame", 10**6), "slots_per_frame: 2 frames × 1000000 slots is above optkit's limit of 1000000 slots"),
    ("users limit", C, _put("users", 10**12), "users: 1000000000000 is above optkit's limit of 100000"),
    ("steps limit", C, _put("models.0.steps_max", 10**5), "models[0].steps_max: 100000 is above optkit's limit of 10000"),
    ("cloud steps limit", C, _put("cloud.steps", 10**5), "cloud.steps: 100000 is above optkit's limit of 10000"),
    ("step capacity limit", C, _put("servers.0.step_capacity", 10**9), "servers[0].step_capacity: 1000000000 is above optkit's limit of 1000000"),
    ("cache entries limit", C, _many_models_and_frames, "frames: 1000000 frames × 3 servers × 52 models = 156000000 cache entries, above optkit's limit of 100000000"),
    ("scheduling slots limit", S, _put("slots", 10**12), "slots: 1000000000000 is above optkit's limit of 1000000"),
]  # fmt: skip


def _malformed_cases() -> list[tuple[str, Callable[[], dict[str, Any]], Edit, str]]:
    cases = []
    for name, base, edit, message in MALFORMED:
        if name == "tasks sorted":
            data = base()
            data["tasks"][1], data["tasks"][2] = data["tasks"][2], data["tasks"][1]
            cases.append(
                (
                    name,
                    base,
                    lambda d, tasks=data["tasks"]: d.update(tasks=tasks),
                    "tasks[2].slot: 0 comes after slot 1: tasks must be sorted by slot",
                )
            )
        elif message is None:
            continue
        else:
            cases.append((name, base, edit, message))
    return cases


CASES = _malformed_cases()


def test_there_are_at_least_25_malformed_cases() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("name,base,edit,message", CASES, ids=[c[0] for c in CASES])
def test_malformed_instance(tmp_path: Path, name: str, base: Any, edit: Edit, message: str) -> None:
    doc = copy.deepcopy(base())
    edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InvalidFileError) as info:
        optkit.load_instance(path)
    expected = f"{path}: {message}"
    assert any(m.startswith(expected) for m in info.value.messages), info.value.messages


@pytest.mark.parametrize(
    "text,message",
    [
        ("{", "line 1 column 2: invalid JSON"),
        ('{"a": NaN}', "invalid JSON (NaN is not valid JSON (numbers must be finite))"),
        ('{"a": 1, "a": 2}', "invalid JSON (duplicate key 'a')"),
        ("[1, 2]", "(top level): a list is not an optkit document"),
        ('"text"', '(top level): "text" is not an optkit document'),
    ],
)
def test_unreadable_documents(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InvalidFileError) as info:
        optkit.load(path)
    assert info.value.messages[0].startswith(f"{path}: ") and message in info.value.messages[0]


def test_every_broken_rule_is_reported() -> None:
    doc = caching_instance()
    doc["frames"] = "2"
    doc["requests"][1]["model"] = 9
    doc["servers"][0]["speed"] = -1
    doc["extra"] = 1
    with pytest.raises(InvalidFileError) as info:
        instance_from_dict(doc, "x.json")
    assert sorted(info.value.messages) == sorted(
        [
            'x.json: frames: "2" is not an integer',
            "x.json: requests[1].model: 9 is not a model index (instance has 2 models)",
            "x.json: servers[0].speed: -1 must be > 0",
            "x.json: extra: unknown field",
        ]
    )


def test_wrong_kind_of_document() -> None:
    with pytest.raises(InvalidFileError, match="this is a solution, an instance was expected"):
        instance_from_dict({"format": "optkit.solution"}, "s.json")
    with pytest.raises(InvalidFileError, match="this is an instance, a solution was expected"):
        optkit.instances.solution_from_dict(caching_instance(), "i.json")


def test_missing_file_is_an_optkit_error(tmp_path: Path) -> None:
    with pytest.raises(optkit.OptkitError, match="no such file"):
        optkit.load(tmp_path / "nope.json")
