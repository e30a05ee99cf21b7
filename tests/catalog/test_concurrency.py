"""Many real processes against one catalog: no lock errors, exact counts, no duplicates."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from continuum.catalog import Catalog
from continuum.catalog.db import schema
from continuum.catalog.db.models import checkpoints, run_segments, runs

WORKERS = 8
CHECKPOINTS = 50

WRITER = """
import sys, time
from continuum.catalog import Catalog
url, worker, start_at = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
cat = Catalog(url)
while time.time() < start_at:
    time.sleep(0.002)
run = cat.runs.register(world="terra", ir_hash="ab" * 32, seed=worker, tags={"worker": str(worker)})
for i in range(int(sys.argv[4])):
    tick = (i + 1) * 10
    cat.checkpoints.record(run.run_id, tick=tick, sim_time=1.0, path=f"c{tick}", bytes_on_disk=1)
    cat.checkpoints.mark(run.run_id, tick, "committed")
    cat.runs.heartbeat(run.run_id, last_tick=tick)
cat.runs.finish(run.run_id, status="completed", last_tick=tick)
print(run.run_id)
"""

MIGRATOR = """
import sys, time
from continuum.catalog import migrate_catalog
url, start_at = sys.argv[1], float(sys.argv[2])
while time.time() < start_at:
    time.sleep(0.002)
print(migrate_catalog(url)[1:])
"""


def run_together(argvs: list[list[str]], lead: float = 1.5) -> list[str]:
    """Start the processes, let them all begin work at the same instant, collect stdout."""
    start_at = str(time.time() + lead)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", *[a.replace("START", start_at) for a in argv]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in argvs
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outs):
        assert proc.returncode == 0, err
    return [out.strip() for out, _ in outs]


def count(cat: Catalog, table) -> int:
    with cat.db.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_eight_writer_processes_share_one_catalog(catalog_url):
    Catalog(catalog_url).close()  # migrated up front: this test is about writes
    argv = [WRITER, catalog_url, "", "START", str(CHECKPOINTS)]
    run_ids = run_together([[*argv[:2], str(w), *argv[3:]] for w in range(WORKERS)], lead=2.0)
    assert len(set(run_ids)) == WORKERS
    with Catalog(catalog_url) as cat:
        assert count(cat, runs) == WORKERS
        assert count(cat, run_segments) == WORKERS
        assert count(cat, checkpoints) == WORKERS * CHECKPOINTS
        for run_id in run_ids:
            run = cat.runs.get(run_id)
            assert (run.status, run.last_tick) == ("completed", CHECKPOINTS * 10)
            ticks = [c.tick for c in cat.checkpoints.list(run_id, states=["committed"])]
            assert ticks == [10 * (i + 1) for i in range(CHECKPOINTS)]


def test_two_processes_migrating_a_fresh_catalog_both_succeed(catalog_url):
    outcomes = run_together([[MIGRATOR, catalog_url, "START"] for _ in range(2)], lead=1.0)
    head = schema.HEAD
    assert sorted(outcomes) == [f"('{head}', '{head}')", f"(None, '{head}')"]
    with Catalog(catalog_url, auto_migrate=False) as cat:
        assert cat.revision() == schema.HEAD


def test_threads_share_one_catalog_object(catalog):
    """The checkpoint writer's thread and the main thread use one Catalog at once."""
    run = catalog.runs.register(world="w", ir_hash="ab", seed=1)

    def write(worker: int) -> None:
        for i in range(20):
            tick = worker * 1000 + i
            catalog.checkpoints.record(
                run.run_id, tick=tick, sim_time=0.0, path="c", bytes_on_disk=1
            )
            catalog.runs.heartbeat(run.run_id, last_tick=tick)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    assert len(catalog.checkpoints.list(run.run_id)) == 80
