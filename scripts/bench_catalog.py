"""Benchmark the run catalog at two sizes, 10x apart; prints one JSON document.

Seeds SQLite catalogs (and PostgreSQL ones, when a server answers) with a
tenth of ``--runs`` and with ``--runs`` runs, ten checkpoints per run (one run
has 1,000), by bulk Core inserts, then times on both (median of ``--repeat``,
the two sizes alternating so changes in machine load hit both alike): the
first page of ``list --limit 50``, a deep keyset page, a three-filter search,
``show`` of the 1,000-checkpoint run, and recording one checkpoint.
``growth_ratio`` is the worst t(full)/t(tenth) over the queries (keyset pages
and indexed filters should stay flat); ``cli_list_s`` is the wall time of
``continuum catalog list --limit 50`` as a whole process, next to the time a
process takes just to import SQLAlchemy, its floor.

    python scripts/bench_catalog.py                 # 100,000 runs, 1,000,000 checkpoints
    python scripts/bench_catalog.py --runs 20000 --no-pg
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from continuum.catalog import Catalog, SearchQuery, parse_param_filter
from continuum.catalog.db.models import checkpoints, run_params, run_tags, runs, worlds
from continuum.catalog.search import encode_cursor

T0 = datetime(2025, 1, 1, tzinfo=UTC)
WORLDS = [f"world{i}" for i in range(10)]
SHOW_RUN = "bench_show"
TARGETS_S = {"list_first_page": 0.1, "list_deep_page": 0.1, "search_3_filters": 0.1}
TARGETS_S |= {"show_1000_checkpoints": 0.1, "record_checkpoint": 0.005}
BATCH = 5_000


def run_rows(lo: int, hi: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(lo, hi):
        at = T0 + timedelta(seconds=60 * i)
        world = WORLDS[i % len(WORLDS)]
        rows.append(
            {
                "run_id": SHOW_RUN if i == 0 else f"{at:%Y%m%d_%H%M%S}_{i:06x}",
                "world": world,
                "ir_hash": f"{i % 20:02x}" * 32,
                "scenario": "tiny" if i % 3 else "large",
                "scenario_hash": None,
                "seed": i % 1000,
                "status": ("completed", "completed", "failed", "crashed")[i % 4],
                "host": "bench-host",
                "pid": None,
                "heartbeat_at": at,
                "started_at": at,
                "ended_at": at + timedelta(minutes=30),
                "first_tick": 0,
                "last_tick": 10_000 + i % 5000,
                "steps": 10_000,
                "checkpoint_dir": f"/data/ckpt/{i}",
                "lens_dir": None,
                "parent_run_id": None,
                "parent_checkpoint_tick": None,
                "dropped_checkpoints": 0,
            }
        )
    return rows


def checkpoint_rows(run_id: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": uuid.uuid4().hex,
            "run_id": run_id,
            "segment_id": None,
            "tick": 1000 * (t + 1),
            "sim_time": 1e6 * (t + 1),
            "era": "formation",
            "path": f"checkpoint_{1000 * (t + 1):010d}.ckpt",
            "bytes_on_disk": 1_000_000,
            "raw_bytes": 4_000_000,
            "checksum": "0" * 16,
            "created_at": T0,
            "state": "committed",
            "pinned": False,
        }
        for t in range(count)
    ]


def seed(cat: Catalog, lo: int, hi: int) -> float:
    """Insert runs [lo, hi) with their checkpoints, tags and params; returns seconds."""
    start = time.perf_counter()
    with cat.db.engine.begin() as conn:
        if lo == 0:
            conn.execute(
                worlds.insert(),
                [
                    {"name": w, "ir_hash": f"{h:02x}" * 32, "version": "1", "first_seen_at": T0}
                    for h in range(20)
                    for w in WORLDS
                ],
            )
        for b in range(lo, hi, BATCH):
            rows = run_rows(b, min(b + BATCH, hi))
            conn.execute(runs.insert(), rows)
            ids = [r["run_id"] for r in rows]
            conn.execute(
                run_tags.insert(),
                [{"run_id": r, "key": "owner", "value": f"u{i % 20}"} for i, r in enumerate(ids)],
            )
            params = [
                {
                    "run_id": r,
                    "key": "k",
                    "value_text": str(i % 100 / 100),
                    "value_num": i % 100 / 100,
                }
                for i, r in enumerate(ids)
            ]
            params += [
                {"run_id": r, "key": "mode", "value_text": "fast", "value_num": None} for r in ids
            ]
            conn.execute(run_params.insert(), params)
            ckpts = [c for r in ids for c in checkpoint_rows(r, 1000 if r == SHOW_RUN else 10)]
            conn.execute(checkpoints.insert(), ckpts)
    if cat.dialect == "sqlite":
        with cat.db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with cat.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - start


def median_s(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm: compiled-statement cache, page cache
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def deep_cursor(cat: Catalog, depth: int) -> str:
    with cat.db.engine.connect() as conn:
        row = conn.execute(
            select(runs.c.started_at, runs.c.run_id)
            .order_by(runs.c.started_at.desc(), runs.c.run_id.desc())
            .offset(depth)
            .limit(1)
        ).one()
    return encode_cursor(row.started_at, row.run_id)


def workload(cat: Catalog, n_runs: int) -> dict[str, Callable[[], Any]]:
    """The timed operations, as calls on ``cat``."""
    cursor = deep_cursor(cat, n_runs // 2)
    query = SearchQuery(world="world3", status="crashed", params=(parse_param_filter("k>=0.2"),))
    found = cat.search.find(query, limit=50).runs
    assert len(found) == 50, f"the search should fill a page, found {len(found)}"
    tick = iter(range(10**9, 2 * 10**9))

    def record() -> None:
        t = next(tick)
        cat.checkpoints.record(SHOW_RUN, tick=t, sim_time=1.0, path=f"c{t}", bytes_on_disk=1)

    return {
        "list_first_page": lambda: cat.search.list(limit=50),
        "list_deep_page": lambda: cat.search.list(limit=50, after=cursor),
        "search_3_filters": lambda: cat.search.find(query, limit=50),
        "show_1000_checkpoints": lambda: cat.search.show(SHOW_RUN),
        "record_checkpoint": record,
    }


def interleaved_medians(
    workloads: dict[int, dict[str, Callable[[], Any]]], repeat: int
) -> dict[int, dict[str, float]]:
    """Median seconds per (size, operation), sizes alternating so load drifts hit both."""
    samples: dict[int, dict[str, list[float]]] = {n: {} for n in workloads}
    for name in TARGETS_S:
        for calls in workloads.values():
            calls[name]()  # warm: compiled-statement cache, page cache
        for _ in range(repeat * 3 if name == "record_checkpoint" else repeat):
            for n, calls in workloads.items():
                start = time.perf_counter()
                calls[name]()
                samples[n].setdefault(name, []).append(time.perf_counter() - start)
    return {n: {k: statistics.median(v) for k, v in s.items()} for n, s in samples.items()}


def bench(urls: tuple[str, str], n_runs: int, repeat: int) -> dict[str, Any]:
    """Seed a tenth-size and a full-size catalog, then time both, interleaved."""
    sizes = (max(n_runs // 10, 2000), n_runs)
    out: dict[str, Any] = {"runs": n_runs, "checkpoints": 10 * n_runs + 990, "seed_s": 0.0}
    cats = [Catalog(url) for url in urls]
    try:
        for cat, size in zip(cats, sizes):
            out["seed_s"] += seed(cat, 0, size)
        timed = interleaved_medians(
            {size: workload(cat, size) for cat, size in zip(cats, sizes)}, repeat
        )
    finally:
        for cat in cats:
            cat.close()
    small, full = (timed[size] for size in sizes)
    out[f"at_{sizes[0]}_runs_s"], out[f"at_{n_runs}_runs_s"] = small, full
    ratios = {k: full[k] / small[k] for k in full if k != "record_checkpoint"}
    out["growth_ratio"] = max(ratios.values())
    out["growth_by_query"] = ratios
    out["vs_target"] = {k: full[k] / TARGETS_S[k] for k in full}  # < 1 meets it
    return out


def cli_list_s(url: str, repeat: int) -> float:
    cmd = [str(Path(sys.executable).with_name("continuum")), "catalog", "list", "--limit", "50"]
    env = {**os.environ, "CONTINUUM_CATALOG": url}

    def once() -> None:
        subprocess.run(cmd, env=env, check=True, capture_output=True)

    return median_s(once, repeat)


def import_sqlalchemy_s(repeat: int) -> float:
    """The floor under ``cli_list_s``: a process that only imports SQLAlchemy."""
    cmd = [sys.executable, "-c", "import sqlalchemy"]
    return median_s(lambda: subprocess.run(cmd, check=True), repeat)


@contextmanager
def pg_databases(admin_url: str, count: int) -> Iterator[list[str] | None]:
    """Fresh databases for the benchmark, dropped afterwards; None without a server."""
    names = [f"continuum_bench_{uuid.uuid4().hex[:8]}" for _ in range(count)]
    admin = create_engine(
        admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server: the benchmark runs on SQLite alone
        print(f"PostgreSQL skipped: {type(exc).__name__}", file=sys.stderr)
        admin.dispose()
        yield None
        return
    try:
        base = make_url(admin_url)
        yield [base.set(database=n).render_as_string(hide_password=False) for n in names]
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "CONTINUUM_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    few = max(args.repeat // 2, 5)
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        urls = (f"sqlite:///{Path(tmp) / 'tenth.db'}", f"sqlite:///{Path(tmp) / 'full.db'}")
        report["sqlite"] = bench(urls, args.runs, args.repeat)
        report["cli_list_s"] = cli_list_s(urls[1], few)
        report["import_sqlalchemy_s"] = import_sqlalchemy_s(few)
        report["cli_list_over_import_sqlalchemy"] = (
            report["cli_list_s"] / report["import_sqlalchemy_s"]
        )
    if not args.no_pg:
        with pg_databases(args.pg_url, 2) as pg_urls:
            if pg_urls is not None:
                report["postgresql"] = bench((pg_urls[0], pg_urls[1]), args.runs, args.repeat)
    sqlite = report["sqlite"]
    report["sqlite_targets_met"] = {
        "queries_under_100ms_record_under_5ms": max(sqlite["vs_target"].values()) < 1,
        "growth_ratio_le_2": sqlite["growth_ratio"] <= 2,
        "cli_list_under_0_5s": report["cli_list_s"] < 0.5,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
