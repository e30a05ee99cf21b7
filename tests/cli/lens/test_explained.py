"""The lens commands explain themselves: readable ``load``, ``--json`` everywhere, plots of the
width asked for, refusals instead of silently doing nothing, progress only on a terminal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import (
    assert_one_line_error,
    invoke,
    ok,
    ok_json,
    stderr_on_a_terminal,
)
from tests.lens.helpers import run

STEPS, STRIDE = 20, 2


@pytest.fixture(scope="module")
def lens_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("explained") / "lens"
    run(steps=STEPS, lens_dir=root, lens_stride=STRIDE, lens_chunk_size=8)
    (run_dir,) = root.iterdir()
    return run_dir


def test_load_prints_lines_not_python_reprs(lens_dir):
    chunk = sorted(lens_dir.glob("lens_snapshot_*.lens"))[0]
    for path in (lens_dir, chunk):
        text = ok("lens", "load", path)
        for repr_mark in ("{'", "['", "':"):
            assert repr_mark not in text, text
        assert " KiB (" in text and "raw_bytes" in text  # binary units, the count beside
    topology = next(ln for ln in ok("lens", "load", lens_dir).splitlines() if "topology" in ln)
    assert "cubed_sphere" in topology and "resolution=" in topology
    text = ok("lens", "load", chunk)
    fields = [line for line in text.splitlines() if "cells," in line or "points," in line]
    assert len(fields) == 3 and any("atmosphere.temperature" in f for f in fields)
    kinds = {line.index("scalar," if "scalar," in line else "vec3,") for line in fields}
    assert len(kinds) == 1, fields  # each field's description starts in one column
    assert "tick_range  [0, 8)" in text


def test_load_verify_ends_with_a_verdict_and_fails_on_a_bad_file(lens_dir, tmp_path):
    text = ok("lens", "load", lens_dir, "--verify")
    chunks = len(list(lens_dir.glob("lens_snapshot_*.lens")))
    assert text.splitlines()[-1].startswith(f"verified: {chunks} lens file(s) intact")
    assert ok_json("lens", "load", lens_dir, "--verify", "--json")["verified"] is True
    broken = tmp_path / "run"
    broken.mkdir()
    for path in lens_dir.iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    victim = sorted(broken.glob("lens_snapshot_*.lens"))[1]
    data = bytearray(victim.read_bytes())
    data[-40] ^= 0xFF  # a payload byte: the header still reads, the checksum does not match
    victim.write_bytes(bytes(data))
    result = invoke("lens", "load", broken, "--verify")
    assert result.exit_code == 1 and "verified:" not in result.stdout
    assert victim.name in result.stderr


def test_history_json_is_format_json_and_a_contradiction_is_refused(lens_dir):
    where = ["--position", "1,0,0", "--lens-dir", lens_dir]
    as_json = ok_json("lens", "history", "surface.elevation", *where, "--json")
    assert as_json == ok_json("lens", "history", "surface.elevation", *where, "--format", "json")
    result = invoke("lens", "history", "surface.elevation", *where, "--json", "--format", "csv")
    assert result.exit_code == 2 and "contradict" in result.stderr


def test_compact_json_and_binary_bytes(lens_dir, tmp_path):
    copy = tmp_path / lens_dir.name
    copy.mkdir()
    for path in lens_dir.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    text = ok("lens", "compact", "--lens-dir", copy)
    assert f"{STEPS // STRIDE + 1} frames, " in text and "KiB" in text
    doc = ok_json("lens", "compact", "--lens-dir", copy, "--json")
    assert doc["frames"] == STEPS // STRIDE + 1 and doc["bytes"] > 0
    assert ok("lens", "compact", "--lens-dir", copy, "--quiet") == ""


@pytest.mark.parametrize("width", [90, 333, 1000])
def test_plot_is_as_wide_as_asked(lens_dir, tmp_path, width):
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    output = tmp_path / "map.png"
    where = ["--tick", 10, "--output", output, "--lens-dir", lens_dir, "--width", width]
    doc = ok_json("lens", "plot", "atmosphere.temperature", *where, "--json")
    assert doc["output"] == str(output) and doc["width"] == width
    assert imread(output).shape[1] == width


def test_sql_refuses_parquet_output_and_writes_nothing(tmp_path):
    output = tmp_path / "out.parquet"
    result = invoke("lens", "sql", "SELECT 1 AS x", "--output", output)
    assert_one_line_error(result, "out.parquet", "lens export")
    assert not output.exists()


def test_sql_refuses_a_missing_export_dir(tmp_path):
    result = invoke("lens", "sql", "SELECT 1 AS x", "--export-dir", tmp_path / "nonexistent")
    assert_one_line_error(result, "nonexistent", "does not exist")


def test_sql_json_is_format_json():
    assert ok_json("lens", "sql", "SELECT 1 AS x", "--json") == [{"x": 1}]


def test_export_refuses_from_after_to(lens_dir, tmp_path):
    output = tmp_path / "exports"
    args = ["lens", "export", lens_dir, "--output", output, "--no-catalog"]
    result = invoke(*args, "--from", 10, "--to", 5)
    assert_one_line_error(result, "--from 10 is after --to 5")
    assert not output.exists()


def test_progress_is_drawn_on_a_terminal_only(lens_dir):
    code, stdout, terminal = stderr_on_a_terminal("lens", "load", lens_dir, "--verify")
    assert code == 0 and "verified:" in stdout
    assert "verifying lens files" in terminal and "100%" in terminal
    assert "verifying" not in stdout
    code, stdout, terminal = stderr_on_a_terminal("lens", "load", lens_dir, "--verify", "-q")
    assert code == 0 and "verifying" not in terminal
    piped = subprocess.run(
        [sys.executable, "-m", "continuum", "lens", "load", str(lens_dir), "--verify"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert piped.stderr == "" and "verified:" in piped.stdout


def test_export_progress_on_a_terminal(lens_dir, tmp_path):
    output = tmp_path / "exports"
    args = ("lens", "export", lens_dir, "--output", output, "--no-catalog", "--json")
    code, stdout, terminal = stderr_on_a_terminal(*args)
    assert code == 0, terminal
    assert json.loads(stdout)["chunks"] >= 2
    assert "exporting lens chunks" in terminal


def test_compact_progress_on_a_terminal(lens_dir, tmp_path):
    copy = tmp_path / lens_dir.name
    copy.mkdir()
    for path in lens_dir.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    code, stdout, terminal = stderr_on_a_terminal("lens", "compact", "--lens-dir", copy)
    assert code == 0 and "frames" in stdout
    assert "reading lens chunks" in terminal and "100%" in terminal


@pytest.mark.parametrize("command", ["scan", "verify"])
def test_catalog_scan_and_verify_progress_on_a_terminal(tmp_path, command):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    ck = tmp_path / "ck"
    summary = subprocess.run(
        [sys.executable, "-m", "continuum", "run", "terra", "--scenario", "tiny", "--steps", "4"]
        + ["--checkpoint-dir", str(ck), "--checkpoint-stride", "2", "--catalog", url, "--quiet"],
        check=True,
    )
    assert summary.returncode == 0
    args = ("catalog", command, *([ck] if command == "scan" else []), "--catalog", url)
    code, stdout, terminal = stderr_on_a_terminal(*args)
    assert code == 0, terminal
    label = "scanning run directories" if command == "scan" else "verifying runs"
    assert label in terminal and "100%" in terminal and label not in stdout
    piped = subprocess.run(
        [sys.executable, "-m", "continuum", *map(str, args)], capture_output=True, text=True
    )
    assert piped.returncode == 0 and label not in piped.stderr
