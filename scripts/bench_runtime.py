"""Benchmark the tick loop on terra at 32x32 and 256x256 cells per face.

Prints ticks/s, cell-updates/s and ``tick_vs_floor``: one tick's time at 256x256
divided by the time numpy needs for a bare ``a + b`` over cells x members (the
memory-bandwidth floor of touching that state once). Medians over repeats;
both sides measured in the same run, so the ratio holds on a noisy machine.

    python scripts/bench_runtime.py [--json] [--ticks 40]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from continuum.runtime import Simulation
from continuum.world import Scenario, compile_world, load_world


def simulation(resolution: int) -> Simulation:
    ir = load_world("terra")
    return Simulation(compile_world(ir, Scenario(f"bench{resolution}", resolution=resolution)), 1)


def ticks_per_second(sim: Simulation, ticks: int, repeats: int = 3) -> float:
    state = sim.run(sim.initial_state(), 10)  # warm up caches and the allocator
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        sim.run(state, ticks)
        rates.append(ticks / (time.perf_counter() - started))
    return statistics.median(rates)


def floor_seconds(n: int, repeats: int = 50) -> float:
    a, b = np.random.default_rng(0).random((2, n))
    out = np.empty(n)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        np.add(a, b, out=out)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--ticks", type=int, default=40, help="ticks per timed repeat at 256")
    args = parser.parse_args()
    small, large = simulation(32), simulation(256)
    rate_32 = ticks_per_second(small, 1000)
    rate_256 = ticks_per_second(large, args.ticks)
    cells = large.counts["cell"]
    members = sum(len(e.members) for e in large.program.ir.entities if e.name == "cell")
    floor = floor_seconds(cells * members)
    result = {
        "ticks_per_s_32": round(rate_32, 1),
        "ticks_per_s_256": round(rate_256, 2),
        "cell_updates_per_s_256": round(rate_256 * cells * members),
        "cells_256": cells,
        "floor_ms": round(floor * 1e3, 3),
        "tick_ms_256": round(1e3 / rate_256, 3),
        "tick_vs_floor": round((1.0 / rate_256) / floor, 2),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}  {value}")


if __name__ == "__main__":
    main()
