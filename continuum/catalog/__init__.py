"""The SQL run catalog: the index over every run, checkpoint and lens chunk.

Owns: the catalog schema (created and changed only by the Alembic revisions
in ``migrations/``, shipped as ``continuum/_migrations``), engines and sessions
for SQLite and PostgreSQL, and the operations the rest of Continuum calls —
all through :class:`Catalog`, all returning frozen records from
:mod:`continuum.catalog.records`.

Must not: hold or read blob contents (it stores what is needed to find,
validate, keep or delete a file without opening it), import numpy or duckdb
(``continuum catalog list`` must start fast), or be called from the tick loop
(the checkpoint writer's thread and the CLI call it).

Every SQLAlchemy or driver error leaves this package as a one-line
:class:`continuum.errors.CatalogError` (see ``_errors.py``).
"""

from continuum.catalog._base import DEFAULT_STALE_AFTER, new_run_id
from continuum.catalog.engine import default_catalog_path, describe_url, resolve_url
from continuum.catalog.policies import RetentionPolicy, RetentionRules, parse_duration, parse_size
from continuum.catalog.prune import PruneReport, apply_retention
from continuum.catalog.records import (
    CHECKPOINT_STATES,
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
from continuum.catalog.scan import RunScan, ScanReport
from continuum.catalog.search import ParamFilter, SearchQuery, parse_param_filter
from continuum.catalog.store import Catalog, migrate_catalog
from continuum.catalog.verify import Problem, VerifyReport
from continuum.errors import (
    BlobStateError,
    CatalogConflictError,
    CatalogSchemaError,
    CatalogUnavailableError,
    InvalidFilterError,
    RunNotFoundError,
)

__all__ = [
    "CHECKPOINT_STATES",
    "DEFAULT_STALE_AFTER",
    "RUN_STATUSES",
    "AuditRecord",
    "BlobStateError",
    "Catalog",
    "CatalogConflictError",
    "CatalogSchemaError",
    "CatalogUnavailableError",
    "CheckpointRecord",
    "InvalidFilterError",
    "LensChunkRecord",
    "ParamFilter",
    "ParquetExportRecord",
    "Problem",
    "PruneReport",
    "RetentionPolicy",
    "RetentionRules",
    "RunDetail",
    "RunNotFoundError",
    "RunPage",
    "RunRecord",
    "RunScan",
    "ScanReport",
    "SearchQuery",
    "SegmentRecord",
    "VerifyReport",
    "apply_retention",
    "default_catalog_path",
    "describe_url",
    "migrate_catalog",
    "new_run_id",
    "parse_duration",
    "parse_param_filter",
    "parse_size",
    "resolve_url",
]
