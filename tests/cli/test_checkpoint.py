"""``continuum checkpoint inspect|list|verify|diff`` on real checkpoints of tiny terra."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from continuum.blobs import read_header
from continuum.layout import LATEST, checkpoint_name
from continuum.runner import RunRequest, execute
from continuum.world import ir_hash, load_world
from tests.cli.conftest import assert_one_line_error, invoke, ok_json

TICKS = 12
INSPECT_KEYS = {
    "tick", "sim_time", "era", "world", "world_version", "ir_hash", "scenario",
    "scenario_hash", "run_id", "seed", "signals", "entities", "instances", "members",
    "raw_bytes", "disk_bytes", "compression_ratio", "created_at", "age_s", "path",
}  # fmt: skip


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A run directory with a checkpoint at every tick 1..12 (deep queue: none dropped)."""
    root = tmp_path_factory.mktemp("ckpt")
    summary = execute(
        RunRequest(
            world="terra",
            scenario="tiny",
            steps=TICKS,
            seed=5,
            checkpoint_dir=root,
            checkpoint_stride=1,
            queue_depth=TICKS + 1,
        )
    )
    assert summary["checkpoints_written"] == TICKS
    return Path(summary["checkpoint_dir"])


@pytest.fixture
def run_dir(pristine: Path, tmp_path: Path) -> Path:
    """A private copy of the run directory (``latest`` stays a relative link)."""
    return Path(shutil.copytree(pristine, tmp_path / "ckpt" / pristine.name, symlinks=True))


def ckpt(run_dir: Path, tick: int) -> Path:
    return run_dir / checkpoint_name(tick)


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


# --- inspect ----------------------------------------------------------------------------


def test_inspect_prints_the_header(run_dir):
    result = invoke("checkpoint", "inspect", run_dir / LATEST)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"-> {checkpoint_name(TICKS)}" in out
    assert f"tick         {TICKS}\n" in out
    assert "terra 0.1.0" in out and ir_hash(load_world("terra")) in out
    assert "ago)" in out and "instances" in out


def test_inspect_json_keys_and_values(run_dir):
    result = invoke("checkpoint", "inspect", ckpt(run_dir, 7), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == INSPECT_KEYS
    assert doc["tick"] == 7 and doc["era"] == "formation" and doc["seed"] == 5
    assert doc["ir_hash"] == ir_hash(load_world("terra"))
    assert (doc["world"], doc["scenario"], doc["run_id"]) == ("terra", "tiny", run_dir.name)
    assert (doc["signals"], doc["members"], doc["entities"]) == (4, 4, 2)
    assert doc["instances"] == 6 * 8 * 8 + 12  # cells of an 8x8 cubed sphere, 12 plates
    assert doc["disk_bytes"] == ckpt(run_dir, 7).stat().st_size
    assert doc["compression_ratio"] == pytest.approx(doc["raw_bytes"] / doc["disk_bytes"], 1e-3)
    assert 0 <= doc["age_s"] < 600


def test_inspect_and_list_print_sizes_in_binary_units(run_dir):
    doc = ok_json("checkpoint", "inspect", ckpt(run_dir, 7), "--json")
    disk, raw = doc["disk_bytes"], doc["raw_bytes"]
    assert min(disk, raw) >= 1024 and max(disk, raw) < 1024**2  # so both print as KiB
    text = invoke("checkpoint", "inspect", ckpt(run_dir, 7)).stdout
    assert f"on disk      {disk / 1024:.1f} KiB ({disk} bytes)\n" in text
    assert f"raw          {raw / 1024:.1f} KiB ({raw} bytes)\n" in text
    row = invoke("checkpoint", "list", run_dir).stdout.splitlines()[7]
    assert f" {disk / 1024:.1f} KiB " in row and " kB" not in row


def test_inspect_reads_the_header_only(run_dir):
    """Garbage in place of the payload: inspect (header only) works, verify does not."""
    path = ckpt(run_dir, 3)
    header = read_header(path, b"CKPT")
    with open(path, "r+b") as f:
        f.seek(header.payload_offset)
        f.write(os.urandom(header.payload_len))
    result = invoke("checkpoint", "inspect", path, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tick"] == 3
    bad = invoke("checkpoint", "verify", path)
    assert bad.exit_code == 1 and f"BAD {path}: " in bad.stdout


@pytest.mark.parametrize("command", ["inspect", "verify"])
def test_missing_file_is_one_line(command, tmp_path):
    missing = tmp_path / checkpoint_name(1)
    assert_one_line_error(
        invoke("checkpoint", command, missing), str(missing), "no such checkpoint"
    )


def test_inspect_of_something_else_is_one_line(run_dir):
    assert_one_line_error(
        invoke("checkpoint", "inspect", run_dir / "manifest.json"), "not a Continuum CKPT"
    )
    assert_one_line_error(
        invoke("checkpoint", "inspect", run_dir), "is a directory", "checkpoint list"
    )
    path = ckpt(run_dir, 2)
    flip_byte(path, 40)  # inside the JSON header: its checksum fails
    assert_one_line_error(invoke("checkpoint", "inspect", path), str(path), "header")


# --- list -------------------------------------------------------------------------------


def test_list_marks_latest(run_dir):
    result = invoke("checkpoint", "list", run_dir)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()[1:]
    assert len(lines) == TICKS
    assert [line.startswith("*") for line in lines] == [False] * (TICKS - 1) + [True]
    assert lines[-1].split()[1:4] == [run_dir.name, str(TICKS), "formation"]


def test_list_json_from_the_parent_dir_and_a_corrupt_header(run_dir):
    ckpt(run_dir, 4).write_bytes(ckpt(run_dir, 4).read_bytes()[:100])
    result = invoke("checkpoint", "list", run_dir.parent, "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["checkpoints"]
    assert [r["tick"] for r in rows] == list(range(1, TICKS + 1))
    assert [r["tick"] for r in rows if r["latest"]] == [TICKS]
    bad = [r for r in rows if r["error"]]
    assert [r["tick"] for r in bad] == [4] and "truncated" in bad[0]["error"]
    assert all(r["run_id"] == run_dir.name for r in rows)


def test_list_warns_about_a_dangling_latest(run_dir):
    (run_dir / LATEST).unlink()
    os.symlink(checkpoint_name(999), run_dir / LATEST)
    result = invoke("checkpoint", "list", run_dir)
    assert result.exit_code == 0
    assert "latest points to a missing file" in result.stderr
    assert not any(line.startswith("*") for line in result.stdout.splitlines())


def test_list_of_a_file_or_nothing_is_one_line(run_dir, tmp_path):
    assert_one_line_error(invoke("checkpoint", "list", ckpt(run_dir, 1)), "checkpoint inspect")
    assert_one_line_error(
        invoke("checkpoint", "list", tmp_path / "nowhere"), "not a checkpoint directory"
    )


# --- verify -----------------------------------------------------------------------------


def test_verify_a_good_tree(run_dir):
    result = invoke("checkpoint", "verify", run_dir.parent)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == TICKS + 1  # every file and the latest link
    assert all(line.startswith("ok ") for line in lines)
    assert "all intact" in result.stderr


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_verify_finds_a_damaged_file(run_dir, damage):
    path = ckpt(run_dir, 6)
    if damage == "flip":
        flip_byte(path, path.stat().st_size - 200)  # in the payload
    else:
        path.write_bytes(path.read_bytes()[:-7])
    result = invoke("checkpoint", "verify", run_dir)
    assert result.exit_code == 1
    bad = [line for line in result.stdout.splitlines() if line.startswith("BAD ")]
    assert len(bad) == 1 and bad[0].startswith(f"BAD {path}: ")
    assert ("checksum" if damage == "flip" else "truncated") in bad[0]
    assert result.stderr.count("\n") == 1 and "1 of 13" in result.stderr


def test_verify_reports_a_dangling_latest(run_dir):
    (run_dir / LATEST).unlink()
    os.symlink(checkpoint_name(999), run_dir / LATEST)
    result = invoke("checkpoint", "verify", run_dir, "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert (doc["ok"], doc["checked"], doc["bad"]) == (False, TICKS + 1, 1)
    (bad,) = [r for r in doc["results"] if not r["ok"]]
    assert bad["path"] == str(run_dir / LATEST) and checkpoint_name(999) in bad["error"]
    named = invoke("checkpoint", "verify", run_dir / LATEST)
    assert named.exit_code == 1 and "dangling" in named.stdout


def test_verify_an_empty_dir_is_an_error(tmp_path):
    assert_one_line_error(invoke("checkpoint", "verify", tmp_path), "no checkpoint files")


# --- diff -------------------------------------------------------------------------------


def test_diff_lists_what_changed_between_ticks(run_dir):
    """Tick 12 runs thermal (every tick) and climate (even ticks), tick 11 thermal only."""
    result = invoke("checkpoint", "diff", ckpt(run_dir, 11), ckpt(run_dir, 12), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["identical"] is False and doc["compared"] == 16
    assert set(doc["fields"]) == {"tick", "sim_time"}
    assert doc["fields"]["tick"] == {"a": 11, "b": 12}
    changed = {(d["signal"], d["buffer"]) for d in doc["arrays"]}
    thermal = {"core.temp", "mantle.temp", "core.dipole"}
    assert changed == {(s, "current") for s in thermal | {"cell.temperature"}} | {
        (s, "previous") for s in thermal
    }
    temperature = next(d for d in doc["arrays"] if d["signal"] == "cell.temperature")
    assert temperature["shape_a"] == [384] and 0 < temperature["differing"] <= 384
    assert temperature["max_abs"] > 0


def test_diff_of_identical_checkpoints_reports_nothing(run_dir):
    copy = run_dir.parent / "copy.ckpt"
    shutil.copyfile(ckpt(run_dir, 5), copy)
    result = invoke("checkpoint", "diff", ckpt(run_dir, 5), copy)
    assert result.exit_code == 0, result.output
    assert "identical: 16 arrays compared" in result.stdout
    doc = ok_json("checkpoint", "diff", ckpt(run_dir, 5), copy, "--json")
    assert doc["identical"] and doc["arrays"] == [] and doc["fields"] == {}


def test_diff_text_and_atol(run_dir):
    result = invoke("checkpoint", "diff", ckpt(run_dir, 11), ckpt(run_dir, 12), "--atol", "1e9")
    assert result.exit_code == 0, result.output
    assert "tick" in result.stdout and "0 of 16 arrays differ" in result.stdout
    assert_one_line_error(
        invoke("checkpoint", "diff", ckpt(run_dir, 1), run_dir / "x.ckpt"), "no such"
    )


# --- help -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], ["inspect"], ["list"], ["verify"], ["diff"]])
def test_help_has_an_example(command):
    result = invoke("checkpoint", *command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout and "continuum checkpoint" in result.stdout
