"""Peer benchmark: the same field history in zarr, Parquet/polars, HDF5 and ours, side by side.

Data: terra ``large`` (256x256 per face, 393,216 cells), ``atmosphere.temperature``
captured every tick by our lens for ``--frames`` frames (``continuum run``, no catalog),
built once under ``--data DIR`` and reused (every layout has a ``.done`` marker). The same
frames are then written as

- ``zarr_time``: zarr v3, chunks of 1 frame x all cells (what a slice reader uses);
- ``zarr_point``: zarr v3, chunks of all frames x a group of cells sized for ~4 MiB raw
  (what a point-history reader uses);
- ``polars``: Parquet (tick, sample, value), sorted by tick then sample, one file per 50
  frames, polars' default writer (zstd, statistics), scanned lazily;
- ``h5py``: one HDF5 dataset, h5py's automatic chunks, the same codec as zarr (optional:
  skipped when h5py or hdf5plugin is missing);
- ours: the lens chunks (plus the point-major history files of
  ``continuum.lens.compact_history`` when it exists, run once before timing), read with
  :class:`continuum.lens.LensStore` (``ours_api``), and the run exported to Parquet in
  both layouts, queried with plain SQL on the ``fields`` view (``ours_sql``; the
  ``fields_by_sample`` view for the point questions is ``ours_sql_by_sample``, reported
  but not ranked: the target is that the user need not choose a view).

Codec of zarr and HDF5: Blosc(lz4, clevel 5, byte shuffle), zarr v2's default and the
standard choice for float arrays; on terra frames it is both smaller and faster to decode
than zarr-python 3's default ``ZstdCodec(level=0)`` (measured: 1.41x vs 1.23x, 139 vs
213 ms for 21 frames at 256x256). ``--zarr-codec zstd`` uses zarr 3's default instead.

Questions (tick T = the middle frame, sample S = a cell of face 2, a position = its
centre): ``one_value``, ``point_history``, ``time_slice``, ``face_mean`` (face 2, every
tick), ``band_mean`` (cells with latitude in [10, 20] degrees, every tick), ``tick_mean``
(all cells, every tick) and ``bytes``. Every contender's answer is checked against ours
(``np.allclose``) before timing; a disagreement is printed on stderr, marked
``"agree": false`` and makes the exit status 1. Timing: warm caches (the check is the
warm-up), then per question ``--repeats`` rounds, each calling every contender once in an
order rotated round by round; medians. Ratios are over the best peer (zarr_time,
zarr_point, polars, h5py); ``worst_ratio_vs_best_peer`` is ours over it on the worst
question, for the API and for SQL.

``--long-frames 10000`` adds the point history over 10,000 frames at the same resolution
on synthetic smooth data (quantized to 1/256, so it compresses as measured fields do),
for ``ours_api`` and ``zarr_point`` only, written directly as lens chunks and a zarr
point-major array. Raw it is 31 GB; measured on disk under ``--data``: 2.5 GB of lens
chunks (250 frames each) + 4.1 GB of zarr (chunks 10,000 x 32 cells), built in ~8 minutes
on 2 busy cores (check ``df -h`` first; the build is cached like the rest).

Prints one JSON object. Usage:
    python scripts/bench_peers.py [--data DIR] [--frames 500] [--repeats 5] [--quick]
        [--long-frames 10000] [--zarr-codec blosc|zstd]
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

from continuum import layout
from continuum.lens import ChunkData, ChunkFile, FieldSeries, LensIdentity, LensStore, write_chunk
from continuum.lens.reconstruct import FieldConfig
from continuum.topology import CubedSphere

FIELD = "atmosphere.temperature"
FACE = 2
BAND = (10.0, 20.0)
QUESTIONS = ("one_value", "point_history", "time_slice", "face_mean", "band_mean", "tick_mean")
PEERS = ("zarr_time", "zarr_point", "xarray", "polars", "h5py")
OURS = ("ours_api", "ours_sql")
UNRANKED = ("ours_sql_by_sample",)
PARQUET_FRAMES = 50  # frames per polars Parquet file (~20 M rows at 256x256)
POINT_CHUNK_BYTES = 4 << 20  # raw bytes of one zarr point-major chunk
SCHEMA_VERSION = 1

Answer = Any
Asker = Callable[[], Answer]


# -- geometry -----------------------------------------------------------------------------


class Grid:
    """The questions' cells: sample S, tick T, face 2's range, the latitude band's cells."""

    def __init__(self, n: int, ticks: np.ndarray) -> None:
        self.n, self.topology = n, CubedSphere(n)
        self.cells = self.topology.n_cells
        self.ticks = ticks
        self.tick = int(ticks[len(ticks) // 2])
        self.frame = len(ticks) // 2
        self.sample = FACE * n * n + (n // 3) * n + n // 5
        self.position = self.topology.centres[self.sample]
        self.face = (FACE * n * n, (FACE + 1) * n * n)
        # lat in degrees as the SQL views derive it: asin(z / |p|) of the centre
        lat = np.degrees(np.arcsin(np.clip(self.topology.centres[:, 2], -1.0, 1.0)))
        self.band = np.flatnonzero((lat >= BAND[0]) & (lat <= BAND[1]))


# -- building the data --------------------------------------------------------------------


def build_lens(data: Path, n: int, frames: int) -> Path:
    """The lens run dir of ``frames`` captured ticks of terra at n x n per face (cached)."""
    marker = data / "lens.json"
    if marker.exists():
        meta = json.loads(marker.read_text())
        same = (meta["n"], meta["frames"], meta["version"]) == (n, frames, SCHEMA_VERSION)
        if same and Path(meta["run_dir"]).is_dir():
            return Path(meta["run_dir"])
        shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True, exist_ok=True)
    scenario = data / f"bench{n}.toml"
    scenario.write_text(
        f'[scenario]\nname = "bench{n}"\ndescription = "bench_peers"\n\n'
        f"[topology]\nresolution = {n}\n"
    )
    cmd = [sys.executable, "-m", "continuum", "run", "terra", "--scenario", str(scenario)]
    cmd += ["--steps", str(frames - 1), "--lens-dir", str(data / "lens"), "--lens-stride", "1"]
    cmd += ["--lens-fields", FIELD, "--no-catalog", "--quiet", "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    summary = json.loads(out.strip().splitlines()[-1])
    run_dir = Path(summary["lens_dir"])
    run_dir = run_dir if run_dir.is_absolute() else Path.cwd() / run_dir
    meta = {"n": n, "frames": frames, "version": SCHEMA_VERSION, "run_dir": str(run_dir)}
    meta["run_id"] = summary["run_id"]
    marker.write_text(json.dumps(meta))
    return run_dir


def load_values(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(ticks, (frames, cells) values) of the run, all in memory (1.6 GB at full size)."""
    store = LensStore(run_dir)
    ticks, blocks = [], []
    for ref in store.chunks:
        with ChunkFile(ref.path) as chunk:
            ticks.append(chunk.ticks()[chunk.rows(FIELD)])
            blocks.append(chunk.values(FIELD))
    store.close()
    return np.concatenate(ticks), np.concatenate(blocks)


def zarr_codecs(codec: str) -> Any:
    from zarr.codecs import BloscCodec

    if codec == "zstd":
        return "auto"  # zarr-python 3's default: ZstdCodec(level=0)
    return [BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")]


def point_group(frames: int, cells: int) -> int:
    """Cells per zarr point-major chunk: a power of two near POINT_CHUNK_BYTES raw."""
    group = 1 << max((POINT_CHUNK_BYTES // (frames * 8)).bit_length() - 1, 0)
    return min(max(group, 16), cells)


def write_zarr(path: Path, values: np.ndarray, chunks: tuple[int, int], codec: str) -> None:
    """A zarr v3 group holding array ``values`` (tick, sample): what xarray opens too."""
    import zarr

    shutil.rmtree(path, ignore_errors=True)
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    arr = group.create_array(
        "values",
        shape=values.shape,
        chunks=chunks,
        dtype="f8",
        compressors=zarr_codecs(codec),
        dimension_names=("tick", "sample"),
    )
    arr[:] = values


def open_zarr(path: Path) -> Any:
    import zarr

    return zarr.open_array(str(path / "values"), mode="r")


def write_parquet(path: Path, ticks: np.ndarray, values: np.ndarray) -> None:
    import polars as pl

    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    cells = values.shape[1]
    sample = np.arange(cells, dtype=np.int32)
    for k, t0 in enumerate(range(0, len(ticks), PARQUET_FRAMES)):
        t1 = min(t0 + PARQUET_FRAMES, len(ticks))
        frame = pl.DataFrame(
            {
                "tick": np.repeat(ticks[t0:t1], cells),
                "sample": np.tile(sample, t1 - t0),
                "value": values[t0:t1].reshape(-1),
            }
        )
        frame.write_parquet(path / f"part-{k:05d}.parquet", statistics=True)


def write_h5(path: Path, values: np.ndarray) -> None:
    import h5py
    import hdf5plugin

    path.unlink(missing_ok=True)
    with h5py.File(path, "w") as f:
        f.create_dataset(
            FIELD,
            data=values,
            chunks=True,
            **hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE),
        )


def has_h5py() -> bool:
    try:
        import h5py  # noqa: F401
        import hdf5plugin  # noqa: F401
    except ImportError:
        return False
    return True


def build_all(data: Path, run_dir: Path, codec: str) -> dict[str, float]:
    """Every peer layout and our Parquet exports, each skipped when already built."""
    from continuum.sql import export_run

    todo: dict[str, Callable[[np.ndarray, np.ndarray], None]] = {}
    cached: dict[str, np.ndarray] = {}

    def step(name: str, fn: Callable[[np.ndarray, np.ndarray], None]) -> None:
        if not (data / f"{name}.{codec}.done").exists():
            todo[name] = fn

    def zarr_time(ticks: np.ndarray, values: np.ndarray) -> None:
        write_zarr(data / "zarr_time.zarr", values, (1, values.shape[1]), codec)

    def zarr_point(ticks: np.ndarray, values: np.ndarray) -> None:
        group = point_group(*values.shape)
        write_zarr(data / "zarr_point.zarr", values, (values.shape[0], group), codec)

    step("zarr_time", zarr_time)
    step("zarr_point", zarr_point)
    step("polars", lambda t, v: write_parquet(data / "polars", t, v))
    if has_h5py():
        step("h5py", lambda t, v: write_h5(data / "peers.h5", v))
    seconds: dict[str, float] = {}
    if todo:
        cached["ticks"], cached["values"] = load_values(run_dir)
    for name, fn in todo.items():
        start = time.perf_counter()
        fn(cached["ticks"], cached["values"])
        seconds[name] = round(time.perf_counter() - start, 2)
        (data / f"{name}.{codec}.done").touch()
    cached.clear()
    if not (data / "sql.done").exists():
        root = data / "sql"
        shutil.rmtree(root, ignore_errors=True)
        start = time.perf_counter()
        export_run(run_dir, root)
        export_run(run_dir, root, layouts=("sample",))
        seconds["sql_export"] = round(time.perf_counter() - start, 2)
        (data / "sql.done").touch()
    return seconds


def compact(run_dir: Path) -> dict[str, Any]:
    """``continuum.lens.compact_history(run_dir)`` once, if this version has it."""
    import continuum.lens as lens

    fn = getattr(lens, "compact_history", None)
    if fn is None:
        return {"compact_history": "absent"}
    start = time.perf_counter()
    fn(run_dir)
    return {"compact_history_s": round(time.perf_counter() - start, 2)}


# -- the contenders -----------------------------------------------------------------------


def _mean_over(
    read: Callable[[slice, slice], np.ndarray],
    frames: int,
    cells: np.ndarray,
    chunks: tuple[int, int],
) -> np.ndarray:
    """Per-frame mean over ``cells`` (sorted), reading chunk-aligned blocks that hold any.

    What a careful user of a chunked array does: blocks of whole chunks, never the whole
    array at once, masked to the region; time-major arrays are read by frame blocks over
    the region's column span, point-major arrays by column blocks over all frames.
    """
    lo, hi = int(cells[0]), int(cells[-1]) + 1
    tc, cc = chunks
    sums = np.zeros(frames)
    if tc < frames:  # time-major: frame blocks of ~32 MB, all the region's columns
        step = max(tc, (32 << 20) // (8 * (hi - lo)) // tc * tc)
        for t0 in range(0, frames, step):
            block = read(slice(t0, min(t0 + step, frames)), slice(lo, hi))
            sums[t0 : t0 + len(block)] = block[:, cells - lo].sum(axis=1)
        return sums / len(cells)
    step = max(cc, (64 << 20) // (8 * frames) // cc * cc)
    for c0 in range(lo // cc * cc, hi, step):
        c1 = min(c0 + step, hi)
        inside = cells[(cells >= c0) & (cells < c1)]
        if len(inside):
            sums += read(slice(None), slice(c0, c1))[:, inside - c0].sum(axis=1)
    return sums / len(cells)


def array_contender(arr: Any, grid: Grid) -> dict[str, Asker]:
    """The questions on a 2-D (frames, cells) array: a zarr array or an h5py dataset."""
    frames, chunks = arr.shape[0], tuple(arr.chunks)
    everything = np.arange(grid.cells)

    def region(cells: np.ndarray) -> Asker:
        return lambda: _mean_over(lambda t, c: arr[t, c], frames, cells, chunks)

    return {
        "one_value": lambda: float(arr[grid.frame, grid.sample]),
        "point_history": lambda: arr[:, grid.sample],
        "time_slice": lambda: arr[grid.frame, :],
        "face_mean": region(np.arange(*grid.face)),
        "band_mean": region(grid.band),
        "tick_mean": region(everything),
    }


def xarray_contender(data: Path, grid: Grid) -> dict[str, Asker]:
    """The point questions as an xarray user asks them (no dask: lazy zarr-backed arrays),
    each on the zarr store chunked for it; region means are left to ``zarr_*`` (without
    dask, xarray's ``mean`` would load the whole array into memory)."""
    import xarray as xr

    def var(name: str) -> Any:
        ds = xr.open_zarr(str(data / name), consolidated=False, chunks=None, zarr_format=3)
        return ds["values"]

    by_time, by_point = var("zarr_time.zarr"), var("zarr_point.zarr")
    return {
        "one_value": lambda: float(by_time.isel(tick=grid.frame, sample=grid.sample).values),
        "point_history": lambda: by_point.isel(sample=grid.sample).values,
        "time_slice": lambda: by_time.isel(tick=grid.frame).values,
    }


def polars_contender(path: Path, grid: Grid) -> dict[str, Asker]:
    import polars as pl

    lf = pl.scan_parquet(str(path / "*.parquet"))
    tick, sample, value = pl.col("tick"), pl.col("sample"), pl.col("value")
    band = pl.Series(grid.band.astype(np.int32))

    def per_tick(where: pl.Expr | None) -> Asker:
        def ask() -> np.ndarray:
            q = lf if where is None else lf.filter(where)
            out = q.group_by("tick").agg(value.mean()).sort("tick").collect()
            return out["value"].to_numpy()

        return ask

    def one_value() -> float:
        q = lf.filter((tick == grid.tick) & (sample == grid.sample)).select("value")
        return float(q.collect()["value"][0])

    def point_history() -> np.ndarray:
        q = lf.filter(sample == grid.sample).select("tick", "value").sort("tick")
        return q.collect()["value"].to_numpy()

    def time_slice() -> np.ndarray:
        got = lf.filter(tick == grid.tick).select("sample", "value").collect()
        out = np.empty(grid.cells)
        out[got["sample"].to_numpy()] = got["value"].to_numpy()
        return out

    return {
        "one_value": one_value,
        "point_history": point_history,
        "time_slice": time_slice,
        "face_mean": per_tick(sample.is_between(grid.face[0], grid.face[1] - 1)),
        "band_mean": per_tick(sample.is_in(band.implode())),
        "tick_mean": per_tick(None),
    }


def api_contender(store: LensStore, grid: Grid) -> tuple[dict[str, Asker], bool]:
    """Ours through the lens API; (askers, whether region means use a fallback)."""
    reduce = getattr(store, "reduce", None)
    askers: dict[str, Asker] = {
        "one_value": lambda: store.query(FIELD, grid.position, tick=grid.tick).value,
        "point_history": lambda: store.history(FIELD, grid.position).values,
        "time_slice": lambda: store.at(FIELD, grid.tick).values,
    }
    if reduce is not None:
        from continuum.lens import Region

        askers["face_mean"] = lambda: reduce(FIELD, "mean", Region(face=FACE)).values
        askers["band_mean"] = lambda: reduce(FIELD, "mean", Region(lat=BAND)).values
        askers["tick_mean"] = lambda: reduce(FIELD, "mean").values
        return askers, False
    refs = [r for r in store.chunks if FIELD in r.fields]

    def chunk_means(cells: np.ndarray | None) -> Asker:
        def ask() -> np.ndarray:
            parts = []
            for ref in refs:
                with ChunkFile(ref.path) as chunk:
                    parts.append(chunk.values(FIELD, cells).mean(axis=1))
            return np.concatenate(parts)

        return ask

    askers["face_mean"] = chunk_means(np.arange(*grid.face))
    askers["band_mean"] = chunk_means(grid.band)
    askers["tick_mean"] = chunk_means(None)
    return askers, True


def sql_contender(session: Any, run_id: str, grid: Grid, view: str) -> dict[str, Asker]:
    """Ours through SQL: what an analyst writes on the view, answers as numpy columns."""
    where = f"run_id = '{run_id}' AND field = '{FIELD}'"

    def rows(sql: str) -> dict[str, np.ndarray]:
        return session.execute(sql).fetchnumpy()

    def per_tick(pred: str) -> Asker:
        cond = f" AND {pred}" if pred else ""
        sql = (
            f"SELECT tick, avg(value) AS m FROM {view} WHERE {where}{cond} "
            "GROUP BY tick ORDER BY tick"
        )
        return lambda: np.asarray(rows(sql)["m"])

    def time_slice() -> np.ndarray:
        got = rows(f"SELECT sample, value FROM {view} WHERE {where} AND tick = {grid.tick}")
        out = np.empty(grid.cells)
        out[np.asarray(got["sample"])] = np.asarray(got["value"])
        return out

    one = (
        f"SELECT value FROM {view} WHERE {where} AND tick = {grid.tick} AND sample = {grid.sample}"
    )
    point = f"SELECT tick, value FROM {view} WHERE {where} AND sample = {grid.sample} ORDER BY tick"
    return {
        "one_value": lambda: float(rows(one)["value"][0]),
        "point_history": lambda: np.asarray(rows(point)["value"]),
        "time_slice": time_slice,
        "face_mean": per_tick(f"face = {FACE}"),
        "band_mean": per_tick(f"lat BETWEEN {BAND[0]:g} AND {BAND[1]:g}"),
        "tick_mean": per_tick(""),
    }


# -- bytes --------------------------------------------------------------------------------


def tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def lens_bytes(run_dir: Path) -> dict[str, int]:
    """Our chunks alone, and every ``.lens`` file (chunks + point-major history files)."""
    files = [p for p in run_dir.glob("*.lens") if p.is_file()]
    chunks = sum(p.stat().st_size for p in files if layout.parse_lens_chunk_name(p.name))
    return {"chunks": chunks, "all_lens": sum(p.stat().st_size for p in files)}


def all_bytes(data: Path, run_dir: Path, run_id: str, h5: bool) -> dict[str, dict[str, Any]]:
    ours = lens_bytes(run_dir)
    root = data / "sql"
    by_time = tree_bytes(layout.run_partition(root, run_id))
    by_sample = tree_bytes(layout.run_partition(root, run_id, "sample"))
    out: dict[str, dict[str, Any]] = {
        "zarr_time": {"bytes": tree_bytes(data / "zarr_time.zarr")},
        "zarr_point": {"bytes": tree_bytes(data / "zarr_point.zarr")},
        "polars": {"bytes": tree_bytes(data / "polars")},
        "ours_api": {
            "bytes": ours["all_lens"],
            "chunks_bytes": ours["chunks"],
            "history_bytes": ours["all_lens"] - ours["chunks"],
            "all_over_chunks": round(ours["all_lens"] / max(ours["chunks"], 1), 3),
        },
        "ours_sql": {
            "bytes": by_time + by_sample,
            "time_layout_bytes": by_time,
            "sample_layout_bytes": by_sample,
        },
    }
    if h5:
        out["h5py"] = {"bytes": tree_bytes(data / "peers.h5")}
    return out


# -- checking and timing ------------------------------------------------------------------


def agree(got: Answer, want: Answer) -> tuple[bool, str]:
    a, b = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if a.shape != b.shape:
        return False, f"shape {a.shape} vs ours {b.shape}"
    if np.allclose(a, b, rtol=1e-9, atol=1e-9):
        return True, ""
    return False, f"max |diff| {np.nanmax(np.abs(a - b)):.3g}"


def check(contenders: dict[str, dict[str, Asker]]) -> dict[tuple[str, str], bool]:
    """Ask everything once (the warm-up) and compare with ``ours_api``; print failures."""
    verdict = {}
    for q in QUESTIONS:
        want = contenders["ours_api"][q]()
        for name, askers in contenders.items():
            if name == "ours_api" or q not in askers:
                continue
            ok, why = agree(askers[q](), want)
            verdict[(q, name)] = ok
            if not ok:
                print(f"MISMATCH: {name} disagrees with ours_api on {q}: {why}", file=sys.stderr)
    return verdict


def time_all(contenders: dict[str, dict[str, Asker]], repeats: int) -> dict[tuple[str, str], float]:
    """Median ms per (question, contender): rounds interleave contenders, order rotated."""
    medians = {}
    for q in QUESTIONS:
        names = [n for n, a in contenders.items() if q in a]
        times: dict[str, list[float]] = {n: [] for n in names}
        for r in range(repeats):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                start = time.perf_counter()
                contenders[name][q]()
                times[name].append(time.perf_counter() - start)
        for name in names:
            medians[(q, name)] = statistics.median(times[name]) * 1e3
    return medians


def rank(
    medians: dict[tuple[str, str], float],
    sizes: dict[str, dict[str, Any]],
    verdict: dict[tuple[str, str], bool],
    fallback: bool,
) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    best: dict[str, dict[str, Any]] = {}
    worst: dict[str, dict[str, Any]] = {}
    scores = {q: {c: m for (qq, c), m in medians.items() if qq == q} for q in QUESTIONS}
    scores["bytes"] = {c: float(v["bytes"]) for c, v in sizes.items()}
    for q, by in scores.items():
        peers = {c: v for c, v in by.items() if c in PEERS and verdict.get((q, c), True)}
        if not peers:
            continue
        top = min(peers, key=lambda c: peers[c])
        best[q] = {"contender": top, "value": _round(peers[top])}
        for c, v in by.items():
            entry: dict[str, Any] = {"question": q, "contender": c}
            entry["bytes" if q == "bytes" else "median_ms"] = _round(v)
            entry["ratio_vs_best_peer"] = round(v / peers[top], 3)
            if q == "bytes":
                entry.update({k: x for k, x in sizes[c].items() if k != "bytes"})
            if (q, c) in verdict:
                entry["agree"] = verdict[(q, c)]
            if c == "ours_api" and fallback and q in ("face_mean", "band_mean", "tick_mean"):
                entry["fallback"] = True
            entries.append(entry)
            ratio = entry["ratio_vs_best_peer"]
            if c in OURS and ratio > worst.get(c, {}).get("ratio", -1.0):
                worst[c] = {"ratio": ratio, "question": q}
    return {"entries": entries, "best_peer": best, "worst_ratio_vs_best_peer": worst}


def _round(v: float) -> float | int:
    return int(v) if v >= 1000 and float(v).is_integer() else round(v, 3)


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "unknown"


# -- the long point history (synthetic) ---------------------------------------------------


def smooth_frames(topology: CubedSphere, t0: int, t1: int) -> np.ndarray:
    """Frames [t0, t1) of a smooth field: a map plus a seasonal swing and a trend, in
    multiples of 1/256 (so the low mantissa bytes are zero, as a model's fields are not
    random bits): deterministic in (tick, cell), so written in any order."""
    lat, lon = topology.lat, topology.lon
    base = 280 + 20 * np.sin(3 * lat) * np.cos(2 * lon)
    amp = 5 * np.cos(lat)
    t = np.arange(t0, t1, dtype=np.float64)[:, None]
    return np.round((base + amp * np.sin(2 * np.pi * t / 365) + 1e-3 * t) * 256) / 256


def smooth_columns(topology: CubedSphere, frames: int, c0: int, c1: int) -> np.ndarray:
    """The same field, all frames of cells [c0, c1)."""
    lat, lon = topology.lat[c0:c1], topology.lon[c0:c1]
    base = 280 + 20 * np.sin(3 * lat) * np.cos(2 * lon)
    amp = 5 * np.cos(lat)
    t = np.arange(frames, dtype=np.float64)[:, None]
    return np.round((base + amp * np.sin(2 * np.pi * t / 365) + 1e-3 * t) * 256) / 256


def build_long(data: Path, n: int, frames: int, codec: str) -> tuple[Path, Path, dict[str, Any]]:
    import zarr

    base = data / f"long{frames}"
    run_dir, zpath = base / "lens" / "bench_long", base / "zarr_point.zarr"
    topology = CubedSphere(n)
    info: dict[str, Any] = {}
    if not (base / f"lens_{n}.done").exists():
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        start = time.perf_counter()
        ident = LensIdentity("bench_long", "bench", 0, None, 1, topology.spec())
        config = FieldConfig("scalar", "cells", topology.n_cells)
        window = 250
        for t0 in range(0, frames, window):
            t1 = min(t0 + window, frames)
            ticks = np.arange(t0, t1, dtype=np.int64)
            series = FieldSeries(config, np.arange(t1 - t0), None, smooth_frames(topology, t0, t1))
            chunk = ChunkData(ticks, ticks.astype(np.float64), {FIELD: series})
            write_chunk(layout.lens_chunk_path(run_dir, t0, t1), chunk, ident, tick_range=(t0, t1))
        info["build_lens_s"] = round(time.perf_counter() - start, 1)
        (base / f"lens_{n}.done").touch()
    if not (base / f"zarr_{n}.{codec}.done").exists():
        shutil.rmtree(zpath, ignore_errors=True)
        start = time.perf_counter()
        group = point_group(frames, topology.n_cells)
        arr = zarr.create_array(
            str(zpath),
            shape=(frames, topology.n_cells),
            chunks=(frames, group),
            dtype="f8",
            compressors=zarr_codecs(codec),
        )
        step = max(group, (256 << 20) // (8 * frames) // group * group)
        for c0 in range(0, topology.n_cells, step):
            c1 = min(c0 + step, topology.n_cells)
            arr[:, c0:c1] = smooth_columns(topology, frames, c0, c1)
        info["build_zarr_s"] = round(time.perf_counter() - start, 1)
        (base / f"zarr_{n}.{codec}.done").touch()
    return run_dir, zpath, info


def long_history(data: Path, n: int, frames: int, codec: str, repeats: int) -> dict[str, Any]:
    import zarr

    run_dir, zpath, info = build_long(data, n, frames, codec)
    info.update(compact(run_dir))
    grid = Grid(n, np.arange(frames))
    store = LensStore(run_dir)
    arr = zarr.open_array(str(zpath), mode="r")
    askers = {
        "ours_api": {"point_history": lambda: store.history(FIELD, grid.position).values},
        "zarr_point": {"point_history": lambda: arr[:, grid.sample]},
    }
    ok, why = agree(askers["zarr_point"]["point_history"](), askers["ours_api"]["point_history"]())
    if not ok:
        print(
            f"MISMATCH: zarr_point disagrees with ours_api on long point_history: {why}",
            file=sys.stderr,
        )
    medians = {}
    for r in range(repeats):
        for name in ["ours_api", "zarr_point"][r % 2 :] + ["ours_api", "zarr_point"][: r % 2]:
            start = time.perf_counter()
            askers[name]["point_history"]()
            medians.setdefault(name, []).append((time.perf_counter() - start) * 1e3)
    store.close()
    ours, peer = (statistics.median(medians[k]) for k in ("ours_api", "zarr_point"))
    ours_bytes = lens_bytes(run_dir)
    return {
        "frames": frames,
        "cells": grid.cells,
        "synthetic": True,
        "agree": ok,
        "ours_api_ms": round(ours, 3),
        "zarr_point_ms": round(peer, 3),
        "ratio_vs_best_peer": round(ours / peer, 3),
        "zarr_point_chunks": list(arr.chunks),
        "bytes": {
            "ours_chunks": ours_bytes["chunks"],
            "ours_all_lens": ours_bytes["all_lens"],
            "zarr_point": tree_bytes(zpath),
        },
        **info,
    }


# -- main ---------------------------------------------------------------------------------


def run(args: argparse.Namespace, data: Path) -> tuple[dict[str, Any], bool]:

    from continuum.sql import open_session

    n, frames = (64, 50) if args.quick else (args.resolution, args.frames)
    run_dir = build_lens(data, n, frames)
    run_id = json.loads((data / "lens.json").read_text())["run_id"]
    built = build_all(data, run_dir, args.zarr_codec)
    compacted = compact(run_dir)
    store = LensStore(run_dir)
    ticks = store.history(FIELD, CubedSphere(n).centres[0]).ticks  # the captured ticks
    grid = Grid(n, ticks)
    h5 = has_h5py() and (data / f"h5py.{args.zarr_codec}.done").exists()
    contenders: dict[str, dict[str, Asker]] = {}
    contenders["zarr_time"] = array_contender(open_zarr(data / "zarr_time.zarr"), grid)
    contenders["zarr_point"] = array_contender(open_zarr(data / "zarr_point.zarr"), grid)
    contenders["xarray"] = xarray_contender(data, grid)
    contenders["polars"] = polars_contender(data / "polars", grid)
    h5file = None
    if h5:
        import h5py
        import hdf5plugin  # noqa: F401  (registers the Blosc filter)

        h5file = h5py.File(data / "peers.h5", "r")
        contenders["h5py"] = array_contender(h5file[FIELD], grid)
    contenders["ours_api"], fallback = api_contender(store, grid)
    start = time.perf_counter()
    session = open_session([], [data / "sql"])
    session_s = time.perf_counter() - start
    contenders["ours_sql"] = sql_contender(session, run_id, grid, "fields")
    by_sample = sql_contender(session, run_id, grid, "fields_by_sample")
    contenders["ours_sql_by_sample"] = {q: by_sample[q] for q in ("one_value", "point_history")}
    verdict = check(contenders)
    medians = time_all(contenders, args.repeats)
    sizes = all_bytes(data, run_dir, run_id, h5)
    ranked = rank(medians, sizes, verdict, fallback)
    session.close()
    store.close()
    if h5file is not None:
        h5file.close()
    out = {
        "field": FIELD,
        "resolution": n,
        "cells": grid.cells,
        "frames": len(ticks),
        "tick": grid.tick,
        "sample": grid.sample,
        "band_cells": len(grid.band),
        "lens_chunks": len(store.chunks),
        "lens_chunk_frames": max(r.frames for r in store.chunks),
        "repeats": args.repeats,
        "zarr_codec": "blosc-lz4-shuffle" if args.zarr_codec == "blosc" else "zarr3-default-zstd0",
        "zarr_point_chunks": [len(ticks), point_group(len(ticks), grid.cells)],
        "h5py_chunks": list(_h5_chunks(data)) if h5 else None,
        "api_fallback": fallback,
        "sql_session_open_s": round(session_s, 3),
        "built_s": built,
        **compacted,
        **ranked,
    }
    return out, all(verdict.values())


def _h5_chunks(data: Path) -> tuple[int, ...]:
    import h5py
    import hdf5plugin  # noqa: F401

    with h5py.File(data / "peers.h5", "r") as f:
        return tuple(f[FIELD].chunks)


def main() -> int:
    # h5py (and hdf5plugin's filters) before anything that may load netCDF4: netCDF4's wheel
    # carries its own HDF5, and once it is loaded first h5py cannot register the filters
    # ("error during user callback" creating a Blosc dataset). For the same reason, no
    # HDF5_PLUGIN_PATH inherited from a process that imported netCDF4 (which sets it to
    # its own plugins, built for its HDF5): hdf5plugin registers the filters it needs.
    if "netCDF4" in os.environ.get("HDF5_PLUGIN_PATH", ""):
        del os.environ["HDF5_PLUGIN_PATH"]
    has_h5py()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="Build/reuse the data here.")
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--resolution", type=int, default=256, help="Cells per face edge.")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="64x64 per face, 50 frames.")
    parser.add_argument(
        "--long-frames",
        type=int,
        default=0,
        help="Also the point history over N synthetic frames (10000: ~7 GB under --data).",
    )
    parser.add_argument("--zarr-codec", choices=("blosc", "zstd"), default="blosc")
    args = parser.parse_args()
    data = args.data or Path(tempfile.mkdtemp(prefix="bench_peers_"))
    data = data.resolve()
    load_start = loadavg()
    try:
        out, ok = run(args, data)
        if args.long_frames:
            n = 64 if args.quick else args.resolution
            out["long_point_history"] = long_history(
                data, n, args.long_frames, args.zarr_codec, args.repeats
            )
            ok = ok and out["long_point_history"]["agree"]
    finally:
        if args.data is None:
            shutil.rmtree(data, ignore_errors=True)
    out["loadavg_start"], out["loadavg_end"] = load_start, loadavg()
    out["cpus"] = os.cpu_count()
    print(json.dumps(out, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
