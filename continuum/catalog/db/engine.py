"""Where the catalog lives and how to connect to it.

URL resolution: an explicit URL > ``$CONTINUUM_CATALOG`` > a SQLite file at
``$XDG_DATA_HOME/continuum/catalog.db`` (``~/.local/share/continuum/``). A bare
filesystem path is taken as a SQLite file; ``postgresql://`` means psycopg 3.

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

from continuum import layout
from continuum.catalog.db.errors import translate_errors
from continuum.errors import CatalogError, CatalogUnavailableError

ENV_VAR = "CONTINUUM_CATALOG"
SQLITE_BUSY_TIMEOUT_S = 10.0
PG_CONNECT_TIMEOUT_S = 3
# execution option that makes a SQLite transaction start with BEGIN IMMEDIATE
WRITE_OPTION = "continuum_write"


def default_catalog_path() -> Path:
    """``$XDG_DATA_HOME/continuum/catalog.db``, XDG's default being ``~/.local/share``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return layout.catalog_path(base)


def resolve_url(url: str | None = None) -> str:
    """The catalog URL to use: ``url`` if given, else the environment, else the default file.

    Only the default location's directory is created; an explicit path in a
    directory that does not exist is an error (most likely a typo).
    """
    chosen = url or os.environ.get(ENV_VAR)
    if not chosen:
        path = default_catalog_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a read-only or full home: one line, and the ways out
            raise CatalogUnavailableError(
                f"cannot create the default catalog's directory {path.parent}: "
                f"{exc.strerror or exc}; pass --catalog URL or set {ENV_VAR} "
                "(or run with --no-catalog)"
            ) from None
        return f"sqlite:///{path}"
    if "://" not in chosen:
        return f"sqlite:///{Path(chosen).expanduser().absolute()}"
    for prefix in ("postgresql://", "postgres://"):
        if chosen.startswith(prefix):
            return "postgresql+psycopg://" + chosen[len(prefix) :]
    return chosen


def describe_url(url: str | URL) -> str:
    """The URL as it may appear in messages and output: password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL we cannot parse is shown as given
        return str(url)


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
    raise CatalogError(
        f"catalog URL {where} uses {backend!r}; expected sqlite:///PATH or "
        "postgresql+psycopg://USER@HOST/DB"
    )


def _sqlite_engine(url: URL, where: str) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    kwargs: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
    if in_memory:
        # one shared connection, or every checkout would see a different empty database
        kwargs = {"connect_args": {"check_same_thread": False}, "poolclass": StaticPool}
    else:
        parent = Path(database).expanduser().absolute().parent
        if not parent.is_dir():
            raise CatalogUnavailableError(
                f"catalog {where}: directory {parent} does not exist; create it or "
                "pass another --catalog"
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
