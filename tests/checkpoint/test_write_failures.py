"""A checkpoint that cannot be written is reported; the run completes; nothing partial stays."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from continuum.checkpoint import checkpoint_files, read_checkpoint
from continuum.layout import is_temp_name

from .conftest import run

REPO = Path(__file__).resolve().parents[2]

# Run `continuum run` with a file-size limit: writes past it fail with EFBIG, as on a
# full disk; manifests (small) still fit. SIGXFSZ is ignored so the write returns an error.
LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))
sys.argv = ["continuum", *sys.argv[1:]]
from continuum.cli import main
main()
"""


def assert_no_partial_files(ckpt_dir: Path) -> None:
    for path in ckpt_dir.rglob("*"):
        assert not is_temp_name(path.name), f"partial file left behind: {path}"
    for path in ckpt_dir.glob("*/checkpoint_*.ckpt"):
        read_checkpoint(path)


def test_file_size_limit_fails_writes_but_the_run_completes(tmp_path):
    args = [
        "run",
        "terra",
        "--scenario",
        "tiny",
        "--steps",
        "200",
        "--checkpoint-stride",
        "50",
        "--checkpoint-dir",
        str(tmp_path),
        "--no-catalog",  # the catalog file would hit the size limit too
        "--json",
    ]
    proc = subprocess.run(
        [sys.executable, "-c", LIMITED, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 3, proc.stderr  # completed, but not all was written
    summary = json.loads(proc.stdout)
    assert summary["tick"] == 200
    assert summary["checkpoints_failed"] == 4 and summary["checkpoints_written"] == 0
    assert summary["failures"] == {"checkpoints": 4}
    assert "checkpoint at tick 50 failed" in proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        "error: the run completed but not all was written: checkpoints 4"
    )
    assert "Traceback" not in proc.stderr
    assert_no_partial_files(tmp_path)
    manifest = json.loads((Path(summary["checkpoint_dir"]) / "manifest.json").read_text())
    assert manifest["failed_checkpoints"] == 4


@pytest.fixture
def small_tmpfs(tmp_path):
    mount = tmp_path / f"full-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True
    )
    if result.returncode != 0 or shutil.which("umount") is None:
        pytest.skip(f"cannot mount a small tmpfs here: {result.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_real_enospc_on_a_full_filesystem(small_tmpfs):
    summary = run(small_tmpfs, steps=300, checkpoint_stride=10)
    assert summary["tick"] == 300
    assert summary["checkpoints_written"] >= 1 and summary["checkpoints_failed"] >= 1
    assert_no_partial_files(small_tmpfs)
    run_dir = Path(summary["checkpoint_dir"])
    assert checkpoint_files(run_dir)
    assert summary["state_hash"] == run(steps=300)["state_hash"]


def test_unwritable_checkpoint_dir_is_one_line(tmp_path, runner):
    from continuum.cli import cli

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = runner.invoke(
        cli,
        [
            "run",
            "terra",
            "--scenario",
            "tiny",
            "--steps",
            "5",
            "--checkpoint-dir",
            str(blocker / "sub"),
        ],
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot create checkpoint directory")


# --- issue 12, class 6: the writer thread survives anything its stage raises --------------


def test_a_bug_in_the_write_and_a_failing_manifest_never_stop_the_writer(tmp_path, monkeypatch):
    """A non-OSError from the write, then the manifest rewrite failing too: the path on
    which the writer thread used to die and the final ``submit(wait=True)`` hang."""
    from continuum.checkpoint import Manifest

    real_update = Manifest.update

    def broken_write(path, *args, **kwargs):
        if "0000000050" in path.name:
            raise ValueError("a bug in the format")
        raise OSError(30, "Read-only file system")

    def broken_update(self, **changes):
        if "failed_checkpoints" in changes:
            raise OSError(30, "Read-only file system")
        real_update(self, **changes)

    monkeypatch.setattr("continuum.checkpoint.writer.write_checkpoint", broken_write)
    monkeypatch.setattr(Manifest, "update", broken_update)
    summary = run(tmp_path, steps=200, checkpoint_stride=50, queue_depth=50, no_catalog=True)
    assert summary["tick"] == 200 and summary["checkpoints_written"] == 0
    assert summary["failures"] == {"checkpoint_manifest": 5, "checkpoints": 4}
    assert_no_partial_files(tmp_path)


def test_a_writer_thread_that_died_is_not_waited_for(tmp_path, monkeypatch, caplog):
    """SystemExit ends the thread (only a BaseException can): the final submit gives up,
    counted as a failed checkpoint, and close returns."""

    def die(*args, **kwargs):
        raise SystemExit("gone")

    monkeypatch.setattr("continuum.checkpoint.writer.write_checkpoint", die)
    summary = run(tmp_path, steps=200, checkpoint_stride=1, queue_depth=1, no_catalog=True)
    assert summary["tick"] == 200 and summary["checkpoints_failed"] >= 1
    assert "checkpoint-writer thread stopped: SystemExit: gone" in caplog.text
    assert "the writer thread has stopped" in caplog.text


def test_failures_are_logged_once_per_power_of_two(tmp_path, monkeypatch, caplog):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("continuum.checkpoint.writer.write_checkpoint", full)
    summary = run(tmp_path, steps=200, checkpoint_stride=10, queue_depth=50, no_catalog=True)
    assert summary["checkpoints_failed"] == 20  # a deep queue: none dropped
    lines = [r.getMessage() for r in caplog.records if "was not written" in r.getMessage()]
    assert len(lines) == 5  # the 1st, 2nd, 4th, 8th and 16th, each one line
    assert lines[0] == "checkpoint at tick 10 failed and was not written: No space left on device"
    assert lines[-1].endswith("(16 so far)") and all("\n" not in x for x in lines)
