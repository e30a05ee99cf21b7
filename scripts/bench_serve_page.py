"""Benchmark the inspector page in Chromium: field playback and the signals overlay.

Measured in the page itself (``requestAnimationFrame`` callbacks stamped with
``performance.now()``, read from ``window.__continuum.stats``), in Debian's Chromium driven
by Playwright, against a real ``continuum serve`` over real runs, beside the same data
fetched from Python in the same run:

- ``playback_fps``: frames the page draws per second while playing terra ``large``
  (256x256 cells per face, 393,216 cells) ``atmosphere.temperature`` at ``--width``
  (512: a 512x256 grid), the first pass over ``--frames`` frames none of which the
  page or the server had drawn (the player asks for 60 fps; what it gets is bounded by
  fetching). ``playback_fps_cached``: the second pass (frames in the page's cache,
  or for a pass longer than the cache, the server's). Beside them
  ``raw_frame_fetch_fps``: the same ``/frame`` requests from Python (httpx) one after
  another, on another fresh server, and ``raw_frame_fetch_fps_4_in_flight`` with four
  in flight, as the page keeps them.
- ``signals_first_paint_ms``: a fresh page load of ``#/signals`` with ``--runs`` runs
  (terra ``tiny``, 200 ticks each) until the chart of ``core.temp`` is drawn, from the
  navigation's start (HTML, script, the signal list, ``/api/signals``, drawing);
  ``signals_fetch_ms`` is ``/api/signals`` for the same runs from Python.

Targets (issue 16): playback >= 10 frames/s, signals of 100 runs <= 1 s to first paint.
The data is built once under ``--data`` (``built.json`` says what) and reused.

    python scripts/bench_serve_page.py --data /tmp/bench-page
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner

from continuum.cli import cli

FIELD = "atmosphere.temperature"
SIGNAL = "core.temp"
CHROMIUM = os.environ.get("CONTINUUM_TEST_CHROMIUM", "/usr/bin/chromium")
TARGETS = {"playback_fps": 10.0, "signals_first_paint_ms": 1000.0}


def run(*args: object) -> dict[str, Any]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exit_code != 0:
        raise SystemExit(f"continuum {' '.join(map(str, args))} failed: {result.output}")
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def build(data: Path, frames: int, n_runs: int) -> dict[str, Any]:
    done = data / "built.json"
    if done.is_file():
        built: dict[str, Any] = json.loads(done.read_text())
        if (built["frames"], len(built["many"])) == (frames, n_runs):
            return built
        raise SystemExit(f"{data} holds other data ({done}); pass another --data")
    data.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{data / 'catalog.db'}"
    lens = data / "lens"
    t = time.perf_counter()
    large = run(
        *("run", "terra", "--scenario", "large", "--steps", frames - 1, "--lens-dir", lens),
        *("--lens-fields", FIELD, "--catalog", url, "--json", "--quiet"),
    )["run_id"]
    many = [
        run(
            *("run", "terra", "--scenario", "tiny", "--steps", 200, "--seed", seed),
            *("--lens-dir", lens, "--lens-fields", FIELD, "--catalog", url, "--json", "--quiet"),
        )["run_id"]
        for seed in range(n_runs)
    ]
    built = {"catalog": url, "frames": frames, "large": large, "many": many}
    built["build_s"] = round(time.perf_counter() - t, 1)
    done.write_text(json.dumps(built))
    return built


@contextmanager
def server(url: str) -> Iterator[tuple[str, str]]:
    """A fresh ``continuum serve --port 0`` process: (base URL, token)."""
    argv = [sys.executable, "-m", "continuum.cli", "serve", "--port", "0", "--json", "--quiet"]
    proc = subprocess.Popen([*argv, "--catalog", url], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        doc = json.loads(proc.stdout.readline())
        yield doc["url"].split("/?")[0], doc["token"]
    finally:
        proc.send_signal(2)
        proc.wait(timeout=30)


def raw_fetch(url: str, run_id: str, frames: int, width: int) -> dict[str, float]:
    """Frames/s of ``/frame`` from Python: one after another, then four in flight."""
    path = f"/api/runs/{run_id}/fields/{FIELD}/frame"
    out: dict[str, float] = {}
    with server(url) as (base, _), httpx.Client(base_url=base, timeout=60) as client:
        client.get("/api/health").raise_for_status()
        client.get(path, params={"tick": 0, "width": width}).raise_for_status()  # store open
        half = frames // 2
        t = time.perf_counter()
        for tick in range(1, half):
            client.get(path, params={"tick": tick, "width": width}).raise_for_status()
        out["raw_frame_fetch_fps"] = (half - 1) / (time.perf_counter() - t)

        def get(tick: int) -> None:
            client.get(path, params={"tick": tick, "width": width}).raise_for_status()

        t = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(get, range(half, frames)))
        out["raw_frame_fetch_fps_4_in_flight"] = (frames - half) / (time.perf_counter() - t)
    return out


def fps(draws: list[float]) -> float:
    return (len(draws) - 1) / ((draws[-1] - draws[0]) / 1000) if len(draws) > 1 else 0.0


def in_chromium(built: dict[str, Any], width: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    frames, large, many = built["frames"], built["large"], built["many"]
    out: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            with server(built["catalog"]) as (base, token):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"{base}/?token={token}")
                page.goto(f"{base}/#/runs/{large}/fields/{FIELD}?width={width}")
                page.wait_for_selector("#field-canvas[data-tick='0']", timeout=60_000)
                out["field_first_paint_ms"] = round(
                    page.evaluate("() => window.__continuum.stats.fieldFirstPaintMs"), 1
                )
                page.select_option("#play-fps", "60")
                page.click("#play")
                wait = "n => window.__continuum.stats.draws.length >= n"
                page.wait_for_function(wait, arg=frames - 1, timeout=120_000)
                first: list[float] = page.evaluate("() => window.__continuum.stats.draws.slice()")
                page.wait_for_function(wait, arg=2 * (frames - 1), timeout=120_000)
                both: list[float] = page.evaluate("() => window.__continuum.stats.draws.slice()")
                page.click("#play")
                out["playback_fps"] = round(fps(first[: frames - 1]), 1)
                out["playback_fps_cached"] = round(fps(both[frames - 1 : 2 * (frames - 1)]), 1)
                gaps = [b - a for a, b in zip(first, first[1:])]
                out["playback_frame_interval_ms_median"] = round(statistics.median(gaps), 1)
                out["playback_frame_interval_ms_max"] = round(max(gaps), 1)

                ids = ",".join(many)
                paints = []
                for _ in range(3):
                    fresh = browser.new_page(viewport={"width": 1400, "height": 1000})
                    fresh.context.add_cookies(page.context.cookies())
                    fresh.goto(f"{base}/#/signals?runs={ids}&name={SIGNAL}")
                    fresh.wait_for_selector(f"#signals-chart[data-series='{len(many)}']")
                    paints.append(fresh.evaluate("() => window.__continuum.stats.signalsPaintedAt"))
                    fresh.close()
                out["signals_first_paint_ms"] = round(statistics.median(paints), 1)
                out["signals_first_paint_ms_all"] = [round(x, 1) for x in paints]
                with httpx.Client(base_url=base, timeout=60) as client:
                    times = []
                    for _ in range(3):
                        t = time.perf_counter()
                        params = {"runs": ids, "name": SIGNAL, "max_points": 1000}
                        client.get("/api/signals", params=params).raise_for_status()
                        times.append((time.perf_counter() - t) * 1000)
                out["signals_fetch_ms"] = round(statistics.median(times), 1)
                page.close()  # its event stream ends before the server does
        finally:
            browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/bench-serve-page"))
    parser.add_argument("--frames", type=int, default=120, help="captured frames of large")
    parser.add_argument("--runs", type=int, default=100, help="runs overlaid")
    parser.add_argument("--width", type=int, default=512, help="map width (height = width/2)")
    args = parser.parse_args()
    if not Path(CHROMIUM).is_file():
        raise SystemExit(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    built = build(args.data, args.frames, args.runs)
    result: dict[str, Any] = {"frames": args.frames, "width": args.width, "runs": args.runs}
    result.update(in_chromium(built, args.width))
    result.update(
        {
            k: round(v, 1)
            for k, v in raw_fetch(built["catalog"], built["large"], args.frames, args.width).items()
        }
    )
    result["targets"] = TARGETS
    result["meets"] = {
        "playback_fps": result["playback_fps"] >= TARGETS["playback_fps"],
        "signals_first_paint_ms": result["signals_first_paint_ms"]
        <= TARGETS["signals_first_paint_ms"],
    }
    result["load_average"] = list(os.getloadavg())
    result["build_s"] = built.get("build_s")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
