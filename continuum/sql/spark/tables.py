"""The catalog's tables and the units tables as Spark DataFrames, copied from Python rows.

Spark reaches a catalog only through JDBC, whose drivers (SQLite's, PostgreSQL's) are
jars this project cannot assume are on a Spark classpath — offline machines have none.
So the rows are read through :class:`continuum.catalog.Catalog` (read-only:
``exports.sql_rows``, the same dump the DuckDB session reads, in one transaction) and
handed to ``createDataFrame`` with the DuckDB session's column types: ``int`` BIGINT,
``float`` DOUBLE, ``bool`` BOOLEAN, ``time`` TIMESTAMP_NTZ (UTC without a zone, DuckDB's
TIMESTAMP), anything else (text, JSON as text) STRING. A copy, made when the views are
registered: unlike the DuckDB session, which reads the catalog per statement, the Spark
views show the catalog as it was then — register again to see newer runs. The rows live
in PySpark's Python-side RDD, so the first statement reading one of these tables starts
a Python worker (measured ~1.6 s, once per session; later statements ~0.4 s).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from continuum.catalog.exports import TableDump

_KINDS = {"int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN", "time": "TIMESTAMP_NTZ"}
UNITS_COLUMNS = {
    "field_units": ("run_id", "field", "units", "time_units"),
    "signal_units": ("run_id", "signal", "units", "time_units"),
}


def _time(value: Any) -> dt.datetime | None:
    """A catalog timestamp (ISO text on SQLite, a datetime on PostgreSQL) as naive UTC."""
    if value is None:
        return None
    stamp = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return stamp.astimezone(dt.UTC).replace(tzinfo=None) if stamp.tzinfo else stamp


def _value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "time":
        return _time(value)
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "bool":
        return bool(value)
    return str(value)


def catalog_frame(spark: SparkSession, dump: TableDump) -> DataFrame:
    """One catalog table's rows (see the module docstring for the types)."""
    schema = ", ".join(f"`{c}` {_KINDS.get(k, 'STRING')}" for c, k in zip(dump.columns, dump.kinds))
    rows = [tuple(_value(v, k) for v, k in zip(row, dump.kinds)) for row in dump.rows]
    return spark.createDataFrame(rows, schema)


def units_frame(spark: SparkSession, name: str, rows: Sequence[tuple[Any, ...]]) -> DataFrame:
    """``field_units`` or ``signal_units`` (every column a string, NULL where undeclared)."""
    schema = ", ".join(f"`{c}` STRING" for c in UNITS_COLUMNS[name])
    return spark.createDataFrame([tuple(r) for r in rows], schema)
