"""scripts/bench_peers.py --quick: every question answered by every contender, in agreement.

Runs the real script in a subprocess on a real (64x64 per face, 50 frame) terra run; skipped
when the ``[bench]`` extra (zarr, xarray, polars) is not installed. Timings are printed by
the script, never asserted here: what a user relies on is that it runs, that its answers
were checked against ours, and that a second run on the same ``--data`` reuses the data.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("zarr")
pytest.importorskip("xarray")
pytest.importorskip("polars")

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_peers.py"
QUESTIONS = {"one_value", "point_history", "time_slice", "face_mean", "band_mean", "tick_mean"}


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def _run(data: Path) -> dict:
    cmd = [sys.executable, str(SCRIPT), "--quick", "--repeats", "1", "--data", str(data)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "MISMATCH" not in done.stderr
    return json.loads(done.stdout)


def test_quick_mode_answers_every_question_by_every_contender_and_they_agree(tmp_path):
    out = _run(tmp_path / "data")
    asked = {(e["question"], e["contender"]) for e in out["entries"]}
    contenders = {"zarr_time", "zarr_point", "polars", "ours_api", "ours_sql"}
    if _has("h5py") and _has("hdf5plugin"):
        contenders.add("h5py")
    for q in QUESTIONS | {"bytes"}:
        assert {(q, c) for c in contenders} <= asked, q
    assert all(e.get("agree", True) for e in out["entries"])
    assert set(out["best_peer"]) == QUESTIONS | {"bytes"}
    assert set(out["worst_ratio_vs_best_peer"]) == {"ours_api", "ours_sql"}
    ours_bytes = next(
        e for e in out["entries"] if e["question"] == "bytes" and e["contender"] == "ours_api"
    )
    assert ours_bytes["bytes"] >= ours_bytes["chunks_bytes"] > 0
    assert out["resolution"] == 64 and out["frames"] == 50
    assert out["loadavg_start"] and out["loadavg_end"]


def test_a_second_run_on_the_same_data_dir_builds_nothing(tmp_path):
    first = _run(tmp_path / "data")
    assert "zarr_time" in first["built_s"] and "sql_export" in first["built_s"]
    again = _run(tmp_path / "data")
    assert again["built_s"] == {}
    assert again["frames"] == first["frames"]
