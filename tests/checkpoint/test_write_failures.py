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
