"""The environments: episodes are solutions the evaluator scores exactly as the rewards say,
every action maps to a feasible decision, observations never read ahead."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import optkit
from optkit.drl.envs import (
    CachingEpisode,
    CachingFrameEnv,
    CachingSlotEnv,
    EnvSpec,
    FolderSource,
    GeneratedSource,
    SchedulingEnv,
    fixed,
    frame_spaces,
    generated_instance,
    make_env,
    slot_spaces,
)
from optkit.drl.envs.caching import equal_allocation, keep_cache, lfu_cache
from optkit.errors import OptkitError
from optkit.instances import instance_from_dict

CACHING = [(p, s) for p in ("t2drl", "edgeaigc") for s in ("tiny", "small", "medium")]
SCHEDULING = [(p, s) for p in ("smcoedge", "amcoedge") for s in ("tiny", "small", "medium")]


def play(env, instance, rng: np.random.Generator, actions=None) -> float:
    """A random episode on ``instance``; returns the summed reward."""
    env.reset(options={"instance": instance})
    total, done, i = 0.0, False, 0
    while not done:
        if actions is not None:
            action = actions[i % len(actions)]
        elif hasattr(env.action_space, "n"):
            action = int(rng.integers(env.action_space.n))
        else:
            action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
        _, reward, done, truncated, _ = env.step(action)
        assert not truncated
        total += reward
        i += 1
    return total


def check_agreement(env, instance, total: float, sign: float) -> optkit.Evaluation:
    ev = optkit.evaluate(instance, env.unwrapped.solution("test"))
    assert ev.feasible, ev.violations[:3]
    assert ev.objective is not None
    # caching: rewards sum to the objective (utility); scheduling: to −objective (cost)
    assert total == pytest.approx(sign * ev.objective, rel=1e-12, abs=1e-9)
    return ev


@pytest.mark.parametrize(("preset", "size"), CACHING)
def test_caching_episodes_are_scored_as_rewarded(preset: str, size: str) -> None:
    source = GeneratedSource("caching", preset, size, seed=5, count=2)
    instance = source.get(1)
    rng = np.random.default_rng(0)
    E, M = len(instance.servers), len(instance.models)
    envs = [
        CachingSlotEnv(source),
        CachingSlotEnv(source, "keep"),
        CachingFrameEnv(source, "scores"),
    ]
    if (1 << (E * M)) <= 4096:
        envs.append(CachingFrameEnv(source, "index"))
    for env in envs:
        total = play(env, instance, rng)
        check_agreement(env, instance, total, +1.0)


@pytest.mark.parametrize(("preset", "size"), SCHEDULING)
def test_scheduling_episodes_are_scored_as_rewarded(preset: str, size: str) -> None:
    source = GeneratedSource("scheduling", preset, size, seed=5, count=2)
    env = SchedulingEnv(source)
    for instance in (source.get(0), source.get(1)):
        total = play(env, instance, np.random.default_rng(1))
        ev = check_agreement(env, instance, total, -1.0)
        assert ev.metrics is not None


def test_request_utilities_are_the_evaluators_bit_for_bit() -> None:
    for preset in ("t2drl", "edgeaigc"):
        instance = generated_instance("caching", preset, "small", 3, 0)
        env = CachingSlotEnv(fixed(instance))
        play(env, instance, np.random.default_rng(2))
        ep = env.episode
        ev = optkit.evaluate(instance, env.solution("test"))
        assert np.array_equal(ep.request_utilities(), ev.details.utility)


def test_scheduling_costs_are_the_evaluators_bit_for_bit() -> None:
    instance = generated_instance("scheduling", "amcoedge", "medium", 3, 0)
    env = SchedulingEnv(fixed(instance))
    env.reset(options={"instance": instance})
    rng = np.random.default_rng(3)
    costs, done = [], False
    while not done:
        _, reward, done, _, _ = env.step(int(rng.integers(env.action_space.n)))
        costs.append(-reward)
    ev = optkit.evaluate(instance, env.solution("test"))
    assert np.array_equal(np.array(costs), ev.details.cost)


def test_two_timescale_episode_driven_by_two_policies() -> None:
    """A frame policy and a slot policy drive one episode (as T2DRL's agent pair would); fixed
    rules plug into either side; the summed rewards are the objective."""
    instance = generated_instance("caching", "edgeaigc", "small", 2, 0)
    rng = np.random.default_rng(4)
    for frame_side, slot_side in (("agent", "agent"), ("keep", "agent"), ("agent", "equal")):
        ep = CachingEpisode(instance, frame_action="scores")
        frame_obs, frame_act = frame_spaces(ep)
        slot_obs, slot_act = slot_spaces(ep)
        total = 0.0
        while not ep.done:
            obs = ep.frame_observation()
            assert obs.shape == (ep.frame_observation_size,)
            assert frame_obs.contains(obs)
            if frame_side == "agent":
                cache = ep.cache_from_action(rng.uniform(-1, 1, frame_act.shape))
            else:
                cache = keep_cache(ep)
            total += ep.begin_frame(cache)
            while not ep.frame_done:
                obs = ep.slot_observation()
                assert obs.shape == (ep.slot_observation_size,)
                assert slot_obs.contains(obs)
                if slot_side == "agent" and ep.slot % 2:
                    total += ep.play_action(rng.uniform(-1, 1, slot_act.shape))
                elif slot_side == "agent":  # the same mapping, as explicit decisions
                    total += ep.play_slot(
                        *ep.decisions_from_action(rng.uniform(-1, 1, slot_act.shape))
                    )
                else:
                    total += ep.play_slot(*equal_allocation(ep))
        ev = optkit.evaluate(instance, ep.solution("pair"))
        assert ev.feasible
        assert total == pytest.approx(ev.objective, rel=1e-12, abs=1e-9)
        assert ep.objective() == pytest.approx(ev.objective, rel=1e-12, abs=1e-9)


extreme = st.sampled_from([-1.0, -0.999, -0.5, 0.0, 1e-9, 0.5, 0.999, 1.0])


@given(
    preset=st.sampled_from(["t2drl", "edgeaigc"]),
    index=st.integers(0, 3),
    values=st.lists(st.one_of(extreme, st.floats(-3, 3)), min_size=1, max_size=40),
    frame_actions=st.lists(st.integers(0, 2**12 - 1), min_size=1, max_size=4),
)
def test_any_action_maps_to_feasible_decisions(
    preset: str, index: int, values: list[float], frame_actions: list[int]
) -> None:
    """Slot actions (any values, also outside [−1, 1]) and frame actions (any index, any
    scores) always give a feasible solution; the repair keeps every step capacity."""
    instance = generated_instance("caching", preset, "small", 11, index)
    source = fixed(instance)
    pattern = np.resize(np.asarray(values, np.float32), 200)
    E, M, U = len(instance.servers), len(instance.models), instance.users
    slot_actions = [np.roll(pattern, k)[: E * 3 * U] for k in range(5)]
    env = CachingSlotEnv(source)
    total = play(env, instance, np.random.default_rng(0), slot_actions)
    check_agreement(env, instance, total, +1.0)
    scores = [np.roll(pattern, k)[: E * M] for k in range(3)]
    env = CachingFrameEnv(source, "scores")
    total = play(env, instance, np.random.default_rng(0), scores)
    check_agreement(env, instance, total, +1.0)
    if (1 << (E * M)) <= 4096:
        env = CachingFrameEnv(source, "index")
        n = env.action_space.n
        total = play(env, instance, np.random.default_rng(0), [a % n for a in frame_actions])
        check_agreement(env, instance, total, +1.0)


def test_repair_moves_the_lowest_gain_requests_to_the_cloud() -> None:
    data = generated_instance("caching", "t2drl", "small", 1, 0).to_dict()
    data["servers"][0]["storage_gb"] = sum(m["size_gb"] for m in data["models"])
    data["servers"][0]["step_capacity"] = max(m["steps_max"] for m in data["models"]) + 5
    instance = instance_from_dict(data)
    ep = CachingEpisode(instance)
    ep.begin_frame(np.ones((1, len(instance.models)), bool))
    while len(ep.current.index) < 3:
        ep.play_slot(*equal_allocation(ep))
    s = ep.current
    n = len(s.index)
    server = np.zeros(n, np.int64)
    steps = (s.steps_min + s.span).astype(float)  # steps_max for all: overloads the server
    share = np.full(n, 1.0 / n)
    capacity = instance.compiled.step_capacity[0]
    assert steps.sum() > capacity
    j, home = s.span, np.ones(n, np.int64)
    gain = ep._utility(home, j, share) - ep._utility(0 * home, j, share)
    g = ep.slot
    ep.play_slot(server, share, steps)
    edge_after = ep._played[g][0] > 0
    kept, moved = edge_after.nonzero()[0], (~edge_after).nonzero()[0]
    assert steps[kept].sum() <= capacity
    assert len(moved) > 0 and len(kept) > 0
    assert gain[moved].max() <= gain[kept].min()
    # minimal: putting back the best moved request would break the capacity
    assert steps[kept].sum() + steps[moved[np.argmax(gain[moved])]] > capacity


def test_generated_source_matches_optkit_generate_and_streams_are_disjoint() -> None:
    made = optkit.generate("caching", "t2drl", "tiny", seed=7, count=3)
    for i, instance in enumerate(made):
        assert generated_instance("caching", "t2drl", "tiny", 7, i) == instance
    train = GeneratedSource("caching", "t2drl", "tiny", seed=0)
    held_out = GeneratedSource("caching", "t2drl", "tiny", seed=1_000_000, count=8)
    train_names = {train.get(i).name for i in range(50)}
    assert not train_names & {i.name for i in held_out.instances()}
    assert GeneratedSource("caching", "t2drl", "tiny", 0, count=3).get(4) == train.get(1)


def test_frame_observations_never_read_ahead() -> None:
    """Changing the requests of later frames changes no observation before them."""
    instance = generated_instance("caching", "edgeaigc", "small", 4, 0)
    data = instance.to_dict()
    later = [r for r in data["requests"] if r["frame"] == 2]
    for r in later:
        r["model"] = (r["model"] + 1) % len(data["models"])
        r["spectral_efficiency"] = 9.5
    altered = instance_from_dict(data)
    rng = np.random.default_rng(0)
    actions = [rng.uniform(-1, 1, 18) for _ in range(3)]
    seen = []
    for inst in (instance, altered):
        ep = CachingEpisode(inst, "scores")
        obs = []
        for t in range(3):
            obs.append(ep.frame_observation())
            ep.begin_frame(ep.cache_from_action(actions[t]))
            if t < 2:
                while not ep.frame_done:
                    ep.play_slot(*equal_allocation(ep))
        seen.append(obs)
    for t in range(3):
        assert np.array_equal(seen[0][t], seen[1][t])


def test_scheduling_observations_never_read_ahead() -> None:
    instance = generated_instance("scheduling", "amcoedge", "small", 4, 0)
    cut = dataclasses.replace(instance, tasks=instance.tasks[: len(instance.tasks) // 2])
    obs = []
    for inst in (instance, cut):
        env = SchedulingEnv(fixed(inst))
        o, _ = env.reset(options={"instance": inst})
        seq = [o]
        for _ in range(len(cut.tasks) - 1):
            o, *_ = env.step(0)
            seq.append(o)
        obs.append(seq)
    for a, b in zip(*obs, strict=True):
        assert np.array_equal(a, b)


def test_lfu_cache_uses_only_the_last_frame() -> None:
    instance = generated_instance("caching", "t2drl", "small", 2, 0)
    ep = CachingEpisode(instance)
    assert np.array_equal(lfu_cache(ep), instance.compiled.initial_cache)
    ep.begin_frame(lfu_cache(ep))
    while not ep.frame_done:
        ep.play_slot(*equal_allocation(ep))
    cache = lfu_cache(ep)
    counts = instance.compiled.request_counts[0]
    top = int(np.argmax(counts))
    assert cache[0, top] or instance.compiled.size_gb[top] > instance.servers[0].storage_gb


def test_env_errors_are_one_line() -> None:
    with pytest.raises(OptkitError, match=r"2\^18 actions"):
        CachingFrameEnv(GeneratedSource("caching", "edgeaigc", "small", 0), "index")
    with pytest.raises(OptkitError, match="unknown env 'caching-slots'"):
        make_env(EnvSpec("caching-slots", None))
    with pytest.raises(OptkitError, match="unknown option 'policy'"):
        make_env(EnvSpec("caching-slot", None, {"policy": "lfu"}))
    with pytest.raises(OptkitError, match="unknown caching preset 't2'"):
        GeneratedSource("caching", "t2", "small", 0)
    env = CachingSlotEnv(GeneratedSource("caching", "t2drl", "tiny", 0))
    bigger = generated_instance("caching", "t2drl", "small", 0, 0)
    with pytest.raises(
        OptkitError,
        match="6 models, 6 users, but this environment was built for 1 server, 3 models, 3 users",
    ):
        env.reset(options={"instance": bigger})
    with pytest.raises(OptkitError, match="scheduling instances"):
        SchedulingEnv(GeneratedSource("caching", "t2drl", "tiny", 0))


def test_folder_source_cycles_in_sorted_order(tmp_path) -> None:
    made = optkit.generate("scheduling", "amcoedge", "tiny", seed=3, count=3)
    for inst in made:
        optkit.save(inst, tmp_path / f"{inst.name}.json")
    source = FolderSource(tmp_path)
    assert [source.get(i).name for i in range(4)] == [m.name for m in made] + [made[0].name]
    env = SchedulingEnv(source)
    names = [env.reset()[1]["instance"] for _ in range(4)]
    assert names == [m.name for m in made] + [made[0].name]


@pytest.mark.parametrize("preset", ["t2drl", "edgeaigc"])
def test_fast_path_equals_explicit_decisions(preset: str) -> None:
    """play_action(a) and play_slot(*decisions_from_action(a)) are the same decisions."""
    instance = generated_instance("caching", preset, "small", 8, 0)
    episodes = [CachingEpisode(instance), CachingEpisode(instance)]
    rng = np.random.default_rng(5)
    while not episodes[0].done:
        cache = lfu_cache(episodes[0])
        for ep in episodes:
            ep.begin_frame(cache)
        while not episodes[0].frame_done:
            action = rng.uniform(-1.2, 1.2, slot_spaces(episodes[0])[1].shape)
            a = episodes[0].play_action(action)
            b = episodes[1].play_slot(*episodes[1].decisions_from_action(action))
            assert a == b
    assert episodes[0].solution("x") == episodes[1].solution("x")


@pytest.mark.parametrize(("share_scale", "exact"), [(3.0, True), (1.0, False)])
def test_slot_action_can_express_the_exact_allocation(share_scale: float, exact: bool) -> None:
    """``allocate_slot``'s optimum, written as a slot action (share = log-share / scale, steps
    and route by their bins) and decoded again, keeps its value on t2drl small slots: exactly
    at the env's default share scale (ratios up to e⁶); at the compositions' scale 1 (ratios up
    to e²) some uneven shares are clipped (here at most 1.3 % of a slot's value; the median slot
    loses nothing)."""
    from optkit.solvers.caching.allocation import allocate_slot

    losses = []
    for index in range(10):
        instance = generated_instance("caching", "t2drl", "small", 1_000_000, index)
        ep = CachingEpisode(instance, share_scale=share_scale)
        while not ep.done:
            ep.begin_frame(lfu_cache(ep))
            while not ep.frame_done:
                s = ep.current
                best = allocate_slot(ep.c, ep.slot, ep.cache[ep.frame])
                log_share = np.log(np.maximum(best.bandwidth, 1e-12))
                action = np.zeros(slot_spaces(ep)[1].shape)
                action[s.action_at[:, 0]] = np.clip(
                    1 + (log_share - log_share.max()) / share_scale, -1, 1
                )
                steps = np.where(best.server >= 0, best.steps, s.steps_min)
                action[s.action_at[:, 1]] = 2 * (steps - s.steps_min) / np.maximum(s.span, 1) - 1
                action[s.action_at[:, 2]] = np.where(best.server >= 0, 0.5, -0.5)
                loss = (best.value - ep.play_action(action)) / max(1.0, abs(best.value))
                losses.append(loss)
    assert len(losses) >= 100
    assert max(losses) <= 1e-9 if exact else 1e-9 < max(losses) < 0.05
