"""``optkit export``: an instance's program through Pyomo's writers."""

from __future__ import annotations

from pathlib import Path

import click

from optkit.cli.common import out
from optkit.errors import OptkitError
from optkit.instances.io import load_instance

# Pyomo names the LP format "cpxlp" (with "lp" it warns that a .lp file does not match)
FORMATS = {"nl": "nl", "lp": "cpxlp", "gms": "gams", "mps": "mps"}


@click.command()
@click.argument("instance_path", metavar="INSTANCE", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), required=True)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="default: <instance name>.<format>",
)
def export(instance_path: Path, fmt: str, out_path: Path | None) -> None:
    """Write INSTANCE's program as .nl, .lp, .mps (linear programs only) or .gms, with the
    symbol map (readable variable names), so any outside solver can be run on it."""
    from optkit import models

    instance = load_instance(instance_path)
    if fmt in ("lp", "mps"):
        reason = models.nonlinear_reason(instance)
        if reason is not None:
            raise OptkitError(
                f"cannot write {fmt}: the program of {instance.name} is not linear ({reason}); use nl or gms"
            )
    model = models.build(instance)
    target = out_path or Path(f"{instance.name}.{fmt}")
    target.parent.mkdir(parents=True, exist_ok=True)
    # with the usual extension Pyomo picks the writer itself (naming the format as well makes
    # it warn about a mismatch for .lp); an unusual file name needs the format spelled out
    named = {} if target.suffix == f".{fmt}" else {"format": FORMATS[fmt]}
    model.write(str(target), io_options={"symbolic_solver_labels": True}, **named)
    out.print(f"wrote {target}")
