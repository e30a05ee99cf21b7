"""The one place where DuckDB errors become :class:`continuum.errors.QueryError`.

Every call into DuckDB from ``continuum.sql`` runs inside :func:`translate`, so a user
sees one line (``Permission Error: Cannot access file "/etc/passwd" ...``) and never a
DuckDB traceback; the original error stays chained for debugging.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from continuum.errors import QueryError


def one_line(exc: BaseException) -> str:
    """The first non-empty line of an error message (DuckDB adds context lines)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


@contextmanager
def translate(what: str = "query") -> Iterator[None]:
    """Turn any ``duckdb.Error`` raised inside into a one-line QueryError about ``what``."""
    try:
        yield
    except duckdb.Error as exc:
        raise QueryError(f"{what} failed: {one_line(exc)}") from exc
