"""``optkit export``: an instance's program through Pyomo's writers."""

from __future__ import annotations

from pathlib import Path

import click

from optkit.cli.common import out, refuse_overwriting
from optkit.instances.io import load_instance
from optkit.models import EXPORT_FORMATS, export_files


@click.command()
@click.argument("instance_path", metavar="INSTANCE", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(sorted(EXPORT_FORMATS)), required=True)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="default: <instance name>.<format>",
)
def export(instance_path: Path, fmt: str, out_path: Path | None) -> None:
    """Write INSTANCE's program as .nl, .lp, .mps (linear programs only) or .gms, so any
    outside solver can be run on it. Variables and constraints keep readable names: in the
    file itself for lp, mps and gms; for nl in its symbol map, OUT.col and OUT.row beside it."""
    from optkit import models

    instance = load_instance(instance_path)
    target = out_path or Path(f"{instance.name}.{fmt}")
    for path in export_files(target, fmt):
        refuse_overwriting("--out", path, [instance_path])
    written = models.write(instance, target, fmt)
    symbols = f" (symbol map: {', '.join(map(str, written[1:]))})" if written[1:] else ""
    out.print(f"wrote {target}{symbols}", soft_wrap=True)
