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
Files are read back from the page cache; fsync costs whatever the disk charges.
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


def timed(fn: Callable[[], object], repeat: int, pick=min) -> float:
    """Wall seconds of the best of ``repeat`` calls (others' load only ever slows us)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return pick(times)


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


def baselines(state, path: Path, level: int, repeat: int) -> dict[str, float]:
    """Seconds for bare zstd doing the same work, and the container's own frames."""
    raw = b"".join(a.tobytes() for a in state.values())
    planes = b"".join(
        np.ascontiguousarray(a.view(np.uint8).reshape(-1, 8).T) for a in state.values()
    )
    cctx = zstandard.ZstdCompressor(level=level, write_checksum=True, write_content_size=True)
    dctx = zstandard.ZstdDecompressor()
    bare = path.with_suffix(".zst")
    spans = frame_spans(path)

    def frames(keep: bool) -> None:
        data = memoryview(path.read_bytes())
        kept = []
        for start, stop in spans:
            out = dctx.decompress(data[start:stop])
            if keep:
                kept.append(out)

    return {
        "bare_write": timed(lambda: write_fsync(bare, cctx.compress(raw)), repeat),
        "bare_load": timed(lambda: dctx.decompress(bare.read_bytes()), repeat),
        "bare_ratio": len(raw) / bare.stat().st_size,
        "preshuffled_write": timed(lambda: write_fsync(bare, cctx.compress(planes)), repeat),
        "frames_keep": timed(lambda: frames(keep=True), repeat),
        "frames_discard": timed(lambda: frames(keep=False), repeat),
    }


def headline(state, workdir: Path, level: int, repeat: int) -> dict[str, float]:
    mb = sum(a.nbytes for a in state.values()) / 1e6
    path, plain_path = workdir / "state.bnch", workdir / "plain.bnch"
    write_s = timed(lambda: write_container(path, KIND, {}, state, level=level), repeat)
    encode_s = timed(lambda: encode_container(KIND, {}, state, level=level), repeat)
    load_s = timed(lambda: read_all(path, DEFAULT_READ_THREADS), repeat)
    load1_s = timed(lambda: read_all(path, 0), repeat)
    header_s = timed(lambda: read_header(path, KIND), 200, statistics.median)
    write_container(plain_path, KIND, {}, state, level=level, shuffle=False)
    plain_load_s = timed(lambda: read_all(plain_path, 0), repeat)
    base = baselines(state, path, level, repeat)
    rate = lambda seconds: round(mb / seconds, 1)  # noqa: E731
    return {
        "raw_mb": round(mb, 1),
        "level": level,
        "write_mbs": rate(write_s),
        "bare_write_mbs": rate(base["bare_write"]),
        "write_ratio": round(base["bare_write"] / write_s, 2),
        "write_ratio_vs_preshuffled_one_call": round(base["preshuffled_write"] / write_s, 2),
        "encode_mbs": rate(encode_s),
        "load_mbs": rate(load_s),
        "load_mbs_one_thread": rate(load1_s),
        "read_threads": DEFAULT_READ_THREADS,
        "frames_decompress_mbs": rate(base["frames_keep"]),
        "load_ratio": round(base["frames_keep"] / load_s, 2),
        "load_ratio_one_thread": round(base["frames_keep"] / load1_s, 2),
        "decompress_discard_mbs": rate(base["frames_discard"]),
        "load_ratio_vs_decompress_discard": round(base["frames_discard"] / load_s, 2),
        "bare_load_mbs": rate(base["bare_load"]),
        "load_ratio_vs_bare_one_frame": round(base["bare_load"] / load_s, 2),
        "header_ms": round(header_s * 1e3, 3),
        "ratio_shuffle": round(mb * 1e6 / path.stat().st_size, 4),
        "ratio_plain": round(mb * 1e6 / plain_path.stat().st_size, 4),
        "bare_ratio": round(base["bare_ratio"], 4),
        "plain_load_mbs_one_thread": rate(plain_load_s),
    }


def sweep_blocks(field, path: Path, level: int, repeat: int) -> dict[str, dict[str, float]]:
    """Block size vs ratio, write and read speed (one and all threads), on one big field."""
    mb = field["field"].nbytes / 1e6
    result = {}
    for block in (1 << 18, 1 << 20, 1 << 22, 1 << 24, 1 << 27):
        write_s = timed(
            lambda b=block: write_container(path, KIND, {}, field, level=level, block_bytes=b),
            repeat,
        )
        result[f"{block >> 10}KiB"] = {
            "ratio": round(mb * 1e6 / path.stat().st_size, 4),
            "write_mbs": round(mb / write_s, 1),
            "load_mbs_one_thread": round(mb / timed(lambda: read_all(path, 0), repeat), 1),
            "load_mbs_all_threads": round(mb / timed(lambda: read_all(path, -1), repeat), 1),
        }
    return result


def sweep_threads(field, path: Path, level: int, repeat: int) -> dict[str, dict[str, float]]:
    """Our writer's threads vs zstd's own ``threads`` option (one frame, not deterministic)."""
    mb = field["field"].nbytes / 1e6
    planes = np.ascontiguousarray(field["field"].view(np.uint8).reshape(-1, 8).T)
    writer, zstd_option = {}, {}
    for threads in (0, 2):
        write_s = timed(
            lambda t=threads: write_container(path, KIND, {}, field, level=level, threads=t),
            repeat,
        )
        writer[str(threads)] = round(mb / write_s, 1)
        cctx = zstandard.ZstdCompressor(level=level, threads=threads)
        zstd_option[str(threads)] = round(mb / timed(lambda c=cctx: c.compress(planes), repeat), 1)
    return {"write_container_mbs": writer, "zstd_threads_option_compress_mbs": zstd_option}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0, help="raw state size (default 50)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs, median taken")
    parser.add_argument("--level", type=int, default=3, help="zstd level (default 3)")
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: tmp)")
    parser.add_argument("--no-sweeps", action="store_true", help="headline figures only")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        workdir = Path(tmp)
        report: dict[str, object] = headline(make_state(args.mb), workdir, args.level, args.repeat)
        if not args.no_sweeps:
            field, path = make_field(args.mb), workdir / "field.bnch"
            report["blocks"] = sweep_blocks(field, path, args.level, args.repeat)
            report["threads"] = sweep_threads(field, path, args.level, args.repeat)
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
