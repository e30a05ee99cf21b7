"""Parquet export rows: recorded per chunk and field set, re-recorded in place, dumped for SQL."""

from __future__ import annotations

import pytest

from continuum.errors import RunNotFoundError


def export(cat, run_id: str, start: int, fields=("a.t",), **extra):
    values = {"start_tick": start, "end_tick": start + 100, "path": "/exp", "rows": 10, "bytes": 99}
    return cat.exports.record(run_id, fields=list(fields), **{**values, **extra})


def test_record_list_and_reexport_replaces(catalog):
    run = catalog.runs.register(world="terra", ir_hash="cd" * 32, seed=3)
    first = export(catalog, run.run_id, 100)
    export(catalog, run.run_id, 0)
    export(catalog, run.run_id, 0, fields=("b.v",))
    again = export(catalog, run.run_id, 100, rows=20)
    listed = catalog.exports.list(run.run_id)
    assert [(e.start_tick, e.fields) for e in listed] == [
        (0, ("a.t",)),
        (0, ("b.v",)),
        (100, ("a.t",)),
    ]
    assert again.export_id == first.export_id and listed[-1].rows == 20
    assert listed[0].path == "/exp" and listed[0].created_at.tzinfo is not None
    assert len(catalog.exports.list()) == 3


def test_unknown_run_is_refused(catalog):
    with pytest.raises(RunNotFoundError):
        export(catalog, "nope", 0)
    with pytest.raises(RunNotFoundError):
        catalog.exports.list("nope")


def test_sql_tables_dump_plain_rows(catalog):
    run = catalog.runs.register(world="terra", ir_hash="cd" * 32, seed=5, params={"k": 2.5})
    export(catalog, run.run_id, 0)
    dumps = {d.name: d for d in catalog.exports.sql_tables()}
    assert set(dumps) >= {"runs", "run_params", "checkpoints", "lens_chunks", "parquet_exports"}
    runs = dumps["runs"]
    row = dict(zip(runs.columns, runs.rows[0]))
    assert row["seed"] == 5 and runs.kinds[runs.columns.index("seed")] == "int"
    assert runs.kinds[runs.columns.index("started_at")] == "time"
    params = dumps["run_params"]
    assert dict(zip(params.columns, params.rows[0]))["value_num"] == 2.5
    fields = dumps["parquet_exports"].columns.index("fields")
    assert dumps["parquet_exports"].rows[0][fields] == '["a.t"]'
