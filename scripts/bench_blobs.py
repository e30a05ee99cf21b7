"""Benchmark continuum.blobs against bare zstd on ~50 MB of smooth float64 state.

    python scripts/bench_blobs.py                # JSON on stdout, a summary on stderr
    python scripts/bench_blobs.py --mb 10 --repeat 3 --no-sweeps

Data: a cubed-sphere "state" of 8 member fields x (current, previous) at 6*R^2
cells (R chosen for ~--mb MB), each field smooth (latitude profile plus a few
low harmonics) with 1e-2 Gaussian noise, in face-major cell order; the block
and thread sweeps use one field of the same total size.

Targets (what callers rely on):
- ``write_ratio`` >= 0.8: write_container (shuffle, checksums, atomic write,
  fsync) vs zstd compressing the raw bytes in one call + write + fsync;
- ``load_ratio`` >= 0.8: read_all (checksums, footer, unshuffle) vs reading the
  file and zstd-decompressing the same compressed frames, one call per frame;
- ``header_ms`` < 5: median read_header on the 50 MB file.
Also reported: the same load against frames decompressed and *discarded* (pure
codec speed, ``load_ratio_vs_decompress_discard``), against one-call bare zstd
of the raw bytes, and the write against one-call zstd of pre-shuffled bytes.

Compared tasks run in interleaved rounds and ratios are medians of per-round
ratios, so a busy neighbour on a shared machine slows both sides alike; the
load average is recorded. Files are read back from the page cache; fsync costs
whatever the disk charges. Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import zstandard

from continuum.blobs import (
    DEFAULT_READ_THREADS,
    ContainerReader,
    encode_container,
    read_header,
    write_container,
)

KIND = b"BNCH"


def sphere_cells(resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude of cubed-sphere cell centres, face-major order."""
    t = (np.arange(resolution) + 0.5) / resolution * 2.0 - 1.0
    u, v = (g.reshape(-1) for g in np.meshgrid(t, t, indexing="ij"))
    one = np.ones_like(u)
    faces = [(one, u, v), (-one, -u, v), (u, one, v), (-u, -one, v), (u, v, one), (-u, v, -one)]
    xyz = np.concatenate([np.stack(face, axis=1) for face in faces])
    xyz /= np.linalg.norm(xyz, axis=1, keepdims=True)
    return np.arcsin(xyz[:, 2]), np.arctan2(xyz[:, 1], xyz[:, 0])


def smooth_field(lat: np.ndarray, lon: np.ndarray, k: int, rng: np.random.Generator):
    base = 280.0 + 20.0 * np.cos(lat) + 3.0 * np.sin((k + 2) * lon) * np.cos(lat) ** 2
    return base + 0.5 * np.sin(3 * lat + k) + rng.normal(0.0, 0.01, lat.size)


def make_state(mb: float, members: int = 8) -> dict[str, np.ndarray]:
    """``members`` x (current, previous) float64 fields, ~``mb`` MB in all."""
    resolution = max(8, int(np.sqrt(mb * 1e6 / (2 * members * 8 * 6))))
    lat, lon = sphere_cells(resolution)
    rng = np.random.default_rng(7)
    state = {}
    for k in range(members):
        cur = smooth_field(lat, lon, k, rng)
        state[f"member{k}.current"] = cur
        state[f"member{k}.previous"] = cur + rng.normal(0.0, 0.001, cur.size)
    return state


def make_field(mb: float) -> dict[str, np.ndarray]:
    resolution = max(8, int(np.sqrt(mb * 1e6 / (8 * 6))))
    lat, lon = sphere_cells(resolution)
    return {"field": smooth_field(lat, lon, 0, np.random.default_rng(7))}


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median wall seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved(tasks: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    """Wall seconds of each task, run in rounds so that a busy neighbour slows all alike."""
    times: dict[str, list[float]] = {name: [] for name in tasks}
    for _ in range(repeat):
        for name, fn in tasks.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def write_fsync(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def frame_spans(path: Path) -> list[tuple[int, int]]:
    """File offsets ``(start, stop)`` of the container's zstd frames, from its layout."""
    header = read_header(path, KIND)
    spans, pos = [], header.payload_offset
    for entry in header.layout:
        for compressed, _raw in entry.frames:
            spans.append((pos, pos + compressed))
            pos += compressed
    return spans


def read_all(path: Path, threads: int) -> dict[str, np.ndarray]:
    with ContainerReader(path, KIND, threads=threads) as reader:
        return reader.read_all()


def headline(state, workdir: Path, level: int, repeat: int) -> dict[str, float]:
    """Container vs bare zstd on the same state, timed in interleaved rounds."""
    mb = sum(a.nbytes for a in state.values()) / 1e6
    path, plain, bare = workdir / "state.bnch", workdir / "plain.bnch", workdir / "bare.zst"
    write_container(path, KIND, {}, state, level=level)
    write_container(plain, KIND, {}, state, level=level, shuffle=False)
    raw = b"".join(a.tobytes() for a in state.values())
    planes = b"".join(
        np.ascontiguousarray(a.view(np.uint8).reshape(-1, 8).T) for a in state.values()
    )
    cctx = zstandard.ZstdCompressor(level=level, write_checksum=True, write_content_size=True)
    dctx = zstandard.ZstdDecompressor()
    spans = frame_spans(path)

    def frames(keep: bool) -> None:
        """Read the file and zstd-decompress its frames, one plain call each."""
        data, kept = memoryview(path.read_bytes()), []
        for start, stop in spans:
            out = dctx.decompress(data[start:stop])
            if keep:
                kept.append(out)

    t = interleaved(
        {
            "write": lambda: write_container(path, KIND, {}, state, level=level),
            "bare_write": lambda: write_fsync(bare, cctx.compress(raw)),
            "preshuffled_write": lambda: write_fsync(workdir / "p.zst", cctx.compress(planes)),
            "encode": lambda: encode_container(KIND, {}, state, level=level),
            "load": lambda: read_all(path, DEFAULT_READ_THREADS),
            "load_one_thread": lambda: read_all(path, 0),
            "frames_keep": lambda: frames(keep=True),
            "frames_discard": lambda: frames(keep=False),
            "bare_load": lambda: dctx.decompress(bare.read_bytes()),
            "plain_load_one_thread": lambda: read_all(plain, 0),
        },
        repeat,
    )
    header_s = timed(lambda: read_header(path, KIND), 200)

    def mbs(name: str) -> float:
        return round(mb / statistics.median(t[name]), 1)

    def ratio(base: str, ours: str) -> float:
        """Median over rounds of base time / our time: > 1 means we are faster."""
        return round(statistics.median(b / o for b, o in zip(t[base], t[ours])), 2)

    return {
        "raw_mb": round(mb, 1),
        "level": level,
        "write_mbs": mbs("write"),
        "bare_write_mbs": mbs("bare_write"),
        "write_ratio": ratio("bare_write", "write"),
        "write_ratio_vs_preshuffled_one_call": ratio("preshuffled_write", "write"),
        "encode_mbs": mbs("encode"),
        "load_mbs": mbs("load"),
        "load_mbs_one_thread": mbs("load_one_thread"),
        "read_threads": DEFAULT_READ_THREADS,
        "frames_decompress_mbs": mbs("frames_keep"),
        "load_ratio": ratio("frames_keep", "load"),
        "load_ratio_one_thread": ratio("frames_keep", "load_one_thread"),
        "decompress_discard_mbs": mbs("frames_discard"),
        "load_ratio_vs_decompress_discard": ratio("frames_discard", "load"),
        "bare_load_mbs": mbs("bare_load"),
        "load_ratio_vs_bare_one_frame": ratio("bare_load", "load"),
        "header_ms": round(header_s * 1e3, 3),
        "ratio_shuffle": round(len(raw) / path.stat().st_size, 4),
        "ratio_plain": round(len(raw) / plain.stat().st_size, 4),
        "bare_ratio": round(len(raw) / bare.stat().st_size, 4),
        "plain_load_mbs_one_thread": mbs("plain_load_one_thread"),
    }


def sweep_blocks(field, workdir: Path, level: int, repeat: int) -> dict[str, dict[str, float]]:
    """Block size vs ratio, write and load speed (one and all threads), on one big field."""
    mb = field["field"].nbytes / 1e6
    blocks = {f"{b >> 10}KiB": b for b in (1 << 18, 1 << 20, 1 << 22, 1 << 24, 1 << 27)}
    paths = {label: workdir / f"block{label}.bnch" for label in blocks}
    tasks: dict[str, Callable[[], object]] = {}
    for label, block in blocks.items():
        path = paths[label]
        tasks[f"{label} write"] = lambda p=path, b=block: write_container(
            p, KIND, {}, field, level=level, block_bytes=b
        )
        tasks[f"{label} load1"] = lambda p=path: read_all(p, 0)
        tasks[f"{label} load"] = lambda p=path: read_all(p, -1)
    t = interleaved(tasks, repeat)
    return {
        label: {
            "ratio": round(mb * 1e6 / paths[label].stat().st_size, 4),
            "write_mbs": round(mb / statistics.median(t[f"{label} write"]), 1),
            "load_mbs_one_thread": round(mb / statistics.median(t[f"{label} load1"]), 1),
            "load_mbs_all_threads": round(mb / statistics.median(t[f"{label} load"]), 1),
        }
        for label in blocks
    }


def sweep_threads(field, workdir: Path, level: int, repeat: int) -> dict[str, dict[str, float]]:
    """Our writer's threads vs zstd's own ``threads`` option (one frame, not deterministic)."""
    mb = field["field"].nbytes / 1e6
    planes = np.ascontiguousarray(field["field"].view(np.uint8).reshape(-1, 8).T)
    path = workdir / "threads.bnch"
    tasks: dict[str, Callable[[], object]] = {}
    for threads in (0, 2):
        cctx = zstandard.ZstdCompressor(level=level, threads=threads)
        tasks[f"writer {threads}"] = lambda n=threads: write_container(
            path, KIND, {}, field, level=level, threads=n
        )
        tasks[f"zstd {threads}"] = lambda c=cctx: c.compress(planes)
    t = interleaved(tasks, repeat)
    labels = {"writer": "write_container_mbs", "zstd": "zstd_threads_option_compress_mbs"}
    return {
        label: {str(n): round(mb / statistics.median(t[f"{who} {n}"]), 1) for n in (0, 2)}
        for who, label in labels.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0, help="raw state size (default 50)")
    parser.add_argument("--repeat", type=int, default=9, help="timed rounds, median taken")
    parser.add_argument("--level", type=int, default=3, help="zstd level (default 3)")
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: tmp)")
    parser.add_argument("--no-sweeps", action="store_true", help="headline figures only")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        workdir = Path(tmp)
        report: dict[str, object] = headline(make_state(args.mb), workdir, args.level, args.repeat)
        if not args.no_sweeps:
            field = make_field(args.mb)
            report["blocks"] = sweep_blocks(field, workdir, args.level, args.repeat)
            report["threads"] = sweep_threads(field, workdir, args.level, args.repeat)
    report["cpus"] = os.cpu_count()
    report["loadavg_1min_before"] = round(load_before, 2)
    report["loadavg_1min_after"] = round(os.getloadavg()[0], 2)  # > 0.5: others were busy
    ok = report["write_ratio"] >= 0.8 and report["load_ratio"] >= 0.8 and report["header_ms"] < 5
    report["targets_met"] = bool(ok)
    print(json.dumps(report, indent=2))
    summary = (
        f"write {report['write_mbs']} MB/s (x{report['write_ratio']} bare zstd), "
        f"load {report['load_mbs']} MB/s (x{report['load_ratio']} frame decompression), "
        f"header {report['header_ms']} ms, ratio {report['ratio_shuffle']} shuffled / "
        f"{report['ratio_plain']} plain"
    )
    print(summary, file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
