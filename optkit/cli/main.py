"""The ``optkit`` command. Errors a user can cause are one line on stderr with exit code 2."""

from __future__ import annotations

import sys

import click

from optkit import __version__
from optkit.cli.export import export
from optkit.cli.files import evaluate_cmd, generate, info, validate
from optkit.cli.gap import gap
from optkit.cli.reference import reference
from optkit.cli.solve import solve_cmd
from optkit.cli.train import train
from optkit.errors import InvalidFileError, OptkitError


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    invoke_without_command=True,
)
@click.version_option(__version__, "--version", prog_name="optkit")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """optkit: exact programs, heuristics and DRL agents for edge AI-generated-content services,
    every one measured by its optimality gap on the same instances.

    \b
    Five-minute tour:
      optkit generate caching --preset t2drl --size small --count 3 --seed 1 --out sets/t2drl
      optkit info sets/t2drl/t2drl-small-s1-000.json
      optkit solve sets/t2drl --method no-cache --out results.jsonl --solutions sols/
      optkit evaluate sets/t2drl/t2drl-small-s1-000.json sols/t2drl-small-s1-000.json
      optkit validate sets/t2drl
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


cli.add_command(generate)
cli.add_command(info)
cli.add_command(validate)
cli.add_command(evaluate_cmd)
cli.add_command(solve_cmd, name="solve")
cli.add_command(export)
cli.add_command(reference)
cli.add_command(train)
cli.add_command(gap)


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the CLI and maps user errors to one line and exit code 2."""
    try:
        code = cli.main(args=argv, prog_name="optkit", standalone_mode=False)
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("optkit: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        where = exc.ctx.command_path if isinstance(exc, click.UsageError) and exc.ctx else "optkit"
        hint = f" (see '{where} --help')" if isinstance(exc, click.UsageError) else ""
        # click lays some messages out on several lines (a missing choice lists one choice
        # per line); every error is one line here
        message = " ".join(exc.format_message().split())
        click.echo(f"{where}: {message}{hint}", err=True)
        sys.exit(exc.exit_code)
    except InvalidFileError as exc:
        for line in exc.messages:
            click.echo(line, err=True)
        sys.exit(2)
    except OptkitError as exc:
        click.echo(f"optkit: {exc}", err=True)
        sys.exit(2)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(code if isinstance(code, int) else 0)
