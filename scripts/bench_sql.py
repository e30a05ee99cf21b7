"""Benchmark field-history SQL: lens chunks -> Parquet, and DuckDB queries over them.

Synthetic data written through the real lens format (64x64 per face, 24,576 cells,
~4,100 frames three ticks apart: ~100 M rows over ~12,300 ticks), then:

- ``export_rate``: samples/s from ``.lens`` chunks to time-major Parquet (target >= 20 M/s);
- ``scan_rate``: rows/s of ``SELECT tick, avg(value) FROM fields WHERE field=... GROUP BY
  tick`` over every row, and ``scan_vs_numpy``: that rate over numpy's for the same mean
  of the same data held in memory (target >= 0.5). numpy's side is the same group-by-tick
  mean over the same long-format rows — the (tick, value) columns DuckDB reads, held in
  memory — as ``np.bincount(tick, weights=value) / np.bincount(tick)``
  (``numpy_groupby_rate``): the honest counterpart of a GROUP BY, and generous to numpy
  (ticks used directly as bin indices, no key hashing). ``numpy_frames_mean_rate`` is the
  contiguous (frames x samples) ``.mean(axis=1)`` the lens layout allows — no grouping at
  all, just a streaming sum at memory bandwidth — reported beside it as
  ``scan_vs_numpy_frames`` for scale, not as the target's baseline;
- ``point_history_ms``: one sample across all ticks via ``fields_by_sample`` (the
  ``--layout cell`` copy; target < 50 ms), beside ``point_history_time_major_ms``;
- ``time_slice_ms``: every sample of one field at one tick, as the columns an analysis
  takes a map in (``fetchnumpy()``; target < 20 ms), beside ``time_slice_fetchall_ms``,
  the same rows as Python tuples: converting 24,576 rows to objects costs ~7 ms more,
  nothing the storage can change;
- bytes per sample of the Parquet files and of the lens chunks;
- ``session_start_s``: the wall time of a whole ``continuum lens sql "SELECT 1"`` process
  on a SQLite catalog seeded as ``scripts/bench_catalog.py`` seeds it (``--runs``,
  default 100,000 runs and 1,000,000 checkpoints; target <= 0.4 s), beside
  ``session_start_empty_s`` (an empty catalog) and ``import_floor_s`` (a process that
  only imports ``continuum.sql``); ``join_runs_s``: a whole process joining ``fields``
  (one time slice) with ``runs`` on that catalog (every run read), and
  ``join_one_run_s`` the same query for one ``run_id`` (its row read alone). With
  ``--baseline-src DIR`` (a checkout of an older ``continuum``), each of these also runs
  from DIR, repeat by repeat interleaved with ours: ``*_baseline_s`` and ``*_ratio``
  (ours over the baseline). Medians of ``--repeat``.

With ``--questions``, the analyst's four questions of issue 15 instead (:func:`questions`), on
a real terra ``large`` run (256x256 per face, 393,216 cells; ``--question-frames`` frames,
500 by default, ``atmosphere.temperature`` only), each before/after in the same run,
interleaved repeat by repeat, medians: the *before* is the plain query on the old view
(``fields_by_sample`` for the spatial questions, ``fields`` for the slice: the best SQL of
the issue's table), unrouted, over parts exported in the old format; the *after* is the
plain query on ``fields``, routed, over parts in the current format:

- ``sql_point_ms``: one sample's whole history; ``sql_slice_ms``: one tick, every sample
  (``fetchnumpy``); ``sql_face_mean_ms``: ``avg(value) ... WHERE face = 2 GROUP BY tick``;
  ``sql_band_mean_ms``: the same ``WHERE lat BETWEEN 10 AND 20``;
- ``parquet_bytes`` (both layouts), ``lens_bytes``; ``export_rate`` (samples/s, both
  layouts) — each with a ``_before`` twin — and ``loadavg``.

Prints one JSON object. Usage: python scripts/bench_sql.py [--frames 4100] [--keep DIR]
[--runs 100000] [--repeat 5] [--baseline-src /path/to/old/checkout] [--session-only]
[--questions [--question-frames 500] [--lens RUN_DIR]]
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
from pathlib import Path
from typing import Any

import numpy as np

from continuum import layout
from continuum.lens import ChunkData, FieldSeries, LensIdentity, write_chunk
from continuum.lens.reconstruct import FieldConfig
from continuum.sql import export_run, open_session
from continuum.topology import CubedSphere

N, FIELD, RUN = 64, "atmosphere.temperature", "bench_run"
CHUNK_FRAMES, TICK_STEP = 500, 3


def write_lens(run_dir: Path, frames: int) -> list[Path]:
    """Smooth base field plus a slow random walk, chunk by chunk (bounded memory)."""
    topo = CubedSphere(N)
    ident = LensIdentity(RUN, "bench", 0, None, TICK_STEP, topo.spec())
    config = FieldConfig("scalar", "cells", topo.n_cells)
    rng = np.random.default_rng(7)
    state = 280 + 20 * np.sin(3 * topo.lat) * np.cos(2 * topo.lon)
    paths = []
    for first in range(0, frames, CHUNK_FRAMES):
        count = min(CHUNK_FRAMES, frames - first)
        walk = np.cumsum(rng.normal(0, 0.01, (count, topo.n_cells)), axis=0)
        values = state + walk
        state = values[-1]
        ticks = (first + np.arange(count, dtype=np.int64)) * TICK_STEP
        series = FieldSeries(config, np.arange(count), None, values)
        data = ChunkData(ticks, ticks * 1e6, {FIELD: series})
        span = (int(ticks[0]), int(ticks[-1]) + 1)
        path = layout.lens_chunk_path(run_dir, *span)
        write_chunk(path, data, ident, tick_range=span)
        paths.append(path)
    return paths


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def numpy_mean_rates(paths: list[Path]) -> tuple[float, float, int]:
    """numpy's per-tick mean in memory (data loaded first, not timed), two ways.

    Returns (group-by rate over long-format rows, frames-mean rate, rows): the first
    holds one (tick, value) pair per row, as the Parquet files and DuckDB do, and groups
    with ``np.bincount``; the second is the (frames, samples) block's ``.mean(axis=1)``.
    """
    from continuum.lens import ChunkFile

    blocks, tick_blocks = [], []
    for path in paths:
        with ChunkFile(path) as chunk:
            block = chunk.values(FIELD)
            blocks.append(block)
            tick_blocks.append(np.repeat(chunk.ticks()[chunk.rows(FIELD)], block.shape[1]))
    values = np.concatenate(blocks)
    frames_seconds = timed(lambda: values.mean(axis=1), repeat=3)
    tick, flat = np.concatenate(tick_blocks), values.reshape(-1)
    del blocks, tick_blocks

    def group_mean() -> np.ndarray:
        counts = np.bincount(tick)
        sums = np.bincount(tick, weights=flat, minlength=len(counts))
        seen = counts > 0
        return sums[seen] / counts[seen]

    group_seconds = timed(group_mean, repeat=3)
    return flat.size / group_seconds, values.size / frames_seconds, flat.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=4100)
    parser.add_argument("--keep", type=Path, default=None, help="Work here and keep the files.")
    parser.add_argument("--runs", type=int, default=100_000, help="Runs in the big catalog.")
    parser.add_argument("--repeat", type=int, default=5, help="Repeats (medians taken).")
    parser.add_argument("--baseline-src", type=Path, default=None, help="An older checkout.")
    parser.add_argument(
        "--session-only", action="store_true", help="Only the session timings (few frames)."
    )
    parser.add_argument("--questions", action="store_true", help="Issue 15's four questions.")
    parser.add_argument("--question-frames", type=int, default=500)
    parser.add_argument("--lens", type=Path, default=None, help="A lens run dir to use.")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench_sql_"))
    run_dir, root = base / "lens" / RUN, base / "exports"
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        out: dict[str, Any]
        if args.questions:
            out = questions(base, args.question_frames, args.repeat, args.lens)
        elif args.session_only:
            write_lens(run_dir, min(args.frames, 2 * CHUNK_FRAMES))
            export_run(run_dir, root)
            out = session_start(base, root, args.runs, args.repeat, args.baseline_src)
        else:
            out = run(run_dir, root, args.frames)
            out |= session_start(base, root, args.runs, args.repeat, args.baseline_src)
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    print(json.dumps(out, indent=2))


def run(run_dir: Path, root: Path, frames: int) -> dict:
    paths = write_lens(run_dir, frames)
    samples = frames * 6 * N * N
    t_time = timed(lambda: export_run(run_dir, root))
    t_cell = timed(lambda: export_run(run_dir, root, layouts=("sample",)))
    session = open_session([], [root])
    scan_sql = f"SELECT tick, avg(value) FROM fields WHERE field = '{FIELD}' GROUP BY tick"
    t_scan = timed(lambda: session.execute(scan_sql).fetchall(), repeat=2)
    np_rate, np_frames_rate, np_n = numpy_mean_rates(paths)
    point = (
        "SELECT tick, value FROM {} WHERE field = '" + FIELD + "' AND sample = 12345 ORDER BY tick"
    )
    t_point = timed(lambda: session.execute(point.format("fields_by_sample")).fetchall(), 5)
    t_point_time = timed(lambda: session.execute(point.format("fields")).fetchall(), 2)
    tick = (frames // 2) * TICK_STEP
    slice_sql = f"SELECT sample, value FROM fields WHERE field = '{FIELD}' AND tick = {tick}"
    t_slice = timed(lambda: session.execute(slice_sql).fetchnumpy(), 5)
    t_slice_tuples = timed(lambda: session.execute(slice_sql).fetchall(), 5)
    rows = session.execute(point.format("fields_by_sample")).fetchall()
    by_time = sum(p.stat().st_size for p in layout.run_partition(root, RUN).rglob("*.parquet"))
    cell_dir = layout.run_partition(root, RUN, "sample")
    by_sample = sum(p.stat().st_size for p in cell_dir.rglob("*.parquet"))
    lens_bytes = sum(p.stat().st_size for p in paths)
    return {
        "rows": samples,
        "frames": frames,
        "ticks_spanned": frames * TICK_STEP,
        "cells": 6 * N * N,
        "export_rate": round(samples / t_time),
        "export_rate_target": 20_000_000,
        "export_cell_layout_rate": round(samples / t_cell),
        "scan_rate": round(samples / t_scan),
        "numpy_groupby_rate": round(np_rate),
        "numpy_frames_mean_rate": round(np_frames_rate),
        "numpy_values": np_n,
        "scan_vs_numpy": round(samples / t_scan / np_rate, 3),
        "scan_vs_numpy_target": 0.5,
        "scan_vs_numpy_frames": round(samples / t_scan / np_frames_rate, 3),
        "point_history_ms": round(t_point * 1e3, 2),
        "point_history_rows": len(rows),
        "point_history_time_major_ms": round(t_point_time * 1e3, 2),
        "time_slice_ms": round(t_slice * 1e3, 2),
        "time_slice_fetchall_ms": round(t_slice_tuples * 1e3, 2),
        "parquet_bytes_per_sample": round(by_time / samples, 3),
        "parquet_cell_layout_bytes_per_sample": round(by_sample / samples, 3),
        "lens_bytes_per_sample": round(lens_bytes / samples, 3),
    }


def seeded_catalog(path: Path, n_runs: int) -> str:
    """A SQLite catalog seeded as ``scripts/bench_catalog.py`` seeds it, plus this
    benchmark's exported run (so a join of ``fields`` and ``runs`` finds it); with no
    runs, an empty (migrated) catalog."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_catalog import run_rows, seed

    from continuum.catalog import Catalog
    from continuum.catalog.db.models import runs

    url = f"sqlite:///{path}"
    cat = Catalog(url)
    try:
        if n_runs:
            seed(cat, 0, n_runs)
            row = run_rows(n_runs + 1, n_runs + 2)[0] | {"run_id": RUN}
            with cat.db.engine.begin() as conn:
                conn.execute(runs.insert(), [row])
    finally:
        cat.close()
    return url


def session_start(
    base: Path, root: Path, n_runs: int, repeat: int, baseline: Path | None
) -> dict[str, Any]:
    """Whole-process ``lens sql`` timings on an empty and a seeded catalog (see above)."""
    big = seeded_catalog(base / "big.db", n_runs)
    empty = seeded_catalog(base / "empty.db", 0)
    tick = 3 * TICK_STEP
    join = (
        "SELECT r.seed, count(*) AS n, avg(f.value) AS mean FROM fields AS f JOIN runs AS r "
        f"USING (run_id) WHERE f.field = '{FIELD}' AND f.tick = {tick}"
    )
    cases = {
        "session_start_empty": (empty, "SELECT 1"),
        "session_start": (big, "SELECT 1"),
        "join_runs": (big, join + " GROUP BY r.seed"),
        "join_one_run": (big, join + f" AND r.run_id = '{RUN}' GROUP BY r.seed"),
    }
    env = {**os.environ, "XDG_DATA_HOME": str(base / "xdg")}  # an empty default root
    sources = {"": None} | ({"_baseline": baseline} if baseline else {})
    times: dict[str, list[float]] = {}
    answers: dict[str, set[str]] = {}
    for name, (url, sql) in cases.items():
        for _ in range(repeat):
            for suffix, src in sources.items():
                cmd = [sys.executable, "-m", "continuum.cli", "lens", "sql", "--catalog", url]
                cmd += ["--export-dir", str(root), "--format", "csv", sql]
                run_env = env | ({"PYTHONPATH": str(src)} if src else {})
                start = time.perf_counter()
                done = subprocess.run(cmd, env=run_env, capture_output=True, text=True)
                if done.returncode:
                    raise SystemExit(f"{name}{suffix} failed: {done.stderr.strip()}")
                times.setdefault(name + suffix, []).append(time.perf_counter() - start)
                answers.setdefault(name, set()).add(done.stdout)
    out: dict[str, Any] = {k + "_s": round(statistics.median(v), 3) for k, v in times.items()}
    out["same_answers"] = all(len(a) == 1 for a in answers.values())
    out["session_start_runs"] = n_runs
    out["session_start_target_s"] = 0.4
    floor = [sys.executable, "-c", "import continuum.sql"]
    out["import_floor_s"] = round(statistics.median(_wall(floor, env) for _ in range(repeat)), 3)
    if baseline:
        for name in cases:
            out[name + "_ratio"] = round(out[name + "_s"] / out[name + "_baseline_s"], 3)
    out["loadavg"] = Path("/proc/loadavg").read_text().split()[:3]
    return out


def _wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


QUESTION_FIELD = "atmosphere.temperature"


def terra_large(base: Path, frames: int) -> Path:
    """A real terra ``large`` run of ``frames`` steps, one field captured; its lens dir."""
    from continuum.runner import RunRequest, execute

    request = RunRequest(
        "terra",
        steps=frames,
        seed=1,
        scenario="large",
        lens_dir=base / "terra_lens",
        lens_fields=QUESTION_FIELD,
        lens_chunk_size=100,
        no_catalog=True,
    )
    return base / "terra_lens" / execute(request)["run_id"]


def _old_format():
    """The export format before issue 15 (sample-major: v2, ~500k-row groups), as a
    context manager: the *before* parts are written by the same code, so the bytes and
    the export rate compare formats, not code paths."""
    import contextlib

    from continuum.sql import export, session

    @contextlib.contextmanager
    def old():
        saved = dict(export.FORMATS), export.REPEATS_FOR_PLAIN, session.MAX_PRUNED_BRANCHES
        export.FORMATS["sample"] = ("V2", export.ROW_GROUP_TARGET)
        export.REPEATS_FOR_PLAIN, session.MAX_PRUNED_BRANCHES = 2.0, 0
        try:
            yield
        finally:
            export.FORMATS.update(saved[0])
            export.REPEATS_FOR_PLAIN, session.MAX_PRUNED_BRANCHES = saved[1], saved[2]

    return old()


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*.parquet"))


def questions(base: Path, frames: int, repeat: int, lens: Path | None) -> dict:
    """Issue 15's four SQL questions and the bytes, before/after (see the docstring)."""
    import os
    import statistics

    run_dir = lens or terra_large(base, frames)
    lens_bytes = sum(p.stat().st_size for p in run_dir.glob("*.lens"))
    roots = {"before": base / "q_before", "after": base / "q_after"}
    export_s = {}
    for side, root in roots.items():
        shutil.rmtree(root, ignore_errors=True)
        start = time.perf_counter()
        if side == "before":
            with _old_format():
                export_run(run_dir, root, layouts=("time", "sample"))
        else:
            export_run(run_dir, root, layouts=("time", "sample"))
        export_s[side] = time.perf_counter() - start
    with _old_format():
        before = open_session([], [roots["before"]], routed=False)
    after = open_session([], [roots["after"]])
    (n_frames, cells), (mid,) = (
        after.execute("SELECT count(DISTINCT tick), count(DISTINCT sample) FROM fields").fetchone(),
        after.execute(
            "SELECT tick FROM ticks ORDER BY tick LIMIT 1 OFFSET (SELECT count(*) // 2 FROM ticks)"
        ).fetchone(),
    )
    f = f"field = '{QUESTION_FIELD}'"
    sql = {
        "point": (
            "SELECT tick, value FROM {} WHERE " + f + " AND sample = 123457 ORDER BY tick",
            "fields_by_sample",
            False,
        ),
        "slice": (
            "SELECT sample, value FROM {} WHERE " + f + f" AND tick = {mid}",
            "fields",
            False,
        ),
        "face_mean": (
            "SELECT tick, avg(value) FROM {} WHERE "
            + f
            + " AND face = 2 GROUP BY tick ORDER BY tick",
            "fields_by_sample",
            True,
        ),
        "band_mean": (
            "SELECT tick, avg(value) FROM {} WHERE "
            + f
            + " AND lat BETWEEN 10 AND 20 GROUP BY tick ORDER BY tick",
            "fields_by_sample",
            True,
        ),
    }
    times: dict[str, list[float]] = {}
    answers: dict[str, dict] = {}
    for _ in range(repeat):
        for q, (text, old_view, _agg) in sql.items():
            for side, session, view in (("before", before, old_view), ("after", after, "fields")):
                start = time.perf_counter()
                got = session.execute(text.format(view)).fetchnumpy()
                times.setdefault(f"{q}_{side}", []).append(time.perf_counter() - start)
                answers.setdefault(q, {})[side] = got
    for got in answers.values():  # the same answers, or the timing means nothing
        for col in got["before"]:
            np.testing.assert_allclose(got["after"][col], got["before"][col], rtol=1e-12)
    before.close()
    after.close()
    samples = n_frames * cells
    out: dict = {
        "frames": int(n_frames),
        "cells": int(cells),
        "repeat": repeat,
        "data": str(lens) if lens else "terra large (a real run, made here)",
    }
    for q in sql:
        for side in ("after", "before"):
            key = f"sql_{q}_ms" + ("_before" if side == "before" else "")
            out[key] = round(statistics.median(times[f"{q}_{side}"]) * 1e3, 2)
        out[f"sql_{q}_speedup"] = round(out[f"sql_{q}_ms_before"] / out[f"sql_{q}_ms"], 2)
    out["parquet_bytes"] = _size(roots["after"])
    out["parquet_bytes_before"] = _size(roots["before"])
    out["lens_bytes"] = out["lens_bytes_before"] = lens_bytes
    out["parquet_over_lens"] = round(out["parquet_bytes"] / lens_bytes, 2)
    out["parquet_over_lens_before"] = round(out["parquet_bytes_before"] / lens_bytes, 2)
    out["export_rate"] = round(samples / export_s["after"])
    out["export_rate_before"] = round(samples / export_s["before"])
    out["loadavg"] = os.getloadavg()
    return out


if __name__ == "__main__":
    main()
