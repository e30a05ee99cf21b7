"""The one seam where DuckDB errors become QueryError: one line, the cause chained."""

from __future__ import annotations

import duckdb
import pytest

from continuum.errors import ContinuumError, QueryError
from continuum.sql.errors import one_line, translate


def test_duckdb_errors_become_one_line_query_errors() -> None:
    con = duckdb.connect()
    with pytest.raises(QueryError) as info, translate("counting"):
        con.execute("SELECT nope FROM range(3)")
    message = str(info.value)
    assert message.startswith("counting failed: ") and "nope" in message
    assert "\n" not in message
    assert isinstance(info.value.__cause__, duckdb.Error)
    assert isinstance(info.value, ContinuumError)


def test_other_errors_pass_through_unchanged() -> None:
    with pytest.raises(KeyError), translate():
        raise KeyError("not DuckDB's")


def test_one_line() -> None:
    assert one_line(ValueError("\n  first line \nsecond")) == "first line"
    assert one_line(ValueError("")) == "ValueError"
