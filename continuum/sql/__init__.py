"""Field history in SQL: lens chunks exported to Parquet, queried with DuckDB.

Owns: DuckDB sessions (``session``: views ``fields``, ``fields_by_sample``, ``signals``
over every export the catalog knows, plus copies of the catalog's ``runs``,
``checkpoints``, ``lens_chunks``... tables), the Parquet export of lens chunks
(``export`` + ``columns``; ``exporter``: a whole run dir, and the live ``on_seal`` thread
of ``continuum run --lens-export-dir``), the user-SQL sandbox (``sandbox``), and the one
seam where DuckDB errors become :class:`continuum.errors.QueryError` (``errors``).
Every file name, partition directory and glob is :mod:`continuum.layout`'s; every
file is committed by the atomic-write protocol of :mod:`continuum.blobs`.

Must not: write catalog rows except through :class:`continuum.catalog.Catalog` ops
(``record_parquet_export``), touch the tick loop (exports start from sealed chunk files),
or be imported by ``continuum.lens``/``continuum.checkpoint``/``continuum catalog list``
(it loads duckdb).
"""

from continuum.sql.export import LAYOUTS, ChunkExport, export_chunk
from continuum.sql.exporter import LiveExporter, export_run
from continuum.sql.sandbox import Result, run_query
from continuum.sql.session import connect, open_session

__all__ = [
    "LAYOUTS",
    "ChunkExport",
    "LiveExporter",
    "Result",
    "connect",
    "export_chunk",
    "export_run",
    "open_session",
    "run_query",
]
