"""Root click group with lazily imported subcommands and one-line errors.

Every error a user can cause leaves as one line on stderr and a non-zero exit, never a
traceback: a ``ContinuumError`` as ``error: MESSAGE`` (exit 1), an ``OSError`` as
``error: PATH: REASON`` (exit 1), and click's own usage errors as ``error: MESSAGE (see:
COMMAND --help)`` (exit 2, click's code for them). The line is the message's first line,
its unsafe characters escaped, any bytes literal (``b'...'``, a file's contents) hidden
and the whole cut to :data:`ERROR_LIMIT` characters (:func:`error_line`): a message may
quote a foreign file or a hostile argument, and this is the last place that can stop it
reaching the terminal raw.
"""

from __future__ import annotations

import errno
import importlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any

import click

from continuum.cli._output import Group, log_to_stderr, short_help
from continuum.errors import ContinuumError
from continuum.printable import message_line

#: The longest error line printed (escaped characters); the rest is cut and counted.
ERROR_LIMIT = 2000

# name -> "module:attribute"; a command's module is imported only when it runs,
# which keeps start-up of light commands (catalog list) free of numpy and duckdb.
_COMMANDS: dict[str, str] = {
    "run": "continuum.cli.run:run",
    "checkpoint": "continuum.cli.checkpoint:checkpoint",
    "catalog": "continuum.cli.catalog:catalog",
    "ctl": "continuum.cli.ctl:ctl",
    "lens": "continuum.cli.lens:lens",
    "world": "continuum.cli.world:world",
    "serve": "continuum.cli.serve:serve",
}

# name -> the first line of that command's docstring, so ``continuum --help`` lists the
# commands without importing them (a test checks each against the command itself). A
# command missing here is still listed: its module is imported to ask it.
_SHORT_HELP: dict[str, str] = {
    "run": "Run WORLD (a directory, or a bundled world's name) for --steps ticks.",
    "checkpoint": "Inspect, list, verify and compare checkpoint files (.ckpt).",
    "catalog": "Find runs and checkpoints in the SQL run catalog.",
    "ctl": "Ask a live run for its status, a checkpoint now, a lens flush, or a graceful stop.",
    "lens": "Inspect, query and plot lens snapshots (captured field frames).",
    "world": "The bundled example worlds: list them, copy one to a directory to edit.",
    "serve": "Serve the inspector: runs, fields, signals, SQL and live runs in a browser.",
}


def error_line(message: object) -> str:
    """The first non-blank line of ``message``, bytes literals hidden, escaped and cut to
    :data:`ERROR_LIMIT` (:func:`continuum.printable.message_line`)."""
    return message_line(message, ERROR_LIMIT)


class UserError(click.ClickException):
    """An error shown as one line, ``error: ...``, exit code 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True, file=file)


class UsageLineError(UserError):
    """A usage error (bad option, missing argument) as one line, exit code 2 as click has it."""

    exit_code = 2


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn every user error raised inside into a :class:`UserError` (see module docstring)."""
    try:
        yield
    except UserError:
        raise
    except click.ClickException as exc:
        text = exc.format_message()
        if not isinstance(exc, click.UsageError):
            raise UserError(error_line(text)) from exc
        if exc.ctx is not None:
            text = f"{error_line(text)} (see: {exc.ctx.command_path} --help)"
        raise UsageLineError(error_line(text)) from exc
    except ContinuumError as exc:
        raise UserError(error_line(exc)) from exc
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            raise  # click quiets a closed pipe (``continuum catalog list | head``)
        where = f"{exc.filename}: " if exc.filename is not None else ""
        raise UserError(error_line(f"{where}{exc.strerror or exc}")) from exc


class LazyGroup(Group):
    """A click group whose subcommands live in modules imported on first use (``--help``
    lists them from :data:`_SHORT_HELP`, importing none).

    It is also the one place where ``ContinuumError`` becomes a CLI error, so
    every subcommand, however deep, fails with one line and no traceback.
    """

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        with one_line_errors():
            _refuse_nul(args)
            return super().make_context(info_name, args, parent, **extra)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)

    def command_rows(self, ctx: click.Context) -> list[tuple[str, str]]:
        rows = []
        for name in self.list_commands(ctx):
            text = _SHORT_HELP.get(name)
            if text is None:  # not in the table: ask the command (imports its module)
                command = self.get_command(ctx, name)
                if command is None or command.hidden:
                    continue
                text = short_help(command)
            rows.append((name, text))
        return rows

    def invoke(self, ctx: click.Context) -> Any:
        with one_line_errors():
            return super().invoke(ctx)


def _refuse_nul(args: Sequence[str]) -> None:
    """No path, name or number holds a NUL byte (and the OS would cut it off silently)."""
    for position, arg in enumerate(args, 1):
        if "\x00" in arg:
            raise click.UsageError(f"argument {position} ({arg!r}) holds a NUL byte")


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="continuum")
def cli() -> None:
    """Continuum: run deterministic worlds, checkpoint them, and query what they did.

    \b
    Example:
      continuum run terra --steps 1000 --seed 7
    """
    log_to_stderr()


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="continuum")
