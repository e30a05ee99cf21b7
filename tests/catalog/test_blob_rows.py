"""Checkpoint rows contract: pending -> committed, states, pins, paths, audit."""

from __future__ import annotations

import pytest

from continuum.catalog import CheckpointRecord
from continuum.errors import BlobStateError, RunNotFoundError

IR = "ab" * 32


@pytest.fixture
def run(catalog, tmp_path):
    return catalog.runs.register(world="terra", ir_hash=IR, seed=1, checkpoint_dir=tmp_path)


def record(catalog, run, tick, **kw):
    kw.setdefault("sim_time", tick * 1e6)
    kw.setdefault("path", f"{run.checkpoint_dir}/checkpoint_{tick:010d}.ckpt")
    kw.setdefault("bytes_on_disk", 1000 + tick)
    return catalog.checkpoints.record(run.run_id, tick=tick, **kw)


def test_record_is_pending_with_a_path_relative_to_the_run(catalog, run):
    ck = record(catalog, run, 1000, era="formation", raw_bytes=5000, checksum="x1")
    assert isinstance(ck, CheckpointRecord)
    assert (ck.state, ck.pinned, ck.era, ck.raw_bytes) == ("pending", False, "formation", 5000)
    assert ck.path == "checkpoint_0000001000.ckpt"
    assert ck.resolved_path == f"{run.checkpoint_dir}/checkpoint_0000001000.ckpt"


def test_path_outside_the_run_directory_stays_absolute(catalog, run):
    assert record(catalog, run, 10, path="/elsewhere/c.ckpt").path == "/elsewhere/c.ckpt"


def test_commit_then_latest_committed(catalog, run):
    for tick in (1000, 2000, 3000):
        record(catalog, run, tick)
    assert catalog.checkpoints.latest_committed(run.run_id) is None
    catalog.checkpoints.mark(run.run_id, 1000, "committed")
    catalog.checkpoints.mark(run.run_id, 2000, "committed")
    assert catalog.checkpoints.latest_committed(run.run_id).tick == 2000
    ticks = [c.tick for c in catalog.checkpoints.list(run.run_id, states=["pending"])]
    assert ticks == [3000]
    assert [c.tick for c in catalog.checkpoints.list(run.run_id)] == [1000, 2000, 3000]


def test_re_recording_a_tick_replaces_it_and_keeps_the_pin(catalog, run):
    record(catalog, run, 1000, checksum="old")
    catalog.checkpoints.mark(run.run_id, 1000, "committed")
    catalog.checkpoints.pin(run.run_id, 1000)
    again = record(catalog, run, 1000, checksum="new")
    assert (again.checksum, again.state, again.pinned) == ("new", "pending", True)
    assert len(catalog.checkpoints.list(run.run_id)) == 1


def test_forbidden_move_is_refused(catalog, run):
    record(catalog, run, 1000)
    catalog.checkpoints.mark(run.run_id, 1000, "committed")
    catalog.checkpoints.mark(run.run_id, 1000, "deleting")
    catalog.checkpoints.mark(run.run_id, 1000, "pruned")
    with pytest.raises(BlobStateError, match="is pruned; it cannot become committed"):
        catalog.checkpoints.mark(run.run_id, 1000, "committed")


def test_pinned_checkpoint_cannot_be_deleted(catalog, run):
    record(catalog, run, 1000)
    catalog.checkpoints.mark(run.run_id, 1000, "committed")
    catalog.checkpoints.pin(run.run_id, 1000)
    with pytest.raises(BlobStateError, match="pinned"):
        catalog.checkpoints.mark(run.run_id, 1000, "deleting")
    catalog.checkpoints.pin(run.run_id, 1000, pinned=False)
    assert catalog.checkpoints.mark(run.run_id, 1000, "deleting").state == "deleting"


def test_deletions_and_findings_are_audited(catalog, run):
    record(catalog, run, 1000)
    catalog.checkpoints.mark(run.run_id, 1000, "committed")
    catalog.checkpoints.mark(run.run_id, 1000, "deleting", detail="keep-last-3")
    catalog.checkpoints.mark(run.run_id, 1000, "pruned")
    actions = [(a.action, a.tick, a.detail) for a in catalog.audit.list(run.run_id)]
    assert actions == [
        ("checkpoint-pruned", 1000, None),
        ("checkpoint-deleting", 1000, "keep-last-3"),
    ]


def test_unknown_state_run_or_tick(catalog, run):
    with pytest.raises(BlobStateError, match="unknown checkpoint state"):
        record(catalog, run, 1, state="done")
    with pytest.raises(BlobStateError, match="no checkpoint at tick 5"):
        catalog.checkpoints.mark(run.run_id, 5, "committed")
    with pytest.raises(RunNotFoundError):
        catalog.checkpoints.record("nope", tick=1, sim_time=0.0, path="p", bytes_on_disk=1)
    with pytest.raises(RunNotFoundError):
        catalog.checkpoints.list("nope")


def test_large_ticks_and_sizes_round_trip(catalog, run):
    ck = record(catalog, run, 2**40, bytes_on_disk=2**41, sim_time=1.5e300)
    assert (ck.tick, ck.bytes_on_disk, ck.sim_time) == (2**40, 2**41, 1.5e300)
