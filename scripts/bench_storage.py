"""Benchmark blobs on object storage against the same bytes moved by s3fs alone.

    python scripts/bench_storage.py                    # JSON on stdout, summary on stderr
    python scripts/bench_storage.py --repeat 5 --resolution 128

Runs against a moto server on 127.0.0.1 started here (``ThreadedMotoServer``, the test
suite's server), or any endpoint in ``CONTINUUM_TEST_S3_URL`` (credentials from the usual
AWS variables; the bucket ``--bucket`` must exist there). Every figure is a ratio of two
sides measured in the same run, interleaved repeat by repeat, so a busy machine slows
both alike; medians are printed, with ``os.getloadavg()`` before and after.

Measurements (``MEASUREMENTS``: a dict of named measurements, each returning its keys, so
other blob kinds add theirs beside these):

- ``checkpoint_write_ratio`` (>= 0.8): a terra checkpoint written to S3 the way the writer
  thread writes it once the state is encoded — the container's parts joined and
  ``Store.put_bytes`` (PUT, then HEAD whose size and ETag must match the MD5 of what was
  sent) — over ``s3fs.pipe_file`` of the same bytes alone. ``encode_ms`` is the encoding
  (shuffle, zstd, checksums) both sides start from, the same work as on disk;
- ``resume_ratio`` (>= 0.8): loading that checkpoint for resume — ``RemoteRun.read``: GET,
  the container reader over an in-memory file, every checksum verified, arrays
  unshuffled, the State rebuilt — over a plain ``s3fs.cat_file`` GET plus decompressing
  the same zstd frames with plain zstd (no checksum, no unshuffle).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import zstandard

from continuum import layout
from continuum.blobs import encode_container_with_header
from continuum.blobs.storage import open_store
from continuum.checkpoint import RemoteRun, RunIdentity
from continuum.checkpoint.format import checkpoint_meta
from continuum.runtime import Simulation, State
from continuum.world import compile_world, load_scenario, load_world

LEVEL = 3  # CheckpointWriter's default
KIND = b"CKPT"


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def interleaved(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median seconds of each function, run in turn repeat by repeat (after one warm-up)."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            times[name].append(timed(fn))
    return {name: statistics.median(t) for name, t in times.items()}


@contextlib.contextmanager
def endpoint() -> Iterator[str]:
    """The S3 endpoint: ``CONTINUUM_TEST_S3_URL``, else a moto server started here."""
    given = os.environ.get("CONTINUUM_TEST_S3_URL")
    if given:
        os.environ["AWS_ENDPOINT_URL"] = given
        yield given
        return
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    os.environ.update(
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    try:
        yield url
    finally:
        server.stop()


def terra_state(resolution: int) -> tuple[State, RunIdentity]:
    """A terra state at ``resolution`` cells per face edge, every stratum run once."""
    ir = load_world("terra")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "bench.toml")
        path.write_text(f'[scenario]\nname = "bench"\n[topology]\nresolution = {resolution}\n')
        sim = Simulation(compile_world(ir, load_scenario(ir, str(path))), seed=1)
    state = sim.run(sim.initial_state(), 20)
    return state, RunIdentity.of(sim.program, "bench")


class Bench:
    """What every measurement shares: the bucket, its s3fs filesystem, the state."""

    def __init__(self, bucket: str, resolution: int, repeat: int) -> None:
        self.bucket, self.repeat = bucket, repeat
        self.root = f"s3://{bucket}/bench-{uuid.uuid4().hex[:8]}"
        self.state, self.identity = terra_state(resolution)
        self.remote = RemoteRun(self.root, "bench")
        self.fs = self.remote.store._fs  # type: ignore[attr-defined]  # the same s3fs client


def checkpoint_write(b: Bench) -> dict[str, Any]:
    tick = b.state.tick
    meta, arrays = checkpoint_meta(b.state, b.identity)
    encode_s = timed(lambda: encode_container_with_header(KIND, meta, arrays, level=LEVEL))
    parts, header = encode_container_with_header(KIND, meta, arrays, level=LEVEL)
    blob = b"".join(parts)
    key = b.remote.key(layout.checkpoint_name(tick))
    plain = f"{b.bucket}/{b.root.split('/', 3)[3]}/plain/blob"
    t = interleaved(
        {
            "ours": lambda: b.remote.store.put_bytes(key, b"".join(parts)),
            "s3fs": lambda: b.fs.pipe_file(plain, blob),
        },
        b.repeat,
    )
    mb = len(blob) / 1e6
    return {
        "checkpoint_mb": round(mb, 3),
        "raw_mb": round(header.raw_bytes / 1e6, 3),
        "encode_ms": round(encode_s * 1e3, 1),
        "checkpoint_write_ms": round(t["ours"] * 1e3, 1),
        "s3fs_put_ms": round(t["s3fs"] * 1e3, 1),
        "checkpoint_write_mbs": round(mb / t["ours"], 1),
        "s3fs_put_mbs": round(mb / t["s3fs"], 1),
        "checkpoint_write_ratio": round(t["s3fs"] / t["ours"], 3),
    }


def resume(b: Bench) -> dict[str, Any]:
    name = layout.checkpoint_name(b.state.tick)
    b.remote.write_checkpoint(b.state.tick, b.state, b.identity, level=LEVEL)
    path = f"{b.bucket}/{b.root.split('/', 3)[3]}/bench/{name}"
    _, header = encode_container_with_header(KIND, *checkpoint_meta(b.state, b.identity))
    spans, pos = [], header.payload_offset
    for entry in header.layout:
        for compressed, _raw in entry.frames:
            spans.append((pos, pos + compressed))
            pos += compressed
    dctx = zstandard.ZstdDecompressor()

    def plain() -> list[bytes]:
        data = memoryview(b.fs.cat_file(path))
        return [dctx.decompress(data[start:stop]) for start, stop in spans]

    t = interleaved({"ours": lambda: b.remote.read(name), "plain": plain}, b.repeat)
    raw_mb = header.raw_bytes / 1e6
    return {
        "resume_ms": round(t["ours"] * 1e3, 1),
        "plain_get_decompress_ms": round(t["plain"] * 1e3, 1),
        "resume_raw_mbs": round(raw_mb / t["ours"], 1),
        "resume_ratio": round(t["plain"] / t["ours"], 3),
    }


#: name -> measurement; each returns its keys (and is listed in TARGETS if it has one)
MEASUREMENTS: dict[str, Callable[[Bench], dict[str, Any]]] = {
    "checkpoint_write": checkpoint_write,
    "resume": resume,
}
TARGETS: dict[str, Callable[[float], bool]] = {
    "checkpoint_write_ratio": lambda v: v >= 0.8,
    "resume_ratio": lambda v: v >= 0.8,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed repeats, median taken")
    parser.add_argument("--resolution", type=int, default=128, help="terra cells per face edge")
    parser.add_argument("--bucket", default=None, help="bucket (default: a new one on moto)")
    parser.add_argument("--only", nargs="*", choices=sorted(MEASUREMENTS), help="measurements")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    with endpoint() as url:
        bucket = args.bucket or f"bench-{uuid.uuid4().hex[:12]}"
        store = open_store(f"s3://{bucket}")
        if args.bucket is None:
            store._fs.mkdir(bucket)  # type: ignore[attr-defined]
        bench = Bench(bucket, args.resolution, args.repeat)
        report: dict[str, Any] = {"endpoint": url, "resolution": args.resolution}
        for name in args.only or MEASUREMENTS:
            report.update(MEASUREMENTS[name](bench))
    report["repeat"] = args.repeat
    report["loadavg_before"] = [round(x, 2) for x in load_before]
    report["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    report["targets_missed"] = [k for k, ok in TARGETS.items() if k in report and not ok(report[k])]
    print(json.dumps(report, indent=2))
    summary = ", ".join(f"{k} x{report[k]}" for k in TARGETS if k in report)
    print(f"{summary}; load {report['loadavg_after']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
