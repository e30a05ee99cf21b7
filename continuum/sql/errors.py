"""The one place where DuckDB errors become :class:`continuum.errors.QueryError`.

Every call into DuckDB from ``continuum.sql`` runs inside :func:`translate`, so a user
sees one line (``Permission Error: Cannot access file "/etc/passwd" ...``) and never a
DuckDB traceback; the original error stays chained for debugging. A user statement's
errors go through :func:`limit_error`, which names the timeout or the memory limit it hit
and the flag that raises it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from continuum.errors import QueryError
from continuum.sql.limits import Limits, format_size


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


def limit_error(exc: duckdb.Error | None, limits: Limits, *, timed_out: bool) -> QueryError:
    """The one line for a failed user statement: its timeout, its memory limit, or DuckDB's."""
    if timed_out:
        return QueryError(
            f"query stopped at its {limits.timeout:g} s timeout; pass --timeout SECONDS "
            "(timeout= in Python; 0: none) to allow longer"
        )
    if isinstance(exc, duckdb.OutOfMemoryException):
        return QueryError(
            f"query needs more than its {format_size(limits.memory)} memory limit; pass "
            "--memory-limit SIZE (memory_limit= in Python), e.g. 4G, or narrow the query"
        )
    return QueryError(f"query failed: {one_line(exc) if exc else 'interrupted'}")
