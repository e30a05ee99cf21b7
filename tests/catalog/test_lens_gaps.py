"""Lens gap rows: recorded idempotently and merged, derived by scan, checked by verify."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import text

from continuum import maintenance
from continuum.catalog import Catalog
from continuum.catalog.db import create_catalog_engine, schema
from continuum.catalog.lens_gaps import merge_gap
from continuum.errors import CatalogError, RunNotFoundError
from tests.lens.gap_dirs import GAPPY, RUN_ID, gappy_run


def rows(cat: Catalog, run_id: str) -> list[tuple[int, int, str]]:
    return [(g.start_tick, g.end_tick, g.cause) for g in cat.lens_gaps.list(run_id)]


def test_recording_is_idempotent_and_merges(catalog):
    run = catalog.runs.register(world="terra", ir_hash="ab" * 8, seed=1)
    rid = run.run_id
    catalog.record_lens_gap(rid, 476, 480, "dropped")
    catalog.record_lens_gap(rid, 476, 480, "dropped")
    assert rows(catalog, rid) == [(476, 480, "dropped")]
    catalog.record_lens_gap(rid, 478, 482, "dropped")  # overlapping: one gap
    catalog.record_lens_gap(rid, 1344, 1345, "dropped")
    assert rows(catalog, rid) == [(476, 482, "dropped"), (1344, 1345, "dropped")]
    # a scan's "missing" never takes ticks a writer's cause has; a writer's cause takes
    # ticks a scan called missing; between writer causes the first keeps them
    catalog.record_lens_gap(rid, 470, 490, "missing")
    catalog.record_lens_gap(rid, 485, 495, "lost")
    catalog.record_lens_gap(rid, 480, 486, "failed")
    assert rows(catalog, rid) == [
        (470, 476, "missing"),
        (476, 482, "dropped"),
        (482, 485, "failed"),
        (485, 495, "lost"),
        (1344, 1345, "dropped"),
    ]
    before = rows(catalog, rid)
    for start, end, cause in before:  # everything again, in any order: nothing changes
        catalog.record_lens_gap(rid, start, end, cause)
    assert rows(catalog, rid) == before


def test_bad_gaps_are_refused_in_words(catalog):
    rid = catalog.runs.register(world="terra", ir_hash="ab" * 8, seed=1).run_id
    with pytest.raises(CatalogError, match="cause is one of dropped, failed, lost, missing"):
        catalog.record_lens_gap(rid, 1, 2, "gone")
    with pytest.raises(CatalogError, match=r"0 <= start < end; got \[5, 5\)"):
        catalog.record_lens_gap(rid, 5, 5, "lost")
    with pytest.raises(RunNotFoundError, match="no run 'nope'"):
        catalog.record_lens_gap("nope", 1, 2, "lost")
    assert rows(catalog, rid) == []


def test_gap_rows_go_with_their_run(catalog):
    rid = catalog.runs.register(world="terra", ir_hash="ab" * 8, seed=1).run_id
    catalog.record_lens_gap(rid, 1, 2, "lost")
    catalog.runs.finish(rid, status="completed", last_tick=10)
    catalog.runs.delete(rid, [])
    with catalog.db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM lens_gaps")).scalar() == 0


def test_scan_derives_the_gaps_of_a_lens_dir(tmp_path, catalog):
    """A run killed before any catalog write: its lens dir alone gives its gaps."""
    gappy_run(tmp_path / "lens")
    report = maintenance.scan(catalog, tmp_path / "lens")
    assert [r.action for r in report.lens_runs] == ["added"]
    assert rows(catalog, RUN_ID) == [g[:3] for g in GAPPY]
    chunks = catalog.search.show(RUN_ID).lens_chunks
    assert [(c.start_tick, c.end_tick) for c in chunks] == [(0, 10), (10, 20), (20, 26), (30, 40)]
    assert any("superseded" in w for w in report.warnings)
    maintenance.scan(catalog, tmp_path / "lens")
    assert rows(catalog, RUN_ID) == [g[:3] for g in GAPPY]


def test_verify_reports_and_repairs_gaps_the_catalog_lacks(tmp_path, catalog):
    gappy_run(tmp_path / "lens")
    maintenance.scan(catalog, tmp_path / "lens")
    with catalog.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM lens_gaps WHERE start_tick >= 26"))
    report = maintenance.verify(catalog)
    found = [p for p in report.problems if p.kind == "unrecorded-gap"]
    assert [p.detail for p in found] == [
        "lens gap [26, 30) (missing) is not in the catalog",
        "lens gap [33, 35) (lost) is not in the catalog",
        "lens gap [40, 42) (dropped) is not in the catalog",
    ]
    assert not report.clean
    repaired = maintenance.verify(catalog, repair=True)
    assert [p.repaired for p in repaired.problems if p.kind == "unrecorded-gap"] == ["recorded"] * 3
    assert rows(catalog, RUN_ID) == [g[:3] for g in GAPPY]
    assert not [p for p in maintenance.verify(catalog).problems if p.kind == "unrecorded-gap"]


def test_revision_0006_adds_and_removes_the_table(catalog_url):
    with Catalog(catalog_url) as cat:
        rid = cat.runs.register(world="terra", ir_hash="ab" * 8, seed=1).run_id
        cat.record_lens_gap(rid, 1, 2, "lost")
    engine = create_catalog_engine(catalog_url)
    try:
        assert schema.downgrade(engine, "test", "0005") == (schema.HEAD, "0005")
        with engine.connect() as conn:
            tables = set(conn.dialect.get_table_names(conn))
        assert "lens_gaps" not in tables and "lens_chunks" in tables
        assert schema.upgrade(engine, "test") == ("0005", schema.HEAD)
    finally:
        engine.dispose()
    with Catalog(catalog_url) as cat:
        assert rows(cat, rid) == []  # a new table: the gaps come back by scanning
        cat.record_lens_gap(rid, 1, 2, "lost")
        assert rows(cat, rid) == [(1, 2, "lost")]


def test_recording_one_gap_at_a_time_is_merging_them_all(catalog):
    """Each record rewrites only the rows it touches: the result is the merge of all."""
    rng = random.Random(13)
    rid = catalog.runs.register(world="terra", ir_hash="ab" * 8, seed=1).run_id
    expected: list[tuple[int, int, str]] = []
    for _ in range(60):
        start = rng.randrange(0, 200)
        gap = (start, start + rng.randrange(1, 12), rng.choice(["dropped", "lost", "missing"]))
        expected = merge_gap(expected, gap)
        touched = catalog.record_lens_gap(rid, *gap)
        assert all(g.end_tick >= gap[0] and g.start_tick <= gap[1] for g in touched)
    assert rows(catalog, rid) == expected
