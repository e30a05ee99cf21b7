"""What every end-to-end CLI test does: invoke ``continuum``, read its JSON, name a catalog.

Import these helpers explicitly (``from tests.cli.conftest import ok_json``): each takes
the command line as a user types it, group first, and any argument (paths, numbers) is
passed as text.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from continuum.cli import cli


def invoke(*args: object) -> Result:
    """``continuum ARGS...`` in this process; stdout and stderr are kept apart."""
    return CliRunner().invoke(cli, [str(a) for a in args])


def ok(*args: object) -> str:
    """stdout of a command that must succeed (warnings on stderr stay out of it)."""
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def ok_json(*args: object) -> Any:
    """The JSON document a successful command prints on stdout."""
    return json.loads(ok(*args))


def assert_one_line_error(result: Result, *fragments: str) -> None:
    """Exit 1, nothing on stdout, one ``error: ...`` line on stderr naming every fragment."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def catalog_url(directory: Path, name: str = "cat.db") -> str:
    """A private SQLite catalog in ``directory`` (created on first use)."""
    return f"sqlite:///{directory / name}"


def show_run(url: str, run_id: str) -> dict[str, Any]:
    """``catalog show RUN_ID --json``: the run with its segments, checkpoints and lens chunks."""
    shown: dict[str, Any] = ok_json("catalog", "show", run_id, "--catalog", url, "--json")
    return shown


def run_json(*args: object) -> dict[str, Any]:
    """``continuum run terra --scenario tiny --json ARGS...``: the run's summary."""
    summary: dict[str, Any] = ok_json("run", "terra", "--scenario", "tiny", "--json", *args)
    return summary


def stderr_on_a_terminal(*args: object) -> tuple[int, str, str]:
    """``continuum ARGS`` with stderr on a pseudo-terminal: (exit code, stdout, terminal)."""
    master, slave = pty.openpty()
    cmd = [sys.executable, "-m", "continuum", *map(str, args)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed its end
            break
        if not data:
            break
        seen += data
    os.close(master)
    stdout = proc.stdout.read().decode() if proc.stdout else ""
    return proc.wait(timeout=30), stdout, seen.decode(errors="replace")
