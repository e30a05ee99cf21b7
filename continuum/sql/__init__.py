"""Field history in SQL: lens chunks exported to Parquet, queried with DuckDB.

Owns: DuckDB sessions (``session``: views ``fields``, ``fields_by_sample``, ``signals``
over the exports under the configured roots, plus copies of the catalog's ``runs``,
``checkpoints``, ``lens_chunks``... tables), the Parquet export of lens chunks
(``export`` + ``columns``; ``exporter``: a whole run dir, and the live ``on_seal`` thread
of ``continuum run --lens-export-dir``), the user-SQL sandbox (``sandbox``: only reads
run, on a :class:`Session` that never hands out its DuckDB connection), what counts as a
read (``statements``), what may be read (``roots``), its bounds (``limits``: memory,
timeout), and the one seam where DuckDB errors become :class:`continuum.errors.QueryError`
(``errors``). The subpackage :mod:`continuum.sql.spark` registers the same views on a
SparkSession (PySpark, an extra, is imported there alone).
Every file name, partition directory and glob is :mod:`continuum.layout`'s; every
file is committed by the atomic-write protocol of :mod:`continuum.blobs`.

Must not: write catalog rows except through :class:`continuum.catalog.Catalog` ops
(``record_parquet_export``), touch the tick loop (exports start from sealed chunk files),
or be imported by ``continuum.lens``/``continuum.checkpoint``/``continuum catalog list``
(it loads duckdb).
"""

from typing import TYPE_CHECKING

from continuum import lazy

if TYPE_CHECKING:  # what the names are, for type checkers; at run time, loaded on first use
    from continuum.sql.export import LAYOUTS, ChunkExport, export_chunk
    from continuum.sql.exporter import LiveExporter, export_run
    from continuum.sql.limits import DEFAULT_TIMEOUT_S, Limits, default_memory_limit
    from continuum.sql.roots import default_root
    from continuum.sql.sandbox import Cursor, Result, Session, run_query
    from continuum.sql.session import connect, open_session
    from continuum.sql.statements import check_read

#: each public name -> the module defining it: importing the package loads none of them,
#: so a command that needs one submodule pays for that one (``lens sql`` starts without
#: the capture, the writer and the formats)
_WHERE = {
    "LAYOUTS": "continuum.sql.export",
    "ChunkExport": "continuum.sql.export",
    "export_chunk": "continuum.sql.export",
    "LiveExporter": "continuum.sql.exporter",
    "export_run": "continuum.sql.exporter",
    "DEFAULT_TIMEOUT_S": "continuum.sql.limits",
    "Limits": "continuum.sql.limits",
    "default_memory_limit": "continuum.sql.limits",
    "default_root": "continuum.sql.roots",
    "Cursor": "continuum.sql.sandbox",
    "Result": "continuum.sql.sandbox",
    "Session": "continuum.sql.sandbox",
    "run_query": "continuum.sql.sandbox",
    "connect": "continuum.sql.session",
    "open_session": "continuum.sql.session",
    "check_read": "continuum.sql.statements",
}


__all__ = [
    "DEFAULT_TIMEOUT_S",
    "LAYOUTS",
    "ChunkExport",
    "Cursor",
    "Limits",
    "LiveExporter",
    "Result",
    "Session",
    "check_read",
    "connect",
    "default_memory_limit",
    "default_root",
    "export_chunk",
    "export_run",
    "open_session",
    "run_query",
]

__getattr__, __dir__ = lazy.exports(__name__, _WHERE, __all__)
