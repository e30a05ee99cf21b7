"""The user-SQL sandbox: only reads run, files only under the export roots, bounded.

Two independent fences, because each alone leaks:

1. A statement check by DuckDB's own parser (:mod:`continuum.sql.statements`): one
   statement that only reads — a SELECT whose every query node is a read (a SELECT can
   hide ``WITH x AS (COPY ... TO ...)``) and whose table functions only read — or
   ``EXPLAIN [ANALYZE]`` of one. Anything else is one line, before anything runs.
2. DuckDB's own settings, applied right after connecting and before any file is read:
   ``allowed_directories`` (the roots' realpaths), ``enable_external_access = false``
   (no other file, no network, no extension install or load), no Python replacement
   scans, a private ``temp_directory`` (DuckDB makes its temp dir readable by SQL, and
   its default is ``<cwd>/.tmp``, which a planted ``.tmp -> /etc`` turned into
   ``/etc/passwd``), the memory limit; then ``lock_configuration = true`` so user SQL
   cannot undo them. DuckDB's fence alone lets a ``COPY`` or ``ATTACH`` write *inside*
   an allowed directory (measured), hence fence 1.

:class:`Session` is what user SQL runs on (the CLI and ``continuum.sql.connect()``):
it never hands out the DuckDB connection. Each :meth:`Session.execute` runs on its own
DuckDB cursor under a deadline (:mod:`continuum.sql.limits`) and returns a
:class:`Cursor` that streams rows (``fetchmany``/``batches``), so no result is fetched
whole unless asked.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from continuum import layout
from continuum.errors import QueryError
from continuum.sql.errors import limit_error, translate
from continuum.sql.limits import Deadline, Limits
from continuum.sql.statements import check_read, reads_relations

if TYPE_CHECKING:
    import numpy as np

BATCH_ROWS = 10_000
#: Runs on a statement's cursor before the statement (see :class:`Session`).
Prepare = Callable[[duckdb.DuckDBPyConnection, duckdb.Statement], None]


@dataclass(frozen=True)
class Result:
    """A query's column names and rows (plain Python values)."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def private_temp_dir(roots: Sequence[Path | str]) -> str:
    """A new 0700 directory for DuckDB's spill files, outside every root ('' if the
    system temp dir is inside one: then DuckDB does not spill, it fails at the limit)."""
    base = Path(tempfile.gettempdir()).resolve()
    if any(isinstance(r, Path) and layout.is_within(r, base) for r in roots):
        return ""
    return tempfile.mkdtemp(prefix="continuum-sql-")


def sandboxed(
    roots: Sequence[Path | str], limits: Limits, temp_dir: str, filesystem: Any = None
) -> duckdb.DuckDBPyConnection:
    """A connection locked to ``roots`` and ``limits`` before it has read anything.

    An ``s3://`` root: ``filesystem`` (an s3fs filesystem from the storage seam, by
    default a snapshot one: ``fsspec_filesystem(..., snapshot=True)``) is registered first
    (DuckDB reads through it, with the seam's endpoint and credentials; no httpfs
    extension is loaded),
    and the root's URL (with a trailing ``/``) is one of ``allowed_directories``, so
    DuckDB refuses any other bucket or prefix as it refuses a local file outside the roots.
    """
    con = duckdb.connect(
        config={
            "memory_limit": f"{limits.memory}B",
            "temp_directory": temp_dir,
            "python_enable_replacements": False,  # no SQL access to Python variables
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
    )
    dirs = ", ".join("'" + str(r).replace("'", "''").rstrip("/") + "/'" for r in roots)
    remote = [r for r in roots if isinstance(r, str)]
    with translate("locking the SQL session"):
        if remote:
            if filesystem is None:
                from continuum.blobs.storage import fsspec_filesystem

                filesystem = fsspec_filesystem(remote[0], snapshot=True)
            con.register_filesystem(filesystem)
        # footers parsed once per session, by every cursor (a plain SET is the connection's
        # own: the statements' cursors re-read footers, ~25 % slower time slices, measured)
        con.execute("SET GLOBAL parquet_metadata_cache = true")
        con.execute("SET enable_progress_bar = false")  # opening: nothing but results on stdout
        con.execute(f"SET allowed_directories = [{dirs}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    return con


class Cursor:
    """One statement's result, streamed; every DuckDB error is one line.

    The statement's deadline runs until the rows are exhausted or :meth:`close` is
    called; past it, every fetch raises the timeout's QueryError.
    """

    def __init__(self, session: Session, statement: duckdb.Statement, parameters: Any) -> None:
        self._session = session  # keeps the connection open while rows are read
        self._cur = session._con.cursor()
        self._deadline = Deadline(session.limits.timeout, self._cur.interrupt)
        with self._guard():
            if session._prepare is not None:  # the catalog rows it reads, on its cursor
                session._prepare(self._cur, statement)
            self._cur.execute(statement, parameters)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        if self._deadline.fired:
            raise limit_error(None, self._session.limits, timed_out=True)
        try:
            yield
        except duckdb.Error as exc:
            self.close()
            raise limit_error(exc, self._session.limits, timed_out=self._deadline.fired) from exc
        except MemoryError:
            self.close()
            raise QueryError(
                "the result does not fit in memory: fetch it in batches (fetchmany, or "
                "--output FILE on the command line)"
            ) from None

    @property
    def description(self) -> list[Any]:
        """DB-API description of the result's columns."""
        return list(self._cur.description or ())

    @property
    def columns(self) -> tuple[str, ...]:
        """The result's column names."""
        return tuple(d[0] for d in self.description)

    @property
    def types(self) -> tuple[str, ...]:
        """The result's DuckDB column types, by name (``BIGINT``, ``DOUBLE[]``...)."""
        return tuple(str(d[1]) for d in self.description)

    def fetchmany(self, size: int = BATCH_ROWS) -> list[tuple[Any, ...]]:
        """Up to ``size`` more rows; ``[]`` once exhausted."""
        with self._guard():
            rows = self._cur.fetchmany(size)
        if not rows:
            self._deadline.cancel()
        return rows

    def fetchone(self) -> tuple[Any, ...] | None:
        """The next row, or None once exhausted."""
        rows = self.fetchmany(1)
        return rows[0] if rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every remaining row (in memory: prefer :meth:`batches` for large results)."""
        with self._guard():
            rows = self._cur.fetchall()
        self._deadline.cancel()
        return rows

    def fetchnumpy(self) -> dict[str, np.ndarray]:
        """Every remaining row as one numpy array per column."""
        with self._guard():
            arrays = self._cur.fetchnumpy()
        self._deadline.cancel()
        return dict(arrays)

    def batches(self, size: int = BATCH_ROWS) -> Iterator[list[tuple[Any, ...]]]:
        """The remaining rows, ``size`` at a time (memory bounded by one batch)."""
        while rows := self.fetchmany(size):
            yield rows

    def result(self) -> Result:
        """Columns and every remaining row."""
        return Result(self.columns, self.fetchall())

    def close(self) -> None:
        """Stop reading: the deadline ends and DuckDB frees the result."""
        self._deadline.cancel()
        self._cur.close()


def _close(
    con: duckdb.DuckDBPyConnection, temp_dir: str, cleanups: list[Callable[[], object]]
) -> None:
    con.close()
    if temp_dir:
        shutil.rmtree(temp_dir, ignore_errors=True)
    for cleanup in cleanups:
        cleanup()


@dataclass(frozen=True)
class Furnished:
    """What building a session's views gave: the per-statement preparation (catalog
    rows), what to release at close (the catalog), and the warnings seen on the way."""

    prepare: Prepare | None = None
    cleanup: Callable[[], object] | None = None
    warnings: Sequence[str] = ()


#: Builds a session's views and tables on its (locked) connection, once, on first need.
Furnish = Callable[[duckdb.DuckDBPyConnection], Furnished]


#: Rewrites a statement already checked to read only (view names only).
Route = Callable[[duckdb.DuckDBPyConnection, duckdb.Statement], duckdb.Statement]


class Session:
    """User SQL over field history: one read at a time, locked to ``roots``, bounded.

    ``execute(sql, parameters)`` (alias ``sql``) checks the statement, then runs it on
    its own cursor under the timeout; the DuckDB connection is never handed out.
    ``furnish(connection)``, if given, builds the views and tables the first time a
    statement reads a relation (:meth:`furnish`); the preparation it returns runs on
    each statement's cursor after the check and before the statement (it loads the
    catalog rows the statement reads, :mod:`continuum.sql.catalog_tables`), and its
    cleanup when the session closes.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        roots: Sequence[Path | str],
        limits: Limits,
        temp_dir: str,
        *,
        furnish: Furnish | None = None,
        route: Route | None = None,
    ) -> None:
        self._con, self.roots, self.limits = con, tuple(roots), limits
        self._route = route  # picks the views a checked statement reads (sql.routing)
        self.temp_dir, self.warnings = temp_dir, tuple[str, ...]()
        self._prepare: Prepare | None = None
        self._furnish, self._furnished = furnish, threading.Lock()
        self._failed: BaseException | None = None
        self._cleanups: list[Callable[[], object]] = []
        self._closer = weakref.finalize(self, _close, con, temp_dir, self._cleanups)

    def furnish(self) -> None:
        """Build the views now (else the first statement that reads a relation does).

        Why lazily: a statement reading no relation (``SELECT 1``, ``SELECT now()``)
        then costs neither the catalog (SQLAlchemy's import alone is ~0.17 s) nor a
        listing of the export roots. A failure (an unreachable catalog, a damaged
        file) is raised by the statement that needed the views, and by every later
        one: the session is then unusable, never half-built and silently partial."""
        with self._furnished:
            if self._failed is not None:
                raise self._failed
            if self._furnish is None:
                return
            try:
                done = self._furnish(self._con)
            except BaseException as e:
                self._failed = e
                raise
            self._furnish = None
            self._prepare, self.warnings = done.prepare, tuple(done.warnings)
            if done.cleanup is not None:
                self._cleanups.append(done.cleanup)

    def execute(self, sql: str, parameters: Any = None) -> Cursor:
        """Run one read-only statement; its rows stream from the returned cursor."""
        if not self._closer.alive:
            raise QueryError("this SQL session is closed; open a new one")
        if not isinstance(sql, str):
            raise QueryError(f"SQL must be text, got {type(sql).__name__}")
        statement = check_read(self._con, sql)
        unbuilt = self._furnish is not None or self._failed is not None
        if unbuilt and reads_relations(self._con, statement.query):
            self.furnish()
        if self._route is not None:
            statement = self._route(self._con, statement)
        return Cursor(self, statement, parameters)

    sql = execute

    def query(self, sql: str, parameters: Any = None) -> Result:
        """Columns and every row of one read-only statement (small results)."""
        return self.execute(sql, parameters).result()

    def close(self) -> None:
        """Close DuckDB and remove the private temp dir."""
        self._closer()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_query(session: Session, sql: str) -> Result:
    """Run one read-only statement of user SQL and fetch its rows."""
    return session.query(sql)
