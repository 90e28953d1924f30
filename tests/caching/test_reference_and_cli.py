"""The shipped set's reference optima (MIPLIB-style .solu), the CLI table and exports."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import optkit
from optkit.cli.main import cli
from optkit.gaps import agree
from optkit.instances.solu import read_solu

ROOT = Path(__file__).resolve().parents[2]
SET = ROOT / "instances" / "caching-small"


OPTIMA = {
    name: ref.value
    for name, ref in read_solu(SET / "caching-small.solu").items()
    if ref.value is not None
}


def test_solu_covers_the_set_with_12_digits() -> None:
    names = sorted(p.stem for p in SET.glob("*.json"))
    assert names == sorted(OPTIMA)
    for line in (SET / "caching-small.solu").read_text().splitlines():
        digits = line.split()[2].lstrip("-").replace(".", "").lstrip("0")
        assert len(digits) >= 12


@pytest.mark.parametrize("name", sorted(OPTIMA))
def test_bnb_reproduces_reference_optimum(name: str) -> None:
    inst = optkit.load_instance(SET / f"{name}.json")
    result = optkit.solve(inst, "bnb")
    assert result.status is optkit.Status.OPTIMAL
    assert result.objective is not None and agree(result.objective, OPTIMA[name])
    assert result.bound is not None and result.bound >= OPTIMA[name] - 1e-6 * abs(OPTIMA[name])


def test_cli_solve_shows_bound_nodes_and_progress(tmp_path: Path) -> None:
    path = SET / "t2drl-small-s11-002.json"
    runner = CliRunner()
    out = tmp_path / "results.jsonl"
    res = runner.invoke(
        cli,
        [
            "solve",
            str(path),
            "-m",
            "bnb",
            "--verbose",
            "--out",
            str(out),
            "--solutions",
            str(tmp_path / "sols"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Nodes" in res.output and "Incumbent" in res.output and "Gap" in res.output
    record = optkit.solvers.read_results(out)[0]
    assert (
        record["status"] == "optimal"
        and record["bound"] is not None
        and record["nodes"] is not None
    )
    assert (tmp_path / "sols" / "t2drl-small-s11-002.json").exists()


def test_cli_solve_first_ctrl_c_keeps_bnbs_best_and_stops(tmp_path: Path) -> None:
    """The first Ctrl-C (sent here from inside bnb's first node bound) ends bnb with its best
    solution and proven bound, which are recorded; the second file is not started; exit 130;
    Ctrl-C is Python's again afterwards."""
    import os
    import signal

    from optkit.solvers import stop
    from optkit.solvers.caching import bnb

    sent: list[bool] = []

    class Interrupted(bnb._Solver):
        def node_bound(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            if not sent:
                sent.append(True)
                os.kill(os.getpid(), signal.SIGINT)
            return super().node_bound(*args, **kwargs)

    first, second = "edgeaigc-small-s11-000", "edgeaigc-small-s11-001"
    out = tmp_path / "results.jsonl"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bnb, "_Solver", Interrupted)
        res = CliRunner().invoke(
            cli,
            [
                "solve",
                *(str(SET / f"{name}.json") for name in (first, second)),
                *("-m", "bnb", "--out", str(out), "--solutions", str(tmp_path / "sols")),
            ],
        )
    assert res.exit_code == 130, res.output
    assert "stopping after this run" in res.output
    assert "stopped on request" in res.output and "interrupted after 1 of 2 runs" in res.output
    (record,) = optkit.solvers.read_results(out)
    assert record["instance"] == first and record["status"] == "time_limit"
    assert record["feasible"] and record["objective"] <= OPTIMA[first] + 1e-9
    assert record["bound"] >= OPTIMA[first] - 1e-6 * abs(OPTIMA[first])
    assert sorted(p.name for p in (tmp_path / "sols").iterdir()) == [f"{first}.json"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert not stop.requested()


def test_cli_export(tmp_path: Path) -> None:
    path = SET / "edgeaigc-tiny-s11-000.json"
    runner = CliRunner()
    res = runner.invoke(
        cli, ["export", str(path), "--format", "nl", "--out", str(tmp_path / "a.nl")]
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "a.nl").stat().st_size > 0
    res = runner.invoke(
        cli, ["export", str(path), "--format", "gms", "--out", str(tmp_path / "a.gms")]
    )
    assert res.exit_code == 0, res.output
    refused = runner.invoke(
        cli, ["export", str(path), "--format", "lp", "--out", str(tmp_path / "a.lp")]
    )
    assert refused.exit_code != 0
    assert "not linear" in str(refused.exception) + refused.output


def test_export_lp_when_linear(tmp_path: Path) -> None:
    inst = optkit.load_instance(SET / "edgeaigc-tiny-s11-001.json")
    data = inst.to_dict()
    data["weights"] = {**data["weights"], "delay": 0.0, "late": 0.0}
    path = tmp_path / "linear.json"
    optkit.save(optkit.instances.instance_from_dict(data), path)
    res = CliRunner().invoke(
        cli, ["export", str(path), "--format", "lp", "--out", str(tmp_path / "b.lp")]
    )
    assert res.exit_code == 0, res.output
    assert "\nmax" in (tmp_path / "b.lp").read_text()
