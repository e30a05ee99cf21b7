"""Runs on object storage through the CLI, in real processes, against a real S3 server.

- Resume anywhere: a run started with a PostgreSQL catalog and an ``s3://`` checkpoint
  directory is continued by a process on "another machine" (another working directory
  and ``HOME``, no local file of the run at all) and branched by a third; the results are
  bitwise the straight run's and the catalog's lineage is exact.
- Crashes: SIGKILL at the writer's two instants (before the PUT; after it, before the
  commit) and at random moments of a run: resume picks an intact checkpoint, and
  ``catalog verify --repair`` settles every row.
- Refusals: a bad endpoint, a missing bucket, refused credentials, no catalog — one line
  each, exit non-zero, no traceback, nothing written (no object, no catalog row).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from continuum.blobs.worker import KILL_AFTER_ENV
from continuum.catalog import Catalog, SearchQuery
from continuum.catalog.db import utcnow
from continuum.catalog.db.models import checkpoints
from tests.conftest import s3_keys

from .conftest import run

pytestmark = pytest.mark.slow  # real processes against a real server: seconds each

SEED, STRIDE, TOTAL = 3, 10, 50


def cli(*args: object, cwd: Path | None = None, env: dict[str, str] | None = None):
    """``continuum ARGS`` in a fresh process (a hard timeout: never hangs the test)."""
    argv = [sys.executable, "-m", "continuum.cli", *map(str, args)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=cwd, env=env)


def elsewhere(tmp: Path, name: str) -> tuple[Path, dict[str, str]]:
    """(working directory, environment) of "another machine": its own empty cwd and HOME,
    no data home of the test session, only the AWS variables (and the catalog URL, passed
    on the command line) in common."""
    home = tmp / name
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_DATA_HOME", "CONTINUUM_CATALOG")}
    env.update(HOME=str(home), PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    return home, env


def start(url: str, root: str, *extra: object, steps: int = 30, env=None, cwd=None):
    return cli(
        "run", "terra", "--scenario", "tiny", "--seed", SEED, "--steps", steps,
        "--checkpoint-dir", root, "--checkpoint-stride", STRIDE, "--catalog", url, "--json",
        *extra, env=env, cwd=cwd,
    )  # fmt: skip


def summary(proc: subprocess.CompletedProcess[str]) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def states(url: str, run_id: str) -> dict[int, str]:
    with Catalog(url) as cat:
        return {c.tick: c.state for c in cat.checkpoints.list(run_id)}


def only_run(url: str) -> str:
    """The id of the one run in the catalog at ``url``."""
    with Catalog(url) as cat:
        (run,) = cat.search.find(SearchQuery(), limit=10).runs
    return run.run_id


def age_pending_rows(url: str) -> None:
    """Pending rows two hours old: past verify's grace, as a dead writer's rows become."""
    stale = update(checkpoints).where(checkpoints.c.state == "pending")
    with Catalog(url) as cat:
        cat.db.write(lambda c: c.execute(stale.values(created_at=utcnow() - timedelta(hours=2))))


def objects(bucket: str, root: str, run_id: str) -> list[str]:
    prefix = f"{root.split('/', 3)[3]}/{run_id}/"
    return [k[len(prefix) :] for k in s3_keys(bucket, prefix)]


@pytest.fixture(scope="module")
def straight() -> dict[int, str]:
    """State hashes of the run never interrupted, at the ticks the tests end on."""
    return {n: run(seed=SEED, steps=n, no_catalog=True)["state_hash"] for n in (40, TOTAL)}


def test_resume_on_another_machine_and_branch(
    pg_url: str, s3_root: str, s3_bucket: str, tmp_path: Path, straight: dict[int, str]
) -> None:
    a_cwd, a_env = elsewhere(tmp_path, "host-a")
    first = summary(start(pg_url, s3_root, env=a_env, cwd=a_cwd))
    run_id = first["run_id"]
    b_cwd, b_env = elsewhere(tmp_path, "host-b")
    cont = summary(
        cli(
            "run",
            "terra",
            "--resume-run",
            run_id,
            "--steps",
            20,
            "--catalog",
            pg_url,
            "--json",
            env=b_env,
            cwd=b_cwd,
        )  # fmt: skip
    )
    assert cont["run_id"] == run_id and cont["parent_run"] is None
    assert cont["state_hash"] == straight[TOTAL]  # bitwise the straight run
    assert list(b_cwd.iterdir()) == []  # nothing local: no checkpoints, no catalog file
    c_cwd, c_env = elsewhere(tmp_path, "host-c")
    hotter = tmp_path / "hotter.toml"  # another scenario at tiny's resolution: a branch
    hotter.write_text('[scenario]\nname = "hotter"\n[topology]\nresolution = 8\n'
                      '[config]\n"thermal.core_cooling" = 5.0e-4\n')  # fmt: skip
    branch = summary(
        cli(
            "run",
            "terra",
            "--resume-run",
            run_id,
            "--scenario",
            hotter,
            "--steps",
            10,
            "--catalog",
            pg_url,
            "--json",
            env=c_env,
            cwd=c_cwd,
        )  # fmt: skip
    )
    assert branch["parent_run"] == run_id and branch["run_id"] != run_id
    assert branch["checkpoint_dir"] == f"{s3_root}/{branch['run_id']}"
    with Catalog(pg_url) as cat:
        parent, child = cat.runs.get(run_id), cat.runs.get(branch["run_id"])
        detail = cat.search.show(run_id)
    segments, children = detail.segments, [r.run_id for r in detail.children]
    assert (child.parent_run_id, child.parent_checkpoint_tick) == (run_id, TOTAL)
    assert (parent.first_tick, parent.last_tick, parent.status) == (0, TOTAL, "completed")
    assert [(s.start_tick, s.end_tick) for s in segments] == [(0, 30), (30, TOTAL)]
    assert children == [branch["run_id"]]
    assert child.first_tick == TOTAL and child.last_tick == TOTAL + 10
    rows = states(pg_url, run_id)  # a stride's checkpoint may be dropped, a final one never
    assert {30, 50} <= set(rows) and set(rows.values()) == {"committed"}
    assert objects(s3_bucket, s3_root, branch["run_id"]) == [
        "checkpoint_0000000060.ckpt",
        "manifest.json",
    ]


@pytest.mark.parametrize("point", ["put", "rename"])
def test_sigkill_around_the_put(
    point: str, sqlite_url: str, s3_root: str, s3_bucket: str, straight: dict[int, str]
) -> None:
    """``put``: killed with the row pending and no object; ``rename``: the object whole and
    checked, the row still pending. Either way resume continues bitwise."""
    env = {**os.environ, KILL_AFTER_ENV: f"{point}:30"}
    proc = start(sqlite_url, s3_root, "--quiet", steps=TOTAL, env=env)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    run_id = only_run(sqlite_url)
    rows = states(sqlite_url, run_id)
    assert rows.pop(30) == "pending" and set(rows.values()) == {"committed"}
    on_s3 = objects(s3_bucket, s3_root, run_id)
    assert ("checkpoint_0000000030.ckpt" in on_s3) is (point == "rename")
    # verify --repair settles the pending row once its grace has passed (the writer is dead)
    age_pending_rows(sqlite_url)
    repaired = cli("catalog", "verify", "--repair", "--catalog", sqlite_url)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    settled = "committed" if point == "rename" else "missing"
    assert states(sqlite_url, run_id)[30] == settled
    done = summary(
        cli(
            "run",
            "terra",
            "--resume-run",
            run_id,
            "--steps",
            20 if point == "rename" else 30,
            "--catalog",
            sqlite_url,
            "--json",
        )  # fmt: skip
    )
    assert done["run_id"] == run_id and done["state_hash"] == straight[TOTAL]
    again = cli("catalog", "verify", "--catalog", sqlite_url)
    assert again.returncode == 0 and "0 problem(s)" in again.stdout, again.stdout


def wait_for_a_commit(url: str, run_id: str | None, proc: subprocess.Popen[bytes]) -> None:
    """Until the run (``run_id``, or the one run being made) has committed a checkpoint
    in this process's life, bounded: a slow start must not make a kill land before it."""
    before = 0
    if run_id is not None:
        with Catalog(url) as cat:
            before = sum(r.state == "committed" for r in cat.checkpoints.list(run_id))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        with Catalog(url) as cat:
            runs = cat.search.list(limit=2).runs
            rows = cat.checkpoints.list(runs[0].run_id) if runs else []
        if sum(r.state == "committed" for r in rows) > before:
            return
        time.sleep(0.05)
    raise AssertionError("the run committed no checkpoint in 120 s")


def test_sigkill_at_random_moments_of_a_run(
    sqlite_url: str, s3_root: str, s3_bucket: str, straight: dict[int, str]
) -> None:
    """Killed three times at random instants (mid-PUT included: every tick checkpoints);
    each time every committed row's object is whole, and resume goes on from the newest."""
    rng = random.Random(7)
    argv = [sys.executable, "-m", "continuum.cli", "run", "terra", "--scenario", "tiny",
            "--seed", SEED, "--steps", 100_000, "--checkpoint-dir", s3_root,
            "--checkpoint-stride", 1, "--catalog", sqlite_url, "--quiet"]  # fmt: skip
    run_id = None
    for _ in range(3):
        cmd = argv if run_id is None else [*argv[:5], "--resume-run", run_id, *argv[11:]]
        proc = subprocess.Popen(list(map(str, cmd)), stderr=subprocess.PIPE)
        wait_for_a_commit(sqlite_url, run_id, proc)  # past start-up, however busy the host
        time.sleep(rng.uniform(0.0, 1.5))  # then a random instant: uploads under way
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        run_id = only_run(sqlite_url)
        with Catalog(sqlite_url) as cat:
            rows = cat.checkpoints.list(run_id)
        committed = [r for r in rows if r.state == "committed"]
        assert committed, "killed before any checkpoint was committed"
        on_s3 = set(objects(s3_bucket, s3_root, run_id))
        assert {r.path for r in committed} <= on_s3
        check = cli("catalog", "verify", "--catalog", sqlite_url)  # committed rows intact
        assert "corrupt" not in check.stdout and "missing" not in check.stdout, check.stdout
    assert run_id is not None
    age_pending_rows(sqlite_url)
    assert cli("catalog", "verify", "--repair", "--catalog", sqlite_url).returncode == 0
    assert "pending" not in states(sqlite_url, run_id).values()
    clean = cli("catalog", "verify", "--catalog", sqlite_url)
    assert clean.returncode == 0 and "0 problem(s)" in clean.stdout, clean.stdout


def one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode not in (0, -signal.SIGKILL), proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_refusals_are_one_line_and_write_nothing(
    sqlite_url: str, s3_root: str, s3_bucket: str, s3_denying_endpoint: str, tmp_path: Path
) -> None:
    missing = start(sqlite_url, "s3://ct-no-such-bucket-anywhere/runs")
    one_line_error(missing, "bucket 'ct-no-such-bucket-anywhere' does not exist")
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    unreachable = start(sqlite_url, s3_root, env={**os.environ, "AWS_ENDPOINT_URL": dead})
    one_line_error(unreachable, "no answer from", "AWS_ENDPOINT_URL")
    denied_env = {
        **os.environ,
        "AWS_ENDPOINT_URL": s3_denying_endpoint,
        "AWS_ACCESS_KEY_ID": "AKIANOTAREALKEY00000",
        "AWS_SECRET_ACCESS_KEY": "wrong",
    }
    one_line_error(start(sqlite_url, s3_root, env=denied_env), "access denied")
    no_catalog = cli("run", "terra", "--steps", 5, "--checkpoint-dir", s3_root, "--no-catalog")
    one_line_error(no_catalog, "drop --no-catalog")
    one_line_error(start(sqlite_url, "s3://Bad_Bucket/x"), "not a bucket name")
    assert s3_keys(s3_bucket) == []  # nothing half-written
    with Catalog(sqlite_url) as cat:
        assert cat.search.find(SearchQuery(), limit=10).runs == ()
