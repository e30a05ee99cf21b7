"""Root click group with lazily imported subcommands and one-line errors."""

from __future__ import annotations

import importlib
from typing import IO, Any

import click

from continuum.errors import ContinuumError

# name -> "module:attribute"; a command's module is imported only when it runs,
# which keeps start-up of light commands (catalog list) free of numpy and duckdb.
_COMMANDS: dict[str, str] = {
    "run": "continuum.cli.run:run",
    "checkpoint": "continuum.cli.checkpoint:checkpoint",
    "catalog": "continuum.cli.catalog:catalog",
    "lens": "continuum.cli.lens:lens",
}


class UserError(click.ClickException):
    """A ContinuumError shown as one line, ``error: ...``, exit code 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True, file=file)


class LazyGroup(click.Group):
    """A click group whose subcommands live in modules imported on first use.

    It is also the one place where ``ContinuumError`` becomes a CLI error, so
    every subcommand, however deep, fails with one line and no traceback.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ContinuumError as exc:
            raise UserError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="continuum")
def cli() -> None:
    """Continuum: run deterministic worlds, checkpoint them, and query what they did.

    \b
    Example:
      continuum run terra --steps 1000 --seed 7
    """


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="continuum")
