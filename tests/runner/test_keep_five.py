"""Issue 13: ``--keep-checkpoints 5``, resumed twice, branched once: exactly 5 per run, on
disk and committed, with a SQLite catalog, a PostgreSQL one and none.

Decisions under test: keep-last N means N files per run, with a catalog or without one;
a checkpoint a segment resumed from, or a branch started from, is not kept for that
alone (lineage is in the records: the branch's manifest and catalog row still name its
parent checkpoint after the file is gone); a branch starts without keep-last unless
given one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from continuum import layout
from continuum.catalog import Catalog
from tests.cli.conftest import catalog_url, run_json

STRIDE = ("--checkpoint-stride", "4")


def ticks(run_dir: Path) -> list[int]:
    return sorted(t for p in run_dir.iterdir() if (t := layout.checkpoint_tick(p.name)) is not None)


def newest(run_dir: Path) -> Path:
    return run_dir / layout.checkpoint_name(ticks(run_dir)[-1])


@pytest.fixture(params=["sqlite", "postgresql", "none"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, ...]:
    if request.param == "none":
        return ("--no-catalog",)
    if request.param == "postgresql":
        return ("--catalog", request.getfixturevalue("pg_url"))
    return ("--catalog", catalog_url(tmp_path))


def test_keep_5_resumed_twice_and_branched_once_is_5_per_run(
    tmp_path: Path, where: tuple[str, ...]
) -> None:
    ck = tmp_path / "ck"

    def run(*args: object) -> dict[str, Any]:
        return run_json("--checkpoint-dir", ck, *STRIDE, *where, *args)

    first = run("--keep-checkpoints", "5", "--steps", "40")
    rid = first["run_id"]
    parent_dir = ck / rid
    written = first["checkpoints_written"]
    again = run("--checkpoint-path", newest(parent_dir), "--steps", "40")  # resume 1 (in place)
    assert again["run_id"] == rid and again["resumed_from"]
    written += again["checkpoints_written"]
    branch_point = ticks(parent_dir)[0]  # the oldest one kept: the next prune deletes it
    child = run(
        "--checkpoint-path", parent_dir / layout.checkpoint_name(branch_point),
        "--keep-checkpoints", "5", "--steps", "80",
    )  # fmt: skip
    assert child["parent_run"] == rid and child["run_id"] != rid
    last = run("--checkpoint-path", newest(parent_dir), "--steps", "40")  # resume 2
    assert last["run_id"] == rid and last["tick"] == 120
    written += last["checkpoints_written"]

    assert written >= 7  # enough that protecting the two resume points would show
    parent, branch = ticks(parent_dir), ticks(ck / child["run_id"])
    assert len(parent) == 5 and parent[-1] == 120, parent
    assert branch_point not in parent  # kept by no rule: the branch's records say it
    assert len(branch) == min(5, child["checkpoints_written"]) and branch[-1] == child["tick"]
    manifest = json.loads(layout.manifest_path(ck / child["run_id"]).read_text())
    assert manifest["parent"]["run_id"] == rid and manifest["parent"]["tick"] == branch_point
    assert manifest.get("keep_checkpoints") == 5
    if where[0] == "--no-catalog":
        return
    with Catalog(where[1]) as cat:
        for run_id, on_disk in ((rid, parent), (child["run_id"], branch)):
            rows = cat.checkpoints.list(run_id)
            assert [c.tick for c in rows if c.state == "committed"] == on_disk
            assert {c.state for c in rows} <= {"committed", "pruned"}
            policy = cat.policies.get("run", run_id)
            assert policy is not None and policy.rules.keep_last == 5
        shown = cat.runs.get(child["run_id"])
        assert (shown.parent_run_id, shown.parent_checkpoint_tick) == (rid, branch_point)


def test_a_branch_starts_without_keep_last(tmp_path: Path) -> None:
    url = catalog_url(tmp_path)
    ck = tmp_path / "ck"
    common = ("--checkpoint-dir", ck, "--checkpoint-stride", "10", "--catalog", url)
    first = run_json(*common, "--keep-checkpoints", "2", "--steps", "40")
    parent_dir = ck / first["run_id"]
    oldest = parent_dir / layout.checkpoint_name(ticks(parent_dir)[0])
    child = run_json(*common, "--checkpoint-path", oldest, "--steps", "60")
    assert child["parent_run"] == first["run_id"]
    assert len(ticks(ck / child["run_id"])) == child["checkpoints_written"] > 2
    with Catalog(url) as cat:
        assert cat.policies.get("run", child["run_id"]) is None
