"""Parquet export rows, and plain copies of catalog tables for the SQL layer.

One row per exported lens chunk and field set: an export root (the directory holding
``run_id=.../field=.../part-*.parquet``), the chunk's tick range, the fields written, and
the rows and bytes written. Re-exporting the same chunk and fields into the same root
replaces its row, as the files are replaced, so re-exports never count twice.

``continuum.sql`` reads ``runs``, ``run_params``, ``run_tags``, ``checkpoints``,
``lens_chunks``, ``lens_gaps`` and ``parquet_exports`` where they live, when a statement
names them: :meth:`Exports.sql_schemas` gives their columns and kinds without reading a
row (a session opens in constant time), :meth:`Exports.sql_rows` the rows a statement
needs — whole tables, or only the rows whose columns hold given values (a ``run_id =``
or ``IN`` filter, answered by the catalog's indexes) — as plain tuples with column
kinds, so DuckDB tables are built without DuckDB's sqlite/postgres extensions (none is
packaged for the installed DuckDB, see :mod:`continuum.sql.catalog_tables`) and without
any ORM row leaving the catalog.
"""

from __future__ import annotations

import builtins
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Connection,
    Double,
    Integer,
    String,
    Table,
    delete,
    func,
    select,
    type_coerce,
    update,
)

from continuum import layout
from continuum.catalog.db import Database, new_id, require_run, utcnow
from continuum.catalog.db.models import (
    UTCDateTime,
    as_dicts,
    checkpoints,
    lens_chunks,
    lens_copies,
    lens_gaps,
    parquet_exports,
    run_params,
    run_tags,
    runs,
)
from continuum.catalog.records import ParquetExportRecord
from continuum.errors import CatalogError

#: The tables ``continuum lens sql`` can join with field history, by their SQL name.
SQL_TABLES: dict[str, Table] = {
    "runs": runs,
    "run_params": run_params,
    "run_tags": run_tags,
    "checkpoints": checkpoints,
    "lens_chunks": lens_chunks,
    "lens_gaps": lens_gaps,
    "lens_copies": lens_copies,
    "parquet_exports": parquet_exports,
}


@dataclass(frozen=True)
class TableDump:
    """A catalog table's rows as plain values; ``kinds``: int, float, bool, time, json, text.

    ``time`` values are UTC without a zone, as the database hands them over unparsed:
    ISO text on SQLite, naive datetimes on PostgreSQL (a quarter of the time of a
    100,000-run read went into parsing timestamps to aware datetimes, measured).
    """

    name: str
    columns: tuple[str, ...]
    kinds: tuple[str, ...]
    rows: list[tuple[Any, ...]]


#: Rows wanted of one table: None for all, else {column: values} — rows whose every named
#: column holds one of its values (an empty tuple of values: no row).
RowFilter = dict[str, tuple[Any, ...]] | None


def _kind(type_: Any) -> str:
    for cls, kind in ((Boolean, "bool"), (BigInteger, "int"), (Integer, "int"), (Double, "float")):
        if isinstance(type_, cls):
            return kind
    if isinstance(type_, UTCDateTime):
        return "time"
    return "json" if isinstance(type_, JSON) else "text"


def _schema(name: str, table: Table) -> TableDump:
    return TableDump(name, tuple(c.name for c in table.columns), _kinds(table), [])


def _kinds(table: Table) -> tuple[str, ...]:
    return tuple(_kind(c.type) for c in table.columns)


def _utc(column: Any, dialect: str) -> Any:
    """A timestamp column as stored, in UTC without a zone (see :class:`TableDump`)."""
    if dialect == "postgresql":
        return func.timezone("UTC", column).label(column.name)
    return type_coerce(column, String).label(column.name)


def _dump(conn: Connection, name: str, table: Table, where: RowFilter = None) -> TableDump:
    kinds, names = _kinds(table), tuple(c.name for c in table.columns)
    dialect = conn.dialect.name
    stmt = select(*(_utc(c, dialect) if k == "time" else c for c, k in zip(table.c, kinds)))
    if where is not None:
        if any(not values for values in where.values()):
            return TableDump(name, names, kinds, [])
        stmt = stmt.where(*(table.c[col].in_(values) for col, values in sorted(where.items())))
    rows = list(map(tuple, conn.execute(stmt).fetchall()))
    if "json" in kinds:
        rows = [tuple(json.dumps(v) if k == "json" else v for v, k in zip(r, kinds)) for r in rows]
    return TableDump(name, names, kinds, rows)


def _record(row: dict[str, Any]) -> ParquetExportRecord:
    fields = dict(row)
    return ParquetExportRecord(
        export_id=fields.pop("id"), fields=tuple(fields.pop("fields") or ()), **fields
    )


class Exports:
    """What ``continuum lens export`` records and ``continuum lens sql`` reads."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(
        self,
        run_id: str,
        *,
        fields: Sequence[str],
        start_tick: int | None,
        end_tick: int | None,
        path: str | Path,
        rows: int,
        bytes: int,  # noqa: A002 - the column's (and the JSON contract's) name
    ) -> ParquetExportRecord:
        """Record (or re-record, by run, root, tick range and fields) one chunk's export."""
        if rows < 0 or bytes < 0:
            raise CatalogError(f"an export needs rows and bytes >= 0; got {rows} and {bytes}")
        text = os.fspath(path)  # an s3:// root as it is: abspath would fold its //
        root = text if layout.is_object_url(text) else os.path.abspath(text)
        names = sorted(fields)
        values = {"rows": rows, "bytes": bytes, "created_at": utcnow()}

        def op(conn: Connection) -> ParquetExportRecord:
            require_run(conn, run_id)
            key = {"run_id": run_id, "path": root, "start_tick": start_tick, "end_tick": end_tick}
            found = [
                r
                for r in as_dicts(conn.execute(select(parquet_exports).filter_by(**key)))
                if sorted(r["fields"] or ()) == names
            ]
            if found:
                stmt = update(parquet_exports).where(parquet_exports.c.id == found[0]["id"])
                conn.execute(stmt.values(values))
                return _record({**found[0], **values})
            row = {"id": new_id(), **key, "fields": names, **values}
            conn.execute(parquet_exports.insert().values(**row))
            return _record(row)

        return self._db.write(op)

    def list(self, run_id: str | None = None) -> builtins.list[ParquetExportRecord]:
        """Exports by run and start tick (one run's, or all); unknown run: RunNotFoundError."""

        def op(conn: Connection) -> list[ParquetExportRecord]:
            stmt = select(parquet_exports)
            if run_id is not None:
                require_run(conn, run_id)
                stmt = stmt.where(parquet_exports.c.run_id == run_id)
            order = (parquet_exports.c.run_id, parquet_exports.c.start_tick, parquet_exports.c.path)
            return [_record(r) for r in as_dicts(conn.execute(stmt.order_by(*order)))]

        return self._db.read(op)

    def forget(self, run_id: str, spans: Sequence[tuple[int, int]]) -> int:
        """Drop the export rows of ``run_id`` whose tick range lies inside one of ``spans``
        (their files are gone: retention pruned those chunks); the rows dropped."""
        if not spans:
            return 0
        t = parquet_exports

        def op(conn: Connection) -> int:
            dropped = 0
            for start, end in spans:
                mine = (t.c.run_id == run_id, t.c.start_tick >= start, t.c.end_tick <= end)
                dropped += conn.execute(delete(t).where(*mine)).rowcount
            return dropped

        return self._db.write(op)

    def roots(self) -> builtins.list[str]:
        """Every export root some export of some run was written under."""
        stmt = select(parquet_exports.c.path).distinct()
        return self._db.read(lambda conn: sorted(conn.scalars(stmt)))

    def roots_of(self, run_id: str) -> builtins.list[str]:
        """The export roots ``run_id`` was exported to."""
        stmt = select(parquet_exports.c.path).where(parquet_exports.c.run_id == run_id)
        return self._db.read(lambda conn: sorted(set(conn.scalars(stmt))))

    def sql_tables(self) -> builtins.list[TableDump]:
        """Every table of :data:`SQL_TABLES`, read in one transaction (a consistent copy)."""
        return self.sql_rows(dict.fromkeys(SQL_TABLES))

    @staticmethod
    def sql_schemas() -> builtins.list[TableDump]:
        """Every table of :data:`SQL_TABLES` with its columns and kinds, no rows: read from
        the schema this code declares, not from the database (no query at all)."""
        return [_schema(n, t) for n, t in SQL_TABLES.items()]

    def sql_rows(self, wanted: dict[str, RowFilter]) -> builtins.list[TableDump]:
        """The rows of each named table of :data:`SQL_TABLES` that its filter keeps (None:
        all), read in one transaction; an unknown table or column: CatalogError."""
        for name, where in wanted.items():
            table = SQL_TABLES.get(name)
            if table is None or any(c not in table.c for c in where or ()):
                raise CatalogError(f"no catalog table {name} with columns {sorted(where or ())}")
        return self._db.read(
            lambda conn: [_dump(conn, n, SQL_TABLES[n], w) for n, w in wanted.items()]
        )
