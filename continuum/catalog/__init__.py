"""The SQL run catalog: a pure index over every run, checkpoint and lens chunk.

Owns: the catalog schema (``db``: engines for SQLite and PostgreSQL, the tables, and
the Alembic revisions in ``migrations/`` shipped as ``continuum/_migrations``), and
the operations the rest of Continuum calls, grouped in parts of :class:`Catalog`
(``catalog.runs``, ``.search``, ``.checkpoints``, ``.lens_chunks``, ``.lens_gaps``,
``.exports``, ``.policies``, ``.retention``, ``.audit``, ``.liveness``, ``.imports``; see
``facade.py``), all returning frozen records from :mod:`continuum.catalog.records`.

Must not: open or decode blob files (it stores what is needed to find, validate,
keep or delete a file without opening it; whatever needs both the catalog and the
files lives in :mod:`continuum.maintenance`), import numpy, duckdb or the format
packages (``continuum catalog list`` must start fast), or be called from the tick
loop. It imports SQLAlchemy, :mod:`continuum.layout` and :mod:`continuum.errors`.

Every SQLAlchemy or driver error leaves this package as a one-line
:class:`continuum.errors.CatalogError` (``db/errors.py``).
"""

from typing import TYPE_CHECKING

from continuum import lazy

if TYPE_CHECKING:  # what the names are, for type checkers; at run time, loaded on first use
    from continuum.catalog.blob_rows import KINDS, TRANSITIONS, BlobKind
    from continuum.catalog.db.location import (
        CatalogLocation,
        default_catalog_path,
        describe_url,
        locate_catalog,
        resolve_url,
    )
    from continuum.catalog.facade import Catalog, migrate_catalog
    from continuum.catalog.imports import (
        LensScan,
        RunScan,
        ScannedCheckpoint,
        ScannedChunk,
        ScannedLens,
        ScannedRun,
    )
    from continuum.catalog.lens_copies import LensCopyRecord
    from continuum.catalog.lens_gaps import LensGapRecord
    from continuum.catalog.liveness import DEFAULT_STALE_AFTER, pid_alive
    from continuum.catalog.records import (
        BLOB_STATES,
        RUN_STATUSES,
        AuditRecord,
        CheckpointRecord,
        LensChunkRecord,
        ParquetExportRecord,
        RunDetail,
        RunPage,
        RunRecord,
        SegmentRecord,
    )
    from continuum.catalog.retention import (
        PruneReport,
        RetentionPolicy,
        RetentionRules,
        parse_duration,
        parse_size,
    )
    from continuum.catalog.runs import RunDirs
    from continuum.catalog.search import SORTS, ParamFilter, SearchQuery, parse_param_filter

#: each public name -> the module defining it, imported on first use: a command that only
#: checks its ``--catalog`` (``db.location``, standard library) loads no SQLAlchemy
_WHERE = {
    "KINDS": "continuum.catalog.blob_rows",
    "TRANSITIONS": "continuum.catalog.blob_rows",
    "BlobKind": "continuum.catalog.blob_rows",
    "CatalogLocation": "continuum.catalog.db.location",
    "default_catalog_path": "continuum.catalog.db.location",
    "describe_url": "continuum.catalog.db.location",
    "locate_catalog": "continuum.catalog.db.location",
    "resolve_url": "continuum.catalog.db.location",
    "Catalog": "continuum.catalog.facade",
    "migrate_catalog": "continuum.catalog.facade",
    "LensScan": "continuum.catalog.imports",
    "RunScan": "continuum.catalog.imports",
    "ScannedCheckpoint": "continuum.catalog.imports",
    "ScannedChunk": "continuum.catalog.imports",
    "ScannedLens": "continuum.catalog.imports",
    "ScannedRun": "continuum.catalog.imports",
    "LensCopyRecord": "continuum.catalog.lens_copies",
    "LensGapRecord": "continuum.catalog.lens_gaps",
    "DEFAULT_STALE_AFTER": "continuum.catalog.liveness",
    "pid_alive": "continuum.catalog.liveness",
    "BLOB_STATES": "continuum.catalog.records",
    "RUN_STATUSES": "continuum.catalog.records",
    "AuditRecord": "continuum.catalog.records",
    "CheckpointRecord": "continuum.catalog.records",
    "LensChunkRecord": "continuum.catalog.records",
    "ParquetExportRecord": "continuum.catalog.records",
    "RunDetail": "continuum.catalog.records",
    "RunPage": "continuum.catalog.records",
    "RunRecord": "continuum.catalog.records",
    "SegmentRecord": "continuum.catalog.records",
    "PruneReport": "continuum.catalog.retention",
    "RetentionPolicy": "continuum.catalog.retention",
    "RetentionRules": "continuum.catalog.retention",
    "parse_duration": "continuum.catalog.retention",
    "parse_size": "continuum.catalog.retention",
    "RunDirs": "continuum.catalog.runs",
    "SORTS": "continuum.catalog.search",
    "ParamFilter": "continuum.catalog.search",
    "SearchQuery": "continuum.catalog.search",
    "parse_param_filter": "continuum.catalog.search",
}

__all__ = [
    "BLOB_STATES",
    "DEFAULT_STALE_AFTER",
    "KINDS",
    "RUN_STATUSES",
    "SORTS",
    "TRANSITIONS",
    "AuditRecord",
    "BlobKind",
    "Catalog",
    "CatalogLocation",
    "CheckpointRecord",
    "LensChunkRecord",
    "LensCopyRecord",
    "LensGapRecord",
    "LensScan",
    "ParamFilter",
    "ParquetExportRecord",
    "PruneReport",
    "RetentionPolicy",
    "RetentionRules",
    "RunDetail",
    "RunDirs",
    "RunPage",
    "RunRecord",
    "RunScan",
    "ScannedCheckpoint",
    "ScannedChunk",
    "ScannedLens",
    "ScannedRun",
    "SearchQuery",
    "SegmentRecord",
    "default_catalog_path",
    "describe_url",
    "locate_catalog",
    "migrate_catalog",
    "parse_duration",
    "parse_param_filter",
    "parse_size",
    "pid_alive",
    "resolve_url",
]

__getattr__, __dir__ = lazy.exports(__name__, _WHERE, __all__)
