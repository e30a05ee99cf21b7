"""Eight ``continuum run`` processes recording into one catalog at the same time.

Under CPU contention a run may drop checkpoints (its writer queue is full and
the tick loop never waits: DESIGN.md), so each run has at most 10 rows, on
stride ticks, always the final one, and rows + dropped >= 10 (a dropped final
tick is written again at the end and counted as dropped too); every row
matches a file on disk and none is duplicated.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from continuum.catalog import Catalog

PROCESSES = 8
STEPS, STRIDE = 200, 20


def test_eight_runs_record_into_one_catalog_at_once(tmp_path: Path, catalog_url: str) -> None:
    Catalog(catalog_url).close()  # migrated first: this test is about concurrent recording
    argv = [sys.executable, "-m", "continuum.cli", "run", "terra", "--scenario", "tiny"]
    argv += ["--steps", str(STEPS), "--checkpoint-dir", str(tmp_path / "ckpt")]
    argv += ["--checkpoint-stride", str(STRIDE), "--catalog", catalog_url, "--quiet"]
    procs = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(PROCESSES)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outs):
        assert proc.returncode == 0, err
        assert "database is locked" not in out + err and "catalog:" not in err, err

    with Catalog(catalog_url) as cat:
        runs = cat.search.list(limit=100).runs
        assert len(runs) == PROCESSES
        assert {(r.status, r.first_tick, r.last_tick) for r in runs} == {("completed", 0, STEPS)}
        rows = [(c.run_id, c.tick, c.state) for r in runs for c in cat.checkpoints.list(r.run_id)]
    expected = set(range(STRIDE, STEPS + 1, STRIDE))
    for run in runs:
        ticks = {t for rid, t, _ in rows if rid == run.run_id}
        assert STEPS in ticks and ticks <= expected
        assert len(ticks) + run.dropped_checkpoints >= len(expected)
    on_disk = {(p.parent.name, int(p.stem.split("_")[1])) for p in tmp_path.glob("ckpt/*/*.ckpt")}
    assert on_disk == {(rid, tick) for rid, tick, _ in rows}
    assert not [k for k, n in Counter((rid, t) for rid, t, _ in rows).items() if n > 1]
    assert {state for *_, state in rows} == {"committed"}
