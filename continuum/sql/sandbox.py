"""The user-SQL sandbox: read-only queries, files only under the export directories.

Two independent fences, because each alone leaks:

1. DuckDB's own settings — ``allowed_directories`` (the export roots), then
   ``enable_external_access = false`` (no other file, no network, no extension
   install), then ``lock_configuration = true`` so user SQL cannot undo them.
   ``/etc/passwd``, ``COPY ... TO '/tmp/x.csv'`` and ``INSTALL`` are refused by DuckDB.
2. A statement allowlist: only ``SELECT`` (and ``EXPLAIN``). DuckDB's fence lets a
   ``COPY`` or ``ATTACH`` *write inside* an allowed directory — measured — and an export
   root must not be writable by a query. Results go to ``--output`` from Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from continuum.errors import QueryError
from continuum.sql.errors import translate

ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


@dataclass(frozen=True)
class Result:
    """A query's column names and rows (plain Python values)."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def lock_down(con: duckdb.DuckDBPyConnection, roots: Sequence[Path]) -> None:
    """Allow file access only under ``roots``, then lock the configuration."""
    dirs = ", ".join("'" + str(r).replace("'", "''").rstrip("/") + "/'" for r in roots)
    con.execute(f"SET allowed_directories = [{dirs}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET lock_configuration = true")


def check_statements(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Exactly one statement, and a read-only one; else a one-line QueryError."""
    with translate("query"):
        statements = con.extract_statements(sql)
    if len(statements) != 1:
        raise QueryError(f"Expected one SQL statement, got {len(statements)} instead")
    kind = statements[0].type
    if kind not in ALLOWED:
        name = str(kind).rsplit(".", 1)[-1]
        raise QueryError(
            f"only SELECT queries may run here, got {name}; to save results use --output FILE"
        )


def run_query(con: duckdb.DuckDBPyConnection, sql: str) -> Result:
    """Run one read-only statement of user SQL and fetch its rows."""
    check_statements(con, sql)
    with translate("query"):
        cursor = con.execute(sql)
        columns = tuple(d[0] for d in cursor.description or ())
        return Result(columns, cursor.fetchall())
