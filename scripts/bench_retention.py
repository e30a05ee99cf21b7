"""Benchmark retention: plan and execute a keep-last-10 prune; prints one JSON document.

Seeds a catalog (SQLite by default, ``--pg URL`` for PostgreSQL, in a private
schema) with ``--runs`` runs of ``--per-run`` committed checkpoints each, rows
bulk-inserted with SQLAlchemy Core, and writes a real 1 KB file per row (plus
each run's ``latest`` link) under ``--dir``. Then, with a global keep-last-10
policy:

- ``plan_s``: ``Catalog.plan_retention()`` over every run (target < 1 s);
- ``unlink_s``: unlinking as many separate 1 KB files as the prune deletes,
  one ``os.unlink`` each: the floor any prune pays;
- ``prune_s``: executing that plan (``Catalog.execute_plans``: claim, unlink,
  mark pruned, audit entries), what ``catalog prune`` does after planning;
  ``prune_vs_unlink`` = prune_s / unlink_s (target <= 1.5);
- ``unlink_cpu_s``, ``prune_cpu_s``: CPU time for each, of this process and of the
  prune's unlink helper process (``prune_child_cpu_s`` of it; the two overlap only
  when a second core is free, so on a busy machine wall time tends to the sum).

Each figure is the median of ``--repeat`` trials (default 3), each on a fresh catalog
and file tree with its own unlink floor; ``prune_vs_unlink_trials`` lists every ratio.

    python scripts/bench_retention.py                       # 1,000 runs x 100
    python scripts/bench_retention.py --dir /dev/shm --pg postgresql+psycopg://postgres@127.0.0.1/test
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
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from continuum.catalog import Catalog, PruneReport, RetentionRules
from continuum.catalog.db.models import checkpoints, run_segments, runs, worlds

KEEP = 10
T0 = datetime(2026, 1, 1, tzinfo=UTC)
DATA = b"x" * 1024


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


def unlink_floor(root: Path, count: int) -> tuple[float, float]:
    """Seconds (wall, CPU) to unlink ``count`` fresh 1 KB files (in 1,000 directories)."""
    dirs = [root / f"d{i}" for i in range(1000)]
    each = -(-count // len(dirs))
    names = []
    for d in dirs:
        write_files(d, range(each))
        names += [str(d / f"checkpoint_{t:010d}.ckpt") for t in range(each)]
    names = names[:count]
    started, cpu = time.perf_counter(), time.process_time()
    for name in names:
        os.unlink(name)
    return time.perf_counter() - started, time.process_time() - cpu


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
    ap.add_argument("--dir", default=None, help="where the files go (default: the temp dir)")
    ap.add_argument("--pg", metavar="URL", help="PostgreSQL server to use instead of SQLite")
    ap.add_argument("--repeat", type=int, default=3, help="trials, each on a fresh catalog")
    args = ap.parse_args()
    trials = [trial(args) for _ in range(args.repeat)]
    print(json.dumps(summary(trials), indent=2))


def trial(args: argparse.Namespace) -> dict[str, Any]:
    """One fresh catalog and file tree, seeded, planned, pruned, removed."""
    root = Path(tempfile.mkdtemp(prefix="bench_retention_", dir=args.dir))
    url, cleanup = (f"sqlite:///{root / 'catalog.db'}", None)
    if args.pg:
        url, cleanup = pg_schema_url(args.pg)
    try:
        return bench(url, root, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if cleanup:
            cleanup()


def summary(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the trials (each trial's ratio against its own floor), plus them all."""
    keys = ("plan_s", "unlink_s", "prune_s", "prune_vs_unlink", "unlink_cpu_s", "prune_cpu_s")
    keys += ("prune_child_cpu_s",)
    out = {k: trials[0][k] for k in ("dialect", "runs", "checkpoints", "deleted", "files_left")}
    out |= {k: round(statistics.median(t[k] for t in trials), 3) for k in keys}
    out["prune_vs_unlink_trials"] = [t["prune_vs_unlink"] for t in trials]
    out["targets"] = trials[0]["targets"]
    met = out["plan_s"] < 1.0 and out["prune_vs_unlink"] <= 1.5
    out["ok"] = met and all(t["ok"] for t in trials)
    out["load_avg_1m"] = round(os.getloadavg()[0], 2)
    return out


def bench(url: str, root: Path, args: argparse.Namespace) -> dict[str, Any]:
    with Catalog(url) as cat:
        started = time.perf_counter()
        seed(cat, root / "runs", args.runs, args.per_run)
        setup_s = time.perf_counter() - started
        cat.policies.set("global", None, RetentionRules(keep_last=KEEP))
        started = time.perf_counter()
        plans = cat.retention.plan()
        plan_s = time.perf_counter() - started
        doomed = sum(len(p.delete) for _, p in plans)
        unlink_s, unlink_cpu_s = unlink_floor(root / "floor", doomed)
        started, cpu, child = time.perf_counter(), time.process_time(), children_cpu()
        report = cat.retention.execute(PruneReport(plans))
        prune_s, prune_cpu_s = time.perf_counter() - started, time.process_time() - cpu
        child_cpu_s = children_cpu() - child
        left = sum(1 for _ in (root / "runs").rglob("checkpoint_*.ckpt"))
    return {
        "dialect": "postgresql" if url.startswith("postgresql") else "sqlite",
        "runs": args.runs,
        "checkpoints": args.runs * args.per_run,
        "deleted": report.deleted,
        "files_left": left,
        "errors": len(report.errors),
        "setup_s": round(setup_s, 2),
        "plan_s": round(plan_s, 3),
        "unlink_s": round(unlink_s, 3),
        "prune_s": round(prune_s, 3),
        "prune_vs_unlink": round(prune_s / unlink_s, 3),
        # not the PostgreSQL server's
        "unlink_cpu_s": round(unlink_cpu_s, 3),
        "prune_cpu_s": round(prune_cpu_s + child_cpu_s, 3),
        "prune_child_cpu_s": round(child_cpu_s, 3),
        "targets": {"plan_s": 1.0, "prune_vs_unlink": 1.5},
        "ok": left == args.runs * KEEP and report.deleted == doomed and not report.errors,
    }


if __name__ == "__main__":
    sys.exit(main())
