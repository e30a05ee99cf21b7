"""The whole click tree, walked: every option described, ``--json`` wherever data is printed,
``--quiet`` wherever there is something to silence; each exception has a reason."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest

from continuum.cli import cli

#: Commands without ``--json``, and why.
NO_JSON: dict[str, str] = {}

#: Commands without ``--quiet``, and why: nothing they print is a note or a confirmation.
NO_QUIET = {
    "checkpoint inspect": "prints the header asked for, nothing else",
    "checkpoint diff": "prints the comparison asked for, nothing else",
}


def commands() -> Iterator[tuple[str, click.Command]]:
    """(path, command) of every leaf command, imported through the lazy root group."""
    ctx = click.Context(cli)

    def walk(group: click.Group, path: tuple[str, ...]) -> Iterator[tuple[str, click.Command]]:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None, name
            if isinstance(command, click.Group):
                yield from walk(command, (*path, name))
            else:
                yield " ".join((*path, name)), command

    return walk(cli, ())


def groups() -> Iterator[click.Command]:
    ctx = click.Context(cli)

    def walk(group: click.Group) -> Iterator[click.Command]:
        yield group
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group):
                yield from walk(command)

    return walk(cli)


LEAVES = dict(commands())


def _opts(command: click.Command) -> set[str]:
    return {o for p in command.params for o in p.opts}


@pytest.mark.parametrize("path", sorted(LEAVES))
def test_every_option_has_a_description(path):
    undescribed = [
        p.opts[0] for p in LEAVES[path].params if isinstance(p, click.Option) and not p.help
    ]
    assert not undescribed, f"continuum {path}: options without help: {undescribed}"


def test_group_options_have_descriptions_too():
    for group in groups():
        for p in group.params:
            assert not isinstance(p, click.Option) or p.help, (group.name, p.opts)


@pytest.mark.parametrize("path", sorted(LEAVES))
def test_every_command_prints_json_or_says_why_not(path):
    assert ("--json" in _opts(LEAVES[path])) != (path in NO_JSON), path


@pytest.mark.parametrize("path", sorted(LEAVES))
def test_every_command_has_quiet_or_says_why_not(path):
    assert ("--quiet" in _opts(LEAVES[path])) != (path in NO_QUIET), path


def test_the_exception_lists_name_real_commands():
    assert set(NO_JSON) | set(NO_QUIET) <= set(LEAVES)


@pytest.mark.parametrize("path", ["lens history", "lens sql"])
def test_format_json_is_kept_beside_json(path):
    formats = [p for p in LEAVES[path].params if p.name == "fmt"]
    assert formats and "json" in formats[0].type.choices  # type: ignore[attr-defined]
