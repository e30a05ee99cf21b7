"""Benchmark the inspector's API against the same questions asked through the Python API.

A real ``continuum serve`` process (uvicorn, real HTTP on 127.0.0.1, httpx as the client)
answers; beside each endpoint, the same query through the Python API (``Catalog.search``,
``LensStore``) runs in this process, the two interleaved, medians of ``--repeat``. Each
HTTP figure is given twice: ``*_ms`` the round trip seen by the client, ``*_server_ms``
the app's own time (its ``Server-Timing`` header). The data, built once under ``--data``
(reused when it is there):

- a SQLite catalog of ``--runs`` runs (bulk Core inserts, as ``bench_catalog.py`` seeds),
  plus the real runs below, recorded by ``continuum run``;
- terra ``large`` (256x256 cells per face, 393,216 cells), 20 captured frames of
  ``atmosphere.temperature``: the frame questions;
- terra ``tiny`` (8x8 per face) run for 10,000 ticks, every tick captured: a point's
  history over 10,000 frames (the run's by-sample copy included, as a capture leaves it);
- 100 terra ``tiny`` runs of 500 ticks (seeds 0-99): signals overlaid across 100 runs.

``frame_cold_ms``: the first frame a freshly started server draws for the run (after
one ``/api/health``: the process is up, no store open, no cell map, no topology table);
one server start per repeat. Its Python twin is a new ``LensStore`` with the topology
tables dropped, ``at(...).sample_batch(grid)``. ``frame_warm_ms``: a tick not drawn
before, on a server that has drawn others (store open, map cached); the Python twin
reuses its store. Targets (issue 16): runs pages <= 50 ms server time, frame <= 100 ms
cold and <= 20 ms warm, point history over 10,000 frames <= 100 ms, signals of 100 runs
<= 1 s.

    python scripts/bench_serve.py --data /tmp/bench-serve          # 100,000 runs
    python scripts/bench_serve.py --runs 20000 --repeat 5 --data /tmp/bs
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from click.testing import CliRunner
from sqlalchemy import select

from continuum.catalog import Catalog, SearchQuery
from continuum.catalog.db.models import runs, worlds
from continuum.catalog.search import encode_cursor, encode_sort_cursor
from continuum.cli import cli
from continuum.lens import LensStore
from continuum.lens.plot import lat_lon_grid

FIELD = "atmosphere.temperature"
SIGNAL = "core.temp"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
BATCH = 10_000
TARGETS_MS = {
    "runs_first_page": 50,
    "runs_deep_page": 50,
    "runs_deep_page_last_tick": 50,
    "frame_cold": 100,
    "frame_warm": 20,
    "point_history_10k": 100,
    "signals_100_runs": 1000,
}


# --- data ------------------------------------------------------------------------------------


def run(*args: object) -> dict[str, Any]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exit_code != 0:
        raise SystemExit(f"continuum {' '.join(map(str, args))} failed: {result.output}")
    return json.loads(result.stdout)


def seed_runs(url: str, n: int) -> None:
    """``n`` catalog-only runs, one a minute from 2024 on (older than the real ones)."""
    with Catalog(url) as cat, cat.db.engine.begin() as conn:
        conn.execute(
            worlds.insert(),
            [{"name": f"world{w}", "ir_hash": "ab" * 32, "version": "1", "first_seen_at": T0}
             for w in range(10)],
        )  # fmt: skip
        for lo in range(0, n, BATCH):
            rows = []
            for i in range(lo, min(lo + BATCH, n)):
                at = T0 + timedelta(seconds=60 * i)
                rows.append(
                    {
                        "run_id": f"{at:%Y%m%d_%H%M%S}_{i:08x}",
                        "world": f"world{i % 10}",
                        "ir_hash": "ab" * 32,
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
            conn.execute(runs.insert(), rows)
    with Catalog(url) as cat, cat.db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")


def build(data: Path, n_runs: int) -> dict[str, Any]:
    """The data of the module docstring under ``data`` (its ``built.json`` says what)."""
    done = data / "built.json"
    if done.is_file():
        built: dict[str, Any] = json.loads(done.read_text())
        if built.get("runs") == n_runs:
            return built
        raise SystemExit(f"{data} holds data for {built.get('runs')} runs; pass another --data")
    data.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{data / 'catalog.db'}"
    lens = data / "lens"
    t = time.perf_counter()
    large = run(
        *("run", "terra", "--scenario", "large", "--steps", "19", "--lens-dir", lens),
        *("--lens-fields", FIELD, "--catalog", url, "--json", "--quiet"),
    )["run_id"]
    long = run(
        *("run", "terra", "--scenario", "tiny", "--steps", "9999", "--lens-dir", lens),
        *("--lens-fields", FIELD, "--catalog", url, "--json", "--quiet"),
    )["run_id"]
    many = [
        run(
            *("run", "terra", "--scenario", "tiny", "--steps", "500", "--seed", seed),
            *("--lens-dir", lens, "--lens-fields", FIELD, "--catalog", url, "--json", "--quiet"),
        )["run_id"]
        for seed in range(100)
    ]
    real_s = time.perf_counter() - t
    t = time.perf_counter()
    seed_runs(url, n_runs - 102)
    built = {
        "runs": n_runs,
        "catalog": url,
        "lens": str(lens),
        "large": large,
        "long": long,
        "many": many,
        "build_real_runs_s": round(real_s, 1),
        "seed_runs_s": round(time.perf_counter() - t, 1),
    }
    done.write_text(json.dumps(built))
    return built


# --- the server ------------------------------------------------------------------------------


@contextmanager
def server(url: str) -> Iterator[tuple[httpx.Client, str]]:
    """A real ``continuum serve --port 0`` process and a client holding its token."""
    argv = [sys.executable, "-m", "continuum.cli", "serve", "--port", "0", "--json", "--quiet"]
    proc = subprocess.Popen([*argv, "--catalog", url], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        doc = json.loads(proc.stdout.readline())
        base = doc["url"].split("/?")[0]
        with httpx.Client(base_url=base, headers={"X-Continuum-Token": doc["token"]}) as client:
            client.get("/api/health").raise_for_status()
            yield client, base
    finally:
        proc.send_signal(2)
        proc.wait(timeout=30)


class Timer:
    """Per question: client round trips, server times, Python API times (ms)."""

    def __init__(self) -> None:
        self.http: dict[str, list[float]] = {}
        self.server: dict[str, list[float]] = {}
        self.python: dict[str, list[float]] = {}

    def get(self, label: str, client: httpx.Client, path: str, **params: Any) -> httpx.Response:
        t = time.perf_counter()
        response = client.get(path, params=params)
        self.http.setdefault(label, []).append((time.perf_counter() - t) * 1000)
        response.raise_for_status()
        timing = response.headers.get("server-timing", "")
        if "dur=" in timing:
            self.server.setdefault(label, []).append(float(timing.split("dur=")[1]))
        return response

    def py(self, name: str, fn: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        out = fn()
        self.python.setdefault(name, []).append((time.perf_counter() - t) * 1000)
        return out

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.http:
            http = statistics.median(self.http[name])
            out[f"{name}_ms"] = round(http, 2)
            if self.server.get(name):
                out[f"{name}_server_ms"] = round(statistics.median(self.server[name]), 2)
            if self.python.get(name):
                python = statistics.median(self.python[name])
                out[f"{name}_python_api_ms"] = round(python, 2)
                out[f"{name}_http_over_python"] = round(http / python, 2) if python else None
        return out


def deep_cursors(url: str, depth: int) -> tuple[str, str]:
    with Catalog(url) as cat, cat.db.engine.connect() as conn:
        row = conn.execute(
            select(runs).order_by(runs.c.started_at.desc(), runs.c.run_id.desc()).offset(depth)
        ).first()
        tick_row = conn.execute(
            select(runs).order_by(runs.c.last_tick.desc(), runs.c.run_id.desc()).offset(depth)
        ).first()
    assert row is not None and tick_row is not None
    return encode_cursor(row.started_at, row.run_id), encode_sort_cursor("-last_tick", tick_row)


def bench(built: dict[str, Any], repeat: int) -> dict[str, Any]:
    url, lens = built["catalog"], Path(built["lens"])
    timer = Timer()
    cat = Catalog(url)
    deep, deep_tick = deep_cursors(url, built["runs"] // 2)
    large, long, many = built["large"], built["long"], built["many"]
    _, _, grid = lat_lon_grid(512)
    points = grid.reshape(-1, 3)
    position = np.array([math.cos(0.3), 0.0, math.sin(0.3)])  # lat 17.2, lon 0
    lat, lon = math.degrees(0.3), 0.0
    from continuum.lens import reconstruct

    # cold frames: a fresh server per repeat, beside a fresh store and topology here
    for k in range(repeat):
        with server(url) as (client, _):
            timer.get("frame_cold", client, f"/api/runs/{large}/fields/{FIELD}/frame", tick=k)
        reconstruct._shared.cache_clear()
        timer.py(
            "frame_cold", lambda k=k: LensStore(lens / large).at(FIELD, k).sample_batch(points)
        )

    big_store = LensStore(lens / large)
    long_store = LensStore(lens / long)
    stores = {r: LensStore(lens / r) for r in many}
    with server(url) as (client, _):
        ids = ",".join(many)
        warmups = [
            ("/api/runs", {}),
            (f"/api/runs/{large}/fields/{FIELD}/frame", {"tick": 19}),
            (f"/api/runs/{long}/fields/{FIELD}/history", {"lat": lat, "lon": lon}),
            ("/api/signals", {"runs": ids, "name": SIGNAL}),
        ]
        for path, params in warmups:
            client.get(path, params=params).raise_for_status()
        big_store.at(FIELD, 19).sample_batch(points)
        long_store.history(FIELD, position)
        for k in range(repeat):
            timer.get("runs_first_page", client, "/api/runs", limit=50)
            timer.py("runs_first_page", lambda: (
                cat.search.find(SearchQuery(), limit=50), cat.search.count(SearchQuery())
            ))  # fmt: skip
            timer.get("runs_deep_page", client, "/api/runs", limit=50, after=deep)
            timer.py("runs_deep_page", lambda: cat.search.find(SearchQuery(), limit=50, after=deep))
            timer.get(
                "runs_deep_page_last_tick", client, "/api/runs",
                limit=50, sort="-last_tick", after=deep_tick,
            )  # fmt: skip
            timer.py(
                "runs_deep_page_last_tick",
                lambda: cat.search.find(
                    SearchQuery(), limit=50, after=deep_tick, sort="-last_tick"
                ),
            )
            tick = k % 18  # 0..17: each drawn once per width below, never from the frame cache
            width = 512 if k < 18 else 510
            timer.get(
                "frame_warm", client, f"/api/runs/{large}/fields/{FIELD}/frame",
                tick=tick, width=width,
            )  # fmt: skip
            timer.py("frame_warm", lambda t=tick: big_store.at(FIELD, t).sample_batch(points))
            timer.get(
                "point_history_10k", client, f"/api/runs/{long}/fields/{FIELD}/history",
                lat=lat, lon=lon,
            )  # fmt: skip
            timer.py("point_history_10k", lambda: long_store.history(FIELD, position))
            timer.get("signals_100_runs", client, "/api/signals", runs=ids, name=SIGNAL)
            timer.py(
                "signals_100_runs", lambda: [s.signal_history(SIGNAL) for s in stores.values()]
            )
    cat.close()
    out = timer.report()
    frames = len(long_store.field_ticks(FIELD))
    out["point_history_frames"] = frames
    out["targets_ms"] = TARGETS_MS
    out["targets_met"] = {
        k: out[f"{k}_server_ms" if k.startswith("runs") else f"{k}_ms"] <= v
        for k, v in TARGETS_MS.items()
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--data", type=Path, required=True, help="where the data is built/reused")
    args = parser.parse_args()
    os.environ.setdefault("XDG_DATA_HOME", str(args.data / "xdg"))
    built = build(args.data, args.runs)
    report = {"runs": args.runs, "repeat": args.repeat, **bench(built, args.repeat)}
    report["build"] = {k: v for k, v in built.items() if k.endswith("_s")}
    report["load_average"] = list(os.getloadavg())
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
