"""Paging through 100,000 runs over HTTP, on SQLite and PostgreSQL: every run exactly once,
in order, whatever the sort, with ``next`` cursors (keyset, never OFFSET)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from continuum.catalog import Catalog
from continuum.catalog.db.models import runs, worlds
from tests.serve.conftest import client_for

N_RUNS = 100_000
T0 = datetime(2025, 1, 1, tzinfo=UTC)
BATCH = 10_000


def run_rows(lo: int, hi: int) -> list[dict[str, Any]]:
    """Runs [lo, hi): one a minute, ten worlds, last ticks that repeat (ties to break)."""
    rows = []
    for i in range(lo, hi):
        at = T0 + timedelta(seconds=60 * i)
        rows.append(
            {
                "run_id": f"{at:%Y%m%d_%H%M%S}_{i:08x}",
                "world": f"world{i % 10}",
                "ir_hash": f"{i % 20:02x}" * 32,
                "scenario": "tiny",
                "seed": i % 1000,
                "status": ("completed", "failed", "crashed", "stopped")[i % 4],
                "host": "bench-host",
                "heartbeat_at": at,
                "started_at": at,
                "ended_at": at + timedelta(minutes=30),
                "first_tick": 0,
                "last_tick": 10_000 + i % 5000,
                "dropped_checkpoints": 0,
            }
        )
    return rows


def seed(url: str, n: int) -> None:
    """``n`` runs by bulk Core inserts (as scripts/bench_catalog.py seeds its catalogs)."""
    with Catalog(url) as cat, cat.db.engine.begin() as conn:
        conn.execute(
            worlds.insert(),
            [
                {
                    "name": f"world{w}",
                    "ir_hash": f"{h:02x}" * 32,
                    "version": "1",
                    "first_seen_at": T0,
                }
                for w in range(10)
                for h in range(20)
                if h % 10 == w
            ],
        )
        for lo in range(0, n, BATCH):
            conn.execute(runs.insert(), run_rows(lo, min(lo + BATCH, n)))


@pytest.fixture(scope="module")
def big(catalog_of_module: str) -> Iterator[TestClient]:
    seed(catalog_of_module, N_RUNS)
    with client_for(catalog_of_module) as client:
        yield client


def walk(client: TestClient, query: str) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    first = client.get(f"/api/runs?{query}").json()
    total, page = first["total"], first
    while True:
        rows += page["runs"]
        if page["next"] is None:
            return rows, total
        page = client.get(f"/api/runs?{query}&after={page['next']}").json()
        assert page["total"] is None


@pytest.mark.slow
def test_every_one_of_100000_runs_once_newest_first(big: TestClient):
    rows, total = walk(big, "limit=500")
    assert total == N_RUNS and len(rows) == N_RUNS
    ids = [r["run_id"] for r in rows]
    assert len(set(ids)) == N_RUNS
    assert ids == sorted(ids, reverse=True)  # run ids here sort as their start times


@pytest.mark.slow
def test_by_last_tick_with_ties_and_a_filter(big: TestClient):
    rows, total = walk(big, "limit=500&sort=last_tick&world=world3&status=stopped")
    assert total == N_RUNS // 20 and len(rows) == total
    keys = [(r["last_tick"], r["run_id"]) for r in rows]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert {r["world"] for r in rows} == {"world3"}


@pytest.mark.slow
def test_a_deep_page_is_a_keyset_page(big: TestClient):
    page = big.get("/api/runs?limit=50&sort=-last_tick").json()
    for _ in range(20):
        page = big.get(f"/api/runs?limit=500&sort=-last_tick&after={page['next']}").json()
    ticks = [r["last_tick"] for r in page["runs"]]
    assert len(ticks) == 500 and ticks == sorted(ticks, reverse=True)
