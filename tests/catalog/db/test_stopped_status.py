"""Revision 0007: ``stopped`` is a run and segment status; no row of any run is lost on the way.

On SQLite the check is widened by editing the table's recorded SQL (see the revision):
a table copy would have dropped ``runs`` with foreign keys on and cascaded to every
checkpoint. These tests hold a run with segments, checkpoints, tags, params and a lens
chunk across the upgrade and the downgrade, on both dialects.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from continuum.catalog import Catalog, SearchQuery
from continuum.catalog.db import schema
from continuum.catalog.db.engine import create_catalog_engine

COUNTS = ("runs", "run_segments", "checkpoints", "run_tags", "run_params", "lens_chunks")


def _populated(url: str) -> str:
    with Catalog(url) as cat:
        run = cat.runs.register(
            world="w", ir_hash="ab", seed=1, tags={"owner": "ana"}, params={"k": 4}
        )
        for tick in (10, 20):
            cat.checkpoints.record(
                run.run_id, tick=tick, sim_time=tick, path=f"c{tick}", bytes_on_disk=1
            )
        cat.lens_chunks.record(
            run.run_id,
            start_tick=0,
            end_tick=20,
            frames=20,
            fields=["a.b"],
            path="/l/0",
            bytes=1,
            checksum=None,
        )
        cat.runs.finish(run.run_id, status="completed", last_tick=20)
        return run.run_id


def _counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in COUNTS}


def test_0007_widens_both_checks_and_keeps_every_row(catalog_url):
    run_id = _populated(catalog_url)
    engine = create_catalog_engine(catalog_url)
    try:
        before = _counts(engine)
        assert schema.downgrade(engine, "test", "0006") == (schema.HEAD, "0006")
        with pytest.raises(IntegrityError), engine.begin() as conn:  # 0006 refuses it
            conn.execute(text("UPDATE runs SET status = 'stopped'"))
        assert schema.upgrade(engine, "test", "0007") == ("0006", "0007")
        assert _counts(engine) == before
        for table in ("runs", "run_segments"):
            with engine.begin() as conn:
                conn.execute(text(f"UPDATE {table} SET status = 'stopped'"))
            with pytest.raises(IntegrityError), engine.begin() as conn:
                conn.execute(text(f"UPDATE {table} SET status = 'bogus'"))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT status FROM runs")).scalar_one() == "stopped"
    finally:
        engine.dispose()
    with Catalog(catalog_url) as cat:
        assert [r.run_id for r in cat.search.find(SearchQuery(status="stopped")).runs] == [run_id]
        assert [r.run_id for r in cat.search.list(status="stopped").runs] == [run_id]
        assert cat.search.list(status="completed").runs == ()


def test_0007_downgrade_records_stopped_runs_as_failed(catalog_url):
    run_id = _populated(catalog_url)
    with Catalog(catalog_url) as cat:
        cat.runs.start_segment(run_id, start_tick=20)
        cat.runs.finish(run_id, status="stopped", last_tick=25)
    engine = create_catalog_engine(catalog_url)
    try:
        before = _counts(engine)
        assert schema.downgrade(engine, "test", "0006") == (schema.HEAD, "0006")
        assert _counts(engine) == before
        with engine.connect() as conn:
            assert conn.execute(text("SELECT status FROM runs")).scalar_one() == "failed"
            segs = conn.execute(text("SELECT status FROM run_segments ORDER BY ordinal"))
            assert segs.scalars().all() == ["completed", "failed"]
        assert schema.upgrade(engine, "test") == ("0006", schema.HEAD)
    finally:
        engine.dispose()


def test_a_stopped_run_is_never_reaped_as_crashed(catalog_url):
    """Liveness judges running runs only: a stopped one keeps its status and its range
    however old its heartbeat and whether or not its process is gone."""
    run_id = _populated(catalog_url)
    with Catalog(catalog_url, stale_after=timedelta(0)) as cat:
        cat.runs.start_segment(run_id, start_tick=20, pid=2**22 + 12345)  # no such process
        cat.runs.finish(run_id, status="stopped", last_tick=27)
        assert cat.liveness.mark_stale_crashed(timedelta(0)) == []
        detail = cat.search.show(run_id)
        assert detail.run.status == "stopped" and detail.run.last_tick == 27
        assert [(s.status, s.end_tick) for s in detail.segments] == [
            ("completed", 20),
            ("stopped", 27),
        ]
        assert cat.runs.settle_ticks(run_id).last_tick == 27  # settled like a finished one
