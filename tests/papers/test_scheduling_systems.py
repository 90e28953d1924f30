"""The scheduling papers' systems through the real entry points, with tiny budgets: ``optkit
train`` writes a run directory, ``optkit solve --method policy:DIR`` plays it, and every policy's
objective is at least the enumerated optimum (gap ≥ 0 up to tolerance) on tiny instances."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import optkit
from optkit.cli.main import main
from optkit.drl.agents import make_agent, make_config
from optkit.drl.envs import EnvSpec, fixed, make_optkit_env
from optkit.gaps import policy_gap
from optkit.instances.solu import Reference, write_solu
from optkit.solvers import read_results
from tests.cli_helpers import cli
from tests.scheduling.sched_helpers import make_instance

TINY = ["--set", "learning_starts=20", "--set", "batch_size=8", "--set", "buffer_size=500"]
#: agent → extra options (SMCoEdge's k: min(3, servers) = 2 on the 2-server tiny preset)
AGENTS = {"ddrl-amsa": ["--set", "hidden=16"], "smcoedge": [], "drlcoedge": []}
ONLINE = ["greedy-opt", "rand-coedge", "random-k", "fastest-k", "local"]


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four tiny AMCoEdge instances with their enumerated optima in a .solu file."""
    folder = tmp_path_factory.mktemp("tiny")
    refs = []
    for inst in optkit.generate("scheduling", "amcoedge", "tiny", seed=7, count=4):
        optkit.save(inst, folder / f"{inst.name}.json")
        result = optkit.solve(inst, "enumerate")
        assert result.status.value == "optimal"
        refs.append(Reference(inst.name, "opt", result.objective))
    write_solu(folder / "tiny.solu", refs)
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each system trained for a few steps through ``optkit train``."""
    out = {}
    for agent, extra in AGENTS.items():
        run = tmp_path_factory.mktemp(agent) / "run"
        args = ["train", agent, "--family", "scheduling", "--preset", "amcoedge", "--size", "tiny"]
        args += ["--steps", "80", "--out", str(run), "-q", "--eval-count", "2", *TINY, *extra]
        try:
            main(args)
        except SystemExit as exc:
            assert not exc.code, exc.code
        out[agent] = run
    return out


def test_every_policy_is_no_better_than_the_enumerated_optimum(
    tiny_set: Path, runs: dict[str, Path]
) -> None:
    methods = ONLINE + [f"policy:{run}" for run in runs.values()]
    for path in sorted(tiny_set.glob("*.json")):
        inst = optkit.load_instance(path)
        optimum = optkit.solve(inst, "enumerate").objective
        assert optimum is not None
        for method in methods:
            result = optkit.solve(inst, method, seed=3)
            assert result.status.value == "feasible", (method, result.message)
            assert result.objective is not None
            gap = policy_gap(result.objective, optimum, "min")
            assert gap is not None and gap >= -1e-9, (method, inst.name, gap)


def test_solve_with_a_trained_system(
    tiny_set: Path, runs: dict[str, Path], tmp_path: Path, capsys
) -> None:
    results = tmp_path / "results.jsonl"
    code, _, err = cli(
        ["solve", str(tiny_set), "--method", f"policy:{runs['smcoedge']}", "--out", str(results)],
        capsys,
    )
    assert code == 0, err
    records = read_results(results)
    assert len(records) == 4 and all(r["feasible"] for r in records)
    # exactly k = 2 servers per task: the top-k DQN's interface
    solution = optkit.solve(
        optkit.load_instance(sorted(tiny_set.glob("*.json"))[1]), f"policy:{runs['smcoedge']}"
    ).solution
    assert solution is not None
    assert all(len(t.servers) == 2 for t in solution.tasks)  # type: ignore[union-attr]


def test_gap_command_on_trained_systems(tiny_set: Path, runs: dict[str, Path], capsys) -> None:
    policies = [f"policy:{runs['ddrl-amsa']}", f"policy:{runs['drlcoedge']}"]
    code, out, err = cli(
        ["gap", *policies, "greedy-opt", "--instances", str(tiny_set), "--json"], capsys
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["references"]["solu"] == 4 and report["family"] == "scheduling"
    assert [row["method"] for row in report["rows"]] == [*policies, "greedy-opt"]
    for row in report["rows"]:
        assert row["solved"] == 4
        assert row["mean_gap"] >= -1e-9 and row["p95_gap"] >= row["median_gap"] - 1e-12
        assert set(row["figures"]) == {"mean_make_span_s", "failure_rate"}


def test_drlcoedge_picks_local_plus_one_partner(tiny_set: Path) -> None:
    inst = make_instance(
        [(10, 400, 0), (20, 400, 0), (30, 400, 0)],
        [(0, 1, 3.0, 0.2), (0, 2, 3.0, 0.2), (0, 0, 3.0, 0.2)],
    )
    env = make_optkit_env(EnvSpec("scheduling", None, {"action": "partner"}), fixed(inst))
    env.reset()
    for partner in (0, 2, 0):  # task at bs 1 with 0; task at bs 2 alone; task at bs 0 alone
        env.step(partner)
    tasks = env.solution("x").tasks
    assert [t.servers for t in tasks] == [(0, 1), (2,), (0,)]


def test_partner_and_k_subset_refuse_instances_that_forbid_them() -> None:
    exact3 = make_instance(
        [(10, 400, 0)] * 4, [(0, 0, 1.0, 0.1)], max_servers=3, exact_servers=True
    )
    with pytest.raises(optkit.errors.OptkitError, match="partner action needs tasks on 1 and 2"):
        make_optkit_env(EnvSpec("scheduling", None, {"action": "partner"}), fixed(exact3))
    with pytest.raises(optkit.errors.OptkitError, match="k-subset action needs tasks on 2"):
        make_optkit_env(EnvSpec("scheduling", None, {"action": "k-subset", "k": 2}), fixed(exact3))


def test_smcoedge_takes_the_top_k_servers() -> None:
    inst = make_instance([(10, 400, 0)] * 5, [(0, 0, 1.0, 0.1)])
    env = make_optkit_env(EnvSpec("scheduling", None, {"action": "k-subset", "k": 3}), fixed(inst))
    config = make_config("smcoedge", {"hidden": "8"})
    agent = make_agent(
        "smcoedge", env.observation_space, env.action_space, config, torch.device("cpu"), 0
    )
    obs, _ = env.reset()
    with torch.no_grad():
        q = agent.q(agent.obs_tensor(obs))[0].numpy()
    top = tuple(sorted(np.argsort(-q)[:3].tolist()))
    assert agent.subsets[agent.act(obs)] == top
    with pytest.raises(optkit.errors.OptkitError, match="k-subset action with k = 4"):
        make_agent(
            "smcoedge",
            env.observation_space,
            env.action_space,
            make_config("smcoedge", {"k": 4}),
            torch.device("cpu"),
            0,
        )


def test_rand_coedge_is_local_plus_one_random_server() -> None:
    inst = make_instance([(10, 400, 0)] * 4, [(0, b % 4, 1.0, 0.1) for b in range(12)])
    first = optkit.solve(inst, "rand-coedge", seed=5)
    again = optkit.solve(inst, "rand-coedge", seed=5)
    assert first.solution == again.solution
    tasks = first.solution.tasks  # type: ignore[union-attr]
    for b, task in enumerate(tasks):
        assert len(task.servers) == 2 and b % 4 in task.servers
    partners = {s for b, t in enumerate(tasks) for s in t.servers if s != b % 4}
    assert len(partners) > 1
    exact3 = make_instance(
        [(10, 400, 0)] * 4, [(0, 0, 1.0, 0.1)], max_servers=3, exact_servers=True
    )
    refused = optkit.solve(exact3, "rand-coedge")
    assert refused.status.value == "error" and "2 servers" in refused.message


def test_a_policy_refuses_an_instance_its_env_cannot_play(
    tiny_set: Path, runs: dict[str, Path]
) -> None:
    """DRLCoEdge's partner action needs tasks on 1 and 2 servers: on an instance that demands
    exactly 2, the policy method refuses that instance (one line), it does not abort the run."""
    import dataclasses

    inst = optkit.load_instance(sorted(tiny_set.glob("*.json"))[0])
    exact2 = dataclasses.replace(inst, max_servers=2, exact_servers=True)
    result = optkit.solve(exact2, f"policy:{runs['drlcoedge']}")
    assert result.status is optkit.Status.ERROR
    assert "partner action" in result.message and "\n" not in result.message
    assert optkit.solve(inst, f"policy:{runs['drlcoedge']}").status is optkit.Status.FEASIBLE


def test_gap_refuses_a_policy_of_the_other_family(
    runs: dict[str, Path], tmp_path: Path, capsys
) -> None:
    # it printed a table of "0 (n refused)" and exited 0, where an unknown method exits 2
    folder = tmp_path / "caching"
    folder.mkdir()
    (inst,) = optkit.generate("caching", "t2drl", "tiny", seed=1)
    optkit.save(inst, folder / f"{inst.name}.json")
    policy = f"policy:{runs['drlcoedge']}"
    code, out, err = cli(["gap", policy, "--instances", str(folder)], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert f"{policy} was trained on scheduling instances; the set holds caching instances" in err


def test_smcoedge_takes_min_3_servers_by_default(tmp_path: Path, capsys) -> None:
    """As the smcoedge preset does (DESIGN §5): its tiny instances require exactly 2 servers."""
    base = ["train", "smcoedge", "--family", "scheduling", "--preset", "smcoedge", "--size"]
    base += ["tiny", "--steps", "40", "-q", "--eval-count", "1", *TINY]
    code, _, err = cli([*base, "--out", str(tmp_path / "run")], capsys)
    assert code == 0, err
    inst = optkit.generate("scheduling", "smcoedge", "tiny", seed=5)[0]
    assert inst.exact_servers and inst.max_servers == 2
    result = optkit.solve(inst, f"policy:{tmp_path / 'run'}")
    assert result.status is optkit.Status.FEASIBLE, result.message
    assert {len(task.servers) for task in result.solution.tasks} == {2}  # type: ignore[union-attr]
    code, _, err = cli([*base, "--out", str(tmp_path / "k5"), "--set", "k=5"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "k = 5 servers per task, but smcoedge-tiny-s0-000 has 2 servers; choose k in 1..2" in err


@pytest.mark.parametrize(
    "agent,where",
    [
        ("smcoedge", ["--family", "caching", "--preset", "t2drl"]),
        ("drlcoedge", ["--env", "caching-slot"]),
        ("ddrl-amsa", ["--env", "gym:CartPole-v1"]),
    ],
)
def test_scheduling_agents_say_so_elsewhere(
    tmp_path: Path, capsys, agent: str, where: list[str]
) -> None:
    code, _, err = cli(
        ["train", agent, *where, "--steps", "10", "--out", str(tmp_path / "r")], capsys
    )
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"optkit: {agent} is a scheduling agent: it cannot train on" in err
    assert not (tmp_path / "r").exists()


def test_an_unknown_agent_lists_agents_and_compositions(capsys) -> None:
    code, _, err = cli(["train", "foo", "--steps", "10", "--out", "x"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "agents: dqn, ddqn" in err and "caching compositions: t2drl, t2drl-ddpg" in err
