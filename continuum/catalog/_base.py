"""What every group of catalog operations shares: the engine, sessions, retries.

Each public operation runs one short transaction through :meth:`_read` or
:meth:`_write`, which open a connection, commit, translate errors and, on
SQLite, retry the whole transaction when the file is locked. Operations
therefore pass a function of a ``Connection`` and build their records inside it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Row, Table, select

from continuum.catalog import schema
from continuum.catalog._errors import (
    retry_if_locked,
    translate_errors,
)
from continuum.catalog.engine import (
    WRITE_OPTION,
    create_catalog_engine,
    describe_url,
    resolve_url,
)
from continuum.catalog.models import runs
from continuum.errors import CatalogSchemaError, RunNotFoundError

T = TypeVar("T")
DEFAULT_STALE_AFTER = timedelta(minutes=2)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """A client-side id (uuid4 hex): no counter to contend for across processes."""
    return uuid.uuid4().hex


def new_run_id(at: datetime | None = None) -> str:
    """``YYYYMMDD_HHMMSS_xxxxxx`` in UTC: sorts by start time, unique by its random tail."""
    return f"{(at or utcnow()).astimezone(UTC):%Y%m%d_%H%M%S}_{uuid.uuid4().hex[:6]}"


class CatalogBase:
    """Holds the engine of one catalog; the operation mixins build on it.

    ``stale_after``: a running run whose heartbeat is older is shown as crashed.
    ``check_local_pids``: judge runs of this host by whether their process
    exists instead (a SIGKILLed run shows ``crashed`` at once, a paused one
    never does); see ``continuum.catalog.liveness``.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        auto_migrate: bool = True,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
        check_local_pids: bool = True,
    ) -> None:
        self.url = resolve_url(url)
        self.where = describe_url(self.url)
        self.stale_after = stale_after
        self.check_local_pids = check_local_pids
        self._engine = create_catalog_engine(self.url)
        self._write_engine = self._engine.execution_options(**{WRITE_OPTION: True})
        try:
            with translate_errors(self.where):
                retry_if_locked(self._check_schema if not auto_migrate else self._ensure_schema)
        except BaseException:
            self._engine.dispose()
            raise

    def _ensure_schema(self) -> None:
        schema.ensure_schema(self._engine, self.where)

    def _check_schema(self) -> None:
        with self._engine.connect() as conn:
            found = schema.read_revision(conn)
        if schema.needs_upgrade(found, self.where):
            raise CatalogSchemaError(
                f"catalog {self.where} has schema revision {found or 'none'}, expected "
                f"{schema.HEAD}; run: continuum catalog migrate --catalog {self.where}"
            )

    def close(self) -> None:
        """Release pooled connections."""
        self._engine.dispose()

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.where!r})"

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    def _read(self, fn: Callable[[Connection], T]) -> T:
        return self._transaction(self._engine, fn)

    def _write(self, fn: Callable[[Connection], T]) -> T:
        """Like ``_read``; on SQLite the transaction takes the write lock up front."""
        return self._transaction(self._write_engine, fn)

    def _transaction(self, engine: Engine, fn: Callable[[Connection], T]) -> T:
        def attempt() -> T:
            with engine.begin() as conn:
                return fn(conn)

        with translate_errors(self.where):
            return retry_if_locked(attempt)

    def _insert(self, table: Table) -> Any:
        """The dialect's INSERT, which has ``on_conflict_do_nothing/update``."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)


def require_run(conn: Connection, run_id: str) -> Row[Any]:
    """The run's row, or ``RunNotFoundError`` naming the id."""
    run = conn.execute(select(runs).where(runs.c.run_id == run_id)).first()
    if run is None:
        raise RunNotFoundError(
            f"no run {run_id!r} in the catalog; list runs with: continuum catalog list"
        )
    return run
