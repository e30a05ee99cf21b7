"""SIGINT and SIGTERM stop a run gracefully, and the command it prints resumes it exactly.

Real processes, real signals (issue 14): ``continuum run`` is started with checkpoints
and lens on, paced by the test-only ``CONTINUUM_TEST_TICK_SLEEP`` so the signal lands
mid-run, and signalled once its checkpoint at tick ``SIGNAL_AFTER`` is on disk. The stop
must end with the shell's exit code, no traceback and no ``Aborted!``, the run
``stopped`` in the manifest and the catalog (SQLite and PostgreSQL), one line naming the
checkpoint and the resume command; that command, run through a shell exactly as
printed, must end bitwise where the uninterrupted run ends, with no gap in the lens.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from continuum import layout
from continuum.catalog import Catalog
from continuum.checkpoint import read_checkpoint
from continuum.runner.stop import TICK_SLEEP_ENV

from .conftest import run

pytestmark = pytest.mark.slow  # real processes: a few seconds each

SEED, STRIDE, SIGNAL_AFTER, TOTAL = 5, 50, 100, 600
PACE = {TICK_SLEEP_ENV: "0.003"}  # 600 ticks take ~2 s: a signal after tick 100 is mid-run
BIN = Path(sys.executable).parent  # where the `continuum` script of this environment is
LINE = re.compile(r"^stopped run (\S+) at tick (\d+) \((SIG\w+)\); (.*)$")


@pytest.fixture(scope="module")
def straight() -> str:
    """The state hash of the same run, never interrupted."""
    return run(seed=SEED, steps=TOTAL, no_catalog=True)["state_hash"]


def start(*args: object, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "continuum.cli", "run", "terra", "--scenario", "tiny"]
    argv += ["--seed", str(SEED), "--steps", str(TOTAL), *map(str, args)]
    return subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **PACE, **(env or {})},
        preexec_fn=_signals_by_default,
    )


def _signals_by_default() -> None:
    """In the child: SIGINT as at a terminal, even if this test runs as a background job
    (which starts with it ignored, and a run keeps an ignored signal ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(path_glob: str, root: Path, proc: subprocess.Popen[str]) -> None:
    """Until a file matching ``path_glob`` exists under ``root`` (the run is mid-way)."""
    deadline = time.monotonic() + 60
    while not list(root.glob(path_glob)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never got there"
        time.sleep(0.01)


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def shell(command: str) -> subprocess.CompletedProcess[str]:
    """``command`` through a shell, as a user would paste it (this environment first)."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120, env=env)


def stop_line(err: str) -> re.Match[str]:
    assert "Traceback" not in err and "Aborted!" not in err, err
    (line,) = [x for x in err.splitlines() if x.startswith("stopped run ")]
    match = LINE.match(line)
    assert match is not None, line
    return match


def final_hash(ckpt: Path, run_id: str, tick: int) -> str:
    _, state = read_checkpoint(ckpt / run_id / layout.checkpoint_name(tick))
    assert state.tick == tick
    return state.state_hash()


def no_temporaries(*roots: Path) -> None:
    left = [p for root in roots for p in root.rglob("*") if layout.is_temp_name(p.name)]
    assert left == []


def manifest_segments(run_dir: Path) -> list[tuple[int, int | None, str]]:
    data = json.loads(layout.manifest_path(run_dir).read_text())
    return [(s["start_tick"], s.get("end_tick"), s["status"]) for s in data["segments"]]


def lens_is_whole(url: str, run_id: str) -> None:
    """The lens holds every tick [0, TOTAL], no gap recorded, none at the stop tick."""
    with Catalog(url) as cat:
        assert cat.lens_gaps.list(run_id) == []
        chunks = [c for c in cat.lens_chunks.list(run_id) if c.state == "committed"]
    spans = [(c.start_tick, c.end_tick) for c in chunks]
    assert spans[0][0] == 0 and spans[-1][1] == TOTAL + 1, spans
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False)), spans
    assert sum(c.frames for c in chunks) == TOTAL + 1


@pytest.fixture(params=["sqlite", "postgresql"])
def any_catalog(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A private catalog on each dialect (PostgreSQL: CONTINUUM_TEST_PG_URL; skipped if
    no server answers)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return request.getfixturevalue("pg_url")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stopped_run_resumes_as_printed_to_the_same_state(sig, any_catalog, tmp_path, straight):
    catalog_url = any_catalog
    ckpt, lens = tmp_path / "ckpt", tmp_path / "lens"
    proc = start(
        "--checkpoint-dir", ckpt, "--checkpoint-stride", STRIDE, "--lens-dir", lens,
        "--lens-chunk-size", 200, "--catalog", catalog_url,
    )  # fmt: skip
    wait_for(f"*/{layout.checkpoint_name(SIGNAL_AFTER)}", ckpt, proc)
    proc.send_signal(sig)
    code, out, err = finish(proc)
    assert code == 128 + sig, err  # 130, 143: the shell's convention
    match = stop_line(err)
    run_id, tick = match[1], int(match[2])
    assert match[3] == sig.name and SIGNAL_AFTER <= tick < TOTAL
    run_dir = ckpt / run_id
    checkpoint = run_dir / layout.checkpoint_name(tick)
    assert f"checkpoint: {os.path.relpath(checkpoint)}" in match[4] or str(checkpoint) in match[4]
    assert checkpoint.is_file() and layout.read_latest(run_dir) == checkpoint.name
    assert manifest_segments(run_dir) == [(0, tick, "stopped")]
    no_temporaries(ckpt, lens)
    with Catalog(catalog_url) as cat:
        detail = cat.search.show(run_id)
        assert detail.run.status == "stopped" and detail.run.last_tick == tick
        assert [(s.status, s.end_tick) for s in detail.segments] == [("stopped", tick)]
        assert [r.run_id for r in cat.search.list(status="stopped").runs] == [run_id]
        assert cat.liveness.mark_stale_crashed() == []  # its process is gone: not a crash
        assert cat.search.show(run_id).run.status == "stopped"
    command = match[4].split("; resume with: ", 1)[1]
    assert command.startswith("continuum run terra ") and f"--steps {TOTAL - tick}" in command

    resumed = shell(command)
    assert resumed.returncode == 0, resumed.stderr
    assert "stopped run" not in resumed.stderr
    assert final_hash(ckpt, run_id, TOTAL) == straight
    assert [p.name for p in ckpt.iterdir()] == [run_id]  # continued in place, no branch
    assert manifest_segments(run_dir) == [(0, tick, "stopped"), (tick, TOTAL, "completed")]
    with Catalog(catalog_url) as cat:
        detail = cat.search.show(run_id)
        assert detail.run.status == "completed" and detail.run.last_tick == TOTAL
        assert [(s.status, s.start_tick, s.end_tick) for s in detail.segments] == [
            ("stopped", 0, tick),
            ("completed", tick, TOTAL),
        ]
    lens_is_whole(catalog_url, run_id)


def runs(stdout: str) -> list[dict]:
    """The runs of a ``catalog list/search --json`` page (a list, or an object holding it)."""
    page = json.loads(stdout)
    return page["runs"] if isinstance(page, dict) else page


def test_catalog_list_and_search_take_stopped(tmp_path):
    url, ckpt = f"sqlite:///{tmp_path / 'catalog.db'}", tmp_path / "ckpt"
    proc = start(
        "--checkpoint-dir", ckpt, "--checkpoint-stride", STRIDE, "--catalog", url, "--json"
    )  # fmt: skip
    wait_for(f"*/{layout.checkpoint_name(SIGNAL_AFTER)}", ckpt, proc)
    proc.send_signal(signal.SIGINT)
    code, out, err = finish(proc)
    assert code == 130, err
    match = stop_line(err)
    run_id = match[1]
    summary = json.loads(out)  # --json: the stop is in the one JSON line too
    assert summary["status"] == "stopped" and summary["tick"] == int(match[2])
    assert summary["stopped"]["signal"] == "SIGINT" and summary["stopped"]["exit_code"] == 130
    assert summary["stopped"]["message"] == match[0]
    assert summary["stopped"]["checkpoint"].endswith(layout.checkpoint_name(int(match[2])))
    for command in ("list", "search"):
        listed = shell(f"continuum catalog {command} --status stopped --json --catalog {url}")
        assert listed.returncode == 0, listed.stderr
        assert [r["run_id"] for r in runs(listed.stdout)] == [run_id]
        other = shell(f"continuum catalog {command} --status completed --json --catalog {url}")
        assert runs(other.stdout) == []
    shown = shell(f"continuum catalog show {run_id} --catalog {url}")
    assert re.search(r"^status:\s+stopped$", shown.stdout, re.M), shown.stdout
    # a catalog rebuilt from the files says the same: the manifest's segment is stopped
    rebuilt = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    scanned = shell(f"continuum catalog scan {shlex.quote(str(ckpt))} --catalog {rebuilt}")
    assert scanned.returncode == 0, scanned.stderr
    with Catalog(rebuilt) as cat:
        assert cat.search.show(run_id).run.status == "stopped"


def test_a_stop_without_checkpoints_says_how_to_start_again(tmp_path, straight):
    lens = tmp_path / "lens"
    proc = start("--lens-dir", lens, "--no-catalog")
    wait_for("*/manifest.json", lens, proc)
    time.sleep(0.3)  # some ticks in
    proc.send_signal(signal.SIGINT)
    code, out, err = finish(proc)
    assert code == 130, err
    rest = stop_line(err)[4]
    assert rest.startswith("no checkpoint of it exists (it writes none), so it cannot be resumed")
    again = rest.split("to start it again (add --checkpoint-dir DIR to make it resumable): ")[1]
    assert f"--seed {SEED} --steps {TOTAL}" in again and "--no-catalog" in again
    # as printed, with a checkpoint directory added as the line suggests: the same run again
    ckpt = tmp_path / "ckpt"
    restarted = shell(f"{again} --checkpoint-dir {shlex.quote(str(ckpt))} --json")
    assert restarted.returncode == 0, restarted.stderr
    assert json.loads(restarted.stdout)["state_hash"] == straight


def test_a_second_sigint_while_stopping_is_ignored_and_breaks_nothing(tmp_path, straight):
    """The stop's lens flush is made slow (1.5 s); a second SIGINT during it is said to be
    ignored, the stop completes as if it had not come, and the run resumes exactly."""
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    ckpt, lens = tmp_path / "ckpt", tmp_path / "lens"
    proc = start(
        "--checkpoint-dir",
        ckpt,
        "--checkpoint-stride",
        STRIDE,
        "--lens-dir",
        lens,
        "--catalog",
        url,
        env={"CONTINUUM_TEST_SLOW": "lens-io:1.5"},
    )  # fmt: skip  (chunk size 1000 > TOTAL: the only lens write is the stop's)
    wait_for(f"*/{layout.checkpoint_name(SIGNAL_AFTER)}", ckpt, proc)
    began = time.monotonic()
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert proc.poll() is None  # still stopping: the lens write takes 1.5 s
    proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc)
    assert code == 130, err
    assert time.monotonic() - began >= 1.5  # the second SIGINT did not cut the stop short
    ignored = [x for x in err.splitlines() if x.startswith("continuum: SIGINT ignored")]
    assert len(ignored) == 1 and "already stopping at tick" in ignored[0], err
    match = stop_line(err)
    run_id, tick = match[1], int(match[2])
    no_temporaries(ckpt, lens)
    assert manifest_segments(ckpt / run_id) == [(0, tick, "stopped")]
    with Catalog(url) as cat:
        assert cat.search.show(run_id).run.status == "stopped"
        assert [c.end_tick for c in cat.lens_chunks.list(run_id)] == [tick + 1]
    resumed = shell(match[4].split("; resume with: ", 1)[1])
    assert resumed.returncode == 0, resumed.stderr
    assert final_hash(ckpt, run_id, TOTAL) == straight
    lens_is_whole(url, run_id)


def test_without_a_catalog_the_line_names_the_file_and_resume_picks_the_stopped_run(
    tmp_path, straight
):
    """No catalog: the command names the checkpoint file; ``--resume`` on the directory
    picks the stopped run like any other and continues it in place."""
    ckpt = tmp_path / "ckpt"
    proc = start("--checkpoint-dir", ckpt, "--checkpoint-stride", STRIDE, "--no-catalog")
    wait_for(f"*/{layout.checkpoint_name(SIGNAL_AFTER)}", ckpt, proc)
    proc.send_signal(signal.SIGTERM)
    code, _, err = finish(proc)
    assert code == 143, err
    match = stop_line(err)
    run_id, tick = match[1], int(match[2])
    command = match[4].split("; resume with: ", 1)[1]
    path = ckpt / run_id / layout.checkpoint_name(tick)
    assert f"--checkpoint-path {path}" in command and "--no-catalog" in command
    assert "--resume-run" not in command
    copy = tmp_path / "copy"
    shutil.copytree(ckpt, copy, symlinks=True)  # the same stopped run, for --resume below

    resumed = shell(command)
    assert resumed.returncode == 0, resumed.stderr
    assert final_hash(ckpt, run_id, TOTAL) == straight
    assert manifest_segments(ckpt / run_id)[-1] == (tick, TOTAL, "completed")

    picked = shell(
        f"continuum run terra --resume --checkpoint-dir {shlex.quote(str(copy))} "
        f"--steps {TOTAL - tick} --checkpoint-stride {STRIDE} --no-catalog --json"
    )
    assert picked.returncode == 0, picked.stderr
    summary = json.loads(picked.stdout)
    assert summary["run_id"] == run_id and summary["parent_run"] is None  # in place
    assert Path(summary["resumed_from"]).name == path.name
    assert summary["state_hash"] == straight and summary["status"] == "completed"


def test_a_signal_ignored_at_start_stays_ignored(tmp_path):
    """Started with SIGINT ignored (a script's ``continuum run ... &``), the run is not
    stopped by it: it completes."""
    lens = tmp_path / "lens"
    argv = [sys.executable, "-m", "continuum.cli", "run", "terra", "--scenario", "tiny"]
    argv += ["--steps", "300", "--no-catalog", "--quiet", "--lens-dir", str(lens)]
    proc = subprocess.Popen(
        argv,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **PACE},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    wait_for("*/manifest.json", lens, proc)  # the loop is running: handlers are in place
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "stopped run" not in err, err
