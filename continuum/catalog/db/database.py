"""One catalog database: its engine, and short transactions with retries.

Every operation of the catalog's parts runs one short transaction through
:meth:`Database.read` or :meth:`Database.write`, which open a connection, commit,
translate errors and, on SQLite, retry the whole transaction when the file is locked.
Operations therefore pass a function of a ``Connection`` and build their records
inside it; the helpers below (:func:`require_run`, :func:`new_id`, :func:`utcnow`)
are what those functions share.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Row, Table, select

from continuum.catalog.db import schema
from continuum.catalog.db.engine import WRITE_OPTION, create_catalog_engine
from continuum.catalog.db.errors import retry_if_locked, translate_errors
from continuum.catalog.db.location import describe_url, resolve_url
from continuum.catalog.db.models import runs
from continuum.errors import CatalogSchemaError, RunNotFoundError

T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """A client-side id (uuid4 hex): no counter to contend for across processes."""
    return uuid.uuid4().hex


class Database:
    """The engine of one catalog URL and its transactions (thread-safe).

    Opening checks the schema revision with one query and, unless
    ``auto_migrate=False``, upgrades an older schema under a lock.
    """

    def __init__(self, url: str | None = None, *, auto_migrate: bool = True) -> None:
        self.url = resolve_url(url)
        self.where = describe_url(self.url)
        self.engine = create_catalog_engine(self.url)
        self._write_engine = self.engine.execution_options(**{WRITE_OPTION: True})
        try:
            with translate_errors(self.where):
                retry_if_locked(self._ensure_schema if auto_migrate else self._check_schema)
        except BaseException:
            self.engine.dispose()
            raise

    def _ensure_schema(self) -> None:
        schema.ensure_schema(self.engine, self.where)

    def _check_schema(self) -> None:
        with self.engine.connect() as conn:
            found = schema.read_revision(conn)
        if schema.needs_upgrade(found, self.where):
            raise CatalogSchemaError(
                f"catalog {self.where} has schema revision {found or 'none'}, expected "
                f"{schema.HEAD}; run: continuum catalog migrate --catalog {self.where}"
            )

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    def read(self, fn: Callable[[Connection], T]) -> T:
        """``fn(conn)`` in one transaction; retried while SQLite is locked."""
        return self._transaction(self.engine, fn)

    def write(self, fn: Callable[[Connection], T]) -> T:
        """Like :meth:`read`; on SQLite the transaction takes the write lock up front."""
        return self._transaction(self._write_engine, fn)

    def _transaction(self, engine: Engine, fn: Callable[[Connection], T]) -> T:
        def attempt() -> T:
            with engine.begin() as conn:
                return fn(conn)

        with translate_errors(self.where):
            return retry_if_locked(attempt)

    def insert(self, table: Table) -> Any:
        """The dialect's INSERT, which has ``on_conflict_do_nothing/update``."""
        return dialect_insert(self.dialect, table)

    def migrate(self) -> tuple[str | None, str | None]:
        """Upgrade to the newest revision; returns (revision before, revision after)."""
        with translate_errors(self.where):
            return retry_if_locked(lambda: schema.upgrade(self.engine, self.where))

    def revision(self) -> str | None:
        """The schema revision the catalog is at (a plain connection: reading a missing
        ``alembic_version`` rolls back, which must not happen inside ``begin()``)."""

        def read() -> str | None:
            with self.engine.connect() as conn:
                return schema.read_revision(conn)

        with translate_errors(self.where):
            return retry_if_locked(read)


def dialect_insert(dialect: str, table: Table) -> Any:
    """INSERT with ``on_conflict_do_nothing/update`` for ``dialect``."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def require_run(conn: Connection, run_id: str) -> Row[Any]:
    """The run's row, or ``RunNotFoundError`` naming the id."""
    run = conn.execute(select(runs).where(runs.c.run_id == run_id)).first()
    if run is None:
        raise RunNotFoundError(
            f"no run {run_id!r} in the catalog; list runs with: continuum catalog list"
        )
    return run
