"""How to connect to the catalog (where it lives: :mod:`continuum.catalog.db.location`).

SQLite is tuned for several processes sharing one file: WAL journal (readers
never block the writer), a busy timeout, foreign keys on, and write
transactions that start with ``BEGIN IMMEDIATE`` so a writer takes the lock
up front instead of failing half-way with "database is locked".  Python's
sqlite3 would otherwise start transactions lazily and never for SELECTs, so
the engine emits BEGIN itself (SQLAlchemy's documented recipe).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

from continuum.catalog.db.errors import translate_errors
from continuum.catalog.db.location import INSTEAD, URL_FORMS, describe_url
from continuum.errors import CatalogError, CatalogUnavailableError

SQLITE_BUSY_TIMEOUT_S = 10.0
PG_CONNECT_TIMEOUT_S = 3
# execution option that makes a SQLite transaction start with BEGIN IMMEDIATE
WRITE_OPTION = "continuum_write"


def create_catalog_engine(url: str) -> Engine:
    """An Engine for a resolved catalog URL, tuned per dialect (see module docstring)."""
    where = describe_url(url)
    with translate_errors(where):
        parsed = make_url(url)
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            return _sqlite_engine(parsed, where)
        if backend == "postgresql":
            return _postgresql_engine(parsed)
    raise CatalogError(f"catalog URL {where} uses {backend!r}: {URL_FORMS}")


def _sqlite_engine(url: URL, where: str) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    kwargs: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
    if in_memory:
        # one shared connection, or every checkout would see a different empty database
        kwargs = {"connect_args": {"check_same_thread": False}, "poolclass": StaticPool}
    else:
        file = Path(database).expanduser().absolute()
        if not file.parent.is_dir():
            raise CatalogUnavailableError(
                f"catalog {where}: directory {file.parent} does not exist; create it, or {INSTEAD}"
            )
        if not file.exists() and not os.access(file.parent, os.W_OK):
            raise CatalogUnavailableError(
                f"catalog {where}: cannot create {file}: directory {file.parent} is not "
                f"writable; {INSTEAD}"
            )
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, see _sqlite_on_begin
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")  # durable across crashes in WAL mode
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    write = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _postgresql_engine(url: URL) -> Engine:
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    connect_args = {"connect_timeout": PG_CONNECT_TIMEOUT_S, "application_name": "continuum"}
    return create_engine(url, connect_args=connect_args, pool_pre_ping=True)
