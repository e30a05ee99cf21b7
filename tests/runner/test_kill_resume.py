"""SIGKILL between a checkpoint's rename and its catalog commit, then every resume path.

Issue 12, class 10: the killed process leaves the newest checkpoint intact on disk
behind a ``pending`` row (and ``latest`` one behind). Each way of resuming must find
that checkpoint — same tick, same run id, no branch — and the continuation must be
bitwise the run that was never killed. The kill is real: the writer's test-only hook
(``CONTINUUM_TEST_KILL_AFTER=rename:TICK``, see ``continuum.checkpoint.writer``)
SIGKILLs its own process at exactly that instant.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from continuum import layout
from continuum.blobs.worker import KILL_AFTER_ENV
from continuum.catalog import Catalog

from .conftest import run

pytestmark = pytest.mark.slow  # real processes: a few seconds each

SEED, STRIDE, KILLED_AT, TOTAL = 3, 10, 30, 50


def cli(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``continuum ARGS`` in a fresh process (never hangs the test: a hard timeout)."""
    argv = [sys.executable, "-m", "continuum.cli", *map(str, args)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)


def first_run(url: str, ckpt: Path, *extra: object, env: dict[str, str] | None = None):
    return cli(
        "run", "terra", "--scenario", "tiny", "--seed", SEED, "--steps", TOTAL,
        "--checkpoint-dir", ckpt, "--checkpoint-stride", STRIDE, "--catalog", url, *extra,
        env=env,
    )  # fmt: skip


def states(url: str, run_id: str) -> dict[int, str]:
    with Catalog(url) as cat:
        return {c.tick: c.state for c in cat.checkpoints.list(run_id)}


@pytest.fixture(scope="module")
def straight() -> str:
    """The state hash of the run that was never killed."""
    return run(seed=SEED, steps=TOTAL, no_catalog=True)["state_hash"]


@pytest.fixture
def killed(tmp_path: Path) -> tuple[str, Path, str]:
    """(catalog URL, checkpoint dir, run id) of a run killed right after tick 30's rename."""
    url, ckpt = f"sqlite:///{tmp_path / 'catalog.db'}", tmp_path / "ckpt"
    proc = first_run(
        url, ckpt, "--quiet", env={**os.environ, KILL_AFTER_ENV: f"rename:{KILLED_AT}"}
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    (run_dir,) = ckpt.iterdir()
    run_id = run_dir.name
    # the window, exactly: the file is whole and named, latest and the row are behind it
    assert (run_dir / layout.checkpoint_name(KILLED_AT)).is_file()
    assert layout.read_latest(run_dir) == layout.checkpoint_name(KILLED_AT - STRIDE)
    assert states(url, run_id) == {10: "committed", 20: "committed", 30: "pending"}
    return url, ckpt, run_id


RESUME: dict[str, Callable[[Path, str], list[object]]] = {
    "--resume-run": lambda ckpt, run_id: ["--resume-run", run_id],
    "--resume": lambda ckpt, run_id: ["--resume", "--checkpoint-dir", ckpt],
    "--checkpoint-path": lambda ckpt, run_id: [
        "--checkpoint-path",
        ckpt / run_id / layout.checkpoint_name(KILLED_AT),
    ],
}


@pytest.mark.parametrize("how", RESUME)
def test_every_resume_path_continues_the_killed_commit(killed, how, straight):
    url, ckpt, run_id = killed
    more = TOTAL - KILLED_AT
    proc = cli(
        "run", "terra", *RESUME[how](ckpt, run_id), "--steps", more,
        "--checkpoint-stride", STRIDE, "--catalog", url, "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["run_id"] == run_id and summary["parent_run"] is None  # in place
    assert Path(summary["resumed_from"]).name == layout.checkpoint_name(KILLED_AT)
    assert summary["tick"] == TOTAL and summary["state_hash"] == straight
    assert [p.name for p in ckpt.iterdir()] == [run_id]  # no second timeline
    with Catalog(url) as cat:
        assert [r.run_id for r in cat.search.list().runs] == [run_id]
        segments = cat.search.show(run_id).segments
    assert [(s.status, s.resumed_from_tick) for s in segments] == [
        ("crashed", None),
        ("completed", KILLED_AT),
    ]
    # the pending row was settled against its file: committed, with what the file holds
    assert states(url, run_id) == {t: "committed" for t in range(STRIDE, TOTAL + 1, STRIDE)}


def test_the_settled_row_records_the_file(killed):
    url, ckpt, run_id = killed
    proc = cli("run", "terra", "--resume-run", run_id, "--steps", 1, "--catalog", url, "--json")
    assert proc.returncode == 0, proc.stderr
    path = ckpt / run_id / layout.checkpoint_name(KILLED_AT)
    with Catalog(url) as cat:
        row = next(c for c in cat.checkpoints.list(run_id) if c.tick == KILLED_AT)
        audit = [a.action for a in cat.audit.list(run_id)]
    assert row.state == "committed" and row.bytes_on_disk == path.stat().st_size
    assert row.checksum and row.era == "formation" and row.sim_time > 0
    assert "checkpoint-missing" not in audit and "checkpoint-corrupt" not in audit


def test_a_killed_commit_whose_file_is_gone_resumes_from_the_one_before(killed, straight):
    """The row says pending, the file went away: the row is settled missing, the resume
    goes on from the newest intact checkpoint (in place: nothing newer is on disk)."""
    url, ckpt, run_id = killed
    (ckpt / run_id / layout.checkpoint_name(KILLED_AT)).unlink()
    proc = cli(
        "run", "terra", "--resume-run", run_id, "--steps", TOTAL - 20,
        "--checkpoint-stride", STRIDE, "--catalog", url, "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["run_id"] == run_id and Path(summary["resumed_from"]).name.endswith("20.ckpt")
    assert summary["state_hash"] == straight
    # tick 30 was written again by the resumed run: its row starts over, committed
    assert states(url, run_id) == {t: "committed" for t in range(STRIDE, TOTAL + 1, STRIDE)}
    with Catalog(url) as cat:
        assert "checkpoint-missing" in [a.action for a in cat.audit.list(run_id)]


@pytest.fixture
def paused(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    """A run that is alive but paused (SIGSTOP) after its first committed checkpoint."""
    url, ckpt = f"sqlite:///{tmp_path / 'catalog.db'}", tmp_path / "ckpt"
    argv = [sys.executable, "-m", "continuum.cli", "run", "terra", "--scenario", "tiny"]
    argv += ["--steps", "100000000", "--checkpoint-dir", str(ckpt), "--checkpoint-stride"]
    argv += ["5000", "--catalog", url, "--quiet"]  # then nothing for ~1 s: no write to pause in
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            dirs = list(ckpt.glob("*")) if ckpt.is_dir() else []
            if dirs and "committed" in states(url, dirs[0].name).values():
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGSTOP)
        yield url, ckpt, proc
    finally:
        proc.kill()
        proc.send_signal(signal.SIGCONT)
        proc.wait(timeout=30)


def test_a_run_still_running_is_not_resumed_in_place(paused):
    url, ckpt, proc = paused
    before = sorted(p.name for p in ckpt.rglob("*"))
    refused = cli("run", "terra", "--resume", "--checkpoint-dir", ckpt, "--catalog", url)
    assert refused.returncode == 1
    last = refused.stderr.splitlines()[-1]
    assert last.startswith("error: run ") and "is still running" in last
    assert f"process {proc.pid}" in last and "Traceback" not in refused.stderr
    assert sorted(p.name for p in ckpt.rglob("*")) == before  # nothing written
    proc.kill()  # now it is dead: the same resume goes on in place
    proc.wait(timeout=30)
    resumed = cli(
        "run", "terra", "--resume", "--checkpoint-dir", ckpt, "--steps", 5, "--catalog", url
    )
    assert resumed.returncode == 0, resumed.stderr


def test_a_lens_chunk_killed_before_its_row_is_adopted_on_resume(tmp_path):
    """SIGKILL right after a lens chunk's rename (``lens-rename:40``): the file is whole,
    no row lists it; the resume records it, as ``catalog verify --repair`` would."""
    url, ckpt, lens = f"sqlite:///{tmp_path / 'catalog.db'}", tmp_path / "ckpt", tmp_path / "lens"
    outputs = ["--checkpoint-dir", ckpt, "--checkpoint-stride", 5, "--lens-dir", lens]
    outputs += ["--lens-chunk-size", 10, "--catalog", url]
    env = {**os.environ, KILL_AFTER_ENV: "lens-rename:40"}  # checkpoints were written by then
    killed = cli("run", "terra", "--scenario", "tiny", "--steps", TOTAL, *outputs, env=env)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (run_dir,) = lens.iterdir()
    orphan = run_dir / layout.lens_chunk_name(30, 40)
    assert orphan.is_file()
    with Catalog(url) as cat:
        assert orphan.name not in {c.path for c in cat.lens_chunks.list(run_dir.name)}
    resumed = cli("run", "terra", "--resume-run", run_dir.name, "--steps", 10, *outputs)
    assert resumed.returncode == 0, resumed.stderr
    with Catalog(url) as cat:
        rows = {c.path: c.state for c in cat.lens_chunks.list(run_dir.name)}
    on_disk = {p.name for p in run_dir.glob("lens_snapshot_*.lens")}
    assert orphan.name in on_disk and rows == dict.fromkeys(on_disk, "committed")
