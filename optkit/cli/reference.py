"""``optkit reference``: reference optima (.solu) from results lines."""

from __future__ import annotations

from pathlib import Path

import click

from optkit.cli.common import out
from optkit.instances.solu import read_solu, solu_from_results, write_solu


@click.command()
@click.argument(
    "results",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="RESULTS...",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="the .solu file to write",
)
@click.option(
    "--merge",
    is_flag=True,
    help="keep the references already in --out: for instances the results do not cover, and "
    "where they are better (a proof over a best-known value; a contradicting proof is an error)",
)
def reference(results: tuple[Path, ...], out_path: Path, merge: bool) -> None:
    """Write the reference optima of a set (MIPLIB-style .solu) from results lines.

    An instance whose runs include a proof (status optimal) gets =opt=, and every proof of it
    must agree to 1e-6 and no feasible run may beat it (otherwise nothing is written: one
    method is wrong); an instance with only feasible runs gets =best= with the best objective.
    Every line must be a result record (optkit solve --out). Typical use:

    \b
      optkit solve sets/small -m bnb -m scip --out results.jsonl
      optkit reference results.jsonl --out sets/small/small.solu
    """
    existing = read_solu(out_path) if merge and out_path.exists() else None
    refs = solu_from_results(results, existing)
    write_solu(out_path, refs.values())
    proven = sum(r.kind == "opt" for r in refs.values())
    out.print(f"wrote {out_path}: {proven} proven optima, {len(refs) - proven} best known")
