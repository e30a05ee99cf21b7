"""A full disk and read-only directories, for real: the run finishes and says what failed.

Issue 12, classes 6 and 7. Each test mounts a small tmpfs of its own (``mount -t tmpfs
-o size=2m``; the suite runs as root) holding the run's directories, and unmounts it in
a finalizer; where mounting is not permitted the tests skip, saying so.

Read-only directories: as root, ``chmod`` does not stop a write (root ignores permission
bits) and ``chattr +i`` is not supported by tmpfs everywhere, so a directory is made
read-only by remounting its tmpfs read-only (``mount -o remount,ro``): the kernel then
refuses every write with EROFS, whoever asks. ``os.access`` reports that, so a resume
into such a directory is refused before anything is written.

Every run is a real ``continuum`` process with a hard timeout: a hang fails the test
here even before pytest-timeout would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from continuum.catalog import Catalog
from continuum.checkpoint import read_checkpoint
from continuum.layout import is_temp_name
from continuum.lens import ChunkFile

from .conftest import run

pytestmark = pytest.mark.slow  # real processes and mounts: a few seconds each

SEED = 5
FAILURE_KINDS = {
    "checkpoints",
    "checkpoint_manifest",
    "checkpoint_latest",
    "lens_chunks",
    "lens_manifest",
    "lens_by_sample",  # the background copy, on the same full disk
}


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, unmounted after the test whatever happened."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = _mount("-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount))
    if result.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)  # still busy


def read_only(mount: Path) -> None:
    """Remount read-only; the kernel refuses (busy) while a file is open for writing
    there, so this retries until the writer is between two files."""
    deadline = time.monotonic() + 20
    while (result := _mount("-o", "remount,ro", str(mount))).returncode != 0:
        assert time.monotonic() < deadline and "busy" in result.stderr, result.stderr
        time.sleep(0.005)


def fill(mount: Path, leave: int = 0) -> Path:
    """Fill the tmpfs up to ``leave`` free bytes (to the last byte by default)."""
    filler = mount / "filler"
    stat = os.statvfs(mount)
    todo = stat.f_bavail * stat.f_frsize - leave if leave else 1 << 40
    with open(filler, "wb", buffering=0) as f:
        try:
            while todo > 0:
                todo -= f.write(b"\0" * min(65536, todo))
        except OSError:  # full
            pass
    return filler


def continuum(
    *args: object, catalog: str | None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "continuum.cli", *map(str, args)]
    if catalog is not None:
        argv += ["--catalog", catalog]
    return subprocess.run(argv, capture_output=True, text=True, timeout=180, env=env)


def tiny(steps: int, *extra: object) -> list[object]:
    return ["run", "terra", "--scenario", "tiny", "--seed", SEED, "--steps", steps, *extra]


def assert_completed_with_failures(proc: subprocess.CompletedProcess[str]) -> dict:
    """rc 3, the summary on stdout, one closing line on stderr naming what failed."""
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    summary = json.loads(proc.stdout)
    failed = summary["failures"]
    assert failed and set(failed) <= FAILURE_KINDS, failed
    what = ", ".join(f"{kind} {n}" for kind, n in failed.items())
    assert proc.stderr.splitlines()[-1] == (
        f"error: the run completed but not all was written: {what}"
    )
    return summary


def assert_one_line(proc: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error: ")]
    for fragment in fragments:
        assert fragment in line, line
    return line


def assert_whole(root: Path) -> None:
    """No temporaries; every checkpoint and lens chunk under ``root`` verifies."""
    for path in root.rglob("*"):
        assert not is_temp_name(path.name), f"partial file left behind: {path}"
    for path in root.rglob("checkpoint_*.ckpt"):
        read_checkpoint(path)
    for path in root.rglob("lens_snapshot_*.lens"):
        with ChunkFile(path) as chunk:
            chunk.read_all()


def assert_catalog_says_what_is_on_disk(url: str, run_id: str) -> None:
    with Catalog(url) as cat:
        run_row = cat.runs.get(run_id)
        rows = cat.checkpoints.list(run_id)
        chunks = cat.lens_chunks.list(run_id)
        audit = {a.action: a.detail for a in cat.audit.list(run_id)}
    assert run_row.status == "completed"
    for row in rows:
        assert row.state in ("committed", "missing"), row
        assert Path(row.resolved_path).is_file() == (row.state == "committed"), row
    assert all(Path(run_row.lens_dir or "", c.path).is_file() for c in chunks)
    assert "run-failures" in audit  # what failed is recorded in the catalog too


@pytest.fixture(scope="module")
def straight() -> dict[int, str]:
    """State hashes of runs that wrote nothing, by steps."""
    return {n: run(seed=SEED, steps=n, no_catalog=True)["state_hash"] for n in (600, 8000)}


def test_a_disk_that_fills_up_mid_run(disk, tmp_path, straight):
    """A nearly full disk (256 KiB free): checkpoints and lens chunks fill it early."""
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    fill(disk, leave=256 << 10)
    args = tiny(600, "--checkpoint-dir", disk / "ckpt", "--checkpoint-stride", 5)
    args += ["--lens-dir", disk / "lens", "--lens-chunk-size", 50, "--json"]
    summary = assert_completed_with_failures(continuum(*args, catalog=url))
    assert summary["tick"] == 600 and summary["state_hash"] == straight[600]
    assert summary["checkpoints_written"] >= 1
    assert summary["checkpoints_failed"] + summary["lens_failed"] >= 1
    assert_whole(disk)
    assert_catalog_says_what_is_on_disk(url, summary["run_id"])


def test_directories_made_read_only_mid_run(disk, tmp_path, straight):
    """The hang of issue 12: a checkpoint write fails and the manifest rewrite too."""
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    args = tiny(8000, "--checkpoint-dir", disk / "ckpt", "--checkpoint-stride", 500)
    args += ["--lens-dir", disk / "lens", "--lens-chunk-size", 500, "--json", "--catalog", url]
    argv = [sys.executable, "-m", "continuum.cli", *map(str, args)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not list(disk.glob("ckpt/*/checkpoint_*.ckpt")) and time.monotonic() < deadline:
            time.sleep(0.01)
        read_only(disk)
        out, err = proc.communicate(timeout=180)
    finally:
        proc.kill()
    result = subprocess.CompletedProcess(argv, proc.returncode, out, err)
    summary = assert_completed_with_failures(result)
    assert summary["tick"] == 8000 and summary["state_hash"] == straight[8000]
    failed = summary["failures"]
    assert failed["checkpoints"] >= 1 and failed["checkpoint_manifest"] >= 1
    assert "lens_chunks" in failed
    assert_whole(disk)
    assert_catalog_says_what_is_on_disk(url, summary["run_id"])


@pytest.mark.parametrize("full", ["ckpt", "lens"])
def test_a_full_disk_at_start_is_one_line_and_leaves_nothing(disk, tmp_path, full):
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    dirs = {"ckpt": tmp_path / "ckpt", "lens": tmp_path / "lens", full: disk / full}
    filler = fill(disk)
    args = tiny(50, "--checkpoint-dir", dirs["ckpt"], "--lens-dir", dirs["lens"])
    what = "checkpoint" if full == "ckpt" else "lens"
    line = assert_one_line(
        continuum(*args, catalog=url), f"{what} directory {disk / full}", "No space left on device"
    )
    assert "free space there" in line
    assert [p for p in disk.rglob("*") if not p.is_dir()] == [filler]  # nothing half-written
    with Catalog(url) as cat:
        (record,) = cat.search.list().runs
    assert record.status == "failed"  # not left running


@pytest.mark.parametrize("read_only_dir", ["ckpt", "lens"])
def test_a_read_only_run_dir_on_resume_is_refused_before_anything(disk, tmp_path, read_only_dir):
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    dirs = {"ckpt": tmp_path / "ckpt", "lens": tmp_path / "lens", read_only_dir: disk / "d"}
    outputs = ["--checkpoint-dir", dirs["ckpt"], "--lens-dir", dirs["lens"], "--json"]
    first = continuum(*tiny(50, *outputs), catalog=url)
    assert first.returncode == 0, first.stderr
    run_id = json.loads(first.stdout)["run_id"]
    read_only(disk)
    resumed = continuum(
        "run", "terra", "--resume", "--checkpoint-dir", dirs["ckpt"], "--lens-dir",
        dirs["lens"], "--steps", 10, catalog=url,
    )  # fmt: skip
    what = "checkpoint" if read_only_dir == "ckpt" else "lens"
    line = assert_one_line(resumed, f"cannot write {what} directory", "Read-only file system")
    assert run_id in line and "make it writable" in line
    with Catalog(url) as cat:  # the catalog was not told of a resume that never started
        record = cat.runs.get(run_id)
        segments = cat.search.show(run_id).segments
    assert record.status == "completed" and len(segments) == 1


def test_an_unwritable_default_catalog_location_is_one_line(disk):
    read_only(disk)
    env = {k: v for k, v in os.environ.items() if k != "CONTINUUM_CATALOG"}
    env["XDG_DATA_HOME"] = str(disk / "data")
    for args in (tiny(5), ["catalog", "list"]):
        line = assert_one_line(
            continuum(*args, catalog=None, env=env),
            f"cannot create the default catalog's directory {disk / 'data' / 'continuum'}",
            "Read-only file system",
        )
        assert "--catalog URL" in line


def test_a_catalog_on_a_disk_that_fills_up_mid_run(disk, tmp_path, straight):
    """The catalog callbacks fail from then on (and the end of the run cannot be
    recorded): counted, the run completes; the row is judged by liveness afterwards.
    (SQLite keeps its file open for writing, so its disk cannot be remounted read-only
    under it: the disk is filled instead.)"""
    url = f"sqlite:///{disk / 'catalog.db'}"
    args = tiny(8000, "--checkpoint-dir", tmp_path / "ckpt", "--checkpoint-stride", 500)
    args += ["--json", "--catalog", url]
    argv = [sys.executable, "-m", "continuum.cli", *map(str, args)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(tmp_path.glob("ckpt/*/*.ckpt")):
            time.sleep(0.01)
        filler = fill(disk)
        out, err = proc.communicate(timeout=180)
    finally:
        proc.kill()
    filler.unlink()  # room again, to judge the row
    assert proc.returncode == 3, err
    assert "Traceback" not in err
    summary = json.loads(out)
    assert summary["tick"] == 8000 and summary["state_hash"] == straight[8000]
    assert summary["checkpoints_failed"] == 0 and summary["failures"]["catalog"] >= 1
    assert err.splitlines()[-1].startswith("error: the run completed but not all was written")
    with Catalog(url) as cat:  # never left running: ended, or judged by its process gone
        assert cat.search.show(summary["run_id"]).run.status in ("completed", "crashed")
