"""``runs.control_path`` (revision 0009): recorded while a run is live, cleared at its end."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from continuum.catalog import Catalog
from continuum.catalog.db import create_catalog_engine, schema
from continuum.errors import RunNotFoundError

SOCK = "/run/user/1000/continuum/r.sock"


def live_run(cat: Catalog) -> str:
    run_id = cat.runs.register(world="terra", ir_hash="ab" * 8, seed=1).run_id
    cat.runs.set_control_path(run_id, SOCK)
    return run_id


@pytest.mark.parametrize("status", ["completed", "stopped", "failed"])
def test_the_path_is_shown_while_live_and_cleared_by_any_ending(catalog, status):
    run_id = live_run(catalog)
    assert catalog.runs.get(run_id).control_path == SOCK
    assert catalog.search.show(run_id).run.to_dict()["control_path"] == SOCK
    assert [r.control_path for r in catalog.search.list().runs] == [SOCK]
    catalog.runs.finish(run_id, status=status, last_tick=3)
    assert catalog.runs.get(run_id).control_path is None


def test_a_resumed_segment_starts_without_the_dead_process_path(catalog):
    run_id = live_run(catalog)
    catalog.runs.start_segment(run_id, start_tick=0)
    assert catalog.runs.get(run_id).control_path is None


def test_clearing_only_if_still_that_path(catalog):
    run_id = live_run(catalog)
    catalog.runs.set_control_path(run_id, None, only_if="/elsewhere.sock")
    assert catalog.runs.get(run_id).control_path == SOCK  # a newer socket is not cleared
    catalog.runs.set_control_path(run_id, None, only_if=SOCK)
    assert catalog.runs.get(run_id).control_path is None
    with pytest.raises(RunNotFoundError):
        catalog.runs.set_control_path("20990101_000000_deadbeef", SOCK)


def test_revision_0009_adds_and_removes_the_column(catalog_url):
    with Catalog(catalog_url) as cat:
        run_id = live_run(cat)
    engine = create_catalog_engine(catalog_url)
    try:
        assert schema.downgrade(engine, "test", "0008") == (schema.HEAD, "0008")
        with engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("runs")}
        assert "control_path" not in columns and "lens_dir" in columns
        assert schema.upgrade(engine, "test") == ("0008", schema.HEAD)
    finally:
        engine.dispose()
    with Catalog(catalog_url) as cat:
        run = cat.runs.get(run_id)  # the run kept; not live after the round trip
        assert run.control_path is None and run.status == "running"
