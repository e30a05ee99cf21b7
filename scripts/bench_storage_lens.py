"""Benchmark lens capture and DuckDB point histories on object storage; prints JSON.

    python scripts/bench_storage_lens.py [--steps 100] [--rounds 3] [--scenario large]

An S3 server is needed: ``AWS_ENDPOINT_URL`` (and credentials) of one, or, when unset, a
moto server started here in a subprocess on 127.0.0.1 (a thread of this process would
take the GIL from the tick loop it measures). A bucket is made and emptied afterwards.

Figures and targets:

- ``capture_overhead_s3``: the tick loop's rate without lens over its rate capturing to
  ``s3://`` (terra ``--scenario``, every field, stride 1, the defaults), the definition of
  ``capture_overhead`` in ``scripts/bench_lens.py``; target <= 1.3. Rounds alternate off /
  local / s3 and medians are taken; ``capture_overhead_local`` is the local lens dir's
  beside it, ``s3_over_local`` the local rate over the s3 rate, and ``*_wall`` the same
  for whole runs (the last window's put included). The puts run on the lens writer's io
  thread; on a machine whose other load takes the second core (``load_average``) the
  ratios say little, and a local moto server takes CPU a real S3 does not
  (``s3_server_cpu_s_per_run``: its CPU seconds during one s3 run).
- ``duckdb_point_history_s3_ratio``: one sample's history over every tick
  (``fields_by_sample``, the ``--layout cell`` copy) from exports on S3 over the same query
  on the same exports in a local directory (in the page cache), each repeat a sample not
  read before (footers cached by the session, the pages not), interleaved, medians;
  target <= 3. ``duckdb_point_history_s3_warm_ratio``: the same sample again (the
  session's snapshot filesystem keeps what it read). A cold history costs one ranged GET
  per part file (footers are kept from the first statement), the parts' at once; against
  moto on the same host a 512 KiB GET of a 60 MB object takes ~40 ms (moto reads the
  whole object per request; ~6 ms from a 600 KB one), a real region ~15-30 ms to first
  byte.
  ``duckdb_point_history_s3_get_floor_ms``: those GETs (one read-ahead block per part, all
  at once) made by s3fs alone, the server's share; ``..._above_floor_ratio``: what the
  S3 history costs beyond it, over the local history (our share of the ratio).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from continuum.runner import RunRequest, execute

FIELD = "atmosphere.temperature"
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of process ``pid`` so far (0 when unknown)."""
    if pid is None:
        return 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


SERVER: dict[str, int | None] = {"pid": None}  # the moto subprocess, when started here


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """``AWS_ENDPOINT_URL`` as set, else a moto server in a subprocess for the benchmark."""
    if os.environ.get("AWS_ENDPOINT_URL"):
        yield os.environ["AWS_ENDPOINT_URL"]
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    SERVER["pid"] = proc.pid
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        os.environ.update(AWS_TEST_ENV, AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}")
        yield os.environ["AWS_ENDPOINT_URL"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def bucket() -> Iterator[str]:
    import boto3

    client, name = boto3.client("s3"), f"bench-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    try:
        yield name
    finally:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=name)
        for page in pages:
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=name, Key=obj["Key"])
        client.delete_bucket(Bucket=name)


def run(steps: int, scenario: str, **lens: object) -> dict:
    request = RunRequest(
        world="terra", scenario=scenario, seed=1, steps=steps, no_catalog=True, **lens
    )  # type: ignore[arg-type]
    return execute(request)


def capture(steps: int, scenario: str, rounds: int, local: Path, remote: str) -> dict:
    """Rounds of off / local lens dir / s3 lens dir, interleaved (module doc)."""
    modes = ("off", "local", "s3")
    rates: dict[str, list[float]] = {m: [] for m in modes}
    walls: dict[str, list[float]] = {m: [] for m in modes}
    lost, failed, run_dirs, server_cpu = 0, 0, [], []
    for k in range(rounds):
        for mode in modes:
            lens: dict[str, object] = {}
            if mode == "local":
                lens = {"lens_dir": local / f"r{k}", "lens_stride": 1}
            elif mode == "s3":
                lens = {"lens_dir": f"{remote}/r{k}", "lens_stride": 1}
            wall, before = time.perf_counter(), cpu_seconds(SERVER["pid"])
            summary = run(steps, scenario, **lens)
            if mode == "s3":
                server_cpu.append(cpu_seconds(SERVER["pid"]) - before)
            walls[mode].append(steps / (time.perf_counter() - wall))
            rates[mode].append(summary["ticks_per_s"])
            if mode != "off":
                lost += summary["lens_dropped"] + summary["lens_missing_ticks"]
                failed += sum((summary.get("failures") or {}).values())
            if mode == "local":
                run_dirs.append(Path(summary["lens_dir"]))
    med = {m: statistics.median(v) for m, v in rates.items()}
    wall = {m: statistics.median(v) for m, v in walls.items()}
    return {
        "ticks_per_s_off": med["off"],
        "ticks_per_s_local": med["local"],
        "ticks_per_s_s3": med["s3"],
        "capture_overhead_s3": round(med["off"] / med["s3"], 3),
        "capture_overhead_s3_target": 1.3,
        "capture_overhead_local": round(med["off"] / med["local"], 3),
        "s3_over_local": round(med["local"] / med["s3"], 3),
        "capture_overhead_s3_wall": round(wall["off"] / wall["s3"], 3),
        "capture_overhead_local_wall": round(wall["off"] / wall["local"], 3),
        "s3_server_cpu_s_per_run": round(statistics.median(server_cpu), 2),
        "lost_frames": lost,
        "failures": failed,
        "_run_dir": str(run_dirs[0]),
    }


def point_history(run_dir: Path, local: Path, remote: str, repeat: int) -> dict:
    """One sample over every tick from exports on S3 and in a directory (module doc)."""
    from continuum.sql import export_run, open_session

    layouts = ("time", "sample")
    export_run(run_dir, local, layouts=layouts)
    export_run(run_dir, remote, layouts=layouts)
    query = (
        f"SELECT tick, value FROM fields_by_sample WHERE field = '{FIELD}' AND "
        "sample = {} ORDER BY tick"
    )
    times: dict[str, list[float]] = {"local": [], "s3": [], "local_warm": [], "s3_warm": []}
    with open_session([], [local]) as here, open_session([], [remote]) as there:
        cells = here.query(f"SELECT max(sample) + 1 FROM fields WHERE field = '{FIELD}'").rows
        step = max(1, int(cells[0][0]) // (repeat + 1))
        first = {"local": here.query(query.format(0)).rows, "s3": there.query(query.format(0)).rows}
        assert first["local"] == first["s3"] and first["local"]
        for k in range(1, repeat + 1):  # cold: a sample neither session has read yet
            for name, session in (("local", here), ("s3", there)):
                started = time.perf_counter()
                session.query(query.format(k * step))
                times[name].append(time.perf_counter() - started)
        for _ in range(repeat):  # warm: the same sample again (DuckDB's file cache)
            for name, session in (("local_warm", here), ("s3_warm", there)):
                started = time.perf_counter()
                session.query(query.format(0))
                times[name].append(time.perf_counter() - started)
    times["floor"] = get_floor(remote, repeat)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "point_history_rows": len(first["local"]),
        "duckdb_point_history_s3_get_floor_ms": round(med["floor"] * 1e3, 2),
        "duckdb_point_history_s3_above_floor_ratio": round(
            (med["s3"] - med["floor"]) / med["local"], 3
        ),
        "duckdb_point_history_local_ms": round(med["local"] * 1e3, 2),
        "duckdb_point_history_s3_ms": round(med["s3"] * 1e3, 2),
        "duckdb_point_history_s3_ratio": round(med["s3"] / med["local"], 3),
        "duckdb_point_history_s3_ratio_target": 3,
        "duckdb_point_history_local_warm_ms": round(med["local_warm"] * 1e3, 2),
        "duckdb_point_history_s3_warm_ms": round(med["s3_warm"] * 1e3, 2),
        "duckdb_point_history_s3_warm_ratio": round(med["s3_warm"] / med["local_warm"], 3),
    }


def get_floor(remote: str, repeat: int) -> list[float]:
    """The GETs a cold point history cannot do without, made by s3fs alone: one ranged GET
    of a read-ahead block per ``fields_by_sample`` part of the field, all at once, at
    offsets no earlier read touched (the server's share of a cold history)."""
    from continuum.blobs.storage import fsspec_filesystem
    from continuum.blobs.storage._snapshot import READ_AHEAD

    fs = fsspec_filesystem(remote)
    base = remote.removeprefix("s3://")
    parts = [p for p in fs.find(f"{base}/by_sample") if f"field={FIELD}/" in p]
    sizes = [int(fs.info(p)["size"]) for p in parts]
    out = []
    for k in range(repeat):
        starts = [max(0, size - (k + 2) * READ_AHEAD) for size in sizes]
        ends = [start + READ_AHEAD for start in starts]
        started = time.perf_counter()
        fs.cat_ranges(parts, starts, ends)
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="ticks per capture run")
    parser.add_argument("--rounds", type=int, default=3, help="off/local/s3 rounds")
    parser.add_argument("--scenario", default="large", help="terra scenario (large: 256/face)")
    parser.add_argument("--repeat", type=int, default=9, help="point-history repeats")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, s3_server() as endpoint, bucket() as name:
        root = Path(tmp)
        result: dict[str, object] = {"scenario": args.scenario, "steps": args.steps}
        result["endpoint"] = endpoint
        print("bench_storage_lens: capture...", file=sys.stderr)
        result.update(
            capture(args.steps, args.scenario, args.rounds, root / "lens", f"s3://{name}/lens")
        )
        run_dir = Path(str(result.pop("_run_dir")))
        print("bench_storage_lens: point history...", file=sys.stderr)
        result.update(point_history(run_dir, root / "exp", f"s3://{name}/exp", args.repeat))
    result["load_average_before"] = [round(x, 2) for x in load_before]
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
