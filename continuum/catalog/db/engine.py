"""Where the catalog lives and how to connect to it.

URL resolution: an explicit URL > ``$CONTINUUM_CATALOG`` > a SQLite file at
``$XDG_DATA_HOME/continuum/catalog.db`` (``~/.local/share/continuum/``). A value must
be a URL of a known scheme (``sqlite``, ``postgresql[+psycopg]``; ``postgresql://``
means psycopg 3) or a plain path to a ``.db`` file that exists or can be created
(:func:`locate_catalog`); anything else is refused before a file is made.

SQLite is tuned for several processes sharing one file: WAL journal (readers
never block the writer), a busy timeout, foreign keys on, and write
transactions that start with ``BEGIN IMMEDIATE`` so a writer takes the lock
up front instead of failing half-way with "database is locked".  Python's
sqlite3 would otherwise start transactions lazily and never for SELECTs, so
the engine emits BEGIN itself (SQLAlchemy's documented recipe).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
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


#: What a catalog URL looks like, for every message that refuses one.
URL_FORMS = (
    "a catalog URL looks like sqlite:////ABSOLUTE/PATH/catalog.db or "
    "postgresql+psycopg://USER@HOST/DB; a plain path must name a .db file in an existing directory"
)
#: The URL schemes (dialect[+driver]) a catalog may use, and what each becomes.
SCHEMES = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite+pysqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}
_INSTEAD = f"pass --catalog URL or set {ENV_VAR}"


@dataclass(frozen=True)
class CatalogLocation:
    """A resolved catalog: its URL, and the SQLite file when it was given as a plain path
    (the CLI says so: a plain path is easy to mistype into a new, empty catalog)."""

    url: str
    plain_path: Path | None = None


def default_catalog_path() -> Path:
    """``$XDG_DATA_HOME/continuum/catalog.db``, XDG's default being ``~/.local/share``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return layout.catalog_path(base)


def resolve_url(url: str | None = None) -> str:
    """The catalog URL to use: ``url`` if given, else the environment, else the default file."""
    return locate_catalog(url).url


def locate_catalog(url: str | None = None, source: str = "--catalog") -> CatalogLocation:
    """Parse ``url`` (else ``$CONTINUUM_CATALOG``, else the default file) into a location.

    Accepted: a URL whose scheme is in :data:`SCHEMES` (``postgres[ql]://`` means psycopg
    3), or a plain path ending in ``.db`` that is a file or can be created (its directory
    exists). Anything else is a :class:`CatalogError` saying what a catalog URL looks like,
    and nothing is created: ``--catalog "not a url"`` used to make a SQLite file of that
    name in the current directory. Only the default location's directory is created; an
    explicit path in a directory that does not exist is most likely a typo. ``source``
    names where ``url`` came from in messages (``--catalog``; the environment variable
    is named when it is the one used).
    """
    if url is None:
        url, source = os.environ.get(ENV_VAR) or None, f"${ENV_VAR}"
    if url is None:
        return CatalogLocation(f"sqlite:///{_default_file()}")
    if "\x00" in url or not url.strip():
        raise CatalogError(f"{source} {url!r} is not a catalog URL: {URL_FORMS}")
    if "://" in url:
        return CatalogLocation(_parse_url(url, source))
    path = _plain_sqlite_file(url, source)
    return CatalogLocation(f"sqlite:///{path}", plain_path=path)


def _parse_url(url: str, source: str) -> str:
    scheme, _, rest = url.partition("://")
    known = SCHEMES.get(scheme.lower())
    if known is None:
        raise CatalogError(
            f"{source} {describe_url(url)!r}: {scheme!r} is not a catalog database; {URL_FORMS}"
        )
    normalised = f"{known}://{rest}"
    try:
        make_url(normalised)
    except sa_exc.ArgumentError as exc:
        raise CatalogError(
            f"{source} {describe_url(url)!r} is not a valid URL: {URL_FORMS}"
        ) from exc
    return normalised


def _plain_sqlite_file(text: str, source: str) -> Path:
    path = Path(text).expanduser().absolute()
    if path.suffix != ".db":
        raise CatalogError(
            f"{source} {text!r} is neither a catalog URL nor a .db file: {URL_FORMS}"
        )
    if path.exists() and not path.is_file():
        raise CatalogError(f"{source} {text!r} exists and is not a file: {URL_FORMS}")
    if not path.exists() and not path.parent.is_dir():
        raise CatalogUnavailableError(
            f"{source} {text!r}: directory {path.parent} does not exist; create it first "
            f"({URL_FORMS})"
        )
    return path


def _default_file() -> Path:
    """The default catalog file, its directory created; unusable: one line naming the way out."""
    path = default_catalog_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CatalogUnavailableError(  # a read-only or full home: one line, and the ways out
            f"cannot create the default catalog's directory {path.parent}: "
            f"{exc.strerror or type(exc).__name__}; {_INSTEAD} (or run with --no-catalog)"
        ) from exc
    return path


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
                f"catalog {where}: directory {file.parent} does not exist; create it, or {_INSTEAD}"
            )
        if not file.exists() and not os.access(file.parent, os.W_OK):
            raise CatalogUnavailableError(
                f"catalog {where}: cannot create {file}: directory {file.parent} is not "
                f"writable; {_INSTEAD}"
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
