"""The catalog tells the truth about every run (issue 13): after SIGKILL, resume and branch.

Real processes, a real kill (the checkpoint writer's test-only hook,
``CONTINUUM_TEST_KILL_AFTER=rename:TICK``: SIGKILL right after the checkpoint of TICK
is renamed into place, its catalog row still ``pending``), and the catalog read back
through the CLI a user would type — on SQLite and on PostgreSQL. Tick ranges, each
segment's range, parameters and tags are asserted exactly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, delete

from continuum.blobs.worker import KILL_AFTER_ENV
from continuum.catalog.db.models import checkpoints
from tests.conftest import DIALECTS

pytestmark = pytest.mark.slow  # real processes: a few seconds each

SEED, STRIDE, KILLED_AT, TOTAL = 3, 10, 30, 50
TINY = {"topology.resolution": 8}  # what the bundled `tiny` scenario overrides


def cli(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "continuum.cli", *map(str, args)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)


def ok(*args: object) -> subprocess.CompletedProcess[str]:
    proc = cli(*args)
    assert proc.returncode == 0, proc.stderr
    return proc


def listed(url: str) -> dict[str, dict[str, Any]]:
    """``catalog list --json`` by run id (what a user sees, crash detection included)."""
    return {
        r["run_id"]: r for r in json.loads(ok("catalog", "list", "--json", "--catalog", url).stdout)
    }


def segments(url: str, run_id: str) -> list[tuple[str, int, int | None]]:
    shown = json.loads(ok("catalog", "show", run_id, "--json", "--catalog", url).stdout)
    return [(s["status"], s["start_tick"], s["end_tick"]) for s in shown["segments"]]


def ticks(run: dict[str, Any]) -> tuple[str, int, int]:
    return run["status"], run["first_tick"], run["last_tick"]


@pytest.fixture(params=DIALECTS)
def url(request: pytest.FixtureRequest) -> str:
    """An empty catalog, once on SQLite and once on PostgreSQL (``tests/conftest.py``)."""
    return request.getfixturevalue(f"{request.param.replace('postgresql', 'pg')}_url")


@pytest.fixture
def killed(url: str, tmp_path: Path) -> tuple[str, Path, str]:
    """(catalog URL, checkpoint dir, run id): a run with --param/--tag SIGKILLed right
    after tick 30's rename (10 and 20 committed, 30 renamed but its row pending)."""
    ckpt = tmp_path / "ckpt"
    proc = cli(
        "run", "terra", "--scenario", "tiny", "--seed", SEED, "--steps", TOTAL,
        "--checkpoint-dir", ckpt, "--checkpoint-stride", STRIDE, "--catalog", url,
        "--param", "k=4", "--param", "mode=fast", "--tag", "team=a", "--quiet",
        env={**os.environ, KILL_AFTER_ENV: f"rename:{KILLED_AT}"},
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    (run_dir,) = ckpt.iterdir()
    return url, ckpt, run_dir.name


def test_a_killed_run_shows_its_newest_committed_checkpoint(killed):
    url, _, run_id = killed
    run = listed(url)[run_id]
    assert ticks(run) == ("crashed", 0, 20)  # 30's row was still pending at the kill
    assert segments(url, run_id) == [("crashed", 0, 20)]
    assert run["params"] == {"k": 4, "mode": "fast", **TINY}
    assert run["tags"] == {"team": "a"}
    found = ok("catalog", "search", "--tick-covers", 20, "--json", "--catalog", url).stdout
    assert [r["run_id"] for r in json.loads(found)] == [run_id]
    found = ok("catalog", "search", "--tick-covers", 21, "--json", "--catalog", url).stdout
    assert json.loads(found) == []


def test_verify_repair_moves_the_range_to_an_adopted_checkpoint(killed):
    """Tick 30's file on disk with no row (as after a catalog restored from a backup):
    ``verify --repair`` adopts it committed, and the crashed run's range follows."""
    url, _, run_id = killed
    assert ticks(listed(url)[run_id]) == ("crashed", 0, 20)
    engine = create_engine(url)
    with engine.begin() as conn:
        mine = checkpoints.c.run_id == run_id
        conn.execute(delete(checkpoints).where(mine, checkpoints.c.tick == KILLED_AT))
    engine.dispose()
    found = cli("catalog", "verify", "--catalog", url)  # without --repair nothing moves
    assert found.returncode == 1 and "orphan" in found.stdout, found.stdout
    assert ticks(listed(url)[run_id]) == ("crashed", 0, 20)
    ok("catalog", "verify", "--repair", "--catalog", url)
    assert ticks(listed(url)[run_id]) == ("crashed", 0, KILLED_AT)
    assert segments(url, run_id) == [("crashed", 0, KILLED_AT)]


def test_a_resumed_run_extends_its_range_segment_by_segment(killed):
    url, _, run_id = killed
    ok(
        "run", "terra", "--resume-run", run_id, "--steps", TOTAL - KILLED_AT,
        "--checkpoint-stride", STRIDE, "--catalog", url, "--param", "k=4", "--tag", "owner=b",
        "--quiet",
    )  # fmt: skip
    run = listed(url)[run_id]
    assert ticks(run) == ("completed", 0, TOTAL)
    # the dead segment ends at the checkpoint the resume settled (30, renamed before the kill)
    assert segments(url, run_id) == [("crashed", 0, KILLED_AT), ("completed", KILLED_AT, TOTAL)]
    assert run["params"] == {"k": 4, "mode": "fast", **TINY}  # kept
    assert run["tags"] == {"team": "a", "owner": "b"}  # added to


def test_a_resume_refuses_a_changed_param_and_opens_no_segment(killed):
    url, ckpt, run_id = killed
    before = sorted(p.name for p in (ckpt / run_id).iterdir())
    for param, said in (
        ("k=5", "was started with k=4, not k=5"),
        ("seed_count=3", "was started without parameter 'seed_count'"),
    ):
        proc = cli("run", "terra", "--resume-run", run_id, "--steps", 5, "--catalog", url,
                   "--param", param)  # fmt: skip
        assert proc.returncode == 1
        lines = [x for x in proc.stderr.splitlines() if not x.startswith("using SQLite")]
        assert len(lines) == 1 and said in lines[0] and "drop --param" in lines[0], proc.stderr
    assert sorted(p.name for p in (ckpt / run_id).iterdir()) == before
    # no segment opened; finding the checkpoint settled the index (30 committed), as it may
    assert segments(url, run_id) == [("crashed", 0, KILLED_AT)]
    assert listed(url)[run_id]["params"] == {"k": 4, "mode": "fast", **TINY}


def test_a_branch_records_its_scenario_and_its_own_params(killed, tmp_path):
    url, _, run_id = killed
    scenario = tmp_path / "hot-tiny.toml"
    scenario.write_text(
        '[scenario]\nname = "hot-tiny"\n[config]\n"thermal.core_cooling" = 5.0e-4\n'
        '[initial]\n"core.temp" = "6500.0"\n[topology]\nresolution = 8\n'
    )
    proc = ok(
        "run", "terra", "--resume-run", run_id, "--scenario", scenario, "--steps", 10,
        "--catalog", url, "--param", "k=7", "--param", "note=hot", "--tag", "team=b", "--json",
    )  # fmt: skip
    branch = json.loads(proc.stdout)["run_id"]
    assert branch != run_id
    run = listed(url)[branch]
    assert ticks(run) == ("completed", KILLED_AT, KILLED_AT + 10)
    assert (run["parent_run_id"], run["parent_checkpoint_tick"]) == (run_id, KILLED_AT)
    assert segments(url, branch) == [("completed", KILLED_AT, KILLED_AT + 10)]
    assert run["params"] == {
        "thermal.core_cooling": 5.0e-4,
        "initial.core.temp": 6500.0,
        "topology.resolution": 8,
        "k": 7,
        "note": "hot",
    }  # its scenario's overrides and its own --param: nothing of the parent's
    assert run["tags"] == {"team": "b"}
    parent = listed(url)[run_id]
    assert parent["params"] == {"k": 4, "mode": "fast", **TINY}  # untouched
    assert ticks(parent) == ("crashed", 0, KILLED_AT)  # settled by the branch's resume
