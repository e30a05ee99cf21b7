"""``continuum --help`` lists every command without importing one, and says each whole."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from continuum.cli import cli
from continuum.cli._output import short_help
from continuum.cli.main import _COMMANDS, _SHORT_HELP
from tests.cli.conftest import ok


@pytest.mark.parametrize("name", sorted(_COMMANDS))
def test_each_listed_short_help_is_the_commands_own_first_line(name):
    command = cli.get_command(None, name)  # type: ignore[arg-type]  # LazyGroup ignores ctx
    assert command is not None
    assert _SHORT_HELP.get(name) == short_help(command)
    assert _SHORT_HELP[name] == command.help.strip().splitlines()[0]


def test_root_help_imports_no_command_and_neither_sqlalchemy_nor_numpy():
    code = (
        "import sys, json\n"
        "from continuum.cli.main import cli\n"
        "try:\n"
        "    cli.main(['--help'], prog_name='continuum')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stderr))
    assert "Commands:" in out.stdout
    heavy = {"sqlalchemy", "numpy", "duckdb", "alembic"} & {m.split(".")[0] for m in loaded}
    assert not heavy
    commands = {target.split(":")[0] for target in _COMMANDS.values()}
    assert not commands & loaded


def test_root_help_gives_each_description_whole():
    shown = " ".join(ok("--help").split())  # wrapped lines joined
    for text in _SHORT_HELP.values():
        assert text in shown
    assert "..." not in shown.split("Commands:")[1]


@pytest.mark.parametrize("path", ["catalog", "lens", "checkpoint", "catalog policy"])
def test_group_help_does_not_cut_descriptions(path):
    group = cli
    for name in path.split():
        group = group.get_command(None, name)  # type: ignore[arg-type,union-attr,assignment]
    shown = " ".join(ok(*path.split(), "--help").split("Commands:")[1].split())
    for name in group.list_commands(None):  # type: ignore[union-attr,arg-type]
        command = group.get_command(None, name)  # type: ignore[union-attr,arg-type]
        assert f"{name} {short_help(command)}" in shown
