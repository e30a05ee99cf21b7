"""Where the catalog lives: an explicit URL > ``$CONTINUUM_CATALOG`` > the default file.

Standard library only, so a command can check its ``--catalog`` when its options are
parsed without loading SQLAlchemy (~0.17 s): ``continuum lens sql "SELECT 1"`` never
opens the catalog. A value must be a URL of a known scheme (``sqlite``,
``postgresql[+psycopg]``; ``postgresql://`` means psycopg 3) with a well-formed host
part, or a plain path to a ``.db`` file that exists or can be created; anything else is
refused before a file is made. SQLAlchemy parses the URL again when an engine is made
(:func:`continuum.catalog.db.engine.create_catalog_engine`), and whatever it refuses
then is one :class:`CatalogError` line too.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from continuum import layout
from continuum.errors import CatalogError, CatalogUnavailableError

ENV_VAR = "CONTINUUM_CATALOG"

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
INSTEAD = f"pass --catalog URL or set {ENV_VAR}"


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
        urllib.parse.urlsplit(normalised).port  # noqa: B018 - a port that is no number raises
    except ValueError as exc:
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
            f"{exc.strerror or type(exc).__name__}; {INSTEAD} (or run with --no-catalog)"
        ) from exc
    return path


def describe_url(url: object) -> str:
    """The URL as it may appear in messages and output: password hidden (``***``)."""
    text = str(url)  # a SQLAlchemy URL's str() hides its password already
    try:
        parts = urllib.parse.urlsplit(text)
        if parts.password is None:
            return text
        user, _, host = parts.netloc.rpartition("@")
        name = user.partition(":")[0]
        return urllib.parse.urlunsplit(parts._replace(netloc=f"{name}:***@{host}"))
    except ValueError:  # a URL we cannot parse is shown as given
        return text
