"""The catalog's tables in a SQL session: read where they live, per statement, never at open.

A session over a big catalog reads no catalog row when it opens; each query over a
catalog table gives the rows the old copy-everything-at-open session gave (the rows
handed over whole, ``open_session(catalog.exports.sql_tables(), ...)``), on SQLite and
PostgreSQL; a filter on ``run_id`` reads only its rows; rows committed after the
session opened are seen by the next statement.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from continuum.catalog import Catalog
from continuum.catalog.db.models import checkpoints, run_params, run_tags, runs, worlds
from continuum.catalog.exports import SQL_TABLES, Exports, TableDump
from continuum.sql import connect, open_session
from continuum.sql.row_filters import filters, named

T0 = datetime(2025, 1, 1, tzinfo=UTC)


@contextmanager
def catalog_statements() -> Iterator[list[str]]:
    """Every SQL statement any catalog engine of this process runs meanwhile."""
    seen: list[str] = []

    def log(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001 - SQLAlchemy's hook
        seen.append(" ".join(statement.split()).lower())

    event.listen(Engine, "before_cursor_execute", log)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", log)


def reads(seen: list[str], table: str) -> list[str]:
    return [s for s in seen if s.startswith("select") and f"from {table}" in s]


def bulk_seed(cat: Catalog, n: int) -> list[str]:
    """``n`` runs with a tag, two params and three checkpoints each, by bulk inserts."""
    ids = [f"bulk_{i:06d}" for i in range(n)]
    with cat.db.engine.begin() as conn:
        conn.execute(
            worlds.insert(),
            [{"name": "w", "ir_hash": "ab" * 32, "version": "1", "first_seen_at": T0}],
        )
        conn.execute(
            runs.insert(),
            [
                {
                    "run_id": r,
                    "world": "w",
                    "ir_hash": "ab" * 32,
                    "seed": i % 100,
                    "status": "completed",
                    "host": "h",
                    "heartbeat_at": T0,
                    "started_at": T0 + timedelta(seconds=i),
                    "first_tick": 0,
                    "last_tick": 100,
                    "dropped_checkpoints": 0,
                }
                for i, r in enumerate(ids)
            ],
        )
        conn.execute(run_tags.insert(), [{"run_id": r, "key": "o", "value": "u"} for r in ids])
        conn.execute(
            run_params.insert(),
            [{"run_id": r, "key": "k", "value_text": "0.5", "value_num": 0.5} for r in ids],
        )
        conn.execute(
            checkpoints.insert(),
            [
                {
                    "id": f"{r}_{t}",
                    "run_id": r,
                    "tick": t,
                    "sim_time": float(t),
                    "path": f"c{t}.ckpt",
                    "bytes_on_disk": 1,
                    "created_at": T0,
                    "state": "committed",
                    "pinned": False,
                }
                for r in ids
                for t in (10, 20, 30)
            ],
        )
    return ids


def test_a_session_on_a_big_catalog_opens_without_reading_its_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'big.db'}"
    with Catalog(url) as cat:
        ids = bulk_seed(cat, 20_000)
    with catalog_statements() as seen, connect(url, roots=[tmp_path]) as s:
        assert all(not reads(seen, t) for t in SQL_TABLES if t != "parquet_exports")
        assert [r for r in reads(seen, "parquet_exports") if "distinct" not in r] == []
        opened = len(seen)
        assert s.query("SELECT 1").rows == [(1,)]
        assert len(seen) == opened  # a statement naming no catalog table reads none
        assert s.query("SELECT count(*) FROM runs").rows == [(20_000,)]
        assert len(reads(seen, "runs")) == 1
        one = s.query(f"SELECT tick FROM checkpoints WHERE run_id = '{ids[7]}' ORDER BY tick")
        assert one.rows == [(10,), (20,), (30,)]
        (filtered,) = reads(seen, "checkpoints")
        assert "where checkpoints.run_id in" in filtered


def populate(cat: Catalog) -> list[str]:
    """Runs with every kind of row, through the catalog's own API."""
    ids = []
    for seed in (1, 2, 3):
        run = cat.runs.register(
            world="terra",
            ir_hash="cd" * 32,
            seed=seed,
            scenario="tiny" if seed < 3 else None,
            tags={"owner": f"u{seed}", "it's": "quoted"},
            params={"k": seed / 2, "mode": "fast", "on": seed == 2},
        )
        ids.append(run.run_id)
        for t in (100, 200):
            cat.checkpoints.record(
                run.run_id, tick=t, sim_time=t * 1.5, path=f"/c/{seed}/{t}.ckpt", bytes_on_disk=t
            )
        cat.lens_chunks.record(
            run.run_id,
            start_tick=0,
            end_tick=10,
            frames=10,
            fields=["a.t", "b.v"],
            path=f"/l/{seed}/0.lens",
            bytes=1000,
            checksum=None,
        )
        cat.record_lens_gap(run.run_id, 10, 20, "dropped")
        cat.exports.record(
            run.run_id, fields=["a.t"], start_tick=0, end_tick=10, path="/exp", rows=5, bytes=9
        )
    return ids


def queries(ids: list[str]) -> list[str]:
    a, b, _ = ids
    out = [f"SELECT * FROM {t} ORDER BY ALL" for t in SQL_TABLES]
    out += [f"SELECT * FROM {t} WHERE run_id = '{b}' ORDER BY ALL" for t in SQL_TABLES]
    return out + [
        f"SELECT * FROM checkpoints WHERE run_id IN ('{a}', '{b}') AND tick = 200 ORDER BY ALL",
        f"SELECT * FROM checkpoints WHERE run_id = '{a}' AND run_id = '{b}'",
        f"SELECT * FROM checkpoints WHERE run_id = '{a}' OR tick = 100 ORDER BY ALL",
        f"SELECT r.seed, c.tick FROM runs AS r JOIN checkpoints AS c USING (run_id) "
        f"WHERE r.run_id = '{a}' ORDER BY ALL",
        f"SELECT r.seed, c.tick FROM runs r LEFT JOIN checkpoints c "
        f"ON c.run_id = r.run_id AND c.tick > 100 WHERE c.run_id = '{b}' ORDER BY ALL",
        f"SELECT r.seed, c.tick FROM runs r JOIN checkpoints c USING (run_id) "
        f"WHERE run_id = '{b}' ORDER BY ALL",
        f"SELECT count(*) FROM runs JOIN checkpoints USING (run_id) JOIN run_tags "
        f"USING (run_id) WHERE run_id IN ('{a}', '{b}')",
        f"SELECT r.seed, c.tick FROM runs r LEFT JOIN checkpoints c USING (run_id) "
        f"WHERE run_id = '{b}' ORDER BY ALL",
        f"SELECT r.seed, t.key FROM runs r JOIN checkpoints c USING (run_id) "
        f"LEFT JOIN run_tags t ON t.run_id = c.run_id WHERE r.run_id = '{a}' ORDER BY ALL",
        f"SELECT seed FROM main.runs WHERE run_id = '{a}'",
        f"SELECT seed FROM memory.main.runs WHERE \"RUN_ID\" = '{a}'",
        f"SELECT count(*) FROM query_table('runs') WHERE run_id = '{a}'",
        f"SELECT run_id FROM runs WHERE run_id = '{a}' UNION ALL "
        f"SELECT run_id FROM run_tags WHERE key = 'owner' ORDER BY ALL",
        f"WITH runs AS (SELECT * FROM checkpoints) SELECT count(*) FROM runs WHERE run_id = '{a}'",
        "SELECT key, value, count(*) FROM run_tags GROUP BY ALL ORDER BY ALL",
        f"SELECT value_num FROM run_params WHERE run_id = '{a}' AND key = 'k'",
        "SELECT count(*) FROM runs WHERE seed = 2",
        f"SELECT * FROM (SELECT run_id, seed FROM runs) AS x WHERE x.run_id = '{a}'",
        f"SELECT * FROM fields JOIN runs USING (run_id) WHERE run_id = '{a}'",
        "SELECT cause, count(*) FROM lens_gaps GROUP BY cause",
        "SELECT started_at < now() FROM runs ORDER BY ALL",
        "DESCRIBE runs",
        "SHOW TABLES",
    ]


def copy_at_open(cat: Catalog) -> list[TableDump]:
    """Every catalog table read whole through the ORM's types, as sessions did at open
    before (aware datetimes, JSON re-serialized)."""
    with cat.db.engine.connect() as conn:
        dumps = []
        for name, table in SQL_TABLES.items():
            schema = next(d for d in Exports.sql_schemas() if d.name == name)
            rows = [
                tuple(json.dumps(v) if k == "json" else v for v, k in zip(r, schema.kinds))
                for r in conn.execute(select(table))
            ]
            dumps.append(TableDump(name, schema.columns, schema.kinds, rows))
    return dumps


def test_every_query_over_the_catalog_tables_gives_the_rows_the_copy_gave(
    catalog: Catalog, tmp_path: Path
) -> None:
    ids = populate(catalog)
    copied = open_session(copy_at_open(catalog), [tmp_path])
    with copied, connect(catalog.url, roots=[tmp_path]) as live:
        for sql in queries(ids):
            assert live.query(sql) == copied.query(sql), sql


def test_a_statement_sees_rows_committed_after_the_session_opened(
    catalog: Catalog, tmp_path: Path
) -> None:
    (a, b, c) = populate(catalog)
    with connect(catalog.url, roots=[tmp_path]) as s:
        assert s.query("SELECT count(*) FROM checkpoints").rows == [(6,)]
        catalog.checkpoints.record(a, tick=300, sim_time=1.0, path="/c/300", bytes_on_disk=1)
        assert s.query("SELECT count(*) FROM checkpoints").rows == [(7,)]
        assert s.query(f"SELECT max(tick) FROM checkpoints WHERE run_id = '{a}'").rows == [(300,)]


def test_cursors_streaming_at_once_each_keep_their_own_rows(
    catalog: Catalog, tmp_path: Path
) -> None:
    a, b, _ = populate(catalog)
    with connect(catalog.url, roots=[tmp_path]) as s:
        first = s.execute(f"SELECT run_id FROM checkpoints WHERE run_id = '{a}'")
        every = s.execute("SELECT run_id FROM checkpoints ORDER BY run_id")
        second = s.execute(f"SELECT run_id FROM checkpoints WHERE run_id = '{b}'")
        assert first.fetchall() == [(a,), (a,)]
        assert second.fetchall() == [(b,), (b,)]
        assert len(every.fetchall()) == 6


def test_a_closed_session_closes_its_catalog(catalog: Catalog, tmp_path: Path) -> None:
    populate(catalog)
    s = connect(catalog.url, roots=[tmp_path])
    s.close()
    with pytest.raises(Exception, match="closed"):
        s.query("SELECT count(*) FROM runs")


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM runs WHERE run_id = 'a'", {"runs": {"run_id": ("a",)}}),
        (
            "SELECT * FROM runs WHERE 'a' = run_id AND seed IN (1, 2)",
            {"runs": {"run_id": ("a",), "seed": (1, 2)}},
        ),
        (
            "SELECT * FROM runs r JOIN checkpoints c USING (run_id) WHERE r.run_id = 'a'",
            {"runs": {"run_id": ("a",)}, "checkpoints": {"run_id": ("a",)}},
        ),
        (
            "SELECT * FROM runs r JOIN checkpoints c USING (run_id) WHERE run_id = 'a'",
            {"runs": {"run_id": ("a",)}, "checkpoints": {"run_id": ("a",)}},
        ),
        # an outer join's USING column is one side's: not inferred for the other
        (
            "SELECT * FROM runs r LEFT JOIN checkpoints c USING (run_id) WHERE run_id = 'a'",
            {"runs": None, "checkpoints": None},
        ),
        (
            "SELECT * FROM runs r LEFT JOIN checkpoints c USING (run_id) WHERE r.run_id = 'a'",
            {"runs": {"run_id": ("a",)}, "checkpoints": None},
        ),
        (
            "SELECT * FROM runs r JOIN checkpoints c ON r.run_id = c.run_id WHERE r.run_id = 'a'",
            {"runs": {"run_id": ("a",)}, "checkpoints": None},
        ),
        (
            "SELECT * FROM fields f JOIN runs r USING (run_id) WHERE f.run_id = 'a'",
            {"runs": {"run_id": ("a",)}},
        ),
        ("SELECT * FROM runs WHERE run_id = 'a' OR seed = 1", {"runs": None}),
        ("SELECT * FROM runs WHERE run_id = $1", {"runs": None}),
        ("SELECT * FROM runs WHERE seed = '1'", {"runs": None}),
        ("SELECT * FROM runs WHERE run_id = 'a'::VARCHAR", {"runs": None}),
        ("SELECT * FROM runs WHERE run_id = 'a' -- runs", {"runs": None}),
        ("SELECT * FROM runs, runs AS b WHERE runs.run_id = 'a'", {"runs": None}),
        ("SELECT * FROM runs USING SAMPLE 10 WHERE run_id = 'a'", {"runs": None}),
        (
            "SELECT * FROM checkpoints c ASOF JOIN runs r ON c.tick >= r.first_tick "
            "WHERE r.run_id = 'a'",
            {"runs": None, "checkpoints": None},
        ),
        (
            "SELECT * FROM runs r POSITIONAL JOIN checkpoints c WHERE r.run_id = 'a'",
            {"runs": None, "checkpoints": None},
        ),
        (
            "SELECT * FROM runs WHERE run_id = 'a' AND (SELECT count(*) FROM "
            "query_table('checkpoints')) > 0",
            {"runs": None, "checkpoints": None},
        ),
        (
            "SELECT * FROM fields WHERE run_id IN (SELECT run_id FROM runs WHERE seed = 5)",
            {"runs": {"seed": (5,)}},
        ),
        ("SELECT 1", {}),
    ],
)
def test_only_filters_that_cannot_change_the_answer_narrow_the_rows_read(sql, expected) -> None:
    kinds = {d.name: dict(zip(d.columns, d.kinds)) for d in Exports.sql_schemas()}
    with duckdb.connect() as con:
        assert filters(con, sql, kinds, named(sql, list(kinds))) == expected
