"""User SQL: one read-only statement, files only under the export roots, settings locked."""

from __future__ import annotations

from pathlib import Path

import pytest

from continuum.errors import QueryError
from continuum.sql import Result, open_session, run_query


@pytest.fixture
def session(tmp_path: Path):
    root = tmp_path / "exports"
    root.mkdir()
    con = open_session([], [root])
    yield con
    con.close()


def test_select_and_explain_run(session) -> None:
    assert run_query(session, "SELECT 1 AS one, 'a' AS b") == Result(("one", "b"), [(1, "a")])
    assert run_query(session, "EXPLAIN SELECT 1").rows


def test_the_views_exist_and_are_empty_without_exports(session) -> None:
    for view in ("fields", "fields_by_sample", "signals", "ticks"):
        assert run_query(session, f"SELECT count(*) FROM {view}").rows == [(0,)]


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("COPY (SELECT 1) TO 'x.csv'", "only reads may run"),
        ("CREATE TABLE t (a INT)", "only reads may run"),
        ("SET enable_external_access = true", "only reads may run"),
        ("SELECT 1; SELECT 2", "one SQL statement"),
        ("SELEC 1", "syntax error"),
    ],
)
def test_anything_but_one_select_is_refused(session, sql: str, fragment: str) -> None:
    with pytest.raises(QueryError, match=fragment):
        run_query(session, sql)


def test_files_outside_the_roots_are_refused(session, tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text("a\n1\n")
    with pytest.raises(QueryError, match="outside.csv"):
        run_query(session, f"SELECT * FROM read_csv('{outside}')")
