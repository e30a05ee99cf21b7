"""The catalog's database: engines, the schema's revisions, the tables, error translation.

Owns: connecting to SQLite and PostgreSQL (``engine``), checking and upgrading the
schema through the Alembic revisions shipped as ``continuum/_migrations``
(``schema``), the SQLAlchemy Core tables (``models``), and the one seam where driver
errors become :class:`continuum.errors.CatalogError` (``errors``).

Must not: know about runs, blobs or retention beyond the tables' shapes; import numpy.
"""

from typing import TYPE_CHECKING

from continuum import lazy

if TYPE_CHECKING:  # what the names are, for type checkers; at run time, loaded on first use
    from continuum.catalog.db.database import Database, dialect_insert, new_id, require_run, utcnow
    from continuum.catalog.db.engine import create_catalog_engine
    from continuum.catalog.db.errors import retry_if_locked, translate_errors
    from continuum.catalog.db.location import (
        CatalogLocation,
        default_catalog_path,
        describe_url,
        locate_catalog,
        resolve_url,
    )

#: each public name -> the module defining it, imported on first use: a command that only
#: checks its ``--catalog`` (``db.location``, standard library) loads no SQLAlchemy
_WHERE = {
    "Database": "continuum.catalog.db.database",
    "dialect_insert": "continuum.catalog.db.database",
    "new_id": "continuum.catalog.db.database",
    "require_run": "continuum.catalog.db.database",
    "utcnow": "continuum.catalog.db.database",
    "CatalogLocation": "continuum.catalog.db.location",
    "create_catalog_engine": "continuum.catalog.db.engine",
    "default_catalog_path": "continuum.catalog.db.location",
    "describe_url": "continuum.catalog.db.location",
    "locate_catalog": "continuum.catalog.db.location",
    "resolve_url": "continuum.catalog.db.location",
    "retry_if_locked": "continuum.catalog.db.errors",
    "translate_errors": "continuum.catalog.db.errors",
}

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

__getattr__, __dir__ = lazy.exports(__name__, _WHERE, __all__)
