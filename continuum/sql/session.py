"""A DuckDB session over field history: Parquet views plus copies of catalog tables.

Views (built from the export roots the catalog records, plus any ``roots`` passed in):

- ``fields``: every time-major field file (tick, sim_time, sample, face, i, j, lat, lon,
  value, vx, vy, vz, run_id, field) — the view for time slices and per-tick aggregates.
  Files hold only their field's columns (``columns`` metadata); cell fields' files do
  not store face/i/j/lat/lon: the view derives them from ``sample`` and the resolution in
  the files' key-value metadata, and DuckDB computes them only for queries that read
  them. One ``read_parquet`` per file layout (resolution, stored columns), ``UNION ALL``,
  NULL for what a layout lacks. ``sim_time`` is joined in from the ``ticks`` table on
  (run_id, tick), through a ``GROUP BY run_id, tick`` that makes the key unique, so
  DuckDB's join elimination drops the join from aggregates that do not read
  ``sim_time`` (a per-tick mean scans the field files alone). Plain selections keep it
  (DuckDB 2.0 elides joins only under aggregates); a time slice's tick filter is pushed
  into both sides, so the join there is a one-row build (~1-2 ms, measured);
- ``fields_by_sample``: the same rows, read from ``--layout cell`` copies where they exist
  (row groups hold a few samples across all ticks, so a filter on ``sample`` or position
  reads one row group per file) and from the time-major files elsewhere;
- ``signals``: (tick, sim_time, signal, value, vx, vy, vz, run_id).

Tables: ``ticks`` (run_id, tick, sim_time), one row per exported frame, read from the
chunks' ``ticks`` files when the session opens — a table, not a view over the files, so
each query's join reads no file and plans in a fraction of the time (~4 ms less per
query than ``read_parquet`` of the files, measured).

Tables, copied from the catalog when the session opens (so a query can join field
history with seeds, scenarios, params and statuses): ``runs``, ``run_params``,
``run_tags``, ``checkpoints``, ``lens_chunks``, ``parquet_exports``. Timestamps are UTC.
The file lists are fixed when the session opens; open a new one to see newer chunks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np

from continuum import layout
from continuum.sql.columns import SCHEMA, cell_position_sql, cell_tangent_sql
from continuum.sql.errors import translate
from continuum.sql.sandbox import lock_down

if TYPE_CHECKING:
    from continuum.catalog import Catalog
    from continuum.catalog.exports import TableDump

SIGNAL_SCHEMA = {"tick": "BIGINT", "sim_time": "DOUBLE", "signal": "VARCHAR"} | {
    k: "DOUBLE" for k in ("value", "vx", "vy", "vz")
}
_TYPES = {"int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN", "time": "TIMESTAMP"}


def _listed(files: list[Path]) -> str:
    return "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"


def _read(files: list[Path], schema: dict[str, str], partitions: tuple[str, ...]) -> str:
    if not files:
        cols = [f"NULL::{t} AS {n}" for n, t in schema.items()]
        cols += [f"NULL::VARCHAR AS {p}" for p in partitions]
        return f"SELECT {', '.join(cols)} WHERE false"
    # No union_by_name: every file carries the full schema (absent columns written as
    # NULL), and matching columns by name per file cost ~15 % of a full scan (measured).
    return (
        f"SELECT * FROM read_parquet({_listed(files)}, hive_partitioning = true, "
        "hive_types_autocast = false)"
    )


def _file_layout(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[int | None, tuple]:
    """(resolution whose cell positions the view derives or None, the stored columns)."""
    with translate(f"reading the metadata of {path}"):
        rows = con.execute(
            "SELECT key::VARCHAR, value::VARCHAR FROM parquet_kv_metadata(?)", [str(path)]
        ).fetchall()
    meta = dict(rows)
    stored = tuple(meta["columns"].split(",")) if meta.get("columns") else tuple(SCHEMA)
    if meta.get("derived_columns") and meta.get("resolution"):
        return int(meta["resolution"]), stored
    return None, stored


def _parquet(files: list[Path]) -> str:
    return f"read_parquet({_listed(files)}, hive_partitioning = true, hive_types_autocast = false)"


#: The ``ticks`` table grouped on its key: unique, so a join on it DuckDB can elide.
SIM_TIMES = "SELECT run_id, tick, any_value(sim_time) AS sim_time FROM ticks GROUP BY run_id, tick"


def load_ticks(con: duckdb.DuckDBPyConnection, files: list[Path]) -> None:
    """The ``ticks`` table: (run_id, tick, sim_time) of every exported frame.

    Ticks of one run never repeat across its chunks (chunk tick ranges are disjoint), so
    the table has one row per (run_id, tick).
    """
    con.execute("CREATE TABLE ticks (run_id VARCHAR, tick BIGINT, sim_time DOUBLE)")
    if files:
        con.execute(f"INSERT INTO ticks SELECT run_id, tick, sim_time FROM {_parquet(files)}")


def _fields_view(con: duckdb.DuckDBPyConnection, files: list[Path]) -> str:
    """One SELECT per file layout (derived positions' resolution, stored columns)."""
    if not files:
        return _read(files, SCHEMA, ("run_id", "field"))
    groups: dict[tuple[int | None, tuple], list[Path]] = {}
    known: dict[Path, tuple[int | None, tuple]] = {}
    for f in files:  # one footer per run/field dir: its chunks share config and topology
        if f.parent not in known:
            known[f.parent] = _file_layout(con, f)
        groups.setdefault(known[f.parent], []).append(f)
    parts, joined = [], False
    for (n, stored), group in sorted(groups.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1])):
        derived = {} if n is None else cell_position_sql(n)
        joined |= "sim_time" not in stored  # files since sim_time moved to the ticks files
        items = [
            c if c in stored else f"{derived[c]} AS {c}" if c in derived else f"NULL::{t} AS {c}"
            for c, t in SCHEMA.items()
        ]
        source = _parquet(group)
        if n is not None:
            source = f"(SELECT *, {cell_tangent_sql(n)} FROM {source})"
        parts.append(f"SELECT {', '.join(items)}, run_id, field FROM {source}")
    union = " UNION ALL ".join(parts)
    if not joined:
        return union
    # One join over the union, not one per layout: DuckDB shares repeated subqueries as a
    # CTE, and a CTE hides the join from join elimination. coalesce keeps the sim_time
    # that files written before the ticks files store themselves.
    cols = [
        "coalesce(_t.sim_time, _u.sim_time) AS sim_time" if c == "sim_time" else f"_u.{c}"
        for c in SCHEMA
    ]
    return (
        f"SELECT {', '.join(cols)}, _u.run_id, _u.field FROM ({union}) AS _u "
        f"LEFT JOIN ({SIM_TIMES}) AS _t ON _t.run_id = _u.run_id AND _t.tick = _u.tick"
    )


def _files(roots: Sequence[Path]) -> tuple[list[Path], list[Path], list[Path], list[Path]]:
    """(time-major field files, by-sample view files, signal files, ticks files)."""
    by_time, by_sample, signals, ticks = [], [], [], []
    for root in roots:
        timed = sorted(root.glob(layout.FIELD_PART_GLOB))
        copies = sorted(root.glob(layout.BY_SAMPLE_PART_GLOB))
        have = {p.relative_to(layout.child(root, layout.BY_SAMPLE)) for p in copies}
        by_time += timed
        by_sample += copies + [p for p in timed if p.relative_to(root) not in have]
        signals += sorted(root.glob(layout.SIGNALS_PART_GLOB))
        ticks += sorted(root.glob(layout.TICKS_PART_GLOB))
    return by_time, by_sample, signals, ticks


def _column(values: list[Any], kind: str) -> np.ndarray:
    if kind == "time":  # naive UTC: DuckDB TIMESTAMP, no time-zone library needed
        values = [v.astimezone(dt.UTC).replace(tzinfo=None) if v else None for v in values]
    return np.array(values, dtype=object)


def load_tables(con: duckdb.DuckDBPyConnection, dumps: Sequence[TableDump]) -> None:
    """Create one DuckDB table per catalog table dump and fill it in one insert."""
    for d in dumps:
        cols = ", ".join(f'"{c}" {_TYPES.get(k, "VARCHAR")}' for c, k in zip(d.columns, d.kinds))
        con.execute(f"CREATE OR REPLACE TABLE {d.name} ({cols})")
        if not d.rows:
            continue
        data = {
            c: _column([r[n] for r in d.rows], k)
            for n, (c, k) in enumerate(zip(d.columns, d.kinds))
        }
        con.register("_catalog_rows", data)
        con.execute(f"INSERT INTO {d.name} SELECT * FROM _catalog_rows")
        con.unregister("_catalog_rows")


def export_roots(catalog: Catalog) -> list[Path]:
    """Distinct export roots the catalog records that still exist."""
    paths = {Path(e.path) for e in catalog.exports.list()}
    return sorted(p for p in paths if p.is_dir())


def open_session(
    dumps: Sequence[TableDump], roots: Sequence[Path], *, sandbox: bool = True
) -> duckdb.DuckDBPyConnection:
    """A connection with the views and tables above; sandboxed to ``roots`` if asked."""
    roots = sorted({Path(r).resolve() for r in roots})
    by_time, by_sample, signals, ticks = _files(roots)
    con = duckdb.connect()
    with translate("opening the SQL session"):
        con.execute("SET parquet_metadata_cache = true")  # footers parsed once per session
        load_tables(con, dumps)
        load_ticks(con, ticks)
        con.execute(f"CREATE VIEW fields AS {_fields_view(con, by_time)}")
        con.execute(f"CREATE VIEW fields_by_sample AS {_fields_view(con, by_sample)}")
        con.execute(f"CREATE VIEW signals AS {_read(signals, SIGNAL_SCHEMA, ('run_id',))}")
        if sandbox:
            lock_down(con, roots)
    return con


def connect(
    catalog: str | None = None, *, roots: Sequence[Path | str] = (), sandbox: bool = True
) -> duckdb.DuckDBPyConnection:
    """DuckDB over every export the catalog at ``catalog`` knows (plus ``roots``).

    ``sandbox`` (default): files readable only under the export roots, configuration
    locked — what ``continuum lens sql`` runs user SQL in. Pass ``sandbox=False`` to
    keep DuckDB's full file access (e.g. to ``COPY`` results out from Python).

    Example::

        con = continuum.sql.connect()
        con.sql("SELECT seed, avg(value) FROM fields JOIN runs USING (run_id) GROUP BY seed")
    """
    from continuum.catalog import Catalog

    with Catalog(catalog) as cat:
        dumps = cat.exports.sql_tables()
        known = export_roots(cat)
    return open_session(dumps, [*known, *(Path(r) for r in roots)], sandbox=sandbox)
