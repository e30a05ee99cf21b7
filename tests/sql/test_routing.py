"""Statements on ``fields`` routed to the layout and views that answer them: same rows."""

from __future__ import annotations

import duckdb
import pytest

from continuum.sql import open_session
from continuum.sql.routing import route

from .conftest import Runs

F = "field = 'atmosphere.temperature'"

#: Queries whose answers must not depend on routing (ordered, so rows compare).
QUERIES = [
    f"SELECT tick, value FROM fields WHERE {F} AND sample = 7 ORDER BY run_id, tick",
    f"SELECT sample, value FROM fields WHERE {F} AND tick = 10 ORDER BY run_id, sample",
    f"SELECT tick, avg(value) FROM fields WHERE {F} AND face = 2 GROUP BY tick ORDER BY tick",
    f"SELECT tick, avg(value) FROM fields WHERE {F} AND lat BETWEEN 10 AND 20 "
    "GROUP BY tick ORDER BY tick",
    f"SELECT * FROM fields WHERE {F} AND tick = 10 ORDER BY run_id, sample",
    f'SELECT "fields".lat, "fields".value FROM "fields" WHERE {F} AND i = 1 '
    "ORDER BY run_id, tick, sample",
    f"SELECT a.sample, a.lon, b.value - a.value FROM fields AS a JOIN fields AS b "
    f"USING (field, tick, sample) WHERE a.{F} AND a.tick = 10 AND a.run_id < b.run_id "
    "ORDER BY a.sample",
    f"WITH x AS (SELECT sample FROM fields_by_sample WHERE {F} AND lat > 80 LIMIT 3) "
    f"SELECT run_id, tick, sample, value FROM fields WHERE {F} AND sample IN "
    "(SELECT sample FROM x) ORDER BY ALL",
    "WITH fields AS (SELECT 1 AS sample) SELECT * FROM fields WHERE sample = 1",
]


@pytest.mark.parametrize("sql", QUERIES)
def test_routed_answers_equal_the_views_as_named(runs: Runs, sql: str):
    with open_session([], [runs.exports], routed=False) as plain:
        want = plain.execute(sql).fetchall()
    got = runs.session().execute(sql).fetchall()
    assert len(got) == len(want) > 0
    for mine, theirs in zip(got, want):
        assert len(mine) == len(theirs)
        for a, b in zip(mine, theirs):
            assert a == pytest.approx(b, rel=1e-12, abs=1e-12) if isinstance(b, float) else a == b


def routed(sql: str) -> str:
    con = duckdb.connect()
    return route(con, con.extract_statements(sql)[0]).query


@pytest.mark.parametrize(
    ("sql", "view"),
    [
        ("SELECT value FROM fields WHERE sample = 3", "fields_by_sample"),
        ("SELECT value FROM fields WHERE sample = 3 AND tick = 4", "fields"),
        ("SELECT sample, value FROM fields WHERE tick IN (4, 5)", "fields"),
        ("SELECT avg(value) FROM fields WHERE face = 2", "_fields_sample_cells"),
        ("SELECT * FROM fields WHERE tick = 4", "_fields_time_cells"),
        ("SELECT lat FROM fields_by_sample", "_fields_sample_cells"),
        ("SELECT avg(value) FROM fields GROUP BY tick", "fields"),
    ],
)
def test_the_layout_and_positions_a_statement_needs(sql: str, view: str):
    text = routed(sql)
    assert f"FROM {view} " in text + " "


def test_a_name_the_user_shadowed_is_left_as_written():
    sql = "WITH fields AS (SELECT 1 AS sample) SELECT * FROM fields WHERE sample = 1"
    assert routed(sql) == sql
    assert routed("SELECT value FROM main.fields WHERE sample = 3").endswith("sample = 3")
