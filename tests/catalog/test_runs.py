"""Run lifecycle contract, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import dataclasses
import os
import socket
from datetime import UTC, datetime

import pytest

from continuum.catalog import RunRecord
from continuum.errors import CatalogConflictError, CatalogError, RunNotFoundError
from continuum.layout import new_run_id

IR = "ab" * 32


def register(cat, **kw):
    kw.setdefault("world", "terra")
    kw.setdefault("ir_hash", IR)
    kw.setdefault("seed", 7)
    return cat.runs.register(**kw)


def test_run_ids_sort_by_start_and_are_unique():
    at = datetime(2026, 1, 16, 9, 54, 30, tzinfo=UTC)
    ids = {new_run_id(at) for _ in range(100)}
    assert len(ids) == 100
    assert all(i.startswith("20260116_095430_") and len(i) == 24 for i in ids)  # one generator


def test_register_records_what_was_asked(catalog):
    run = register(
        catalog,
        scenario="tiny",
        scenario_hash="cd" * 32,
        seed=2**40,
        steps=2000,
        checkpoint_dir="/data/ckpt/x",
        tags={"owner": "ana"},
        params={"thermal.k": 1e-3, "mode": "fast", "n": 3},
    )
    assert isinstance(run, RunRecord)
    assert (run.status, run.seed, run.first_tick, run.last_tick) == ("running", 2**40, 0, 0)
    assert (run.host, run.pid) == (socket.gethostname(), os.getpid())
    assert run.started_at.tzinfo is not None and run.heartbeat_at == run.started_at
    assert run.tags == {"owner": "ana"}
    assert run.params == {"thermal.k": 1e-3, "mode": "fast", "n": 3}
    assert catalog.runs.get(run.run_id) == run
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.status = "completed"  # type: ignore[misc]


def test_register_opens_the_first_segment(catalog):
    run = register(catalog, first_tick=500)
    (segment,) = catalog.search.show(run.run_id).segments
    assert (segment.ordinal, segment.start_tick, segment.status) == (1, 500, "running")
    assert segment.resumed_from_tick is None


def test_taken_run_id_is_a_conflict(catalog):
    register(catalog, run_id="r1")
    with pytest.raises(CatalogConflictError, match="r1"):
        register(catalog, run_id="r1")


def test_unknown_run_is_a_lookup_error(catalog):
    with pytest.raises(RunNotFoundError, match="no run 'nope'"):
        catalog.runs.get("nope")
    with pytest.raises(LookupError):
        catalog.runs.heartbeat("nope")


def test_branch_records_its_parent_and_the_parent_its_children(catalog):
    parent = register(catalog)
    child = register(catalog, parent_run_id=parent.run_id, parent_checkpoint_tick=1000)
    assert catalog.runs.get(child.run_id).parent_run_id == parent.run_id
    detail = catalog.search.show(parent.run_id).to_dict()
    assert detail["lineage"] == {
        "parent": None,
        "children": [{"run_id": child.run_id, "tick": 1000}],
    }
    with pytest.raises(RunNotFoundError):
        register(catalog, parent_run_id="missing")


def test_resume_opens_a_segment_and_closes_a_dead_one(catalog):
    run = register(catalog)
    segment = catalog.runs.start_segment(
        run.run_id, start_tick=1000, resumed_from_tick=1000, resumed_from_path="c.ckpt"
    )
    assert (segment.ordinal, segment.resumed_from_tick, segment.status) == (2, 1000, "running")
    first, second = catalog.search.show(run.run_id).segments
    assert first.status == "crashed" and first.ended_at is not None
    assert second.segment_id == segment.segment_id
    ended = catalog.runs.end_segment(segment.segment_id, status="completed", end_tick=2000)
    assert (ended.status, ended.end_tick) == ("completed", 2000)


def test_heartbeat_moves_last_tick_forward_only(catalog):
    run = register(catalog)
    catalog.runs.heartbeat(run.run_id, last_tick=300)
    catalog.runs.heartbeat(run.run_id, last_tick=200)
    after = catalog.runs.get(run.run_id)
    assert after.last_tick == 300 and after.heartbeat_at > run.heartbeat_at


def test_finish_closes_run_and_segment_and_adds_drops(catalog):
    run = register(catalog)
    catalog.runs.start_segment(run.run_id, start_tick=100)
    catalog.runs.finish(run.run_id, status="failed", last_tick=150, dropped_checkpoints=2)
    catalog.runs.start_segment(run.run_id, start_tick=150)
    done = catalog.runs.finish(run.run_id, status="completed", last_tick=900, dropped_checkpoints=1)
    assert (done.status, done.last_tick, done.dropped_checkpoints) == ("completed", 900, 3)
    assert done.ended_at is not None
    statuses = [s.status for s in catalog.search.show(run.run_id).segments]
    assert statuses == ["crashed", "failed", "completed"]


def test_finish_refuses_running_as_a_final_status(catalog):
    run = register(catalog)
    with pytest.raises(CatalogError, match="ends as one of"):
        catalog.runs.finish(run.run_id, status="running", last_tick=1)


def test_tags_and_params_upsert_and_delete(catalog):
    run = register(catalog, tags={"a": "1", "b": "2"}, params={"k": 1})
    run = catalog.runs.set_tags(run.run_id, {"a": "x", "c": "3"}, remove=["b"])
    assert run.tags == {"a": "x", "c": "3"}
    run = catalog.runs.set_params(run.run_id, {"k": 2.5, "name": "007", "flag": True})
    assert run.params == {"k": 2.5, "name": "007", "flag": True}  # a bool stays a bool (issue 13)


def test_failed_write_leaves_nothing_behind(catalog):
    with pytest.raises(RunNotFoundError):
        catalog.runs.set_tags("nope", {"a": "1"})
    assert catalog.search.list().runs == ()


def test_get_many_keeps_the_order_and_names_an_unknown_run(catalog):
    from continuum.errors import RunNotFoundError

    ids = [catalog.runs.register(world="terra", ir_hash="ab", seed=s).run_id for s in range(3)]
    got = catalog.runs.get_many([ids[2], ids[0], ids[2]])
    assert [r.run_id for r in got] == [ids[2], ids[0], ids[2]]
    assert got[0].seed == 2
    with pytest.raises(RunNotFoundError, match="nope"):
        catalog.runs.get_many([ids[0], "nope"])
