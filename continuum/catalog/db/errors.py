"""The one seam where SQLAlchemy and driver errors become ``CatalogError``s.

Everything else in ``continuum.catalog`` lets SQLAlchemy exceptions propagate up
to :func:`translate_errors`, which every public operation runs inside, so a
caller (and the CLI) only ever sees one-line ``CatalogError`` messages.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import exc as sa_exc

from continuum.errors import (
    CatalogConflictError,
    CatalogError,
    CatalogUnavailableError,
)

T = TypeVar("T")


def first_line(exc: BaseException) -> str:
    """The first non-empty line of a driver message (they can span many lines)."""
    orig = getattr(exc, "orig", None) or exc
    for line in str(orig).splitlines():
        if line.strip():
            return line.strip()
    return type(orig).__name__


def is_locked(exc: BaseException) -> bool:
    """True for SQLite's transient lock errors, which a retry can get past."""
    if not isinstance(exc, sa_exc.OperationalError):
        return False
    text = str(exc.orig).lower()
    return "database is locked" in text or "database table is locked" in text


@contextmanager
def translate_errors(where: str) -> Iterator[None]:
    """Turn SQLAlchemy/driver errors raised inside into one-line ``CatalogError``s.

    ``where`` names the catalog (URL with the password hidden) for the message.
    ``CatalogError``s raised inside pass through unchanged.
    """
    try:
        yield
    except CatalogError:
        raise
    except sa_exc.IntegrityError as exc:
        raise CatalogConflictError(
            f"catalog {where}: conflicting write: {first_line(exc)}"
        ) from exc
    except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
        raise CatalogUnavailableError(f"catalog {where} is unavailable: {first_line(exc)}") from exc
    except sa_exc.DBAPIError as exc:
        raise CatalogError(f"catalog {where}: database error: {first_line(exc)}") from exc
    except sa_exc.ArgumentError as exc:
        raise CatalogError(f"catalog URL {where} is not valid: {first_line(exc)}") from exc
    except sa_exc.SQLAlchemyError as exc:
        raise CatalogError(f"catalog {where}: {first_line(exc)}") from exc
    except UnicodeError as exc:  # a str holding undecodable bytes (surrogateescape) of a name
        raise CatalogError(
            f"catalog {where}: text with bytes that are not UTF-8 (from a file name or an "
            f"argument?) cannot be stored or searched: {first_line(exc)}"
        ) from exc
    except OverflowError as exc:  # sqlite3 refuses ints past 64 bits before SQLAlchemy sees it
        raise CatalogError(
            f"catalog {where}: a number is too large to store (at most 2**63-1): {first_line(exc)}"
        ) from exc
    except ModuleNotFoundError as exc:
        raise CatalogUnavailableError(
            f"catalog {where} needs the database driver {exc.name!r}, which is not installed"
        ) from exc


def retry_if_locked(fn: Callable[[], T], attempts: int = 8, first_delay: float = 0.02) -> T:
    """Call ``fn`` again, with jittered exponential backoff, while SQLite says it is locked.

    Write transactions take the lock up front (BEGIN IMMEDIATE) and wait up to
    the busy timeout, so this only matters for the rare lock that outlives it
    or is raised without waiting (e.g. while the journal mode is being set).
    """
    delay = first_delay
    for attempt in range(attempts):
        try:
            return fn()
        except sa_exc.OperationalError as exc:
            if not is_locked(exc) or attempt == attempts - 1:
                raise
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 1.0)
    raise AssertionError("unreachable")


def is_missing_table(exc: BaseException) -> bool:
    """True when a query failed only because its table does not exist (yet)."""
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if getattr(exc.orig, "sqlstate", None) == "42P01":  # PostgreSQL undefined_table
        return True
    return "no such table" in str(exc.orig).lower()
