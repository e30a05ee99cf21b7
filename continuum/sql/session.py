"""A DuckDB session over field history: Parquet views plus copies of catalog tables.

Views over the parts under the configured export roots (:mod:`continuum.sql.roots`: the
default root and the roots passed in; catalog rows only add directories inside them),
listed, realpath-checked and read only after the connection is locked
(:mod:`continuum.sql.sandbox`):

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

The user writes SQL on ``fields`` (or ``fields_by_sample``) and never picks a layout: each
statement is routed (:mod:`continuum.sql.routing`) — a ``sample``/position filter without
a ``tick =`` reads the sample-major copy, and a statement reading positions gets the
views ``_fields_time_cells`` / ``_fields_sample_cells``, whose cell positions come from a
per-resolution cells table joined on ``sample`` (:mod:`continuum.sql.cells`), so a
``face``/``lat`` predicate is a predicate on that small table whose sample range DuckDB
pushes into the scan — never trigonometry per row. Each layout group lists its parts as
one branch per part bounded by its named tick range (:func:`_pruned`; few parts only), so a
time slice opens only the part that holds its tick.

Tables: ``ticks`` (run_id, tick, sim_time, captured, gap_cause), one row per exported
frame (``captured`` true, ``gap_cause`` NULL), read from the chunks' ``ticks`` files when
the session opens — a table, not a view over the files, so each query's join reads no
file and plans in a fraction of the time (~4 ms less per query than ``read_parquet`` of
the files, measured) — plus one row per tick of the run's lens gaps (the catalog's
``lens_gaps``, capture ticks only: the stride is in the ticks files' metadata) that no
frame holds: ``captured`` false, ``sim_time`` NULL, ``gap_cause`` dropped, failed, lost
or missing. Why rows, not a flag on the frames around a hole: an analyst joining a
series on ``ticks`` (or counting ``WHERE NOT captured``) sees each tick the lens meant
to capture and does not hold, which a flag on its neighbours would leave to arithmetic.
Gap rows are given for runs with exported ticks only.

Tables ``field_units`` (run_id, field, units, time_units) and ``signal_units`` (run_id,
signal, units, time_units): the world's units of each exported field's ``value`` (or
``vx, vy, vz``) and signal, and of ``sim_time``, from the files' key-value metadata (one
footer per run and field, the newest part's: units are labels outside the IR hash, so a
resumed run may have corrected one, and the newest declaration wins); NULL where the
world declares none. Join them ``USING (run_id, field)`` (``USING (run_id, signal)``).
Tables rather than a column of the views: the views stay scans of the files, and a
unit is one value per field, not per row.

Views of the catalog's tables (so a query can join field history with seeds, scenarios,
params and statuses): ``runs``, ``run_params``, ``run_tags``, ``checkpoints``,
``lens_chunks``, ``lens_gaps``, ``lens_copies``, ``parquet_exports``, read where they live when a
statement names them, never copied at open (:mod:`continuum.sql.catalog_tables`): each
statement sees the catalog as committed when it runs. Timestamps are UTC.
The file lists are fixed when the session opens; open a new one to see newer chunks.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from continuum import layout
from continuum.blobs.storage import fsspec_filesystem
from continuum.sql.catalog_tables import CatalogTables, gap_filter
from continuum.sql.errors import translate
from continuum.sql.limits import DEFAULT_TIMEOUT_S, Limits
from continuum.sql.roots import Warn, configured_roots, list_files, remote_roots, search_dirs
from continuum.sql.routing import route
from continuum.sql.sandbox import Furnished, Session, private_temp_dir, sandboxed
from continuum.sql.schema import POSITIONS, SCHEMA, cell_position_sql, cell_tangent_sql

if TYPE_CHECKING:
    from continuum.catalog.exports import TableDump

SIGNAL_SCHEMA = {"tick": "BIGINT", "sim_time": "DOUBLE", "signal": "VARCHAR"} | {
    k: "DOUBLE" for k in ("value", "vx", "vy", "vz")
}
log = logging.getLogger("continuum.sql")


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


def _kv_metadata(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    """A file's key-value metadata as text. Fetched as bytes and decoded here: DuckDB's
    ``BLOB::VARCHAR`` escapes quotes and non-ASCII bytes (``\\x22``), which would garble
    JSON values and units such as ``°C``."""
    with translate(f"reading the metadata of {path}"):
        rows = con.execute("SELECT key, value FROM parquet_kv_metadata(?)", [str(path)]).fetchall()
    return {_text(k): _text(v) for k, v in rows}


def _text(raw: bytes | str) -> str:
    return raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")


def _file_layout(meta: dict[str, str]) -> tuple[int | None, tuple]:
    """(resolution whose cell positions the view derives or None, the stored columns)."""
    stored = tuple(meta["columns"].split(",")) if meta.get("columns") else tuple(SCHEMA)
    if meta.get("derived_columns") and meta.get("resolution"):
        return int(meta["resolution"]), stored
    return None, stored


def _parquet(files: list[Path]) -> str:
    return f"read_parquet({_listed(files)}, hive_partitioning = true, hive_types_autocast = false)"


#: The ``ticks`` table grouped on its key: unique, so a join on it DuckDB can elide.
SIM_TIMES = "SELECT run_id, tick, any_value(sim_time) AS sim_time FROM ticks GROUP BY run_id, tick"


def load_ticks(con: duckdb.DuckDBPyConnection, files: list[Path], gaps: bool = False) -> None:
    """The ``ticks`` table: (run_id, tick, sim_time, captured, gap_cause) of every
    exported frame and, with ``gaps`` (a ``lens_gaps`` table is loaded), of every tick of
    a lens gap no frame holds (see the module docstring).

    A tick exported twice (a window file exported after a piece it merged) is one row.
    """
    con.execute(
        "CREATE TABLE ticks (run_id VARCHAR, tick BIGINT, sim_time DOUBLE, captured BOOLEAN, "
        "gap_cause VARCHAR)"
    )
    if not files:
        return
    con.execute(
        "INSERT INTO ticks SELECT run_id, tick, any_value(sim_time), true, NULL "
        f"FROM {_parquet(files)} GROUP BY run_id, tick"
    )
    strides = _strides(con, files)
    if not gaps or not strides:
        return
    con.execute("CREATE TEMP TABLE _strides (run_id VARCHAR, stride BIGINT)")
    con.executemany("INSERT INTO _strides VALUES (?, ?)", sorted(strides.items()))
    con.execute(
        """
        INSERT INTO ticks
        SELECT g.run_id, t.tick, NULL, false, any_value(g.cause)
        FROM lens_gaps AS g JOIN _strides AS s ON s.run_id = g.run_id,
        LATERAL (
            SELECT unnest(generate_series(
                (g.start_tick + s.stride - 1) // s.stride * s.stride, g.end_tick - 1, s.stride
            )) AS tick
        ) AS t
        WHERE NOT EXISTS (
            SELECT 1 FROM ticks AS c WHERE c.run_id = g.run_id AND c.tick = t.tick
        )
        GROUP BY g.run_id, t.tick
        """
    )
    con.execute("DROP TABLE _strides")


def _strides(con: duckdb.DuckDBPyConnection, files: list[Path]) -> dict[str, int]:
    """Each exported run's capture stride: from one ticks file's metadata per run, else
    (files written before it was recorded) the smallest step between its ticks."""
    found: dict[str, int | None] = {}
    for f in files:
        run_id = layout.parse_run_partition(f.parent.parent.name)
        if run_id is None or run_id in found:
            continue
        with translate(f"reading the metadata of {f}"):
            rows = con.execute(
                "SELECT value::VARCHAR FROM parquet_kv_metadata(?) WHERE key::VARCHAR = 'stride'",
                [str(f)],
            ).fetchall()
        text = rows[0][0] if rows else ""
        found[run_id] = int(text) if text.isdigit() and int(text) >= 1 else None
    out = {r: s for r, s in found.items() if s is not None}
    unknown = [r for r, s in found.items() if s is None]
    if unknown:
        steps = con.execute(
            "SELECT run_id, min(step) FROM (SELECT run_id, tick - lag(tick) OVER "
            "(PARTITION BY run_id ORDER BY tick) AS step FROM ticks) WHERE step > 0 "
            "GROUP BY run_id"
        ).fetchall()
        out.update({r: int(s) for r, s in steps if r in unknown})
    return out


#: Above this many files in one layout group, one ``read_parquet`` of the list instead of
#: one pruned branch per file. Each branch is bound (its file's schema read) at every
#: query's planning: measured, a slice over 5 terra ``large`` parts (100 row groups each)
#: took 19 ms pruned vs 30 ms listed, but over 10 / 50 / 200 one-row-group parts 15 / 43
#: / 162 ms pruned vs 12 / 31 / 74 ms listed — pruning pays for few large parts only.
MAX_PRUNED_BRANCHES = 8


def _pruned(files: list[Path]) -> str:
    """The files as one source whose parts a tick predicate prunes before opening them.

    One branch per part, ``WHERE tick >= S AND tick < E`` from its name (the half-open
    tick range every part is named by): DuckDB's filter combiner finds a query's
    ``tick = T`` unsatisfiable in every branch but one and drops them at plan time, so a
    time slice opens one file. Files whose names do not parse, or more than
    :data:`MAX_PRUNED_BRANCHES`, are read as a list (whose row groups DuckDB prunes by
    their tick statistics instead).
    """
    spans = [layout.PART_NAME_RE.match(f.name) for f in files]
    if len(files) > MAX_PRUNED_BRANCHES or len(files) < 2 or not all(spans):
        return _parquet(files)
    branches = [
        f"SELECT * FROM {_parquet([f])} WHERE tick >= {int(m['start'])} AND tick < {int(m['end'])}"
        for f, m in zip(files, spans)
        if m is not None
    ]
    return "(" + " UNION ALL ".join(branches) + ")"


def _fields_view(
    con: duckdb.DuckDBPyConnection,
    files: list[Path],
    footers: dict[Path, dict[str, str]] | None = None,
    *,
    cells: bool = False,
) -> str:
    """One SELECT per file layout (derived positions' resolution, stored columns);
    ``footers``: :func:`_footers` of ``files``, if read already.

    ``cells``: a cell field's positions come from a join with its resolution's cells
    table (:mod:`continuum.sql.cells`) — for statements that read or filter positions —
    instead of expressions per row (for statements that do not, where DuckDB evaluates
    none of them and a join would be kept for nothing).
    """
    if not files:
        return _read(files, SCHEMA, ("run_id", "field"))
    groups: dict[tuple[int | None, tuple], list[Path]] = {}
    known: dict[Path, tuple[int | None, tuple]] = {}
    if footers is None:  # one per run/field dir: its chunks share config and topology
        footers = _footers(con, files)
    for f in files:
        if f.parent not in known:
            known[f.parent] = _file_layout(footers[f.parent])
        groups.setdefault(known[f.parent], []).append(f)
    parts, joined = [], False
    for (n, stored), group in sorted(groups.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1])):
        joined |= "sim_time" not in stored  # files since sim_time moved to the ticks files
        parts.append(_layout_select(con, n, stored, _pruned(sorted(group)), cells))
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


def _layout_select(
    con: duckdb.DuckDBPyConnection, n: int | None, stored: tuple, source: str, cells: bool
) -> str:
    """The view's columns over one layout group's ``source`` (see :func:`_fields_view`)."""
    if n is not None and cells:
        from continuum.sql.cells import load_cells  # numpy and the topology: only when read

        table = load_cells(con, n)
        items = [
            f"_s.{c}" if c in stored else f"_c.{c}" if c in POSITIONS else f"NULL::{t} AS {c}"
            for c, t in SCHEMA.items()
        ]
        return (
            f"SELECT {', '.join(items)}, _s.run_id, _s.field FROM {source} AS _s "
            f"LEFT JOIN {table} AS _c ON _c.sample = _s.sample"
        )
    derived = {} if n is None else cell_position_sql(n)
    items = [
        c if c in stored else f"{derived[c]} AS {c}" if c in derived else f"NULL::{t} AS {c}"
        for c, t in SCHEMA.items()
    ]
    if n is not None:
        source = f"(SELECT *, {cell_tangent_sql(n)} FROM {source})"
    return f"SELECT {', '.join(items)}, run_id, field FROM {source}"


def _footers(con: duckdb.DuckDBPyConnection, files: list[Path]) -> dict[Path, dict[str, str]]:
    """The key-value metadata of the newest part (by name: by tick range) of each dir."""
    newest: dict[Path, Path] = {}
    for f in files:
        if f.parent not in newest or f.name > newest[f.parent].name:
            newest[f.parent] = f
    return {d: _kv_metadata(con, f) for d, f in newest.items()}


def load_units(
    con: duckdb.DuckDBPyConnection,
    fields: dict[Path, dict[str, str]],
    signals: dict[Path, dict[str, str]],
) -> None:
    """The ``field_units`` and ``signal_units`` tables from the footers of the field and
    signals dirs (see the module docstring); files written before units were recorded
    give NULL."""
    con.execute(
        "CREATE TABLE field_units (run_id VARCHAR, field VARCHAR, units VARCHAR, "
        "time_units VARCHAR)"
    )
    con.execute(
        "CREATE TABLE signal_units (run_id VARCHAR, signal VARCHAR, units VARCHAR, "
        "time_units VARCHAR)"
    )
    rows = {  # keyed by the partition, as the views' hive columns see it
        (layout.parse_run_partition(d.parent.name), d.name.removeprefix("field=")): (
            _units(m.get("units")),
            _time_units(m),
        )
        for d, m in fields.items()
    }
    named: dict[tuple[str | None, str], tuple[str | None, str | None]] = {}
    for d, m in signals.items():
        for name, units in _signal_units(m).items():
            named[(layout.parse_run_partition(d.parent.name), name)] = (units, _time_units(m))
    for table, found in (("field_units", rows), ("signal_units", named)):
        values = [(*k, *v) for k, v in sorted(found.items(), key=str) if k[0]]
        if values:  # executemany refuses an empty list
            con.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?)", values)


def _units(value: object) -> str | None:
    """A unit a file's metadata claims, if the world's rule accepts it, else NULL: a file
    under the roots may be hand-made, and a unit is printed as it is."""
    from continuum.world.units import units_problem  # the world package: only when read

    return value if isinstance(value, str) and units_problem(value) is None else None


def _time_units(meta: dict[str, str]) -> str | None:
    return _units(meta.get("time_units"))


def _signal_units(meta: dict[str, str]) -> dict[str, str]:
    """A signals file's ``signal_units``: a JSON object of strings, else nothing (a
    hand-made or older file's metadata is a claim, not trusted to be well formed)."""
    try:
        doc = json.loads(meta.get("signal_units") or "{}")
    except ValueError:
        return {}
    if not isinstance(doc, dict):
        return {}
    return {str(k): u for k, v in doc.items() if (u := _units(v)) is not None}


Listed = tuple[list[Path], dict[Path, dict[str, str]]]  # files and their dirs' footers


def _routed_views(con: duckdb.DuckDBPyConnection, by_time: Listed, by_sample: Listed) -> None:
    """The views :mod:`continuum.sql.routing` sends statements reading positions to:
    the same rows as ``fields`` / ``fields_by_sample``, positions joined from the cells
    tables."""
    for name, (files, footers) in (
        ("_fields_time_cells", by_time),
        ("_fields_sample_cells", by_sample),
    ):
        con.execute(f"CREATE VIEW {name} AS {_fields_view(con, files, footers, cells=True)}")


def open_session(
    tables: CatalogTables | Sequence[TableDump],
    roots: Sequence[str | os.PathLike[str]],
    *,
    search: Sequence[str] = (),
    limits: Limits | None = None,
    warn: Warn | None = None,
    routed: bool = True,
) -> Session:
    """A sandboxed session with the views and tables above over exactly ``roots``.

    ``routed``: statements routed to the fastest views (:mod:`continuum.sql.routing`);
    False runs them on the views they name (a benchmark's baseline).

    ``roots``: the readable directories (each must be one; see :mod:`continuum.sql.roots`);
    ``search``: more directories to look for parts in (catalog rows), used only when
    inside a root; ``tables``: the catalog's tables (:class:`CatalogTables`, closed with
    the session once it is open), or rows given whole. The connection is locked
    before any file is read. The views are built before this returns.
    """
    given = tables if isinstance(tables, CatalogTables) else CatalogTables.fixed(tables)
    try:
        session = _locked(roots, lambda: (given, search), limits, warn, routed)
    except BaseException:
        given.close()
        raise
    try:
        session.furnish()
    except BaseException:
        session.close()
        raise
    return session


#: The catalog's tables and the directories its export rows name, read on first need.
CatalogSource = Callable[[], tuple[CatalogTables, Sequence[str]]]


def _locked(
    roots: Sequence[str | os.PathLike[str]],
    source: CatalogSource,
    limits: Limits | None,
    warn: Warn | None,
    routed: bool,
) -> Session:
    """A session on a locked connection over ``roots`` whose views are built, from
    ``source`` and the files under the roots, by its first statement that reads one."""
    readable = configured_roots(roots, default=False)
    limits = limits or Limits.of()
    temp_dir = private_temp_dir(readable)
    remote = remote_roots(readable)
    # one filesystem for the listing and DuckDB's reads: the listing answers every open
    fs = fsspec_filesystem(remote[0], snapshot=True) if remote else None
    try:
        con = sandboxed(readable, limits, temp_dir, fs)
    except BaseException:
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)
        raise

    def furnish(con: duckdb.DuckDBPyConnection) -> Furnished:
        tables, search = source()
        try:
            notes = _views(con, readable, search, tables, warn or log.warning, fs)
        except BaseException:
            tables.close()
            raise
        return Furnished(prepare=tables.prepare, cleanup=tables.close, warnings=notes)

    return Session(
        con, readable, limits, temp_dir, furnish=furnish, route=route if routed else None
    )


def _views(
    con: duckdb.DuckDBPyConnection,
    readable: Sequence[Path | str],
    search: Sequence[str],
    tables: CatalogTables,
    warn: Warn,
    fs: Any = None,
) -> list[str]:
    """The views and tables of the module docstring on ``con``; the warnings given.
    ``fs``: the filesystem DuckDB reads ``s3://`` roots through (its listing is primed)."""
    notes: list[str] = []

    def note(line: str) -> None:
        notes.append(line)
        warn(line)

    files = list_files(readable, search_dirs(readable, search, note), note, fs)
    with translate("opening the SQL session"):
        _load_ticks(con, files.ticks, tables)
        footers = _footers(con, files.by_time)
        con.execute(f"CREATE VIEW fields AS {_fields_view(con, files.by_time, footers)}")
        load_units(con, footers, _footers(con, files.signals))
        by_sample = _footers(con, files.by_sample)
        view = _fields_view(con, files.by_sample, by_sample)
        con.execute(f"CREATE VIEW fields_by_sample AS {view}")
        _routed_views(con, (files.by_time, footers), (files.by_sample, by_sample))
        signals = _read(files.signals, SIGNAL_SCHEMA, ("run_id",))
        con.execute(f"CREATE VIEW signals AS {signals}")
    return notes


def _load_ticks(con: duckdb.DuckDBPyConnection, files: list[Path], tables: CatalogTables) -> None:
    """The catalog views, then the ``ticks`` table with the gaps of the exported runs
    (their ``lens_gaps`` rows alone are read, then dropped from the session's connection)."""
    tables.create(con)
    gaps = "lens_gaps" in tables.names
    if gaps and files:
        tables.fill(con, gap_filter(_exported_runs(files)))
    load_ticks(con, files, gaps=gaps)
    if gaps and files:
        tables.clear(con, ["lens_gaps"])


def _exported_runs(files: list[Path]) -> set[str]:
    return {r for f in files if (r := layout.parse_run_partition(f.parent.parent.name))}


def connect(
    catalog: str | None = None,
    *,
    roots: Sequence[str | os.PathLike[str]] = (),
    memory_limit: int | str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    warn: Warn | None = None,
) -> Session:
    """A read-only SQL session over the exports under the configured roots.

    Readable: the default export root (``$XDG_DATA_HOME/continuum/exports``, where
    ``continuum lens export`` writes by default) and ``roots``; the catalog's export rows
    add directories to look in only when inside those (a row outside them is ignored,
    with a warning through ``warn``, default the ``continuum.sql`` logger). Bounds:
    ``memory_limit`` (bytes or ``"2G"``; default ``min(1 GiB, 25% of RAM)``) and
    ``timeout`` seconds per statement, fetching included (None or 0: none).

    The catalog is opened, and the exports listed, by the first statement that reads a
    relation (:meth:`Session.furnish` builds them at once): a session starts in constant
    time, without SQLAlchemy, and an unreachable catalog is reported by that statement.

    Example::

        with continuum.sql.connect(roots=["exports"]) as s:
            s.execute("SELECT seed, avg(value) FROM fields JOIN runs USING (run_id) "
                      "GROUP BY seed").fetchall()
    """
    limits = Limits.of(memory_limit, timeout)
    readable = configured_roots(roots, default=True, warn=warn or log.warning)

    def source() -> tuple[CatalogTables, Sequence[str]]:
        from continuum.catalog import Catalog  # on first need: SQLAlchemy costs ~0.17 s

        cat = Catalog(catalog)
        try:
            return CatalogTables.of_catalog(cat), cat.exports.roots()
        except BaseException:
            cat.close()
            raise

    return _locked(readable, source, limits, warn, routed=True)
