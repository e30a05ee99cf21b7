"""Hostile SQL against real sessions: nothing but reads runs, nothing outside the roots is read.

The site: a copy of two real runs' exports as the export root, with symlinks planted in it
before any session opens (a part, a ticks file and a run directory pointing outside, a
part that is /etc/passwd, a FIFO named like a part), an outside directory with secrets and
valid Parquet parts, a real SQLite catalog whose export rows point at ``/``, the outside
dir, ``root/..`` and a working directory. Every test checks, before and after, the list
and checksums of every file of the site and of /etc/passwd: nothing was written, nothing
changed, whatever the statement.

Every statement kind DuckDB's Python API names is either sampled here (and each sample is
checked to parse to its kind) or listed as one its parser does not produce from text; a
DuckDB upgrade that adds a kind fails ``test_every_statement_kind_is_sampled``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from click.testing import Result

from continuum import layout
from continuum.catalog import Catalog
from continuum.errors import QueryError
from continuum.sql import Session, connect
from tests.cli.conftest import invoke

from .conftest import Runs

FIELD = "surface.elevation"
SECRET = "s3cr3t-d0-not-print"
BAD_CSV = "a,b\n1,2\nx,y,z\n3,4\n"


@dataclass(frozen=True)
class Site:
    base: Path
    root: Path
    outside: Path
    cwd: Path
    url: str
    run_id: str

    def sql(self, *args: object) -> Result:
        """``continuum lens sql ARGS --catalog URL --export-dir ROOT``."""
        return invoke("lens", "sql", *args, "--catalog", self.url, "--export-dir", self.root)


def _copy_catalog(src: Path, dst: Path) -> None:
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)


def _plant(site: Site, runs: Runs) -> None:
    """Symlinks and a FIFO inside the root, pointing outside, before any session opens."""
    real = runs.part(1, FIELD)
    shutil.copy(real, site.outside / "part.parquet")  # a valid part, with its metadata
    evil = site.outside / "evil_run"
    shutil.copytree(layout.run_partition(runs.exports, runs.ids[1]), evil)  # a whole run
    with duckdb.connect() as con:  # a ticks file with ticks no run has
        ticks = site.outside / "ticks.parquet"
        con.execute(f"COPY (SELECT 424242::BIGINT AS tick, 1.0 AS sim_time) TO '{ticks}'")
    run = layout.run_partition(site.root, runs.ids[1])
    field = layout.field_partition(site.root, runs.ids[1], FIELD)
    planted = layout.field_partition(site.root, runs.ids[1], "planted.field")
    planted.mkdir(parents=True)
    (planted / layout.part_name(0, 10)).symlink_to(site.outside / "part.parquet")
    (field / layout.part_name(9000, 9001)).symlink_to("/etc/passwd")
    os.mkfifo(field / layout.part_name(9100, 9101))
    (run / layout.TICKS / layout.part_name(9200, 9201)).symlink_to(ticks)
    layout.run_partition(site.root, "evil").symlink_to(evil, target_is_directory=True)
    (site.root / "etc").symlink_to("/etc", target_is_directory=True)
    (site.root / "passwd.csv").symlink_to("/etc/passwd")
    (site.cwd / ".tmp").symlink_to(site.outside, target_is_directory=True)


@pytest.fixture(scope="module")
def site(runs: Runs, tmp_path_factory: pytest.TempPathFactory) -> Site:
    base = tmp_path_factory.mktemp("hostile")
    root, outside, cwd = base / "exports", base / "outside", base / "cwd"
    shutil.copytree(runs.exports, root)
    outside.mkdir()
    cwd.mkdir()
    (outside / "secret.txt").write_text(SECRET + "\n")
    (outside / "secret.csv").write_text(f"a,b\n{SECRET},2\n")
    (outside / "secret.json").write_text(f'{{"a": "{SECRET}"}}\n')
    (root / "rejects.csv").write_text(BAD_CSV)  # a row that CSV rejects tables would keep
    (cwd / "secret.txt").write_text(SECRET + "\n")
    _copy_catalog(runs.base / "catalog.db", base / "catalog.db")
    url = f"sqlite:///{base / 'catalog.db'}"
    out = Site(base, root, outside, cwd, url, runs.ids[1])
    _plant(out, runs)
    with Catalog(url) as cat:  # export rows pointing outside every root
        for path in ("/", outside, root / "..", cwd):
            cat.exports.record(
                runs.ids[1], fields=[FIELD], start_tick=0, end_tick=1, path=path, rows=0, bytes=0
            )
    return out


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(*dirs: Path) -> dict[str, str]:
    """Every entry under ``dirs`` (not following symlinks): file checksums, link targets."""
    seen = {"/etc/passwd": _digest(Path("/etc/passwd"))}
    for top in dirs:
        for dirpath, dirnames, filenames in os.walk(top):
            for name in dirnames + filenames:
                p = Path(dirpath) / name
                if name.startswith("catalog.db"):
                    continue  # the catalog: SQLite may add its -wal/-shm beside it
                mode = p.lstat().st_mode
                if stat.S_ISLNK(mode):
                    seen[str(p)] = "-> " + os.readlink(p)
                elif stat.S_ISREG(mode):
                    seen[str(p)] = _digest(p)
                else:
                    seen[str(p)] = stat.filemode(mode)
    return seen


@pytest.fixture(autouse=True)
def nothing_changes(site: Site) -> Iterator[None]:
    before = snapshot(site.base)
    yield
    assert snapshot(site.base) == before


@pytest.fixture(scope="module")
def api(site: Site) -> Iterator[tuple[Session, list[str]]]:
    warned: list[str] = []
    with connect(site.url, roots=[site.root], warn=warned.append) as session:
        yield session, warned


def real_rows(runs: Runs) -> tuple[int, int, int]:
    """(fields rows, ticks rows, runs) of the real exports, counted on the original dir."""
    with runs.session() as s:
        return (
            s.execute("SELECT count(*) FROM fields").fetchone()[0],  # type: ignore[index]
            s.execute("SELECT count(*) FROM ticks").fetchone()[0],  # type: ignore[index]
            s.execute("SELECT count(*) FROM runs").fetchone()[0],  # type: ignore[index]
        )


def assert_refused(result: Result, *fragments: str) -> None:
    """Exit 1, nothing on stdout, warnings then exactly one ``error:`` line, no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines and lines[-1].startswith("error: "), result.stderr
    assert all(line.startswith("warning: ") for line in lines[:-1]), result.stderr
    assert "Traceback" not in result.stderr and SECRET not in result.stderr
    for fragment in fragments:
        assert fragment in lines[-1], result.stderr


def assert_one_line(exc: pytest.ExceptionInfo[QueryError], *fragments: str) -> None:
    text = str(exc.value)
    assert "\n" not in text and SECRET not in text, text
    for fragment in fragments:
        assert fragment in text, text


# --- every statement kind ------------------------------------------------------------------

#: Kinds DuckDB 2.0.1's parser never produces from SQL text (ANALYZE parses as VACUUM,
#: COPY FROM DATABASE and IMPORT as PRAGMA; the rest are built by APIs, not the parser).
NOT_FROM_TEXT = {
    "ANALYZE",
    "COPY_DATABASE",
    "CREATE_FUNC",
    "EXTENSION",
    "INVALID",
    "LOGICAL_PLAN",
    "RELATION",
    "VARIABLE_SET",
}
ADMITTED = {"SELECT", "EXPLAIN"}  # EXPLAIN only of a read: see the wrapped tests below
UNNAMED = "UNNAMED"  # a kind the Python API's enum has no member for

#: Samples of every other kind; {R}: the export root, {O}: the outside dir, {P}: a real part.
SAMPLES: dict[str, list[str]] = {
    "ALTER": ["ALTER TABLE runs RENAME TO r2", "ALTER VIEW fields RENAME TO f2"]
    + ["COMMENT ON TABLE runs IS 'x'", "ALTER TABLE ticks ADD COLUMN x INT"],
    "ATTACH": ["ATTACH '{R}/x.duckdb' AS x", "ATTACH ':memory:' AS m"]
    + ["ATTACH OR REPLACE '{O}/y.duckdb' AS y"],
    "CALL": ["CALL pragma_version()", "CHECKPOINT", "FORCE CHECKPOINT"],
    "COPY": [
        "COPY (SELECT 1) TO '{R}/x.csv'",
        "COPY runs TO '{O}/runs.csv'",
        "COPY (SELECT 1e9 AS value) TO '{P}' (FORMAT parquet)",  # rewrite a stored part
        "COPY (SELECT 1) TO '{R}/by_sample' (FORMAT parquet, PARTITION_BY (a))",
        "COPY runs FROM '{O}/secret.csv'",
        "COPY (SELECT 1) TO 'x.csv'",
    ],
    "CREATE": [
        "CREATE TABLE t (a INT)",
        "CREATE TABLE t AS SELECT * FROM read_csv('{O}/secret.csv')",
        "CREATE OR REPLACE VIEW fields AS SELECT 1 AS x",
        "CREATE OR REPLACE MACRO read_text(x) AS 1",
        "CREATE FUNCTION f(a) AS a",
        "CREATE SEQUENCE s",
        "CREATE SCHEMA s",
        "CREATE TYPE e AS ENUM ('a')",
        "CREATE INDEX i ON runs (seed)",
        "CREATE SECRET s (TYPE s3)",
        "CREATE TEMP TABLE t AS SELECT 1",
    ],
    "DELETE": ["DELETE FROM runs", "TRUNCATE ticks"],
    "DETACH": ["DETACH memory", "DETACH DATABASE x"],
    "DROP": ["DROP VIEW fields", "DROP TABLE runs", "DEALLOCATE p", "DROP SECRET s"],
    "EXECUTE": ["EXECUTE p"],
    "EXPORT": ["EXPORT DATABASE '{R}/dump'", "EXPORT DATABASE '{O}/dump' (FORMAT parquet)"],
    "INSERT": [
        "INSERT INTO ticks VALUES ('x', 424242, 1.0)",
        "INSERT INTO runs SELECT * FROM runs",
        "WITH x AS (SELECT 1) INSERT INTO ticks SELECT 'x', 1, 1.0 FROM x",
        "INSERT OR REPLACE INTO ticks VALUES ('x', 1, 1.0)",
    ],
    "LOAD": ["LOAD httpfs", "INSTALL httpfs", "FORCE INSTALL httpfs"]
    + ["LOAD '{O}/evil.duckdb_extension'", "INSTALL httpfs FROM 'http://127.0.0.1:9/'"],
    "MERGE_INTO": ["MERGE INTO ticks USING ticks AS s ON false WHEN MATCHED THEN DELETE"],
    "MULTI": ["PIVOT runs ON seed USING count(*)"],  # and in a subquery: see PIVOTS_WITHOUT_IN
    "PRAGMA": ["PRAGMA version", "PRAGMA enable_profiling", "IMPORT DATABASE '{O}'"]
    + ["COPY FROM DATABASE memory TO other", "PRAGMA database_list"],
    "PREPARE": ["PREPARE p AS SELECT 1"],
    "SET": [
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "RESET allowed_directories",
        "SET allowed_directories = ['/']",
        "SET temp_directory = '{R}'",
        "SET GLOBAL memory_limit = '100GB'",
        "SET VARIABLE x = 1",
        "PRAGMA threads = 1",
        "USE memory",
    ],
    "TRANSACTION": ["BEGIN", "COMMIT", "ROLLBACK", "START TRANSACTION", "ABORT"],
    "UPDATE": ["UPDATE runs SET seed = 0", "UPDATE ticks SET tick = -1"],
    "VACUUM": ["VACUUM", "ANALYZE", "ANALYZE runs"],
    UNNAMED: ["UPDATE EXTENSIONS", "UPDATE EXTENSIONS (httpfs)"],
}


def _fill(sample: str, site: Site, runs: Runs) -> str:
    return (
        sample.replace("{R}", str(site.root))
        .replace("{O}", str(site.outside))
        .replace("{P}", str(site.root / runs.part(1, FIELD).relative_to(runs.exports)))
    )


def _kind(sample: str) -> str:
    [statement] = duckdb.connect().extract_statements(sample)
    try:
        return statement.type.name
    except ValueError:
        return UNNAMED


def wrapped(sample: str) -> list[str]:
    """The sample as written, wrapped, cased and commented, and beside a SELECT."""
    return [
        sample,
        sample.lower(),
        "".join(c.upper() if k % 2 else c.lower() for k, c in enumerate(sample)),
        f"/* a comment */ {sample}",
        f"-- a comment\n{sample}\n-- another",
        f"{sample} ;",
        f"EXPLAIN {sample}",
        f"EXPLAIN ANALYZE {sample}",
        f"explain /* x */ analyse -- y\n {sample}",
        f"EXPLAIN (ANALYZE) {sample}",
        f"EXPLAIN (FORMAT json, ANALYZE) {sample}",
        f"SELECT 1; {sample}",
        f"{sample}; SELECT 1",
        f"WITH x AS ({sample}) SELECT * FROM x",
        f"SELECT * FROM ({sample})",
    ]


CASES = [(kind, s) for kind, samples in SAMPLES.items() for s in samples]


def test_every_statement_kind_is_sampled():
    named = {k for k in duckdb.StatementType.__members__}
    assert named == (set(SAMPLES) - {UNNAMED}) | NOT_FROM_TEXT | ADMITTED


@pytest.mark.parametrize(("kind", "sample"), CASES, ids=[f"{k}:{s[:40]}" for k, s in CASES])
def test_samples_are_what_they_say(kind: str, sample: str):
    assert _kind(sample) == kind


@pytest.mark.parametrize(("kind", "sample"), CASES, ids=[f"{k}:{s[:40]}" for k, s in CASES])
def test_non_reads_are_refused_through_the_api(api, site: Site, runs: Runs, kind, sample):
    session, _ = api
    counts = real_rows(runs)
    for text in wrapped(_fill(sample, site, runs)):
        with pytest.raises(QueryError) as exc:
            session.execute(text).fetchall()
        assert_one_line(exc)
        assert any(
            f in str(exc.value) for f in ("only reads may run", "one SQL statement", "Parser")
        ), (text, str(exc.value))
    # the session is intact: its tables and views, and its settings
    assert (
        tuple(
            session.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
            for t in ("fields", "ticks", "runs")
        )
        == counts
    )
    assert session.execute("SELECT current_setting('lock_configuration')").fetchone() == (True,)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_non_reads_are_refused_through_the_cli(site: Site, runs: Runs, kind: str):
    """One sample of each kind (a session per invocation: ~0.3 s), plain and EXPLAIN ANALYZE;
    the API test above runs every sample in every wrapping."""
    text = _fill(SAMPLES[kind][0], site, runs)
    assert_refused(site.sql(text), "only reads may run")
    assert_refused(site.sql(f"EXPLAIN ANALYZE {text}"))


def test_explain_analyze_copy_over_a_stored_part_is_refused(site: Site, runs: Runs):
    """The sample of the issue: it rewrote a stored part (a run's mean became 1e9)."""
    mean = "SELECT max(value) AS m, count(*) AS n FROM fields WHERE field = 'surface.elevation'"
    before = site.sql(mean, "--format", "json").stdout
    copy = _fill("EXPLAIN ANALYZE COPY (SELECT 1e9 AS value) TO '{P}' (FORMAT parquet)", site, runs)
    assert_refused(site.sql(copy), "EXPLAIN of COPY")
    assert site.sql(mean, "--format", "json").stdout == before


def test_a_statement_object_or_nothing_is_refused(api):
    session, _ = api
    for bad in ("", "  ", "-- only a comment", ";"):
        with pytest.raises(QueryError, match="one SQL statement"):
            session.execute(bad)
    with pytest.raises(QueryError, match="text"):
        session.execute(duckdb.connect().extract_statements("COPY (SELECT 1) TO 'x'")[0])  # type: ignore[arg-type]


# --- what is admitted ----------------------------------------------------------------------

READS = [
    "SELECT count(*) FROM fields",
    "select count(*) from FIELDS",
    "/* c */ SELECT 1 -- d",
    "WITH a AS (SELECT tick FROM ticks) SELECT count(*) FROM a",
    "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) FROM t",
    "VALUES (1), (2)",
    "FROM runs SELECT seed",
    "TABLE runs",
    "SELECT 1 UNION ALL SELECT 2 EXCEPT SELECT 3",
    "(SELECT 1) INTERSECT (SELECT 1)",
    "SELECT * FROM (SELECT max(tick) FROM ticks) AS s",
    "DESCRIBE fields",
    "SHOW TABLES",
    "SUMMARIZE runs",
    "UNPIVOT (SELECT 1 AS a, 2 AS b) ON a, b",
    "SELECT * FROM query_table('runs')",
    'SELECT 1 AS copy, 2 AS "insert", version() AS v',  # names that only look like writes
    "SELECT * FROM (PIVOT runs ON seed IN (1, 2) USING count(*))",
    "SELECT count(*) FROM read_parquet('{P}')",
    "EXPLAIN SELECT count(*) FROM fields",
    "EXPLAIN ANALYZE SELECT count(*) FROM fields",
    "explain analyse select 1",
    "EXPLAIN (SELECT 1)",
    "EXPLAIN ANALYZE (SELECT 1)",
    "EXPLAIN (FORMAT json) SELECT 1",
    "EXPLAIN (ANALYZE, FORMAT json) WITH a AS (SELECT 1) SELECT * FROM a",
    "/* x */ EXPLAIN /* y */ ANALYZE -- z\n SELECT 1",
    "WITH p AS (PIVOT runs ON seed IN (1, 2) USING count(*)) FROM p",
    "FROM read_parquet('{P}', binary_as_string := true, hive_partitioning => false)",
    "SELECT count(*) FROM read_parquet('{P}', filename = true)",  # options that only read
    "SELECT * FROM read_csv('{R}/rejects.csv', ignore_errors := true, header = true)",
    "SELECT " + " + ".join(["1"] * 200),  # every query's tree is walked: a deep one too
]


@pytest.mark.parametrize("text", READS)
def test_reads_run_through_the_api(api, site: Site, runs: Runs, text: str):
    session, _ = api
    assert session.execute(_fill(text, site, runs)).fetchall()


PIVOTS_WITHOUT_IN = [
    "PIVOT runs ON seed USING count(*)",
    "SELECT * FROM (PIVOT runs ON seed USING count(*))",
    "WITH p AS (PIVOT runs ON seed USING count(*)) FROM p",
    "EXPLAIN ANALYZE SELECT * FROM (PIVOT runs ON seed USING count(*))",
]


@pytest.mark.parametrize("text", PIVOTS_WITHOUT_IN)
def test_a_pivot_without_in_is_refused_in_words(api, text: str):
    """DuckDB runs it as several statements (MULTI): CREATE TYPE of an ENUM of the values,
    which stays behind, then the query; the line says so and how to write it as a read."""
    with duckdb.connect() as con:
        con.execute("CREATE TABLE runs AS SELECT 1 AS seed")
        [statement] = con.extract_statements(text)
        assert statement.type == duckdb.StatementType.MULTI
        con.execute(text)
        enums = "SELECT count(*) FROM duckdb_types() WHERE type_name LIKE '__pivot_enum%'"
        assert con.execute(enums).fetchone() == (1,)
    session, _ = api
    with pytest.raises(QueryError) as exc:
        session.execute(text)
    assert_one_line(exc, "only reads may run", "PIVOT without an IN list", "ON col IN (")
    assert "MULTI" not in str(exc.value)
    written = text.replace("ON seed", "ON seed IN (1, 2)")
    assert session.execute(written).fetchall()  # the values named: a read, it runs


def test_a_pivot_without_in_is_refused_in_words_through_the_cli(site: Site):
    got = site.sql("SELECT * FROM (PIVOT runs ON seed USING count(*))")
    assert_refused(got, "PIVOT without an IN list", "IN (v1, v2, ...)")


def test_a_tree_too_deep_to_walk_is_one_line(api):
    """DuckDB parses ~1000 levels; Python's json ~300: one line, not a RecursionError."""
    session, _ = api
    with pytest.raises(QueryError) as exc:
        session.execute("SELECT " + "+".join(["1"] * 900))
    assert_one_line(exc, "nested too deeply")


def test_reads_run_through_the_cli(site: Site):
    got = site.sql("SELECT count(*) AS n FROM fields", "--format", "json")
    assert got.exit_code == 0, got.output
    assert got.stdout.startswith('[{"n": ')
    assert site.sql("EXPLAIN ANALYZE SELECT count(*) FROM fields").exit_code == 0


HIDDEN_WRITES = [
    "WITH x AS (COPY (SELECT 1) TO '{R}/x.csv') SELECT * FROM x",
    "WITH x AS (COPY (SELECT 1e9 AS value) TO '{P}' (FORMAT parquet)) SELECT * FROM x",
    "WITH x AS (INSERT INTO ticks VALUES ('x', 424242, 1.0) RETURNING *) SELECT * FROM x",
    "WITH x AS (DELETE FROM ticks RETURNING *) SELECT count(*) FROM x",
    "WITH x AS (UPDATE ticks SET tick = -1 RETURNING *) SELECT count(*) FROM x",
    "WITH x AS (TRUNCATE ticks) SELECT 1",
    "with a as (select 1), b as (Copy (select 2) to '{O}/y.csv') from b",
    "SELECT (WITH x AS (COPY (SELECT 1) TO '{R}/z.csv') SELECT 1)",
    "SELECT * FROM (WITH x AS (INSERT INTO ticks VALUES ('x', 1, 1.0) RETURNING 1) FROM x)",
    "DESCRIBE WITH x AS (COPY (SELECT 1) TO '{R}/d.csv') SELECT 1",
    "SUMMARIZE WITH x AS (COPY (SELECT 1) TO '{R}/s.csv') SELECT 1",
    "SELECT * FROM query('COPY (SELECT 1) TO ''{R}/q.csv''')",
    "SELECT * FROM \"QUERY\"('WITH x AS (COPY (SELECT 1) TO ''{R}/q.csv'') FROM x')",
    "SELECT * FROM main.query('SELECT 1')",
    "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))",
    "SELECT * FROM checkpoint()",
    "SELECT * FROM force_checkpoint()",
    "SELECT * FROM copy_database('memory', 'memory')",
    "SELECT * FROM import_database('{O}')",
    "SELECT * FROM enable_logging()",
    "SELECT * FROM enable_profiling()",
    "SELECT * FROM disable_optimizer('x')",
    "SELECT * FROM truncate_duckdb_logs()",
    "SELECT * FROM pandas_scan(1)",
    "SELECT * FROM arrow_scan(1, 2, 3)",
    "SELECT * FROM read_csv('{R}/passwd.csv', store_rejects = true)",
    "SELECT * FROM read_csv('{R}/x.csv', rejects_table = 'runs')",
]

#: Every spelling of a named parameter DuckDB 2.0.1 takes (each shown to take effect below).
WRITING_OPTION_SPELLINGS = [
    "store_rejects = true",
    "store_rejects := true",
    "store_rejects:=true",
    "store_rejects => true",
    "store_rejects == true",
    "(store_rejects = true)",
    '"store_rejects" := true',
    '"store_rejects" = true',
    "STORE_REJECTS := true",
    '"Store_Rejects" => true',
    "store_rejects /* c */ := /* d */ true",
    "store_rejects -- c\n := true",
    "store_rejects := true::BOOLEAN",
    "store_rejects := 'true'",
    "rejects_table := 'r'",
    "\"rejects_table\" := 'r'",
    "REJECTS_TABLE = 'r'",
    "rejects_scan => 's'",
]
HIDDEN_WRITES += [f"FROM read_csv('{{R}}/rejects.csv', {o})" for o in WRITING_OPTION_SPELLINGS]
HIDDEN_WRITES += [
    "FROM read_csv_auto('{R}/rejects.csv', store_rejects := true, rejects_table := 'r')",
    "FROM sniff_csv('{R}/rejects.csv', store_rejects := true)",
    "DESCRIBE FROM read_csv('{R}/rejects.csv', store_rejects := true)",
    "SUMMARIZE SELECT * FROM read_csv('{R}/rejects.csv', rejects_scan := 's')",
    "SELECT * FROM (FROM main.read_csv('{R}/rejects.csv', \"store_rejects\" := true))",
    "WITH c AS (FROM read_csv('{R}/rejects.csv', rejects_table => 'r')) FROM c",
    "FROM range(1) AS t, LATERAL (FROM read_csv('{R}/rejects.csv', store_rejects := true))",
]


@pytest.mark.parametrize("option", WRITING_OPTION_SPELLINGS)
def test_each_option_spelling_writes_in_plain_duckdb(tmp_path: Path, option: str):
    """The samples are live: on a connection without the check, each creates tables."""
    (tmp_path / "bad.csv").write_text(BAD_CSV)
    with duckdb.connect() as con:
        con.execute(f"SELECT * FROM read_csv('{tmp_path / 'bad.csv'}', {option})").fetchall()
        assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone() != (0,)


@pytest.mark.parametrize("text", HIDDEN_WRITES)
def test_writes_hidden_in_a_select_are_refused(api, site: Site, runs: Runs, text: str):
    session, _ = api
    counts = real_rows(runs)
    for form in (text, f"EXPLAIN ANALYZE {text}", f"EXPLAIN {text}"):
        with pytest.raises(QueryError) as exc:
            session.execute(_fill(form, site, runs)).fetchall()
        assert_one_line(exc, "only reads may run")
    assert session.execute("SELECT count(*) FROM ticks").fetchone() == (counts[1],)
    made = "SELECT count(*) FROM duckdb_tables() WHERE table_name IN ('reject_errors', 'r', 's')"
    assert session.execute(made).fetchone() == (0,)


def test_writes_hidden_in_a_select_are_refused_through_the_cli(site: Site, runs: Runs):
    for text in HIDDEN_WRITES[::4]:  # every one through the API above
        assert_refused(site.sql(_fill(text, site, runs)), "only reads may run")


# --- files outside the roots -----------------------------------------------------------------

OUTSIDE_READS = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_blob('/etc/passwd')",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    "FROM '/etc/passwd'",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM glob('{O}/*')",
    "SELECT * FROM read_text('{O}/secret.txt')",
    "SELECT * FROM read_csv('{O}/secret.csv')",
    "SELECT * FROM read_json('{O}/secret.json')",
    "SELECT * FROM read_json_objects('{O}/secret.json')",
    "SELECT * FROM read_parquet('{O}/part.parquet')",
    "FROM '{O}/part.parquet'",
    "SELECT * FROM parquet_metadata('{O}/part.parquet')",
    "SELECT * FROM parquet_schema('{O}/part.parquet')",
    "SELECT * FROM parquet_kv_metadata('{O}/part.parquet')",
    "SELECT * FROM parquet_file_metadata('{O}/part.parquet')",
    "SELECT * FROM read_text('{R}/../outside/secret.txt')",
    "SELECT * FROM read_text('{R}/etc/passwd')",  # a directory symlink inside the root
    "SELECT * FROM read_csv('{R}/passwd.csv')",  # a file symlink inside the root
    "SELECT * FROM read_parquet('{R}/run_id=evil/*/*.parquet')",
    "SELECT * FROM glob('{R}/run_id=evil/**')",
    "SELECT * FROM read_text('secret.txt')",  # the working directory
    "SELECT * FROM read_text('.tmp/secret.txt')",  # <cwd>/.tmp -> outside
    "SELECT * FROM read_text('/proc/self/environ')",
    "SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')",
    "SELECT * FROM read_parquet('s3://bucket/x.parquet')",
]


@pytest.fixture
def in_cwd(site: Site) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(site.cwd)
    try:
        yield
    finally:
        os.chdir(before)


@pytest.mark.parametrize("text", OUTSIDE_READS)
def test_outside_files_cannot_be_read_through_the_api(api, site, runs, in_cwd, text: str):
    session, _ = api
    with pytest.raises(QueryError) as exc:
        session.execute(_fill(text, site, runs)).fetchall()
    assert_one_line(exc)


def test_outside_files_cannot_be_read_through_the_cli(site: Site, runs: Runs, in_cwd):
    for text in OUTSIDE_READS[::3]:  # every one through the API above
        assert_refused(site.sql(_fill(text, site, runs)), "Permission Error")


def test_the_planted_symlinks_are_refused_by_duckdb_too(site: Site):
    """DuckDB's own fence resolves symlinks (2.0.1): a link inside an allowed dir to a file
    outside is refused even when named directly, the second fence behind the listing."""
    con = duckdb.connect()
    con.execute(f"SET allowed_directories = ['{site.root}/']")
    con.execute("SET enable_external_access = false")
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"SELECT * FROM read_text('{site.root}/passwd.csv')")
    assert con.execute(f"SELECT count(*) FROM glob('{site.root}/*')").fetchone() != (0,)


# --- symlinks planted before the session opens, catalog rows outside -------------------------


def test_planted_symlinks_are_not_read_into_the_views(api, runs: Runs):
    session, warned = api
    fields, ticks, _ = real_rows(runs)
    assert session.execute("SELECT count(*) FROM fields").fetchone() == (fields,)
    assert session.execute("SELECT count(*) FROM ticks").fetchone() == (ticks,)
    assert session.execute("SELECT count(*) FROM ticks WHERE tick = 424242").fetchone() == (0,)
    for view in ("fields", "fields_by_sample", "signals"):
        got = session.execute(f"SELECT count(*) FROM {view} WHERE run_id = 'evil'").fetchone()
        assert got == (0,)
    planted = "SELECT count(*) FROM fields WHERE field = 'planted.field'"
    assert session.execute(planted).fetchone() == (0,)
    skipped = [w for w in warned if w.startswith("skipped ")]
    assert len(skipped) == 1 and "more: not a regular file inside" in skipped[0], warned


def test_catalog_rows_outside_the_roots_are_ignored_with_one_warning(api, site: Site):
    session, warned = api
    ignoring = [w for w in warned if w.startswith("ignoring exports")]
    assert len(ignoring) == 1 and "--export-dir" in ignoring[0], warned
    assert all("\n" not in w for w in warned)
    assert session.roots == (site.root.resolve(),)
    with pytest.raises(QueryError, match="Permission"):
        session.execute("SELECT * FROM read_text('/etc/passwd')")  # a row says '/'


def test_cli_warns_once_per_kind_and_reads_only_named_roots(site: Site):
    bare = invoke("lens", "sql", "SELECT count(*) AS n FROM fields", "--catalog", site.url)
    assert bare.exit_code == 0, bare.output
    assert bare.stdout.splitlines()[2].strip() == "0"  # no root named, none by default
    warnings = bare.stderr.splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("warning: ignoring exports"), warnings
    named = site.sql("SELECT count(*) AS n FROM fields", "--format", "csv")
    assert named.exit_code == 0 and named.stdout.splitlines()[1] != "0"
    assert [w.split(":")[1].split()[0] for w in named.stderr.splitlines()] == [
        "ignoring",
        "skipped",
    ]


def test_the_root_itself_and_missing_roots(site: Site, tmp_path: Path):
    assert_refused(site.sql("SELECT 1", "--export-dir", "/"), "refusing /")
    assert_refused(site.sql("SELECT 1", "--export-dir", str(site.outside / "secret.txt")))
    got = site.sql("SELECT 1", "--export-dir", str(tmp_path / "not-yet"))  # issue 14: refused
    assert got.exit_code == 1 and "not-yet does not exist" in got.stderr


def test_a_root_named_through_a_symlink_is_its_target(site: Site, tmp_path: Path):
    link = tmp_path / "link"
    link.symlink_to(site.root, target_is_directory=True)
    with connect(site.url, roots=[link], warn=lambda _: None) as session:
        assert session.roots == (site.root.resolve(),)
        assert session.execute("SELECT count(*) FROM fields").fetchone() != (0,)


# --- lens export --output . , DuckDB's temp dir ---------------------------------------------


def test_export_to_cwd_does_not_make_it_readable(runs: Runs, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    cwd = tmp_path / "work"
    cwd.mkdir()
    (cwd / "secret.txt").write_text(SECRET)
    monkeypatch.chdir(cwd)
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    _copy_catalog(runs.base / "catalog.db", tmp_path / "cat.db")
    done = invoke("lens", "export", runs.lens(1), "--output", ".", "--catalog", url)
    assert done.exit_code == 0, done.output
    assert "--export-dir ." in done.stderr  # says how to query it
    bare = ["lens", "sql", "--catalog", url, "--format", "csv"]
    assert_refused(invoke(*bare, "SELECT * FROM read_text('secret.txt')"), "Permission")
    count = invoke(*bare, "SELECT count(*) AS n FROM fields")
    assert count.stdout == "n\n0\n" and "ignoring exports" in count.stderr
    named = invoke(*bare, "SELECT count(*) AS n FROM fields", "--export-dir", ".")
    assert named.exit_code == 0 and named.stdout != "n\n0\n"
    # without --output: the default root, which every session reads
    done = invoke("lens", "export", runs.lens(2), "--catalog", url)
    assert done.exit_code == 0 and done.stderr == "", done.output
    own = invoke(*bare, f"SELECT count(*) AS n FROM fields WHERE run_id = '{runs.ids[2]}'")
    assert own.exit_code == 0 and own.stdout != "n\n0\n", own.output


def test_duckdb_temp_dir_is_private_and_removed(site: Site, in_cwd):
    """A sort beyond the memory limit spills to a fresh 0700 dir, never <cwd>/.tmp."""
    with connect(site.url, roots=[site.root], memory_limit="64M", warn=lambda _: None) as s:
        temp = Path(s.execute("SELECT current_setting('temp_directory')").fetchone()[0])  # type: ignore[index]
        assert temp.is_absolute() and temp.is_dir() and temp != site.cwd / ".tmp"
        assert stat.S_IMODE(temp.stat().st_mode) == 0o700
        assert not layout.is_within(site.root, temp) and not layout.is_within(site.cwd, temp)
        big = (
            "SELECT sum(x) FROM (SELECT i AS x FROM range(12000000) t(i) ORDER BY i DESC OFFSET 1)"
        )
        assert s.execute(big).fetchone() == (sum(range(12_000_000 - 1)),)
        with pytest.raises(QueryError, match="Permission"):
            s.execute("SELECT * FROM read_text('.tmp/secret.txt')")
    assert not temp.exists()
    assert sorted(p.name for p in site.cwd.iterdir()) == [".tmp", "secret.txt"]


def test_every_table_function_is_classified():
    """A DuckDB that adds a table function fails here until it is called a read or not."""
    from continuum.sql.statements import (
        CLASSIFIED_FOR,
        OTHER_TABLE_FUNCTIONS,
        READ_TABLE_FUNCTIONS,
        table_functions,
    )

    assert duckdb.__version__ == CLASSIFIED_FOR
    assert not READ_TABLE_FUNCTIONS & OTHER_TABLE_FUNCTIONS
    assert table_functions() == READ_TABLE_FUNCTIONS | OTHER_TABLE_FUNCTIONS
