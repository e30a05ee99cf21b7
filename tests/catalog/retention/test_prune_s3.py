"""Prune and ``catalog rm`` of runs whose checkpoints are objects on a real S3 server.

The order is the one on disk — rows claimed ``deleting``, objects deleted, rows
``pruned`` — so a SIGKILL at any moment leaves only what the next prune finishes; and
no key outside a run's own prefix (a sibling run's, a stranger's file under the prefix,
anything above it) is ever deleted.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from continuum import layout
from continuum.catalog import Catalog, RetentionRules
from continuum.catalog.db import new_id, utcnow
from continuum.catalog.db.models import checkpoints
from tests.conftest import SIZE, name, runs_update, s3_client, s3_keys, states

pytestmark = pytest.mark.slow  # hundreds of objects on a real server


def make_s3_run(cat: Catalog, root: str, ticks) -> tuple[str, str]:
    """(run id, key prefix) of a finished run with one object and a committed row per tick."""
    run = cat.runs.register(world="terra", ir_hash="ab", seed=1)
    run_url = layout.object_child(root, run.run_id)
    cat.db.write(lambda c: c.execute(runs_update(run.run_id, run_url)))
    _, bucket, prefix = layout.split_object_url(run_url)
    client, now, rows = s3_client(), utcnow(), []
    for t in ticks:
        client.put_object(Bucket=bucket, Key=f"{prefix}/{name(t)}", Body=b"x" * SIZE)
        rows.append(dict(id=new_id(), run_id=run.run_id, tick=t, sim_time=0.0, path=name(t)))
        rows[-1].update(bytes_on_disk=SIZE, created_at=now, state="committed", pinned=False)
    cat.db.write(lambda c: c.execute(checkpoints.insert(), rows))
    client.put_object(Bucket=bucket, Key=f"{prefix}/manifest.json", Body=b"{}")
    cat.runs.finish(run.run_id, status="completed", last_tick=max(ticks))
    return run.run_id, prefix


def ticks_on_s3(bucket: str, prefix: str) -> set[int]:
    """Ticks of the checkpoint objects directly under ``prefix``."""
    names = [k[len(prefix) + 1 :] for k in s3_keys(bucket, prefix + "/")]
    found = (layout.checkpoint_tick(n) for n in names if "/" not in n)
    return {t for t in found if t is not None}


def assert_agree(cat: Catalog, run_id: str, bucket: str, prefix: str, settled: bool = True):
    """Rows and objects agree: committed rows have objects, pruned rows have none."""
    there = ticks_on_s3(bucket, prefix)
    for tick, state in states(cat, run_id).items():
        if state == "committed":
            assert tick in there, (tick, state)
        elif state == "pruned":
            assert tick not in there, (tick, state)
        else:
            assert state == "deleting" and not settled, (tick, state)


def test_prune_and_rm_touch_only_the_runs_own_keys(
    sqlite_url: str, s3_root: str, s3_bucket: str
) -> None:
    with Catalog(sqlite_url) as cat:
        run_id, prefix = make_s3_run(cat, s3_root, range(0, 200, 10))
        client = s3_client()
        strangers = [
            f"{prefix}0/{name(0)}",  # a sibling prefix that starts with the run's id
            f"{prefix}/notes.txt",  # not one of our names, under the run's prefix
            f"{prefix}/sub/{name(10)}",  # one of our names, but not directly under it
            f"{prefix.rsplit('/', 1)[0]}/{name(20)}",  # above the run's prefix
        ]
        for key in strangers:
            client.put_object(Bucket=s3_bucket, Key=key, Body=b"keep me")
        cat.policies.set("run", run_id, RetentionRules(keep_last=3))
        report = cat.retention.prune()
        assert report.deleted == 17 and report.errors == []
        assert ticks_on_s3(s3_bucket, prefix) == {170, 180, 190}
        assert_agree(cat, run_id, s3_bucket, prefix)
        from continuum.maintenance.rm import remove_run

        remove_run(cat, run_id, force=True)
    assert s3_keys(s3_bucket) == sorted(strangers)  # the run's keys gone, no one else's


def wait_until_deleting(proc: subprocess.Popen, bucket: str, prefixes: list[str], n: int):
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if any(len(ticks_on_s3(bucket, p)) < n for p in prefixes):
            return
        time.sleep(0.01)


def test_sigkill_during_an_s3_prune_never_loses_a_kept_object(
    sqlite_url: str, s3_root: str, s3_bucket: str
) -> None:
    N, KEEP = 150, 5
    rng = random.Random(11)
    cmd = [sys.executable, "-m", "continuum", "catalog", "prune", "--all", "--catalog", sqlite_url]
    made, killed_mid_way = [], 0
    with Catalog(sqlite_url) as cat:
        cat.policies.set("global", None, RetentionRules(keep_last=KEEP))
        for _ in range(3):
            made.append(make_s3_run(cat, s3_root, range(N)))
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            wait_until_deleting(proc, s3_bucket, [made[-1][1]], N)
            time.sleep(rng.uniform(0.0, 0.3))  # a random moment of a ~1 s prune
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            partial = False
            for run_id, prefix in made:
                got = states(cat, run_id)
                assert all(got[t] == "committed" for t in range(N - KEEP, N))
                assert ticks_on_s3(s3_bucket, prefix) >= set(range(N - KEEP, N))
                assert_agree(cat, run_id, s3_bucket, prefix, settled=False)
                left = len(ticks_on_s3(s3_bucket, prefix))
                partial |= "deleting" in got.values() or KEEP < left < N
            killed_mid_way += partial
        cat.retention.prune()  # the next prune finishes what the killed ones left
        for run_id, prefix in made:
            assert_agree(cat, run_id, s3_bucket, prefix)
            assert ticks_on_s3(s3_bucket, prefix) == set(range(N - KEEP, N))
        with cat.db.engine.connect() as conn:
            stuck = select(checkpoints.c.id).where(checkpoints.c.state == "deleting")
            assert conn.execute(stuck).first() is None
    assert killed_mid_way >= 1, "no kill landed inside a prune"
