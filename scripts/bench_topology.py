"""Throughput of cubed-sphere lookups: containing cell and nearest centre.

Times ``CubedSphere.locate`` and ``CubedSphere.nearest_cell`` on 1,000,000 random unit
vectors at N=256 (median of 5 runs, tables built beforehand) and prints JSON with rates in
positions per second and ``locate_vs_copy``, the locate time over a plain numpy copy of the
(m, 3) input: a machine-independent measure of how close locate runs to memory speed.

    python scripts/bench_topology.py [--points M] [--resolution N] [--repeats R]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np

from continuum.topology import CubedSphere


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``fn``, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    points = rng.standard_normal((args.points, 3))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    grid = CubedSphere(args.resolution)
    grid.nearest_cell(points[:1])  # build centres and candidate tables outside the timing

    copy_s = median_seconds(lambda: points.copy(), args.repeats)
    locate_s = median_seconds(lambda: grid.locate(points), args.repeats)
    nearest_s = median_seconds(lambda: grid.nearest_cell(points), args.repeats)
    disagree = float(np.mean(grid.cell_of(points) != grid.nearest_cell(points)))
    print(
        json.dumps(
            {
                "points": args.points,
                "resolution": args.resolution,
                "locate_rate": round(args.points / locate_s),
                "nearest_rate": round(args.points / nearest_s),
                "locate_vs_copy": round(locate_s / copy_s, 2),
                "nearest_vs_locate": round(nearest_s / locate_s, 2),
                "containing_vs_nearest_disagree": round(disagree, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
