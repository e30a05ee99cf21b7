"""Units in SQL: Parquet key-value metadata (read back by DuckDB) and the session's tables."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from continuum import layout
from continuum.lens.format import ChunkFile, write_chunk
from continuum.sql import connect, export_chunk, run_query

from .conftest import Runs
from .test_readme_queries import QUERIES


def kv(path: Path) -> dict[str, str]:
    rows = duckdb.execute("SELECT key, value FROM parquet_kv_metadata(?)", [str(path)]).fetchall()
    return {bytes(k).decode(): bytes(v).decode() for k, v in rows}


def test_parquet_key_value_metadata_carries_the_units(runs: Runs):
    assert kv(runs.part(1, "atmosphere.temperature"))["units"] == "K"
    meta = kv(runs.part(1, "surface.elevation"))
    assert (meta["units"], meta["time_units"]) == ("m", "yr")
    run = layout.run_partition(runs.exports, runs.ids[1])
    signals = kv(next((run / layout.SIGNALS).glob("*.parquet")))
    assert json.loads(signals["signal_units"]) == {
        "core.dipole": "1",
        "core.temp": "K",
        "impacts.flux": "K",
        "mantle.temp": "K",
    }
    assert kv(next((run / layout.TICKS).glob("*.parquet")))["time_units"] == "yr"


def test_the_session_joins_fields_with_their_units(runs: Runs):
    with runs.session() as s:
        got = s.execute(
            "SELECT field, units, time_units, count(*) FROM fields JOIN field_units "
            "USING (run_id, field) WHERE run_id = ? GROUP BY ALL ORDER BY field",
            [runs.ids[1]],
        ).fetchall()
        assert [r[:3] for r in got] == [
            ("atmosphere.temperature", "K", "yr"),
            ("plates.velocity", "1", "yr"),
            ("surface.elevation", "m", "yr"),
        ]
        assert all(r[3] > 0 for r in got)
        assert s.execute("SELECT count(*) FROM field_units").fetchone() == (6,)  # 2 runs
        assert s.execute(
            "SELECT units FROM signal_units WHERE run_id = ? AND signal = 'core.temp'",
            [runs.ids[2]],
        ).fetchall() == [("K",)]


def test_older_or_forged_metadata_gives_null_units(runs: Runs, tmp_path):
    """Files without units (written before them) or with a unit the world's rule refuses."""
    root = tmp_path / "exp"
    run = layout.run_partition(root, runs.ids[1])
    source = layout.run_partition(runs.exports, runs.ids[1])
    shutil.copytree(source, run)
    for part in run.rglob("*.parquet"):
        meta = {k: v for k, v in kv(part).items() if "units" not in k}
        if "surface.elevation" in str(part):
            meta["units"] = "m\x1b[2J"
        kv_sql = ", ".join(f"{k}: '{v}'" for k, v in meta.items() if "'" not in v)
        tmp = part.with_suffix(".tmp")
        duckdb.execute(
            f"COPY (FROM '{part}') TO '{tmp}' (FORMAT PARQUET, KV_METADATA {{{kv_sql}}})"
        )
        tmp.replace(part)
    with connect(f"sqlite:///{tmp_path / 'none.db'}", roots=[root]) as s:
        rows = s.execute("SELECT field, units, time_units FROM field_units ORDER BY 1").fetchall()
        assert rows == [
            ("atmosphere.temperature", None, None),
            ("plates.velocity", None, None),
            ("surface.elevation", None, None),
        ]
        assert s.execute("SELECT count(*) FROM signal_units").fetchone() == (0,)
        assert s.execute("SELECT count(*) FROM fields").fetchone()[0] > 0


@pytest.mark.parametrize("table", ["field_units", "signal_units"])
def test_an_empty_session_has_empty_unit_tables(tmp_path, table):
    (tmp_path / "exp").mkdir()
    with connect(f"sqlite:///{tmp_path / 'c.db'}", roots=[tmp_path / "exp"]) as s:
        assert s.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)


def test_the_readme_units_query(runs: Runs):
    got = run_query(runs.session(), QUERIES[5]).rows
    assert [(r[0], r[1], r[3], r[5]) for r in got] == [
        (run_id, field, units, "yr")
        for run_id in sorted(runs.ids.values())
        for field, units in (("atmosphere.temperature", "K"), ("surface.elevation", "m"))
    ]
    ticks, values, _ = runs.frames(1, "surface.elevation")
    mean = next(r[2] for r in got if r[:2] == (runs.ids[1], "surface.elevation"))
    assert mean == pytest.approx(float(values.mean()), rel=1e-12)


@pytest.mark.parametrize("units", ["°C", "it's", "a}b, c: d", 'm "s"', "W m⁻²"])
def test_any_accepted_unit_round_trips_through_parquet_and_sql(runs: Runs, tmp_path, units):
    chunk_path = sorted(runs.lens(1).glob("lens_snapshot_*.lens"))[0]
    with ChunkFile(chunk_path) as chunk:
        data, ident = chunk.read_all(), chunk.header.identity
    labelled = dataclasses.replace(
        ident,
        field_units={**ident.field_units, "surface.elevation": units},
        signal_units={**ident.signal_units, "core.temp": units},
        time_units=units,
    )
    path = tmp_path / "lens" / ident.run_id / chunk_path.name
    path.parent.mkdir(parents=True)
    write_chunk(path, data, labelled)
    root = tmp_path / "exp"
    with duckdb.connect() as con:
        export_chunk(con, path, root)
    assert (
        kv(next(layout.field_partition(root, ident.run_id, "surface.elevation").glob("*")))["units"]
        == units
    )
    with connect(f"sqlite:///{tmp_path / 'c.db'}", roots=[root]) as s:
        got = s.execute(
            "SELECT units, time_units FROM field_units WHERE field = 'surface.elevation'"
        ).fetchall()
        assert got == [(units, units)]
        signal = "SELECT units FROM signal_units WHERE signal = 'core.temp'"
        assert s.execute(signal).fetchall() == [(units,)]
