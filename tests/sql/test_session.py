"""The session's views: rows equal the lens frames exactly; signals; sim_time joined in."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest

from continuum import layout
from continuum.lens import LensStore
from continuum.sql import open_session

from .conftest import Runs


@pytest.mark.parametrize("view", ["fields", "fields_by_sample"])
@pytest.mark.parametrize(
    "field", ["atmosphere.temperature", "surface.elevation", "plates.velocity"]
)
def test_rows_equal_lens_frames(runs: Runs, field: str, view: str):
    ticks, values, config = runs.frames(1, field)
    con = runs.session()
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


def test_signals_table(runs: Runs):
    with LensStore(runs.lens(1)) as store:
        data = store.load().to_chunk()
    con = runs.session()
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
    path = runs.part(1, "surface.elevation")
    stored = [r[0] for r in duckdb.execute(f"DESCRIBE SELECT * FROM '{path}'").fetchall()]
    assert "sim_time" not in stored
    with LensStore(runs.lens(1)) as store:
        data = store.load(["surface.elevation"]).to_chunk()
    con = runs.session()
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


def test_write_temporaries_are_never_read(runs: Runs, tmp_path: Path):
    """A crash mid-export leaves a temporary beside the parts: the views' globs skip it."""
    part = runs.part(1, "surface.elevation")
    partition = layout.field_partition(tmp_path, runs.ids[1], "surface.elevation")
    partition.mkdir(parents=True)
    shutil.copy(part, partition / part.name)
    for stray in (layout.temp_name(part.name), f".{part.name}.0123abcd.tmp"):  # new, legacy
        assert layout.is_part_name(stray)
        (partition / stray).write_bytes(b"half a parquet file")
    con = open_session([], [tmp_path])
    rows = duckdb.execute(f"SELECT count(*) FROM '{part}'").fetchone()
    assert con.execute("SELECT count(*) FROM fields").fetchone() == rows
