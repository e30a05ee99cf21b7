"""Prune against real files, on SQLite and PostgreSQL.

Includes the crash test (a real ``continuum catalog prune`` killed with
SIGKILL at random moments) and two prune processes racing on one run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select, update

from continuum.catalog import Catalog, RetentionRules
from continuum.catalog.db.models import checkpoints
from tests.conftest import SIZE, assert_agree, audited, files, make_run, name, runs_update, states


def test_prune_keeps_what_policy_and_protections_keep(catalog, tmp_path):
    run, d = make_run(catalog, tmp_path, range(0, 1000, 100))
    catalog.checkpoints.pin(run.run_id, 200)
    catalog.runs.register(
        world="terra", ir_hash="ab", seed=1, parent_run_id=run.run_id, parent_checkpoint_tick=300
    )
    catalog.runs.start_segment(run.run_id, start_tick=500, resumed_from_tick=500)
    catalog.runs.finish(run.run_id, status="completed", last_tick=900)
    catalog.checkpoints.record(
        run.run_id, tick=1000, sim_time=0, path=d / name(1000), bytes_on_disk=0
    )
    (d / name(50)).write_bytes(b"not the catalog's")  # no row: never touched
    catalog.policies.set("run", run.run_id, RetentionRules(keep_last=1))
    before = states(catalog, run.run_id), files(d)

    dry = catalog.retention.prune([run.run_id], dry_run=True)
    assert (states(catalog, run.run_id), files(d)) == before
    (_, plan), *_ = dry.plans
    why = {i.tick: reasons for i, reasons in plan.kept}
    # a branch point (300) and a resume point (500) are kept by no rule: lineage is in the
    # records (runs.parent_checkpoint_tick, run_segments), a file is kept by a pin
    assert why == {200: ("pinned",), 900: ("keep-last", "latest", "newest")}
    gone = [0, 100, 300, 400, 500, 600, 700, 800]
    assert [i.tick for i in plan.delete] == gone
    assert dry.bytes_freed == 8 * SIZE and dry.deleted == 0

    report = catalog.retention.prune([run.run_id])
    assert (report.deleted, report.bytes_freed, report.errors) == (8, 8 * SIZE, [])
    assert files(d) == {50, 200, 900}
    got = states(catalog, run.run_id)
    assert {t for t, s in got.items() if s == "committed"} == {200, 900}
    assert got[1000] == "pending"
    assert_agree(catalog, run.run_id, d)
    for action in ("checkpoint-deleting", "checkpoint-pruned"):
        assert audited(catalog, run.run_id, action) == gone
    assert catalog.retention.prune([run.run_id]).deleted == 0


def test_leftover_deleting_rows_are_finished_first(catalog, tmp_path):
    run, d = make_run(catalog, tmp_path, [10, 20, 30])
    catalog.checkpoints.mark(run.run_id, 10, "deleting")  # a prune died here
    report = catalog.retention.prune([run.run_id])  # no policy: nothing new is deleted
    assert (report.finished, report.deleted) == (1, 0)
    assert states(catalog, run.run_id) == {10: "pruned", 20: "committed", 30: "committed"}
    assert files(d) == {20, 30}


def test_world_policy_applies_only_to_its_world(catalog, tmp_path):
    terra, td = make_run(catalog, tmp_path, range(5))
    mars, md = make_run(catalog, tmp_path, range(5), world="mars")
    catalog.policies.set("world", "terra", RetentionRules(keep_last=2))
    report = catalog.retention.prune()
    assert report.deleted == 3 and files(td) == {3, 4} and files(md) == set(range(5))
    assert catalog.retention.prune(world="mars").deleted == 0


def test_lens_chunks_follow_lens_rules(catalog, tmp_path):
    run, d = make_run(catalog, tmp_path, [100])
    lens = tmp_path / "lens" / run.run_id
    lens.mkdir(parents=True)
    catalog.db.write(
        lambda c: c.execute(runs_update(run.run_id, str(d)).values(lens_dir=str(lens)))
    )
    for start in range(0, 500, 100):
        path = lens / f"lens_snapshot_{start:010d}-{start + 100:010d}.lens"
        path.write_bytes(b"l" * 10)
        catalog.lens_chunks.record(
            run.run_id,
            start_tick=start,
            end_tick=start + 100,
            frames=1,
            fields=["a"],
            path=path,
            bytes=10,
            checksum=None,
        )
    catalog.policies.set("run", run.run_id, RetentionRules(lens_keep_last=2))
    assert catalog.retention.prune([run.run_id]).deleted == 3
    assert sorted(p.name[14:24] for p in lens.iterdir()) == ["0000000300", "0000000400"]
    assert [c.state for c in catalog.lens_chunks.list(run.run_id)].count("pruned") == 3
    assert files(d) == {100}


RACER = """
import json, sys, time
from continuum.catalog import Catalog
url, run_id, start_at = sys.argv[1], sys.argv[2], float(sys.argv[3])
with Catalog(url) as cat:
    while time.time() < start_at:
        time.sleep(0.001)
    r = cat.retention.prune([run_id])
print(json.dumps({"deleted": r.deleted, "finished": r.finished, "errors": r.errors}))
"""


def test_two_prunes_racing_on_one_run(catalog, catalog_url, tmp_path):
    run, d = make_run(catalog, tmp_path, range(1500))
    catalog.policies.set("run", run.run_id, RetentionRules(keep_last=10))
    start = str(time.time() + 1.5)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, catalog_url, run.run_id, start],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    results = [json.loads(out) for out, _ in outs]
    assert all(r["errors"] == [] for r in results)
    assert sum(r["deleted"] + r["finished"] for r in results) == 1490
    assert files(d) == set(range(1490, 1500))
    assert_agree(catalog, run.run_id, d)
    pruned = audited(catalog, run.run_id, "checkpoint-pruned")
    assert pruned == list(range(1490))  # each deletion logged exactly once


def wait_until_deleting(proc: subprocess.Popen, dirs: list[Path], n: int) -> None:
    """Return once files of one of ``dirs`` start to go (or the process ended): the prune
    is under way."""
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        if any(len(os.listdir(d)) < n for d in dirs):
            return
        time.sleep(0.002)


def test_sigkill_during_prune_never_loses_a_kept_file(sqlite_url, tmp_path):
    N = 3000  # checkpoints per run, two new runs per round: two batches, so the prune
    # unlinks through its helper process (killed with it, or left to finish its batch)
    rng = random.Random(5)
    cmd = [sys.executable, "-m", "continuum", "catalog", "prune", "--all", "--catalog", sqlite_url]
    made, killed_mid_way = [], 0
    with Catalog(sqlite_url) as cat:
        cat.policies.set("global", None, RetentionRules(keep_last=5))
        for _ in range(3):
            made += [make_run(cat, tmp_path, range(N)) for _ in range(2)]
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            wait_until_deleting(proc, [d for _, d in made[-2:]], N)
            time.sleep(rng.uniform(0.0, 0.03))  # a random moment of a ~0.1 s prune
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            partial = False
            for run, d in made:
                got = states(cat, run.run_id)
                assert all(got[t] == "committed" for t in range(N - 5, N))
                assert files(d) >= set(range(N - 5, N))
                assert_agree(cat, run.run_id, d, settled=False)
                partial |= "deleting" in got.values() or 5 < len(files(d)) < N
            killed_mid_way += partial
        cat.retention.prune()  # the next prune finishes what the killed ones left
        for run, d in made:
            assert_agree(cat, run.run_id, d)
            assert files(d) == set(range(N - 5, N))
        with cat.db.engine.connect() as conn:
            stuck = select(checkpoints.c.id).where(checkpoints.c.state == "deleting")
            assert conn.execute(stuck).first() is None
    assert killed_mid_way >= 1, "no kill landed inside a prune"


def test_claim_moves_and_returns_exactly_the_rows_still_claimable(catalog, tmp_path):
    """Rows counted on the fast path; when a run moves fewer rows than asked (one already
    ``deleting``, one pinned), the claim is redone so it names exactly the rows it moved."""
    from continuum.catalog.blob_rows import KINDS
    from continuum.catalog.retention._claims import Group, move
    from continuum.catalog.retention.rules import Item

    (a, da), (b, db) = (
        make_run(catalog, tmp_path, range(20)),
        make_run(catalog, tmp_path, range(20)),
    )
    for tick, values in ((3, {"state": "deleting"}), (5, {"pinned": True})):
        where = (checkpoints.c.run_id == b.run_id) & (checkpoints.c.tick == tick)
        catalog.db.write(
            lambda c, w=where, v=values: c.execute(update(checkpoints).where(w).values(v))
        )

    def targets(run, d):
        return [
            Group(run.run_id, f"{d}/", [Item(str(t), t, None, 0, path=name(t)) for t in range(10)])
        ]

    def claim(rows):
        return catalog.db.write(
            lambda c: move(c, KINDS[0], rows, "committed", "deleting", guard=True)
        )

    got = claim(targets(a, da) + targets(b, db))
    assert sorted((g.run_id == b.run_id, i.tick) for g in got for i in g.items) == [
        *((False, t) for t in range(10)),
        *((True, t) for t in range(10) if t not in (3, 5)),
    ]
    assert states(catalog, a.run_id) == {
        t: "deleting" if t < 10 else "committed" for t in range(20)
    }
    assert states(catalog, b.run_id) == {
        t: "committed" if t >= 10 or t == 5 else "deleting" for t in range(20)
    }
    assert claim(targets(a, da)) == []  # nothing left to claim: nothing is anyone's twice
    assert sorted(audited(catalog, b.run_id, "checkpoint-deleting")) == [0, 1, 2, 4, 6, 7, 8, 9]
