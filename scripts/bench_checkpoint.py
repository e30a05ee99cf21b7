"""Benchmark checkpoints of terra at 256x256 cells per face (scenario ``large``).

    python scripts/bench_checkpoint.py              # one JSON object on stdout, summary on stderr
    python scripts/bench_checkpoint.py --repeat 3 --ticks 20

Every figure is a ratio against a baseline measured in the same run, with the
two sides interleaved repeat by repeat, so a busy machine slows both alike:

- ``stall_ratio`` (target <= 2): how long the tick loop is blocked per
  checkpoint -- the ``Trigger`` call of ``continuum run``, i.e.
  ``writer.submit(state.snapshot())``, timed as the loop makes it while the
  writer thread is busy -- over a plain numpy copy of the same arrays;
- ``write_ratio`` (>= 0.8): ``write_checkpoint`` raw MB/s (what the writer
  thread does: shuffle, zstd, checksums, atomic write, fsyncs) over zstd
  compressing the concatenated raw bytes in one call at the same level, plus
  write and fsync;
- ``load_ratio`` (>= 1.0): ``read_checkpoint`` over reading the file and
  decompressing the same compressed frames with plain zstd, one call each
  (``load_ratio_vs_one_call``: over decompressing the one-call baseline blob);
- ``load_vs_h5py`` (> 1) and ``load_vs_h5py_busy`` (> 1): the same state in one
  HDF5 file (h5py + hdf5plugin, the byte-shuffle and Zstd filters at the same
  level, one chunk per 1 MiB frame, scalars contiguous), loaded whole with h5py,
  over ``read_checkpoint``; ``_busy`` with a process spinning on the last usable
  CPU the whole time (``load_ratio_busy``: ours against plain frames then). HDF5
  checks no checksum here (no Fletcher32), while ours verifies every byte. Needs
  the ``[bench]`` extra; without it these keys are ``null``;
- ``inspect_ms`` (< 5): header-only ``inspect_checkpoint`` of a checkpoint of
  at least ``--inspect-mb`` MB on disk (a real terra state at a resolution
  chosen for that size, written by ``write_checkpoint``);
- ``ticks_per_s_plain`` vs ``ticks_per_s_checkpointing``: the loop alone, and
  with a checkpoint submitted every tick to a default-depth writer (drops
  expected: the loop must not wait).

``reference`` holds ``np.savez_compressed`` and pickle + zstd of the same
arrays: reference points for the sizes and speeds only. The product never
uses either (pickle is banned for anything read from disk).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import xxhash
import zstandard

from continuum.blobs import ContainerReader, read_header
from continuum.blobs._frames import usable_cpus
from continuum.blobs._shuffle import COMPILED, unshuffle_into
from continuum.checkpoint import (
    DEFAULT_QUEUE_DEPTH,
    CheckpointWriter,
    Manifest,
    RunIdentity,
    inspect_checkpoint,
    read_checkpoint,
    write_checkpoint,
)
from continuum.runner import Trigger
from continuum.runtime import Simulation, State
from continuum.world import Scenario, compile_world, load_scenario, load_world

LEVEL = 3  # CheckpointWriter's default
KIND = b"CKPT"


def simulation(scenario: Scenario | str) -> Simulation:
    ir = load_world("terra")
    chosen = scenario if isinstance(scenario, Scenario) else load_scenario(ir, scenario)
    return Simulation(compile_world(ir, chosen), seed=1)


def identity(sim: Simulation, run_id: str = "bench") -> RunIdentity:
    return RunIdentity.of(sim.program, run_id)


def median_ms(times: list[float]) -> float:
    return round(statistics.median(times) * 1e3, 4)


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def median_s(fn: Callable[[], object], repeat: int) -> float:
    return statistics.median(timed(fn) for _ in range(repeat))


def interleaved(a: Callable[[], object], b: Callable[[], object], repeat: int):
    """Median seconds of ``a`` and of ``b``, run alternately so load hits both."""
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(timed(a))
        tb.append(timed(b))
    return statistics.median(ta), statistics.median(tb)


def interleaved_many(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median seconds of each function, run in turn repeat by repeat."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            times[name].append(timed(fn))
    return {name: statistics.median(t) for name, t in times.items()}


def write_fsync(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def numpy_copy(state: State) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in state.arrays().items()}


# --- the tick loop: stall per checkpoint, ticks/s ---------------------------------------


def silence_drop_warnings() -> None:
    """Keep the writer's drop warnings (formatted and written, as in ``continuum run``) off
    the terminal: the cost stays in the measurement, the noise does not."""
    logger = logging.getLogger("continuum")
    logger.addHandler(logging.StreamHandler(open(os.devnull, "w")))  # noqa: SIM115
    logger.propagate = False


def checkpointing_run(sim: Simulation, state: State, ticks: int, workdir: Path) -> dict:
    """``ticks`` ticks with a checkpoint submitted after each, timing every submit."""
    run_dir = Path(tempfile.mkdtemp(dir=workdir))
    manifest = Manifest.create(run_dir, {"run_id": run_dir.name, "world": "terra"})
    writer = CheckpointWriter(manifest, identity(sim, run_dir.name), depth=DEFAULT_QUEUE_DEPTH)
    trigger, stalls = Trigger(writer, stride=1, interval=None), []

    def observe(s: State) -> None:
        started = time.perf_counter()
        trigger(s)
        stalls.append(time.perf_counter() - started)

    loop_s = timed(lambda: sim.run(state, ticks, observer=observe))
    drain_s = timed(writer.close)
    return {
        "loop_s": loop_s,
        "drain_s": drain_s,
        "stalls": stalls,
        "written": writer.written,
        "dropped": writer.dropped,
    }


def tick_loop(sim: Simulation, state: State, ticks: int, repeat: int, workdir: Path) -> dict:
    plain, runs, copies = [], [], []
    for _ in range(repeat):
        plain.append(timed(lambda: sim.run(state, ticks)))
        runs.append(checkpointing_run(sim, state, ticks, workdir))
        copies += [timed(lambda: numpy_copy(state)) for _ in range(10)]
    stalls = [s for run in runs for s in run["stalls"]]
    stall, copy = statistics.median(stalls), statistics.median(copies)
    return {
        "stall_ratio": round(stall / copy, 4),
        "stall_ms_median": median_ms(stalls),
        "stall_ms_p95": round(float(np.percentile(stalls, 95)) * 1e3, 4),
        "stall_ms_max": round(max(stalls) * 1e3, 4),
        "numpy_copy_ms": median_ms(copies),
        "ticks_per_s_plain": round(ticks / statistics.median(plain), 2),
        "ticks_per_s_checkpointing": round(ticks / statistics.median(r["loop_s"] for r in runs), 2),
        "checkpoint_ticks": ticks,
        "checkpoints_submitted": ticks * repeat,
        "checkpoints_written": sum(r["written"] for r in runs),
        "checkpoints_dropped": sum(r["dropped"] for r in runs),
        "writer_drain_s_median": round(statistics.median(r["drain_s"] for r in runs), 3),
    }


# --- write and load throughput ------------------------------------------------------------


def frames_of(path: Path) -> list[tuple[int, int]]:
    """File offsets ``(start, stop)`` of the checkpoint's zstd frames, from its header."""
    header = read_header(path, KIND)
    spans, pos = [], header.payload_offset
    for entry in header.layout:
        for compressed, _raw in entry.frames:
            spans.append((pos, pos + compressed))
            pos += compressed
    return spans


def write_and_load(
    state: State, ident: RunIdentity, workdir: Path, repeat: int
) -> tuple[dict, Path]:
    raw = b"".join(a.tobytes() for a in state.arrays().values())
    raw_mb = len(raw) / 1e6
    path, bare = workdir / "large.ckpt", workdir / "large.zst"
    cctx = zstandard.ZstdCompressor(level=LEVEL, write_checksum=True, write_content_size=True)
    dctx = zstandard.ZstdDecompressor()
    write_s, bare_write_s = interleaved(
        lambda: write_checkpoint(path, state, ident, level=LEVEL),
        lambda: write_fsync(bare, cctx.compress(raw)),
        repeat,
    )
    spans = frames_of(path)

    def plain_frames() -> list[bytes]:
        data = memoryview(path.read_bytes())
        return [dctx.decompress(data[start:stop]) for start, stop in spans]

    loads = {
        "ours": lambda: read_checkpoint(path),
        "plain_frames": plain_frames,
        # the container alone, on one thread and offered to every CPU: with the other CPU
        # busy, helpers must not make it slower than the caller alone
        "read_all_1_thread": lambda: read_all(path, 0),
        "read_all_all_cpus": lambda: read_all(path, -1),
    }
    peer = h5py_peer(state, workdir)
    if peer is not None:
        loads["h5py"] = peer
    idle = interleaved_many(loads, 3 * repeat)
    with busy_cpu() as spinning:
        busy = interleaved_many(loads, 3 * repeat) if spinning else {}
    load_s, frames_s = idle["ours"], idle["plain_frames"]
    one_call_s = median_s(lambda: dctx.decompress(bare.read_bytes()), 3 * repeat)
    disk = path.stat().st_size
    return {
        "raw_mb": round(raw_mb, 3),
        "disk_mb": round(disk / 1e6, 3),
        "ratio": round(len(raw) / disk, 4),
        "bare_zstd_ratio": round(len(raw) / bare.stat().st_size, 4),
        "write_mbs": round(raw_mb / write_s, 1),
        "bare_write_mbs": round(raw_mb / bare_write_s, 1),
        "write_ratio": round(bare_write_s / write_s, 3),
        "load_mbs": round(raw_mb / load_s, 1),
        "plain_frames_load_mbs": round(raw_mb / frames_s, 1),
        "load_ratio": round(frames_s / load_s, 3),
        "one_call_load_mbs": round(raw_mb / one_call_s, 1),
        "load_vs_h5py": ratio(idle, "h5py", "ours"),
        "load_vs_h5py_busy": ratio(busy, "h5py", "ours"),
        "load_ratio_busy": ratio(busy, "plain_frames", "ours"),
        "threads_gain": ratio(idle, "read_all_1_thread", "read_all_all_cpus"),
        "threads_gain_busy": ratio(busy, "read_all_1_thread", "read_all_all_cpus"),
        "load_ms": {"idle": ms_of(idle), "busy_other_cpu": ms_of(busy)},
        "unshuffle_compiled": COMPILED,
        "load_ratio_vs_one_call": round(one_call_s / load_s, 3),
        "load_breakdown_ms": load_breakdown(path, plain_frames, 3 * repeat),
    }, path


def ratio(times: dict[str, float], slower: str, faster: str) -> float | None:
    """``times[slower] / times[faster]``, or None when either was not measured."""
    if slower not in times or faster not in times:
        return None
    return round(times[slower] / times[faster], 3)


def ms_of(times: dict[str, float]) -> dict[str, float]:
    return {name: round(t * 1e3, 3) for name, t in times.items()}


def h5py_peer(state: State, workdir: Path) -> Callable[[], object] | None:
    """The state written with h5py (shuffle + Zstd at LEVEL, 1 MiB chunks); its loader.

    None without the ``[bench]`` extra. Chunks hold the raw bytes of one of our frames
    (131,072 float64), along the last axis; arrays too small to chunk are one chunk;
    0-d arrays cannot be chunked in HDF5 and are stored contiguous, unfiltered.
    """
    try:
        import h5py
        import hdf5plugin
    except ImportError:
        return None
    path = workdir / "large.h5"
    per_chunk = (1 << 20) // 8
    with h5py.File(path, "w") as f:
        for name, array in state.arrays().items():
            if array.ndim == 0:
                f.create_dataset(name, data=array)
                continue
            rows = int(np.prod(array.shape[:-1]))
            chunk = (*array.shape[:-1], max(1, min(array.shape[-1], per_chunk // rows)))
            f.create_dataset(
                name, data=array, chunks=chunk, shuffle=True, **hdf5plugin.Zstd(clevel=LEVEL)
            )
    names = list(state.arrays())

    def load() -> dict[str, np.ndarray]:
        with h5py.File(path, "r") as f:
            return {name: f[name][()] for name in names}

    loaded = load()
    for name, array in state.arrays().items():  # the peer loads the same values
        assert np.array_equal(loaded[name], array), name
    return load


class busy_cpu:
    """A process spinning on the last usable CPU while in the block ("another job holds
    the second core"); yields False, and spins nothing, on a one-CPU machine."""

    def __enter__(self) -> bool:
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self.proc = None
        if len(cpus) < 2:
            return False
        spin = f"import os\nos.sched_setaffinity(0, {{{cpus[-1]}}})\nwhile True: pass"
        self.proc = subprocess.Popen([sys.executable, "-c", spin])
        time.sleep(0.3)  # started and spinning
        return True

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()


def read_all(path: Path, threads: int) -> dict[str, np.ndarray]:
    with ContainerReader(path, KIND, threads=threads) as reader:
        return reader.read_all()


def load_breakdown(path: Path, plain_frames: Callable[[], list[bytes]], repeat: int) -> dict:
    """Where ``read_checkpoint`` spends time beyond plain decompression, step by step.

    Each step is redone here with numpy/xxhash as the reader does it. Plain
    decompression itself is left out: its time depends on whether malloc hands
    zstd's 1 MiB outputs fresh pages (page faults) or reused ones, which varied
    it 9-30 ms on the 2-CPU guest; the headline measures it interleaved.
    """
    header = read_header(path, KIND)
    data = path.read_bytes()
    payload = memoryview(data)[header.payload_offset : header.payload_offset + header.payload_len]
    frames = plain_frames()
    slab = np.empty(header.raw_bytes, np.uint8)

    def checksum() -> None:  # the whole payload (xxh3_128), all read_all verifies itself
        xxhash.xxh3_128_hexdigest(payload)

    def unshuffle() -> None:  # byte planes -> elements (the reader's kernel), into one slab
        pos, index = 0, 0
        for entry in header.layout:
            itemsize = np.dtype(entry.dtype).itemsize
            for _ in entry.frames:
                src = np.frombuffer(frames[index], np.uint8)
                out = slab[pos : pos + src.size]
                if entry.shuffle:
                    unshuffle_into(src, itemsize, out)
                else:
                    out[...] = src
                pos, index = pos + src.size, index + 1

    _, state = read_checkpoint(path)
    arrays = {k: v.copy()[...] for k, v in state.arrays().items()}  # writeable views, as read
    steps = {
        "file_read": path.read_bytes,
        "checksum_payload": checksum,
        "unshuffle_into_slab": unshuffle,
        "state_from_parts_copy": lambda: State.from_parts(state.meta(), arrays),
        "read_all_1_thread": lambda: read_all(path, 0),
        "read_all_all_cpus": lambda: read_all(path, -1),
        "read_checkpoint": lambda: read_checkpoint(path),
    }
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeat):
        for name, fn in steps.items():
            times[name].append(timed(fn))
    return {name: median_ms(t) for name, t in times.items()}


# --- header-only inspect --------------------------------------------------------------------


def big_checkpoint(workdir: Path, large_path: Path, target_mb: float) -> Path:
    """A real terra checkpoint of at least ``target_mb`` MB on disk, via ``write_checkpoint``."""
    header = inspect_checkpoint(large_path)
    if header.disk_bytes >= target_mb * 1e6:
        return large_path
    cells_needed = target_mb * 1e6 / (header.disk_bytes / header.counts["cell"])
    resolution = math.ceil(math.sqrt(cells_needed / 6) * 1.02)
    while True:
        sim = simulation(Scenario(f"bench{resolution}", resolution=resolution))
        path = workdir / f"big_{resolution}.ckpt"
        write_checkpoint(path, sim.run(sim.initial_state(), 10), identity(sim), level=LEVEL)
        if path.stat().st_size >= target_mb * 1e6:
            return path
        resolution = math.ceil(resolution * 1.1)


def inspect_time(path: Path, repeat: int = 300) -> dict:
    times = [timed(lambda: inspect_checkpoint(path)) for _ in range(repeat)]
    return {
        "inspect_ms": median_ms(times),
        "inspect_ms_p95": round(float(np.percentile(times, 95)) * 1e3, 4),
        "inspect_file_mb": round(path.stat().st_size / 1e6, 1),
    }


# --- reference points (never used by the product) ------------------------------------------


def reference_points(state: State, workdir: Path, repeat: int) -> dict:
    """Sizes and seconds of two familiar formats on the same arrays, for orientation only."""
    arrays = state.arrays()

    def savez() -> int:
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        write_fsync(workdir / "ref.npz", buf.getvalue())
        return buf.tell()

    def pickle_zstd() -> int:
        blob = zstandard.ZstdCompressor(level=LEVEL).compress(pickle.dumps(arrays, protocol=5))
        write_fsync(workdir / "ref.pkl.zst", blob)
        return len(blob)

    out = {"note": "reference points only; the product never writes these formats"}
    for name, fn in (("savez_compressed", savez), ("pickle_zstd", pickle_zstd)):
        size = fn()
        seconds = statistics.median(timed(fn) for _ in range(repeat))
        out[name] = {"mb": round(size / 1e6, 3), "s": round(seconds, 4)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed repeats, median taken")
    parser.add_argument("--ticks", type=int, default=30, help="ticks per checkpointing run")
    parser.add_argument("--inspect-mb", type=float, default=50.0, help="size of inspect's file")
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: tmp)")
    parser.add_argument(
        "--load-only", action="store_true", help="write and load only (no inspect, tick loop)"
    )
    args = parser.parse_args(argv)
    silence_drop_warnings()
    load_before = os.getloadavg()[0]
    sim = simulation("large")
    state = sim.run(sim.initial_state(), 20)  # every stratum has run: cur != prev
    report: dict[str, object] = {"cells": sim.counts["cell"], "level": LEVEL}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        workdir = Path(tmp)
        io_report, large_path = write_and_load(state, identity(sim), workdir, args.repeat)
        report.update(io_report)
        if not args.load_only:
            report.update(inspect_time(big_checkpoint(workdir, large_path, args.inspect_mb)))
            report.update(tick_loop(sim, state, args.ticks, max(3, args.repeat // 2), workdir))
            report["reference"] = reference_points(state, workdir, max(3, args.repeat // 2))
    report["cpus"] = usable_cpus()
    report["loadavg_1min_before"] = round(load_before, 2)
    report["loadavg_1min_after"] = round(os.getloadavg()[0], 2)  # > ~0.5: others were busy
    checks = {
        "stall_ratio": lambda v: v <= 2,
        "write_ratio": lambda v: v >= 0.8,
        "load_ratio": lambda v: v >= 1.0,
        "load_vs_h5py": lambda v: v is not None and v > 1,
        "load_vs_h5py_busy": lambda v: v is not None and v > 1,
        "inspect_ms": lambda v: v < 5,
    }
    targets = {name: ok(report[name]) for name, ok in checks.items() if name in report}
    report["targets_missed"] = [name for name, ok in targets.items() if not ok]
    print(json.dumps(report, indent=2))
    print(
        f"load x{report['load_ratio']} of plain zstd (x{report['load_ratio_busy']} with the "
        f"other CPU busy), x{report['load_vs_h5py']} of h5py (x{report['load_vs_h5py_busy']} "
        f"busy); write x{report['write_ratio']}",
        file=sys.stderr,
    )
    if not args.load_only:
        print(
            f"stall x{report['stall_ratio']} of a numpy copy, inspect {report['inspect_ms']} ms, "
            f"{report['ticks_per_s_checkpointing']} vs {report['ticks_per_s_plain']} ticks/s "
            f"({report['checkpoints_dropped']} dropped)",
            file=sys.stderr,
        )
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
