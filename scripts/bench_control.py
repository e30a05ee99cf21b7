"""Benchmark the control channel's cost to the tick loop; prints JSON.

    python scripts/bench_control.py [--steps 3000] [--repeats 5]

Figures:

- ``hook_ns``: one call of the runner's between-ticks hook (:class:`LiveControl`) with
  nothing queued — what every tick pays: the tick published (two assignments, one clock
  read) and a truth test of the command queue. Median of 5 timings of 200,000 calls.
- ``tick_us``: one tick of terra ``tiny`` (8x8 per face, the cheapest world: the largest
  share the hook could take) without the channel; ``hook_share`` = ``hook_ns`` / tick.
- ``overhead``: ticks/s without the channel / ticks/s with it, whole ``execute`` runs of
  ``--steps`` ticks, alternated, medians; 1.0 within noise is the target.
- ``status_ms``: a ``status`` round trip (connect, request, reply) while a run ticks,
  median of 50, from this process.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import tempfile
import threading
import time
from types import SimpleNamespace
from typing import Any

from continuum.control import ControlServer, private_dir, request
from continuum.runner import RunRequest, execute
from continuum.runner.live import LiveControl
from continuum.runner.stop import StopSignals


def hook_ns(calls: int = 200_000, repeats: int = 5) -> float:
    server = ControlServer.open("bench_hook", start_tick=0, end_tick=calls)
    try:
        state = SimpleNamespace(tick=0)
        p: Any = SimpleNamespace(state=state, run_id="bench_hook")
        live = LiveControl(server, p, writer=None, lens=None, stop=StopSignals())
        times = []
        for _ in range(repeats):
            began = time.perf_counter_ns()
            for tick in range(calls):
                state.tick = tick
                live()
            times.append((time.perf_counter_ns() - began) / calls)
        return statistics.median(times)
    finally:
        server.close()


#: the module (``continuum.runner.execute`` the name is the function the package exports)
execute_module = importlib.import_module("continuum.runner.execute")


def run_rate(steps: int, control: bool) -> float:
    original = execute_module.open_control
    if not control:
        execute_module.open_control = lambda *a, **k: None  # type: ignore[assignment]
    try:
        summary = execute(RunRequest(world="terra", scenario="tiny", steps=steps, no_catalog=True))
    finally:
        execute_module.open_control = original
    return float(summary["ticks_per_s"])


def status_ms(samples: int = 50) -> float:
    before = set(private_dir().glob("*.sock"))
    worker = threading.Thread(target=run_rate, args=(200_000, True), daemon=True)
    worker.start()
    deadline = time.monotonic() + 30
    path = None
    while path is None and time.monotonic() < deadline:
        new = set(private_dir().glob("*.sock")) - before
        path = new.pop() if new else None
        time.sleep(0.01)
    assert path is not None, "the run opened no control socket"
    times = []
    for _ in range(samples):
        began = time.perf_counter()
        request(path, "status")
        times.append((time.perf_counter() - began) * 1e3)
    request(path, "stop")
    worker.join(60)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="ctl-bench-", dir="/tmp"))
    run_rate(200, True)  # warm up: imports, world compile caches
    off, on = [], []
    for _ in range(args.repeats):
        off.append(run_rate(args.steps, control=False))
        on.append(run_rate(args.steps, control=True))
    tick_us = 1e6 / statistics.median(off)
    hook = hook_ns()
    print(
        json.dumps(
            {
                "hook_ns": round(hook, 1),
                "tick_us": round(tick_us, 1),
                "hook_share": round(hook / (tick_us * 1e3), 6),
                "ticks_per_s_off": round(statistics.median(off), 1),
                "ticks_per_s_on": round(statistics.median(on), 1),
                "overhead": round(statistics.median(off) / statistics.median(on), 4),
                "status_ms": round(status_ms(), 3),
                "steps": args.steps,
                "repeats": args.repeats,
                "load_average_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
