"""Benchmark lens runs through xarray (issue 18), each figure beside its baseline.

A real terra run (``--scenario tiny`` by default: 8x8 per face, 384 cells) of 10,000
frames, captured every tick (``continuum run terra --steps 9999``; ``--lens RUN_DIR``
reuses one), then, interleaved round by round (a busy machine slows both sides alike),
medians of ``--repeat`` rounds:

- ``open_dataset_10k_ms``: ``continuum.lens.open_dataset(run_dir)`` as a user gets it
  (plain lazy arrays; target <= 200 ms), beside ``open_dataset_dask_ms`` (``chunks={}``:
  dask chunks aligned with the windows) and ``lens_store_open_ms`` (a ``LensStore`` and
  its summary: the baseline);
- ``point_history_ratio``: one cell's values at every tick,
  ``ds[f].isel(sample=j).values`` over ``LensStore.history(f, centre_j)`` (target <= 2),
  each side on freshly opened objects (their first query: no warm object cache);
  ``point_history_dask_ratio`` the same on the dask-chunked dataset (for scale: a dask
  graph per selection);
- ``time_slice_ratio``: every cell at one tick, ``ds[f].sel(tick=t).values`` over
  ``LensStore.at(f, t).values`` (target <= 2), and ``time_slice_dask_ratio``;
- ``netcdf_export_rate_ratio`` and ``zarr_export_rate_ratio``: frames per second of
  ``export_dataset`` (what ``lens export --format netcdf|zarr`` runs: open, then window
  by window) over the Parquet export of the same run (``continuum.sql.export_run``, as
  ``lens export`` runs it; target >= 0.5), with the seconds of each;
- ``loadavg`` before and after.

Prints one JSON object. Usage: python scripts/bench_xarray.py [--lens RUN_DIR]
[--frames 10000] [--scenario tiny] [--repeat 15] [--export-repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

FIELD = "atmosphere.temperature"


def make_run(root: Path, frames: int, scenario: str) -> Path:
    """A terra run capturing ``frames`` frames, every tick, made by ``continuum run``."""
    cmd = [sys.executable, "-m", "continuum", "run", "terra", "--scenario", scenario]
    cmd += ["--steps", str(frames - 1), "--lens-dir", str(root / "lens"), "--quiet", "--json"]
    cmd += ["--catalog", f"sqlite:///{root / 'catalog.db'}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return Path(json.loads(out.stdout)["lens_dir"])


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def rounds(tasks: dict[str, Callable[[], Callable[[], object]]], repeat: int) -> dict[str, float]:
    """Median seconds of each task; ``tasks[name]()`` prepares one round's call (untimed),
    and the calls of one round run one after the other, in the order given."""
    times: dict[str, list[float]] = {name: [] for name in tasks}
    for _ in range(repeat):
        for name, prepare in tasks.items():
            call = prepare()
            times[name].append(timed(call))
    return {name: statistics.median(t) for name, t in times.items()}


def queries(run_dir: Path, repeat: int) -> dict[str, Any]:
    from continuum.lens import LensStore, open_dataset

    open_dataset(run_dir, chunks={}).close()  # imports (xarray, dask) out of the figures
    with LensStore(run_dir) as store:
        ticks = store.field_ticks(FIELD)
        centres = store.topology.centres  # type: ignore[union-attr]
    rng = np.random.default_rng(18)
    picks = {"j": 0, "t": 0}

    def pick() -> None:
        picks["j"] = int(rng.integers(len(centres)))
        picks["t"] = int(ticks[rng.integers(len(ticks))])

    def store_history() -> Callable[[], object]:
        pick()
        store = LensStore(run_dir)
        return lambda: store.history(FIELD, centres[picks["j"]]).values

    def xr_history(chunks: Any) -> Callable[[], Callable[[], object]]:
        def prepare() -> Callable[[], object]:
            ds = open_dataset(run_dir, chunks=chunks)
            return lambda: ds[FIELD].isel(sample=picks["j"]).values

        return prepare

    def store_slice() -> Callable[[], object]:
        store = LensStore(run_dir)
        return lambda: store.at(FIELD, picks["t"]).values

    def xr_slice(chunks: Any) -> Callable[[], Callable[[], object]]:
        def prepare() -> Callable[[], object]:
            ds = open_dataset(run_dir, chunks=chunks)
            return lambda: ds[FIELD].sel(tick=picks["t"]).values

        return prepare

    def opening(fn: Callable[[], object]) -> Callable[[], Callable[[], object]]:
        return lambda: fn

    got = rounds(
        {
            "store_open": opening(lambda: LensStore(run_dir).summary()),
            "open": opening(lambda: open_dataset(run_dir)),
            "open_dask": opening(lambda: open_dataset(run_dir, chunks={})),
            "store_history": store_history,
            "history": xr_history(None),
            "history_dask": xr_history({}),
            "store_slice": store_slice,
            "slice": xr_slice(None),
            "slice_dask": xr_slice({}),
        },
        repeat,
    )
    ms = {k: round(v * 1e3, 3) for k, v in got.items()}
    return {
        "frames": len(ticks),
        "open_dataset_10k_ms": ms["open"],
        "open_dataset_dask_ms": ms["open_dask"],
        "lens_store_open_ms": ms["store_open"],
        "point_history_ms": ms["history"],
        "point_history_dask_ms": ms["history_dask"],
        "point_history_store_ms": ms["store_history"],
        "point_history_ratio": round(got["history"] / got["store_history"], 3),
        "point_history_dask_ratio": round(got["history_dask"] / got["store_history"], 3),
        "time_slice_ms": ms["slice"],
        "time_slice_dask_ms": ms["slice_dask"],
        "time_slice_store_ms": ms["store_slice"],
        "time_slice_ratio": round(got["slice"] / got["store_slice"], 3),
        "time_slice_dask_ratio": round(got["slice_dask"] / got["store_slice"], 3),
    }


def exports(run_dir: Path, scratch: Path, repeat: int) -> dict[str, Any]:
    from continuum.datasets import export_dataset
    from continuum.lens import open_dataset
    from continuum.sql import export_run

    def fresh(path: Path) -> Path:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        return path

    def parquet() -> Callable[[], object]:
        out = fresh(scratch / "parts")
        return lambda: export_run(run_dir, out)

    def xarray_export(fmt: str, name: str) -> Callable[[], Callable[[], object]]:
        def prepare() -> Callable[[], object]:
            out = fresh(scratch / name)
            return lambda: export_dataset(open_dataset(run_dir, chunks=None), out, fmt)

        return prepare

    got = rounds(
        {
            "parquet": parquet,
            "netcdf": xarray_export("netcdf", "run.nc"),
            "zarr": xarray_export("zarr", "run.zarr"),
        },
        repeat,
    )
    return {
        "parquet_export_s": round(got["parquet"], 3),
        "netcdf_export_s": round(got["netcdf"], 3),
        "zarr_export_s": round(got["zarr"], 3),
        # rates of the same frames: the ratio of rates is the inverse ratio of times
        "netcdf_export_rate_ratio": round(got["parquet"] / got["netcdf"], 3),
        "zarr_export_rate_ratio": round(got["parquet"] / got["zarr"], 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--lens", type=Path, default=None, help="an existing lens run dir")
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--scenario", default="tiny")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--export-repeat", type=int, default=3)
    args = parser.parse_args(argv)
    before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench_xarray_") as tmp:
        scratch = Path(tmp)
        run_dir = args.lens or make_run(scratch, args.frames, args.scenario)
        result: dict[str, Any] = {"run_dir": str(run_dir) if args.lens else None}
        result.update(queries(run_dir, args.repeat))
        result.update(exports(run_dir, scratch, args.export_repeat))
    result["loadavg"] = [round(x, 2) for x in (*before, *os.getloadavg())]
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
