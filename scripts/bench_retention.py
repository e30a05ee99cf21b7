"""Benchmark retention: plan and execute a keep-last-10 prune; prints one JSON document.

Seeds a catalog (SQLite by default, ``--pg URL`` for PostgreSQL, in a private
schema) with ``--runs`` runs of ``--per-run`` committed checkpoints each, rows
bulk-inserted with SQLAlchemy Core, and writes a real 1 KB file per row (plus
each run's ``latest`` link) under ``--dir`` (default: ``build/bench_retention`` in
this repository, a real disk, not the temp dir). Beside it, as many 1 KB files as
the prune deletes, in 1,000 directories, for the floors. Then every file is flushed
(``os.sync()``): a prune deletes checkpoints written long before, whose blocks are on
disk, and on a real disk unlinking those costs ~100x more than unlinking files the
kernel has not written back yet (no blocks allocated, nothing to free or discard).
With a global keep-last-10 policy:

- ``plan_s``: ``Catalog.plan_retention()`` over every run (target < 1 s);
- ``unlink_s``: unlinking those files one ``os.unlink`` each, in one thread: the
  baseline ``prune_vs_unlink`` = prune_s / unlink_s is measured against (target <= 1.5);
- ``unlink_threads_s``: the same with the prune helper's thread count
  (``prune_vs_unlink_threads``: what the prune costs over the fastest unlinks here);
- ``prune_s``: executing that plan (``Catalog.execute_plans``: claim, unlink,
  mark pruned, audit entries), what ``catalog prune`` does after planning;
- ``unlink_cpu_s``, ``prune_cpu_s``: CPU time for each, of this process and of the
  prune's unlink helper process (``prune_child_cpu_s`` of it).

Each figure is the median of ``--repeat`` trials (default 3), each on a fresh catalog
and file tree; in each trial the three timings run in turn (their order rotated from
trial to trial, ``os.sync()`` before each), so each ratio is against a floor measured
beside it; ``*_trials`` list every ratio. ``tmpfs`` repeats the trials on a tmpfs
(``/tmp`` if it is one, else ``/dev/shm``), interleaved with the disk's trial by trial
(``--no-tmpfs`` skips it). ``load_avg`` is ``/proc/loadavg``'s three figures before
and after.

    python scripts/bench_retention.py                       # 1,000 runs x 100
    python scripts/bench_retention.py --dir /some/disk --pg postgresql+psycopg://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from continuum.catalog import Catalog, PruneReport, RetentionRules
from continuum.catalog.db.models import checkpoints, run_segments, runs, worlds
from continuum.catalog.retention._unlink_worker import THREADS

KEEP = 10
T0 = datetime(2026, 1, 1, tzinfo=UTC)
DATA = b"x" * 1024
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "build" / "bench_retention"


def write_files(directory: Path, ticks: range) -> None:
    directory.mkdir(parents=True)
    for tick in ticks:
        fd = os.open(directory / f"checkpoint_{tick:010d}.ckpt", os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, DATA)
        os.close(fd)


def seed(cat: Catalog, root: Path, n_runs: int, per_run: int) -> None:
    """Rows (bulk Core inserts, one transaction per 100 runs) and files of every run."""
    ir = "ab" * 32
    cat.db.write(
        lambda c: c.execute(worlds.insert().values(name="w", ir_hash=ir, first_seen_at=T0))
    )
    for lo in range(0, n_runs, 100):
        run_rows, seg_rows, ck_rows = [], [], []
        for i in range(lo, min(lo + 100, n_runs)):
            rid, d = f"run{i:06d}", root / f"run{i:06d}"
            write_files(d, range(per_run))
            (d / "latest").symlink_to(f"checkpoint_{per_run - 1:010d}.ckpt")
            run_rows.append(
                dict(run_id=rid, world="w", ir_hash=ir, seed=i, status="completed")
                | dict(started_at=T0, first_tick=0, last_tick=per_run, checkpoint_dir=str(d))
            )
            seg_rows.append(
                dict(id=uuid.uuid4().hex, run_id=rid, ordinal=1, start_tick=0)
                | dict(status="completed", started_at=T0)
            )
            ck_rows += [
                dict(id=uuid.uuid4().hex, run_id=rid, tick=t, sim_time=float(t), era="e")
                | dict(path=f"checkpoint_{t:010d}.ckpt", bytes_on_disk=len(DATA))
                | dict(created_at=T0 + timedelta(seconds=t), state="committed", pinned=False)
                for t in range(per_run)
            ]

        def insert(c: Any, r=run_rows, s=seg_rows, k=ck_rows) -> None:
            c.execute(runs.insert(), r)
            c.execute(run_segments.insert(), s)
            c.execute(checkpoints.insert(), k)

        cat.db.write(insert)


def floor_files(root: Path, count: int) -> list[str]:
    """``count`` fresh 1 KB files in 1,000 directories (as the runs' are): their paths."""
    dirs = [root / f"d{i}" for i in range(1000)]
    each = -(-count // len(dirs))
    names = []
    for d in dirs:
        write_files(d, range(each))
        names += [str(d / f"checkpoint_{t:010d}.ckpt") for t in range(each)]
    for extra in names[count:]:
        os.unlink(extra)
    return names[:count]


def unlink_plain(names: list[str]) -> float:
    """Unlink ``names`` one ``os.unlink`` each, in this thread: CPU seconds."""
    cpu = time.process_time()
    for name in names:
        os.unlink(name)
    return time.process_time() - cpu


def unlink_threaded(names: list[str]) -> float:
    """Unlink ``names`` on the prune helper's thread count (each a share): CPU seconds."""

    def share(part: list[str]) -> None:
        for name in part:
            os.unlink(name)

    cpu = time.process_time()
    threads = [threading.Thread(target=share, args=(names[i::THREADS],)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.process_time() - cpu


def children_cpu() -> float:
    """CPU seconds of this process's finished children (the prune's unlink helper)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def pg_schema_url(admin_url: str) -> tuple[str, Any]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(admin_url).update_query_dict({"options": f"-csearch_path={schema}"})

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return url.render_as_string(hide_password=False), drop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--per-run", type=int, default=100)
    ap.add_argument("--dir", default=str(DEFAULT_DIR), help="where the files go (a real disk)")
    ap.add_argument("--pg", metavar="URL", help="PostgreSQL server to use instead of SQLite")
    ap.add_argument("--repeat", type=int, default=3, help="trials, each on a fresh catalog")
    ap.add_argument("--no-tmpfs", action="store_true", help="skip the tmpfs trials")
    args = ap.parse_args()
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    shm = None if args.no_tmpfs else tmpfs_dir()
    load_before = load_avg()
    disk, ram = [], []
    for i in range(args.repeat):  # interleaved: a disk trial, then a tmpfs trial
        disk.append(trial(args, args.dir, i))
        if shm is not None:
            ram.append(trial(args, shm, i))
    out = summary(disk) | {"dir": args.dir, "fs_type": fs_type(args.dir)}
    out["tmpfs"] = (summary(ram) | {"dir": shm}) if ram else None
    out["load_avg"] = {"before": load_before, "after": load_avg()}
    print(json.dumps(out, indent=2))


def load_avg() -> list[float]:
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def mounts() -> list[tuple[str, str]]:
    """(mount point, filesystem type) of each mount (Linux), longest mount point first."""
    try:
        with open("/proc/mounts") as f:
            rows = [line.split()[1:3] for line in f]
    except OSError:
        return []
    return sorted(((p, t) for p, t in rows), key=lambda r: len(r[0]), reverse=True)


def fs_type(path: str) -> str:
    """The filesystem type ``path`` is on (``unknown`` off Linux)."""
    where = os.path.realpath(path)
    for point, kind in mounts():
        if where == point or where.startswith(point.rstrip("/") + "/"):
            return kind
    return "unknown"


def tmpfs_dir() -> str | None:
    """``/tmp`` if it is a tmpfs, else ``/dev/shm`` if that is one, else None."""
    for d in (tempfile.gettempdir(), "/dev/shm"):
        if os.path.isdir(d) and fs_type(d) == "tmpfs":
            return d
    return None


def trial(args: argparse.Namespace, where: str, index: int) -> dict[str, Any]:
    """One fresh catalog and file tree under ``where``, seeded, planned, pruned, removed."""
    root = Path(tempfile.mkdtemp(prefix="bench_retention_", dir=where))
    url, cleanup = (f"sqlite:///{root / 'catalog.db'}", None)
    if args.pg:
        url, cleanup = pg_schema_url(args.pg)
    try:
        return bench(url, root, args, index)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if cleanup:
            cleanup()


KEYS = ("plan_s", "unlink_s", "unlink_threads_s", "prune_s", "prune_vs_unlink")
KEYS += ("prune_vs_unlink_threads", "unlink_cpu_s", "prune_cpu_s", "prune_child_cpu_s")


def summary(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the trials (each trial's ratio against its own floor), plus them all."""
    out = {k: trials[0][k] for k in ("dialect", "runs", "checkpoints", "deleted", "files_left")}
    out |= {k: round(statistics.median(t[k] for t in trials), 3) for k in KEYS}
    out["prune_vs_unlink_trials"] = [t["prune_vs_unlink"] for t in trials]
    out["prune_vs_unlink_threads_trials"] = [t["prune_vs_unlink_threads"] for t in trials]
    out["order_trials"] = [",".join(t["order"]) for t in trials]
    out["targets"] = trials[0]["targets"]
    met = out["plan_s"] < 1.0 and out["prune_vs_unlink"] <= 1.5
    out["ok"] = met and all(t["ok"] for t in trials)
    return out


def timed(step: Callable[[], Any]) -> tuple[float, Any]:
    """Wall seconds of ``step()`` after flushing what the steps before left to write."""
    os.sync()  # a step's deletions committed (and discarded) before the next starts
    started = time.perf_counter()
    got = step()
    return time.perf_counter() - started, got


def bench(url: str, root: Path, args: argparse.Namespace, index: int) -> dict[str, Any]:
    with Catalog(url) as cat:
        seed(cat, root / "runs", args.runs, args.per_run)
        cat.policies.set("global", None, RetentionRules(keep_last=KEEP))
        started = time.perf_counter()
        plans = cat.retention.plan()
        plan_s = time.perf_counter() - started
        doomed = sum(len(p.delete) for _, p in plans)
        plain, threaded = floor_files(root / "floor", doomed), floor_files(root / "floor2", doomed)

        def prune() -> tuple[PruneReport, float, float]:
            cpu, child = time.process_time(), children_cpu()
            report = cat.retention.execute(PruneReport(plans))
            return report, time.process_time() - cpu, children_cpu() - child

        steps: dict[str, Callable[[], Any]] = {
            "unlink": lambda: unlink_plain(plain),
            "unlink_threads": lambda: unlink_threaded(threaded),
            "prune": prune,
        }
        order = list(steps)[index % 3 :] + list(steps)[: index % 3]
        got = {name: timed(steps[name]) for name in order}
        left = sum(1 for _ in (root / "runs").rglob("checkpoint_*.ckpt"))
    prune_s, (report, prune_cpu_s, child_cpu_s) = got["prune"]
    return {
        "dialect": "postgresql" if url.startswith("postgresql") else "sqlite",
        "runs": args.runs,
        "checkpoints": args.runs * args.per_run,
        "deleted": report.deleted,
        "files_left": left,
        "errors": len(report.errors),
        "order": order,
        "plan_s": round(plan_s, 3),
        "unlink_s": round(got["unlink"][0], 3),
        "unlink_threads_s": round(got["unlink_threads"][0], 3),
        "prune_s": round(prune_s, 3),
        "prune_vs_unlink": round(prune_s / got["unlink"][0], 3),
        "prune_vs_unlink_threads": round(prune_s / got["unlink_threads"][0], 3),
        # not the PostgreSQL server's
        "unlink_cpu_s": round(got["unlink"][1], 3),
        "prune_cpu_s": round(prune_cpu_s + child_cpu_s, 3),
        "prune_child_cpu_s": round(child_cpu_s, 3),
        "targets": {"plan_s": 1.0, "prune_vs_unlink": 1.5},
        "ok": left == args.runs * KEEP and report.deleted == doomed and not report.errors,
    }


if __name__ == "__main__":
    sys.exit(main())
