"""``continuum run --param/--tag`` end to end: recorded typed, found by ``catalog search``.

The README's promise (``catalog search --param 'k>3'``) with the commands a user types,
in real processes against a catalog file given as ``X.db``; bad input is one line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import assert_one_line_error, invoke


def cli(cwd: Path, *args: object) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "continuum.cli", *map(str, args)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=cwd)


def found(cwd: Path, *filters: str) -> list[str]:
    proc = cli(cwd, "catalog", "search", *filters, "--json", "--catalog", "X.db")
    assert proc.returncode == 0, proc.stderr
    return [r["run_id"] for r in json.loads(proc.stdout)]


@pytest.mark.slow
def test_a_run_with_params_and_tags_is_found_by_them(tmp_path: Path) -> None:
    proc = cli(
        tmp_path, "run", "terra", "--steps", 3, "--param", "k=4", "--param", "dt=1e-3",
        "--param", "fast=true", "--param", "mode=coarse", "--tag", "team=a", "--catalog", "X.db",
        "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run_id = json.loads(proc.stdout)["run_id"]
    other = cli(tmp_path, "run", "terra", "--steps", 3, "--param", "k=2", "--catalog", "X.db")
    assert other.returncode == 0, other.stderr
    assert found(tmp_path, "--param", "k>3") == [run_id]
    assert found(tmp_path, "--param", "k>5") == []
    assert found(tmp_path, "--param", "k>=2", "--param", "dt<0.01", "--tag", "team=a") == [run_id]
    assert found(tmp_path, "--param", "fast=true", "--param", "mode=coarse") == [run_id]
    assert found(tmp_path, "--param", "fast=True") == [run_id]  # a bool, however typed
    assert found(tmp_path, "--param", "fast=false") == []
    assert found(tmp_path, "--tag", "team=b") == []
    shown = cli(tmp_path, "catalog", "show", run_id, "--json", "--catalog", "X.db")
    run = json.loads(shown.stdout)
    assert run["params"] == {"k": 4, "dt": 1e-3, "fast": True, "mode": "coarse"}
    assert run["tags"] == {"team": "a"}
    assert (run["first_tick"], run["last_tick"]) == (0, 3)
    table = cli(tmp_path, "catalog", "show", run_id, "--catalog", "X.db").stdout
    assert "params:         dt=0.001 fast=true k=4 mode=coarse" in table, table


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--param", "k"], "--param 'k': expected KEY=VALUE"),
        (["--param", "=4"], "the key must start with a letter"),
        (["--param", "k>3"], "expected KEY=VALUE"),
        (["--param", "k="], "give a value after '='"),
        (["--param", "k=1", "--param", "k=2"], "--param k given twice"),
        (["--tag", "team"], "--tag 'team': expected KEY=VALUE"),
        (["--param", "k=1", "--no-catalog"], "recorded in the catalog: drop --no-catalog"),
    ],
)
def test_bad_params_and_tags_are_one_usage_line(tmp_path: Path, args, said) -> None:
    result = invoke("run", "terra", "--steps", 1, "--catalog", tmp_path / "X.db", *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and said in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "X.db").exists()  # refused before the catalog is opened


@pytest.mark.parametrize(
    "key", ["thermal.core_cooling", "topology.resolution", "initial.core.temp"]
)
def test_a_param_naming_a_world_setting_is_refused(tmp_path: Path, key: str) -> None:
    """--param only labels a run: a key that reads as setting the world is refused."""
    result = invoke(
        "run", "terra", "--scenario", "tiny", "--steps", 1, "--catalog",
        f"sqlite:///{tmp_path / 'X.db'}", "--checkpoint-dir", tmp_path / "ckpt",
        "--param", f"{key}=1",
    )  # fmt: skip
    assert_one_line_error(result, f"--param {key}", "set it in a scenario")
    assert not (tmp_path / "ckpt").exists()  # refused before anything was written
