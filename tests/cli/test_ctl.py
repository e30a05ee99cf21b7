"""``continuum ctl`` against real ``continuum run`` processes (issue 16, IPC).

Each test starts terra as a real process, paced by the test-only
``CONTINUUM_TEST_TICK_SLEEP`` so it is still running when asked, and talks to it the way
a user does. What a user notices: ``status`` shows the tick advancing; ``checkpoint``
makes a committed catalog row appear; ``flush`` seals a partial lens chunk; ``stop``
ends the run ``stopped`` (exit 143, reason ``ctl``) and its resume command ends bitwise
where the uninterrupted run ends; a busy run answers ``pending`` and still takes the
command; a SIGKILLed run's socket is refused with one line and cleaned up; another user
is told the socket is not theirs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from continuum import layout
from continuum.catalog import Catalog
from continuum.runner.stop import TICK_SLEEP_ENV
from tests.cli.conftest import assert_one_line_error, invoke
from tests.runner.conftest import run
from tests.runner.test_stop import final_hash, finish, shell

pytestmark = pytest.mark.slow  # real processes: a few seconds each

SEED = 5
NOBODY = 65534


def start(
    url: str | None, steps: int, *args: object, pace: float = 0.01, **env: str
) -> subprocess.Popen[str]:
    """``continuum run terra --scenario tiny`` as a real process, ``pace`` s per tick."""
    argv = [sys.executable, "-m", "continuum.cli", "run", "terra", "--scenario", "tiny"]
    argv += ["--seed", str(SEED), "--steps", str(steps), *map(str, args)]
    argv += ["--catalog", url] if url else ["--no-catalog"]
    env = {**os.environ, TICK_SLEEP_ENV: str(pace), **env}
    pipe = subprocess.PIPE
    return subprocess.Popen(argv, stdout=pipe, stderr=pipe, text=True, env=env)


def wait_live(url: str, proc: subprocess.Popen[str]) -> tuple[str, Path]:
    """The run's id and control socket, once the catalog records it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        with Catalog(url) as cat:
            page = cat.search.list(limit=5)
        live = [r for r in page.runs if r.control_path is not None]
        if live:
            return live[0].run_id, Path(live[0].control_path)
        time.sleep(0.05)
    raise AssertionError("the run never opened its control channel")


def ctl(run_id: str, url: str | None, *args: str) -> Any:
    """``continuum ctl RUN_ID ARGS --json``: the reply (exit 0 required)."""
    cat = ["--catalog", url] if url else []
    result = invoke("ctl", run_id, *args, "--json", *cat)
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def until(check: Any, what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} never happened")


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog.db'}"


def test_status_checkpoint_flush_and_stop_of_a_live_run(url, tmp_path):
    steps = 2000
    straight = run(seed=SEED, steps=steps, no_catalog=True)["state_hash"]
    ck, lens = tmp_path / "ck", tmp_path / "lens"
    proc = start(
        url, steps, "--checkpoint-dir", ck, "--checkpoint-stride", 5000, "--lens-dir", lens
    )
    try:
        run_id, path = wait_live(url, proc)
        assert path.name == f"{run_id}.sock" and path.is_socket()

        first = ctl(run_id, url, "status")
        time.sleep(0.3)
        second = ctl(run_id, url, "status")
        assert first["ok"] and first["status"] == "running" and first["pid"] == proc.pid
        assert (first["start_tick"], first["end_tick"]) == (0, steps)
        assert second["tick"] > first["tick"] and second["ticks_per_s"] > 0
        text = invoke("ctl", run_id, "status", "--catalog", url)
        assert text.exit_code == 0 and text.stdout.startswith(f"run {run_id}: running, tick ")
        assert len(text.stdout.splitlines()) == 3

        made = ctl(run_id, url, "checkpoint")
        assert made["ok"] and made["queued"] is True
        tick = made["tick"]

        def committed() -> bool:
            with Catalog(url) as cat:
                rows = cat.checkpoints.list(run_id)
            return any(r.tick == tick and r.state == "committed" for r in rows)

        until(committed, f"a committed checkpoint at tick {tick}")
        assert (ck / run_id / layout.checkpoint_name(tick)).is_file()

        flushed = ctl(run_id, url, "flush")
        assert flushed["ok"] and flushed["window"] == [0, 1000]
        sealed_to = flushed["tick"] + 1

        def partial() -> bool:
            with Catalog(url) as cat:
                chunks = cat.lens_chunks.list(run_id)
            return any((c.start_tick, c.end_tick) == (0, sealed_to) for c in chunks)

        until(partial, f"a lens chunk [0, {sealed_to})")
        assert (lens / run_id / layout.lens_chunk_name(0, 1000)).is_file()

        stopping = ctl(run_id, url, "stop")
        assert stopping["ok"] and stopping["stopping"] is True
        code, out, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 143, err  # the graceful stop of SIGTERM
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("stopped run ")]
    assert line.startswith(f"stopped run {run_id} at tick ") and " (ctl); " in line
    stop_tick = int(line.split(" at tick ")[1].split()[0])
    assert stop_tick >= stopping["tick"]
    assert not path.exists()  # the socket goes with the run
    segments = json.loads(layout.manifest_path(ck / run_id).read_text())["segments"]
    assert [(s["status"], s.get("stopped_by")) for s in segments] == [("stopped", "ctl")]
    with Catalog(url) as cat:
        record = cat.runs.get(run_id)
        assert record.status == "stopped" and record.control_path is None
        assert [a.detail for a in cat.audit.list(run_id) if a.action == "run-stopped"] == ["ctl"]
    gone = invoke("ctl", run_id, "status", "--catalog", url)
    assert_one_line_error(gone, f"run {run_id} is not live: it is stopped")

    resumed = shell(line.split("; resume with: ", 1)[1] + f" --catalog {url}")
    assert resumed.returncode == 0, resumed.stderr
    assert final_hash(ck, run_id, steps) == straight  # bitwise: ctl changed nothing
    lens_is_whole_for(url, run_id, steps)


def lens_is_whole_for(url: str, run_id: str, total: int) -> None:
    """Every tick of ``[0, total]`` in the lens, no gap, one file per window of 1000."""
    with Catalog(url) as cat:
        assert cat.lens_gaps.list(run_id) == []
        chunks = [c for c in cat.lens_chunks.list(run_id) if c.state == "committed"]
    spans = [(c.start_tick, c.end_tick) for c in chunks]
    assert spans == [(0, 1000), (1000, 2000), (2000, total + 1)]  # the flushed one rewritten
    assert sum(c.frames for c in chunks) == total + 1


def test_a_busy_run_answers_pending_and_a_killed_run_is_cleaned_up(url, tmp_path):
    ck = tmp_path / "ck"
    proc = start(url, 50, "--checkpoint-dir", ck, pace=4.0)  # each tick ends with 4 s asleep
    try:
        run_id, path = wait_live(url, proc)
        base = ctl(run_id, url, "status")["tick"]
        until(lambda: ctl(run_id, url, "status")["tick"] > base, "a tick boundary")
        began = time.monotonic()
        result = invoke("ctl", run_id, "checkpoint", "--catalog", url)
        assert result.exit_code == 0, result.output
        assert "is in a long tick" in result.stdout and "queued" in result.stdout
        assert 2.5 < time.monotonic() - began < 4.0  # pending after ~3 s, not the tick's 4

        def committed() -> list[int]:
            with Catalog(url) as cat:
                return [r.tick for r in cat.checkpoints.list(run_id) if r.state == "committed"]

        assert until(committed, "the queued checkpoint, at the next boundary", timeout=15)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert path.is_socket()  # a SIGKILL leaves the socket behind
    stale = invoke("ctl", run_id, "status", "--catalog", url)
    assert_one_line_error(
        stale,
        f"run {run_id} is not live (its control socket was left by a process that ended; removed)",
    )
    assert not path.exists()
    with Catalog(url) as cat:
        assert cat.runs.get(run_id).control_path is None
    again = invoke("ctl", run_id, "stop", "--catalog", url)
    assert_one_line_error(again, f"run {run_id} is not live: it is crashed")


def test_a_run_without_a_catalog_is_reached_in_the_private_dir(tmp_path, monkeypatch):
    # its own (killed runs of other tests leave sockets behind), short (names stay whole)
    runtime = Path(tempfile.mkdtemp(prefix="ctl-", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    proc = start(None, 5000, pace=0.01)
    try:
        directory = runtime / "continuum"
        socket = until(lambda: list(directory.glob("*.sock")), "the control socket")[0]
        run_id = socket.name.removesuffix(".sock")
        assert ctl(run_id, None, "status")["run_id"] == run_id
        refused = invoke("ctl", run_id, "checkpoint")
        assert_one_line_error(refused, f"run {run_id} refused checkpoint", "--checkpoint-dir")
        refused = invoke("ctl", run_id, "flush")
        assert_one_line_error(refused, "captures no lens", "--lens-dir")
        assert ctl(run_id, None, "stop")["stopping"] is True
        code, _, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(runtime, ignore_errors=True)
    assert code == 143 and "cannot be resumed" in err and " (ctl); " in err


def test_runs_that_are_not_live_are_one_line(url):
    done = run(seed=SEED, steps=3, catalog=url)
    result = invoke("ctl", done["run_id"], "status", "--catalog", url)
    assert_one_line_error(result, f"run {done['run_id']} is not live: it is completed")
    unknown = invoke("ctl", "20990101_000000_deadbeef", "status", "--catalog", url)
    assert_one_line_error(unknown, "no run 20990101_000000_deadbeef in the catalog", "not live")


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to act as another user (uid 65534)",
)
def test_another_user_is_told_the_run_is_not_theirs(pg_url, tmp_path):
    """The run is root's; ``continuum ctl`` as uid 65534 (a PostgreSQL catalog both can
    read) gets one line naming the socket's owner, and changes nothing."""
    runtime = tempfile.mkdtemp(prefix="ctl-", dir="/tmp")  # as /run/user/0: its owner shows
    proc = start(pg_url, 5000, pace=0.01, XDG_RUNTIME_DIR=runtime)
    try:
        run_id, path = wait_live(pg_url, proc)
        assert path.parent == Path(runtime) / "continuum"
        argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        argv += [sys.executable, "-m", "continuum.cli", "ctl", run_id, "stop"]
        argv += ["--catalog", pg_url]
        env = {**os.environ, "HOME": "/nonexistent"}
        env.pop("XDG_RUNTIME_DIR", None)
        other = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, cwd="/")
        assert other.returncode == 1 and other.stdout == "", other
        assert other.stderr.count("\n") == 1 and "Traceback" not in other.stderr, other.stderr
        assert other.stderr.startswith(f"error: run {run_id}: you cannot reach the control socket")
        assert f"owned by uid {os.geteuid()}" in other.stderr and f"uid {NOBODY}" in other.stderr
        assert ctl(run_id, pg_url, "status")["status"] == "running"  # still live, untouched
        assert ctl(run_id, pg_url, "stop")["stopping"]
        code, _, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(runtime, ignore_errors=True)
    assert code == 143, err
