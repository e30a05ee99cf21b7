"""Lens chunk rows: recorded by path, listed by tick range, shown with the run."""

from __future__ import annotations

import dataclasses

import pytest

from continuum.catalog import Catalog, LensChunkRecord
from continuum.errors import BlobStateError, RunNotFoundError


def chunk(cat: Catalog, run_id: str, start: int, **extra) -> LensChunkRecord:
    values = {
        "start_tick": start,
        "end_tick": start + 100,
        "frames": 100,
        "fields": ["surface.elevation", "atmosphere.temperature"],
        "path": f"/lens/{run_id}/lens_snapshot_{start:010d}-{start + 100:010d}.lens",
        "bytes": 1234,
        "checksum": "ab" * 16,
        **extra,
    }
    return cat.lens_chunks.record(run_id, **values)


def test_record_and_list_lens_chunks(catalog):
    run = catalog.runs.register(world="terra", ir_hash="cd" * 32, seed=1, lens_dir="/lens/x")
    later, first = chunk(catalog, run.run_id, 100), chunk(catalog, run.run_id, 0)
    assert first.fields == ("surface.elevation", "atmosphere.temperature")
    assert first.state == "committed" and first.created_at.tzinfo is not None
    assert [c.start_tick for c in catalog.lens_chunks.list(run.run_id)] == [0, 100]

    rewritten = chunk(catalog, run.run_id, 100, bytes=999, frames=50, state="pending")
    assert rewritten.chunk_id == later.chunk_id
    listed = catalog.lens_chunks.list(run.run_id)
    assert len(listed) == 2 and (listed[1].bytes, listed[1].frames) == (999, 50)
    assert listed[1] == rewritten
    with pytest.raises(dataclasses.FrozenInstanceError):
        listed[0].bytes = 1  # type: ignore[misc]


def test_lens_chunk_paths_under_lens_dir_are_stored_relative(catalog):
    run = catalog.runs.register(world="terra", ir_hash="cd" * 32, seed=1, lens_dir="/lens/r1")
    rec = chunk(catalog, run.run_id, 0, path="/lens/r1/lens_snapshot_full.lens")
    assert rec.path == "lens_snapshot_full.lens"


def test_lens_chunk_errors_are_one_line(catalog):
    with pytest.raises(RunNotFoundError, match="no run 'nope'"):
        chunk(catalog, "nope", 0)
    run = catalog.runs.register(world="terra", ir_hash="cd" * 32, seed=1)
    with pytest.raises(BlobStateError, match="unknown checkpoint state"):
        chunk(catalog, run.run_id, 0, state="gone")
    with pytest.raises(Exception, match="start_tick <= end_tick"):
        chunk(catalog, run.run_id, 10, end_tick=5)
