"""The ``lens_copies`` table: a run's by-sample copies, recorded by a capture, dropped
with the copies, gone with the run (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from continuum import layout, maintenance
from continuum.catalog import Catalog
from continuum.catalog.db import create_catalog_engine, schema
from continuum.errors import CatalogError, RunNotFoundError
from tests.lens.helpers import run, run_dir


def test_record_replace_forget_and_list(catalog):
    rid = catalog.runs.register(world="terra", ir_hash="ab" * 8, seed=1).run_id
    copies = catalog.lens_copies
    copies.record(rid, start_tick=0, end_tick=16, frames=16, path="/a", bytes=10, checksum="c1")
    grown = copies.record(
        rid, start_tick=0, end_tick=26, frames=26, path="/b", bytes=20, checksum="c2"
    )
    copies.record(rid, start_tick=26, end_tick=30, frames=4, path="/c", bytes=5, checksum="c3")
    assert [(c.start_tick, c.end_tick, c.path) for c in copies.list(rid)] == [
        (0, 26, "/b"),
        (26, 30, "/c"),
    ]
    assert grown.created_at.tzinfo is not None
    assert copies.forget(rid, ["/c", "/elsewhere"]) == 1
    assert [c.path for c in copies.list(rid)] == ["/b"]
    with pytest.raises(CatalogError, match=r"\[start, end\)"):
        copies.record(rid, start_tick=5, end_tick=5, frames=0, path="/d", bytes=0, checksum="c")
    with pytest.raises(RunNotFoundError):
        copies.list("19990101_000000_00000000")


def test_a_capture_records_its_copies_and_rm_removes_them(catalog, tmp_path):
    summary = run(steps=25, lens_dir=tmp_path / "lens", lens_chunk_size=10, catalog=catalog.url)
    lens = run_dir(summary)
    on_disk = sorted(p for p in lens.iterdir() if layout.parse_lens_by_sample_name(p.name))
    rows = catalog.lens_copies.list(summary["run_id"])
    assert [Path(r.path) for r in rows] == [p.resolve() for p in on_disk] and len(rows) == 1
    assert rows[0].bytes == on_disk[0].stat().st_size and rows[0].frames == 26
    maintenance.remove_run(catalog, summary["run_id"], force=True)
    assert not lens.exists()  # the copies went with the chunks, and then the directory


def test_revision_0008_adds_and_removes_the_table(catalog_url):
    with Catalog(catalog_url) as cat:
        rid = cat.runs.register(world="terra", ir_hash="ab" * 8, seed=1).run_id
        cat.lens_copies.record(
            rid, start_tick=0, end_tick=2, frames=2, path="/p", bytes=1, checksum="c"
        )
    engine = create_catalog_engine(catalog_url)
    try:
        assert schema.downgrade(engine, "test", "0007") == (schema.HEAD, "0007")
        with engine.connect() as conn:
            tables = set(conn.dialect.get_table_names(conn))
        assert "lens_copies" not in tables and "lens_gaps" in tables
        assert schema.upgrade(engine, "test") == ("0007", schema.HEAD)
    finally:
        engine.dispose()
    with Catalog(catalog_url) as cat:
        assert cat.lens_copies.list(rid) == []


def test_lens_sql_joins_the_copies(catalog, tmp_path):
    from continuum.sql import connect

    summary = run(steps=25, lens_dir=tmp_path / "lens", lens_chunk_size=10, catalog=catalog.url)
    with connect(catalog.url, roots=[tmp_path]) as session:
        rows = session.execute(
            "SELECT run_id, start_tick, end_tick, frames FROM lens_copies JOIN runs USING (run_id)"
        ).fetchall()
    assert rows == [(summary["run_id"], 0, 26, 26)]
