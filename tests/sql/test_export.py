"""Parquet rows equal the lens frames exactly; re-export replaces; files describe themselves."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from continuum.catalog import Catalog
from continuum.lens import LensStore
from continuum.sql import connect, export_run
from continuum.sql.export import field_dir

from .conftest import Runs


def frames(runs: Runs, seed: int, field: str):
    with LensStore(runs.lens(seed)) as store:
        data = store.load([field]).to_chunk()
    series = data.fields[field]
    return data.ticks[series.rows], np.asarray(series.values), series.config


@pytest.mark.parametrize("view", ["fields", "fields_by_sample"])
@pytest.mark.parametrize(
    "field", ["atmosphere.temperature", "surface.elevation", "plates.velocity"]
)
def test_rows_equal_lens_frames(runs: Runs, field: str, view: str):
    ticks, values, config = frames(runs, 1, field)
    con = connect(runs.url)
    cols = "vx, vy, vz" if config.kind == "vec3" else "value"
    got = con.execute(
        f"SELECT tick, sample, {cols} FROM {view} WHERE run_id = ? AND field = ? "
        "ORDER BY tick, sample",
        [runs.ids[1], field],
    ).fetchnumpy()
    assert len(got["tick"]) == len(ticks) * config.samples  # frames x samples
    assert np.array_equal(got["tick"], np.repeat(ticks, config.samples))
    assert np.array_equal(got["sample"], np.tile(np.arange(config.samples), len(ticks)))
    expected = values.reshape(len(ticks) * config.samples, -1)
    found = np.stack([got[c] for c in cols.split(", ")], axis=1)
    assert np.array_equal(found, expected)  # bit-exact float64


def test_time_major_files_are_sorted_by_tick_then_sample(runs: Runs):
    path = next(field_dir(runs.exports, runs.ids[1], "surface.elevation").glob("*.parquet"))
    got = duckdb.execute(f"SELECT tick, sample FROM '{path}'").fetchnumpy()
    order = np.lexsort((got["sample"], got["tick"]))
    assert np.array_equal(order, np.arange(len(order)))


def test_cells_have_face_i_j_and_metadata(runs: Runs):
    """Cell files store no positions; the views derive them exactly from sample."""
    path = next(field_dir(runs.exports, runs.ids[1], "surface.elevation").glob("*.parquet"))
    stored = [r[0] for r in duckdb.execute(f"DESCRIBE SELECT * FROM '{path}'").fetchall()]
    assert not {"face", "i", "j", "lat", "lon"} & set(stored)
    con = connect(runs.url)
    n = 32
    for view in ("fields", "fields_by_sample"):
        row = con.execute(
            f"SELECT DISTINCT sample, face, i, j FROM {view} WHERE run_id = ? "
            "AND field = 'surface.elevation' AND sample = 5000",
            [runs.ids[1]],
        ).fetchall()
        assert row == [(5000, 5000 // (n * n), 5000 // n % n, 5000 % n)]
    with LensStore(runs.lens(1)) as store:
        topo = store.topology
    got = con.execute(
        "SELECT sample, lat, lon FROM fields WHERE run_id = ? AND field = 'surface.elevation' "
        "AND tick = 0 ORDER BY sample",
        [runs.ids[1]],
    ).fetchnumpy()
    np.testing.assert_allclose(got["lat"], np.degrees(topo.lat), rtol=0, atol=1e-11)
    np.testing.assert_allclose(got["lon"], np.degrees(topo.lon), rtol=0, atol=1e-11)
    meta = dict(duckdb.execute(f"SELECT key, value FROM parquet_kv_metadata('{path}')").fetchall())
    assert meta[b"resolution"] == b"32" and meta[b"face_order"] == b"+X,-X,+Y,-Y,+Z,-Z"
    assert b"vector_frame" in meta and meta[b"layout"] == b"time"
    assert meta[b"positions"] == b"cells" and meta[b"derived_columns"] == b"face,i,j,lat,lon"


def test_reexport_does_not_duplicate(runs: Runs):
    before = connect(runs.url).execute("SELECT count(*) FROM fields").fetchone()
    with Catalog(runs.url) as cat:
        n_exports = len(cat.exports.list())
        export_run(runs.lens(2), runs.exports, catalog=cat)
        assert len(cat.exports.list()) == n_exports
    assert connect(runs.url).execute("SELECT count(*) FROM fields").fetchone() == before
    assert not list(runs.exports.rglob("*.tmp"))


def test_signals_table(runs: Runs):
    with LensStore(runs.lens(1)) as store:
        data = store.load().to_chunk()
    con = connect(runs.url)
    for name, values in data.signals.items():
        got = con.execute(
            "SELECT value, vx, vy, vz FROM signals WHERE run_id = ? AND signal = ? ORDER BY tick",
            [runs.ids[1], name],
        ).fetchall()
        keep = ~np.isnan(values).all(axis=1)
        want = values[keep]
        cols = [0] if values.shape[1] == 1 else [1, 2, 3]
        assert np.array_equal(np.array([[r[c] for c in cols] for r in got]), want)


@pytest.mark.parametrize("view", ["fields", "fields_by_sample"])
def test_sim_time_joined_from_ticks_files(runs: Runs, view: str):
    """Field files store no sim_time; the views join it from the chunks' ticks files."""
    path = next(field_dir(runs.exports, runs.ids[1], "surface.elevation").glob("*.parquet"))
    stored = [r[0] for r in duckdb.execute(f"DESCRIBE SELECT * FROM '{path}'").fetchall()]
    assert "sim_time" not in stored
    with LensStore(runs.lens(1)) as store:
        data = store.load(["surface.elevation"]).to_chunk()
    con = connect(runs.url)
    got = con.execute(
        f"SELECT tick, sim_time FROM {view} WHERE run_id = ? AND field = 'surface.elevation' "
        "AND sample = 7 ORDER BY tick",
        [runs.ids[1]],
    ).fetchnumpy()
    rows = data.fields["surface.elevation"].rows
    assert np.array_equal(got["tick"], data.ticks[rows])
    assert np.array_equal(got["sim_time"], data.sim_times[rows])  # bit-exact
    # an aggregate that does not read sim_time scans the field files alone
    plan = con.execute(
        f"EXPLAIN SELECT tick, avg(value) FROM {view} WHERE field = 'surface.elevation' "
        "GROUP BY tick"
    ).fetchall()[0][1]
    assert "JOIN" not in plan.upper()
