"""The Session user SQL runs on: one read at a time, no DuckDB connection handed out."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from continuum.errors import QueryError
from continuum.sql import Cursor, Result, Session, check_read, open_session, run_query


@pytest.fixture
def session(tmp_path: Path):
    root = tmp_path / "exports"
    root.mkdir()
    with open_session([], [root]) as s:
        yield s


def test_select_and_explain_run(session) -> None:
    assert run_query(session, "SELECT 1 AS one, 'a' AS b") == Result(("one", "b"), [(1, "a")])
    assert run_query(session, "EXPLAIN SELECT 1").rows


def test_the_views_exist_and_are_empty_without_exports(session) -> None:
    for view in ("fields", "fields_by_sample", "signals", "ticks"):
        assert run_query(session, f"SELECT count(*) FROM {view}").rows == [(0,)]


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("COPY (SELECT 1) TO 'x.csv'", "got COPY"),
        ("CREATE TABLE t (a INT)", "got CREATE"),
        ("SET enable_external_access = true", "got SET"),
        ("EXPLAIN ANALYZE COPY (SELECT 1) TO 'x.csv'", "EXPLAIN of COPY"),
        ("WITH x AS (COPY (SELECT 1) TO 'x.csv') SELECT * FROM x", "COPY inside"),
        ("SELECT * FROM query('SELECT 1')", "table function query()"),
        ("UPDATE EXTENSIONS", "cannot name"),
        ("SELECT 1; SELECT 2", "one SQL statement"),
        ("SELEC 1", "syntax error"),
    ],
)
def test_anything_but_one_read_is_refused(session, sql: str, fragment: str, tmp_path) -> None:
    with pytest.raises(QueryError, match=fragment):
        session.execute(sql)
    assert not list(tmp_path.rglob("x.csv"))


def test_the_check_needs_no_session() -> None:
    con = duckdb.connect()
    assert check_read(con, "SELECT 1").query == "SELECT 1"
    with pytest.raises(QueryError, match="only reads"):
        check_read(con, "ATTACH 'x.db'")


def test_no_duckdb_connection_is_handed_out(session: Session) -> None:
    cursor = session.execute("SELECT 1")
    assert isinstance(cursor, Cursor) and not isinstance(cursor, duckdb.DuckDBPyConnection)
    public = {n for n in dir(session) if not n.startswith("_")}
    expected = {"close", "execute", "furnish", "limits", "query", "roots", "sql", "temp_dir"}
    assert public == expected | {"warnings"}
    with pytest.raises(QueryError, match="only reads"):
        session.sql("INSTALL httpfs")


def test_files_outside_the_roots_are_refused(session, tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text("a\n1\n")
    with pytest.raises(QueryError, match="outside.csv"):
        run_query(session, f"SELECT * FROM read_csv('{outside}')")


def test_a_closed_session_says_so(tmp_path: Path) -> None:
    s = open_session([], [tmp_path])
    temp = Path(s.temp_dir)
    assert temp.is_dir()
    s.close()
    assert not temp.exists()
    with pytest.raises(QueryError, match="closed"):
        s.execute("SELECT 1")


def test_cursor_fetches(session) -> None:
    cursor = session.execute("SELECT i, i * 2 AS j FROM range(5) t(i)")
    assert cursor.columns == ("i", "j") and cursor.types == ("BIGINT", "BIGINT")
    assert cursor.fetchone() == (0, 0)
    assert cursor.fetchmany(2) == [(1, 2), (2, 4)]
    assert list(cursor.batches(1)) == [[(3, 6)], [(4, 8)]]
    assert cursor.fetchall() == [] and cursor.fetchone() is None
    arrays = session.execute("SELECT i FROM range(3) t(i)").fetchnumpy()
    assert arrays["i"].tolist() == [0, 1, 2]
    assert session.query("SELECT 1 AS a") == Result(("a",), [(1,)])
    assert session.execute("SELECT ?::INT + 1 AS n", [41]).fetchall() == [(42,)]


def test_the_connection_is_locked_before_it_reads_anything(tmp_path: Path) -> None:
    """open_session reads every file (ticks, footers) through this connection, which is
    locked when it is made: a ticks file planted as a symlink to an outside file is
    refused by DuckDB itself, whatever the listing let through."""
    from continuum.sql.limits import Limits
    from continuum.sql.sandbox import sandboxed

    root, outside = tmp_path / "root", tmp_path / "outside.parquet"
    root.mkdir()
    duckdb.execute(f"COPY (SELECT 1 AS tick) TO '{outside}'")
    (root / "ticks.parquet").symlink_to(outside)
    con = sandboxed([root.resolve()], Limits.of(), "")
    settings = (
        "SELECT current_setting('lock_configuration'), current_setting('enable_external_access')"
    )
    assert con.execute(settings).fetchone() == (True, False)
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"SELECT * FROM read_parquet('{root / 'ticks.parquet'}')")
    with pytest.raises(duckdb.InvalidInputException, match="locked"):
        con.execute("SET enable_external_access = true")


def test_statements_share_the_parquet_footer_cache(session) -> None:
    """Each statement runs on its own cursor: the cache must be the database's, not the
    opening connection's (a per-connection setting left every statement re-reading
    footers: time slices ~25 % slower, measured)."""
    got = session.execute("SELECT current_setting('parquet_metadata_cache')").fetchone()
    assert got == (True,)


def test_a_session_reads_the_catalog_only_when_a_statement_reads_a_relation(tmp_path: Path) -> None:
    """SELECT 1 needs no catalog; the first statement over a view reports one that is
    unreachable, and so does every later one (the session is never half-built)."""
    from continuum.errors import CatalogError
    from continuum.sql import connect

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    url = f"sqlite:///{blocker}/catalog.db"  # a catalog that cannot be opened
    with connect(url, roots=[tmp_path]) as s:
        assert s.query("SELECT 1 + (SELECT 2)").rows == [(3,)]
        for _ in range(2):
            with pytest.raises(CatalogError):
                s.query("SELECT count(*) FROM runs")
        with pytest.raises(CatalogError):
            s.query("SELECT count(*) FROM range(3)")  # any relation builds the views
