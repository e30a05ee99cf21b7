"""The catalog's database: engines, the schema's revisions, the tables, error translation.

Owns: connecting to SQLite and PostgreSQL (``engine``), checking and upgrading the
schema through the Alembic revisions shipped as ``continuum/_migrations``
(``schema``), the SQLAlchemy Core tables (``models``), and the one seam where driver
errors become :class:`continuum.errors.CatalogError` (``errors``).

Must not: know about runs, blobs or retention beyond the tables' shapes; import numpy.
"""

from continuum.catalog.db.database import Database, dialect_insert, new_id, require_run, utcnow
from continuum.catalog.db.engine import (
    CatalogLocation,
    create_catalog_engine,
    default_catalog_path,
    describe_url,
    locate_catalog,
    resolve_url,
)
from continuum.catalog.db.errors import retry_if_locked, translate_errors

__all__ = [
    "CatalogLocation",
    "Database",
    "create_catalog_engine",
    "default_catalog_path",
    "describe_url",
    "dialect_insert",
    "locate_catalog",
    "new_id",
    "require_run",
    "resolve_url",
    "retry_if_locked",
    "translate_errors",
    "utcnow",
]
