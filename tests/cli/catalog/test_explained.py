"""``catalog rm`` asks before deleting; the confirming commands have ``--json``; ``--quiet``
silences notes and the line naming a plain catalog file."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time

import pytest

from continuum.catalog import Catalog
from tests.cli.conftest import assert_one_line_error, invoke, ok, ok_json, stderr_on_a_terminal


def test_rm_without_yes_and_without_a_terminal_refuses_and_removes_nothing(filled):
    result = invoke("catalog", "rm", "p0", "--catalog", filled)
    assert_one_line_error(result, "p0", "--yes", "not a terminal")
    assert ok_json("catalog", "show", "p0", "--json", "--catalog", filled)["run_id"] == "p0"


def test_rm_of_an_unknown_run_fails_before_asking(url):
    assert_one_line_error(invoke("catalog", "rm", "nope", "--catalog", url), "no run 'nope'")


def _rm_on_a_terminal(url: str, answer: bytes) -> tuple[int, str]:
    """``catalog rm p0`` with stdin and stderr on a pseudo-terminal, answering ``answer``."""
    master, slave = pty.openpty()
    cmd = [sys.executable, "-m", "continuum", "catalog", "rm", "p0", "--catalog", url]
    proc = subprocess.Popen(cmd, stdin=slave, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 30
    while b"[y/N]" not in seen and time.monotonic() < deadline:
        seen += os.read(master, 1024)
    os.write(master, answer)
    out = proc.stdout.read().decode() if proc.stdout else ""
    code = proc.wait(timeout=30)
    os.close(master)
    assert b"delete run p0" in seen, seen
    return code, out


def test_rm_on_a_terminal_asks_and_no_keeps_the_run(filled):
    code, out = _rm_on_a_terminal(filled, b"n\n")
    assert code == 1 and out == ""
    with Catalog(filled) as cat:
        assert cat.runs.get("p0").run_id == "p0"


def test_rm_on_a_terminal_asks_and_yes_removes_it(filled):
    code, out = _rm_on_a_terminal(filled, b"y\n")
    assert code == 0 and out.startswith("removed run p0")
    result = invoke("catalog", "show", "p0", "--catalog", filled)
    assert_one_line_error(result, "no run 'p0'")


def test_pin_unpin_and_policy_clear_print_json(filled):
    assert ok_json("catalog", "pin", "p1", "1000", "--json", "--catalog", filled) == {
        "run_id": "p1",
        "tick": 1000,
        "pinned": True,
    }
    shown = ok_json("catalog", "show", "p1", "--json", "--catalog", filled)
    assert [c["pinned"] for c in shown["checkpoints"] if c["tick"] == 1000] == [True]
    assert (
        ok_json("catalog", "unpin", "p1", "1000", "--json", "--catalog", filled)["pinned"] is False
    )
    ok("catalog", "policy", "set", "--world", "terra", "--keep-last", "2", "--catalog", filled)
    clear = ["catalog", "policy", "clear", "--world", "terra", "--json", "--catalog", filled]
    assert ok_json(*clear) == {"scope": "world", "key": "terra", "cleared": True}
    assert ok_json(*clear)["cleared"] is False


def test_quiet_silences_confirmations(filled):
    assert ok("catalog", "pin", "p1", "1000", "--quiet", "--catalog", filled) == ""
    assert ok("catalog", "pin", "p1", "1000", "--catalog", filled).startswith("pinned")


@pytest.mark.parametrize("where", ["--catalog", "env"])
@pytest.mark.parametrize("position", ["before", "after"])
def test_quiet_silences_the_plain_catalog_file_line(tmp_path, monkeypatch, where, position):
    db = tmp_path / "plain.db"
    args = ["catalog", "list"] + (["--catalog", str(db)] if where == "--catalog" else [])
    if where == "env":
        monkeypatch.setenv("CONTINUUM_CATALOG", str(db))
    loud = invoke(*args)
    assert loud.exit_code == 0 and "using SQLite catalog file" in loud.stderr
    quiet_args = [*args[:2], "-q", *args[2:]] if position == "before" else [*args, "--quiet"]
    silent = invoke(*quiet_args)
    assert silent.exit_code == 0 and silent.stderr == "", silent.stderr
    assert silent.stdout == loud.stdout


def test_run_quiet_silences_the_plain_catalog_file_line(tmp_path):
    db = tmp_path / "runs.db"
    args = ["run", "terra", "--scenario", "tiny", "--steps", "2", "--catalog", str(db)]
    assert "using SQLite catalog file" in invoke(*args).stderr
    silent = invoke(*args, "--quiet")
    assert silent.exit_code == 0 and silent.stderr == "" and silent.stdout == ""


def test_prune_draws_progress_on_a_terminal_only(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    base = [sys.executable, "-m", "continuum"]
    made = subprocess.run(
        [*base, "run", "terra", "--scenario", "tiny", "--steps", "6", "--json", "--catalog", url]
        + ["--checkpoint-dir", str(tmp_path / "ck"), "--checkpoint-stride", "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(made.stdout)
    run_id, written = summary["run_id"], summary["checkpoints_written"]
    ok("catalog", "policy", "set", "--run", run_id, "--keep-last", "1", "--catalog", url)
    code, stdout, terminal = stderr_on_a_terminal(
        "catalog", "prune", "--run", run_id, "--catalog", url
    )
    assert code == 0, terminal
    assert f"deleted {written - 1} files" in stdout and written > 2
    assert "deleting files" in terminal and "100%" in terminal
    dry = invoke("catalog", "prune", "--run", run_id, "--dry-run", "--catalog", url)
    assert dry.exit_code == 0 and "deleting files" not in dry.stderr
