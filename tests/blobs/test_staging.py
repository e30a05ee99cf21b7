"""Staging directories: private, named for their process, swept once that process is gone."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from continuum.blobs.staging import staging_dir, sweep


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_dead_process_dir_is_swept_and_nothing_else(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR read again
    dead = tmp_path / f"continuum-lens-{dead_pid()}-abc123"
    alive = tmp_path / f"continuum-lens-{os.getppid()}-def456"
    other_kind = tmp_path / f"continuum-export-{dead_pid()}-ghi789"
    target = tmp_path / "elsewhere"
    for d in (dead, alive, other_kind, target):
        d.mkdir()
        (d / "chunk.lens").write_bytes(b"x")
    link = tmp_path / f"continuum-lens-{dead_pid()}-link00"
    link.symlink_to(target)
    mine = staging_dir("lens")
    assert mine.name.startswith(f"continuum-lens-{os.getpid()}-")
    assert stat.S_IMODE(mine.stat().st_mode) == 0o700
    assert not dead.exists()
    assert alive.exists() and other_kind.exists() and link.is_symlink()
    assert (target / "chunk.lens").exists()
    assert sweep("lens") == []  # our own is never swept
    assert mine.exists()
