"""Spark reads the exported layout unchanged: the README's queries, and the views row for
row, give the same answers in Spark (PySpark, local mode) as in DuckDB on the same export.

Equal means equal: every integer, string and stored value exactly, except

- means (``avg``): within 1e-12 relative. Spark and DuckDB add a group's values in a
  different order (partitions, threads), and floating-point addition is not associative:
  the last bits of a sum of 6,144 values differ (measured ~1e-14 relative);
- derived ``lat``/``lon`` of cell fields: within 1e-12 degrees. DuckDB's session reads
  positions routed through a cells table computed in numpy, Spark evaluates the SQL
  formula with Java's ``Math`` (measured: at most 9 ulps, 1.3e-13 degrees, from numpy's;
  at most 2 ulps from DuckDB's own evaluation of the same formula). ``face, i, j`` are
  exact.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from continuum.catalog import Catalog
from continuum.errors import QueryError
from continuum.sql import connect, export_run, run_query
from tests.lens.gap_dirs import RUN_ID, gappy_run

from .conftest import Runs
from .test_readme_queries import QUERIES

pytest.importorskip("pyspark", reason="PySpark is not installed: pip install 'continuum[spark]'")

from continuum.sql.spark import local_session, register_views  # noqa: E402
from continuum.sql.spark._runtime import java_command  # noqa: E402

pytestmark = [
    pytest.mark.slow,  # a JVM starts (~5-10 s) and each query is a Spark job
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

#: Columns that are means (see the module docstring), and derived positions.
MEANS = {"mean_temperature", "mean"}
POSITIONS = {"lat", "lon"}
#: DuckDB's type names -> Spark's, for the views' schemas.
TYPES = {
    "BIGINT": "bigint",
    "DOUBLE": "double",
    "INTEGER": "int",
    "SMALLINT": "smallint",
    "TINYINT": "tinyint",
    "VARCHAR": "string",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp_ntz",
}
VIEWS = ("fields", "fields_by_sample", "signals", "ticks", "field_units", "signal_units")
CATALOG_TABLES = (
    "runs",
    "run_params",
    "run_tags",
    "checkpoints",
    "lens_chunks",
    "lens_gaps",
    "lens_copies",
    "parquet_exports",
)


@pytest.fixture(scope="session", name="spark")
def _spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if java_command() is None:
        pytest.skip("no Java runtime for Spark: apt-get install default-jre-headless")
    warehouse = tmp_path_factory.mktemp("spark_warehouse")
    session = local_session(
        "local[2]",
        conf={
            "spark.sql.shuffle.partitions": "2",
            "spark.sql.warehouse.dir": str(warehouse),
            "spark.local.dir": str(warehouse),  # shuffle and block files
            "spark.driver.extraJavaOptions": f"-Djava.io.tmpdir={warehouse}",
        },
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module", name="views")
def _views(spark: Any, runs: Runs) -> tuple[str, ...]:
    """The views of ``runs`` registered on the shared session."""
    return register_views(spark, runs.exports, catalog=runs.url)


def spark_rows(spark: Any, sql: str) -> tuple[list[str], list[tuple]]:
    frame = spark.sql(sql)
    return frame.columns, [tuple(r) for r in frame.collect()]


def assert_same(columns: list[str], got: list[tuple], want: list[tuple]) -> None:
    """Row for row, in order (every query here orders its rows totally)."""
    assert len(got) == len(want)
    for g, w in zip(got, want):
        for name, a, b in zip(columns, g, w, strict=True):
            if name in MEANS:
                assert math.isclose(a, b, rel_tol=1e-12, abs_tol=0), (name, a, b)
            elif name in POSITIONS and a is not None and b is not None:
                assert abs(a - b) <= 1e-12, (name, a, b)
            else:
                assert a == b and type(a) is type(b), (name, g, w)


@pytest.mark.parametrize("k", range(len(QUERIES)))
def test_each_readme_query_answers_the_same_in_spark(
    spark: Any, views: tuple[str, ...], runs: Runs, k: int
):
    want = run_query(runs.session(), QUERIES[k])
    columns, got = spark_rows(spark, QUERIES[k])  # the README's text, unchanged
    assert tuple(columns) == want.columns
    assert got  # every query has rows on these runs: the comparison is not vacuous
    assert_same(columns, got, want.rows)


def test_every_view_and_table_has_duckdb_s_columns_and_types(
    spark: Any, views: tuple[str, ...], runs: Runs
):
    assert set(views) == {*VIEWS, *CATALOG_TABLES}
    with runs.session() as s:
        for name in views:
            described = s.execute(f"DESCRIBE {name}").fetchall()
            want = [(r[0], TYPES[r[1]]) for r in described]
            got = [(f.name, f.dataType.simpleString()) for f in spark.table(name).schema]
            assert got == want, name


@pytest.mark.parametrize(
    ("view", "where"),
    [
        ("fields", "tick IN (0, 10, 20) AND sample % 5 = 0"),  # each part, every face
        ("fields_by_sample", "sample IN (0, 5, 6143) OR field = 'plates.velocity'"),
    ],
)
def test_field_views_row_for_row(
    spark: Any, views: tuple[str, ...], runs: Runs, view: str, where: str
):
    """Every column, derived positions and the joined sim_time included."""
    sql = f"SELECT * FROM {view} WHERE {where} ORDER BY run_id, field, tick, sample"
    want = run_query(runs.session(), sql)
    columns, got = spark_rows(spark, sql)
    assert len(got) > 10_000 if view == "fields" else len(got) > 100
    assert_same(columns, got, want.rows)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT run_id, field, count(*), count(DISTINCT tick), sum(sample), count(lat) "
        "FROM fields GROUP BY run_id, field ORDER BY run_id, field",
        "SELECT run_id, field, count(*), count(DISTINCT tick), sum(sample), count(lat) "
        "FROM fields_by_sample GROUP BY run_id, field ORDER BY run_id, field",
        "SELECT * FROM signals ORDER BY run_id, signal, tick",
        "SELECT * FROM ticks ORDER BY run_id, tick",
        "SELECT * FROM field_units ORDER BY run_id, field",
        "SELECT * FROM signal_units ORDER BY run_id, signal",
        "SELECT * FROM runs ORDER BY run_id",
        "SELECT * FROM lens_chunks ORDER BY run_id, start_tick",
    ],
)
def test_whole_views_and_tables_agree(spark: Any, views: tuple[str, ...], runs: Runs, sql: str):
    want = run_query(runs.session(), sql)
    columns, got = spark_rows(spark, sql)
    assert got
    assert_same(columns, got, want.rows)


def test_gap_rows_of_ticks_agree(spark: Any, tmp_path: Path):
    """A run with dropped, lost and missing ticks: the same gap rows in both engines."""
    run_dir = gappy_run(tmp_path / "lens")
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    with Catalog(url) as cat:
        cat.runs.register(world="terra", ir_hash="h" * 8, seed=7, run_id=RUN_ID)
        export_run(run_dir, tmp_path / "exp", catalog=cat)
    own = spark.newSession()  # its own temp views: the shared session's stay as they are
    register_views(own, [tmp_path / "exp"], catalog=url)
    sql = "SELECT * FROM ticks ORDER BY run_id, tick"
    with connect(url, roots=[tmp_path / "exp"]) as s:
        want = s.execute(sql).fetchall()
    columns, got = spark_rows(own, sql)
    assert [r for r in got if not r[3]]  # gap rows there: the check is not vacuous
    assert_same(columns, got, want)
    joined = (  # a gap row joins no field row (as in tests/sql/test_ticks_gaps.py)
        "SELECT count(*) FROM ticks t LEFT JOIN fields f USING (run_id, tick) "
        "WHERE NOT t.captured AND f.tick IS NOT NULL"
    )
    assert spark_rows(own, joined)[1] == [(0,)]


def test_two_roots_one_named_like_a_glob(spark: Any, runs: Runs, tmp_path: Path):
    """Two export roots (one read per Hive base, unioned); Hadoop reads ``*?[]{}`` in a
    path as a pattern, yet a root named so is still one directory."""
    odd = tmp_path / "exp [1]{a,b}*?%41"
    shutil.copytree(runs.exports, odd)
    own = spark.newSession()
    register_views(own, [runs.exports, odd], catalog=runs.url)
    sql = (
        "SELECT run_id, field, count(*), sum(value), count(sim_time) FROM fields "
        "GROUP BY run_id, field ORDER BY ALL"
    )
    with connect(runs.url, roots=[runs.exports, odd]) as s:
        want = s.execute(sql).fetchall()
    assert want[0][2] == 2 * run_query(runs.session(), sql).rows[0][2]  # both copies read
    columns, got = spark_rows(own, sql)
    assert [g[:3] + g[4:] for g in got] == [w[:3] + w[4:] for w in want]
    for g, w in zip(got, want):
        assert g[3] is None and w[3] is None or math.isclose(g[3], w[3], rel_tol=1e-12)


def test_a_path_hadoop_cannot_name_is_one_line(spark: Any, runs: Runs, tmp_path: Path):
    """A ':' in a path: Hadoop would read a URI scheme there; one line instead."""
    shutil.copytree(runs.exports, tmp_path / "exp:1")
    with pytest.raises(QueryError, match="Hadoop paths cannot hold ':'"):
        register_views(spark.newSession(), tmp_path / "exp:1", catalog=runs.url)


def test_an_export_on_object_storage_is_one_line(spark: Any, runs: Runs):
    """No S3A connector in PySpark's wheel: refused before any view is made."""
    fresh = spark.newSession()
    with pytest.raises(QueryError, match="S3A connector.*continuum lens sql"):
        register_views(fresh, "s3://bucket/exports", catalog=runs.url)
    assert not fresh.catalog.listTables()


def test_no_exports_means_empty_views_of_the_same_columns(
    spark: Any, views: tuple[str, ...], runs: Runs, tmp_path: Path
):
    own = spark.newSession()
    assert register_views(own, tmp_path, catalog=runs.url) == views
    for name in ("fields", "fields_by_sample", "signals", "ticks", "field_units"):
        assert own.table(name).schema == spark.table(name).schema, name
        assert own.table(name).count() == 0
    with connect(runs.url, roots=[tmp_path]) as s:
        for sql in QUERIES[2:4]:  # a query over fields_by_sample, one joining runs
            assert spark_rows(own, sql)[1] == s.execute(sql).fetchall() == []


def test_only_the_catalog_tables_named(spark: Any, views: tuple[str, ...], runs: Runs):
    own = spark.newSession()
    names = register_views(own, runs.exports, catalog=runs.url, tables=["runs"])
    assert names == (*VIEWS, "runs")
    assert not own.catalog.tableExists("checkpoints")
    assert spark_rows(own, QUERIES[3]) == spark_rows(spark, QUERIES[3])
    with pytest.raises(QueryError, match="no catalog table rnus to register; the tables are runs"):
        register_views(own, runs.exports, catalog=runs.url, tables=["rnus"])


def test_catalog_tables_agree_on_both_dialects(spark: Any, catalog_url: str, tmp_path: Path):
    """Timestamps (ISO text on SQLite, datetimes on PostgreSQL), JSON params, booleans and
    NULLs come out of Spark as DuckDB's session gives them."""
    from tests.conftest import make_run

    with Catalog(catalog_url) as cat:
        run, _ = make_run(
            cat, tmp_path / "ckpt", [0, 5], tags={"team": "ice"}, params={"k": 1.5, "n": 3}
        )
        cat.runs.register(world="terra", ir_hash="cd", seed=2, parent_run_id=run.run_id)
    own = spark.newSession()
    register_views(own, tmp_path, catalog=catalog_url)
    with connect(catalog_url, roots=[tmp_path]) as s:
        for table in ("runs", "run_params", "run_tags", "checkpoints"):
            sql = f"SELECT * FROM {table} ORDER BY ALL"
            columns, got = spark_rows(own, sql)
            want = s.execute(sql).fetchall()
            assert got, table
            assert_same(columns, got, want)
