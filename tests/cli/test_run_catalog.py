"""A run's life as the catalog records it, end to end through the CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.conftest import (
    assert_one_line_error,
    catalog_url,
    invoke,
    ok,
    ok_json,
    run_json,
    show_run,
)

REPO = Path(__file__).resolve().parents[2]


def test_run_resume_and_branch_are_recorded(tmp_path):
    url = catalog_url(tmp_path)
    ckpt = str(tmp_path / "ckpt")
    common = ["--checkpoint-dir", ckpt, "--checkpoint-stride", "100", "--catalog", url]
    first = run_json("--steps", "400", "--seed", "4", *common)
    run = show_run(url, first["run_id"])
    assert run["status"] == "completed" and run["seed"] == 4
    assert (run["first_tick"], run["last_tick"]) == (0, 400)
    ticks = {c["tick"]: c for c in run["checkpoints"]}
    assert sorted(ticks) == [100, 200, 300, 400]
    assert ticks[400]["state"] == "committed" and ticks[400]["bytes"] > 0
    assert ticks[400]["era"] == "stable" and ticks[100]["era"] == "formation"
    assert ticks[200]["sim_time"] == 200 * 1.0e6

    resumed = run_json("--steps", "100", "--resume", *common)
    assert resumed["run_id"] == first["run_id"]
    run = show_run(url, first["run_id"])
    assert len(run["segments"]) == 2 and run["last_tick"] == 500
    assert run["segments"][1]["start_tick"] == 400

    hot = tmp_path / "tiny-hot.toml"
    hot.write_text('[topology]\nresolution = 8\n[config]\n"thermal.core_cooling" = 5.0e-4\n')
    resume = ["--resume-run", first["run_id"], "--scenario", hot]
    resume += ["--checkpoint-dir", ckpt, "--catalog", url, "--json"]
    branch = ok_json("run", "terra", "--steps", "50", *resume)
    child = show_run(url, branch["run_id"])
    assert child["parent_run_id"] == first["run_id"]
    assert child["parent_checkpoint_tick"] == 500


def test_sigkilled_run_shows_crashed(tmp_path):
    url = catalog_url(tmp_path)
    argv = [sys.executable, "-m", "continuum.cli", "run", "terra", "--steps", "1000000"]
    argv += ["--scenario", "tiny", "--checkpoint-dir", str(tmp_path / "ckpt")]
    argv += ["--checkpoint-stride", "500", "--catalog", url, "--quiet"]
    proc = subprocess.Popen(argv, cwd=REPO)
    deadline = time.monotonic() + 60
    runs = []
    while time.monotonic() < deadline and not runs:
        time.sleep(0.3)
        out = invoke("catalog", "list", "--catalog", url, "--json")
        runs = json.loads(out.output) if out.exit_code == 0 else []
    assert runs and runs[0]["status"] == "running"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    run = show_run(url, runs[0]["run_id"])
    assert run["status"] == "crashed"


def test_unreachable_catalog_fails_before_anything_is_written(tmp_path):
    unreachable = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    ckpt = tmp_path / "ckpt"
    result = invoke(
        "run",
        "terra",
        "--scenario",
        "tiny",
        "--steps",
        "10",
        "--checkpoint-dir",
        ckpt,
        "--catalog",
        unreachable,
    )
    assert_one_line_error(result)
    assert not list(ckpt.glob("*/checkpoint_*.ckpt"))


def test_no_catalog_records_nothing(tmp_path):
    url = catalog_url(tmp_path)
    ok("run", "terra", "--scenario", "tiny", "--steps", "5", "--no-catalog")
    assert ok_json("catalog", "list", "--catalog", url, "--json") == []


def test_sealed_lens_chunks_are_recorded(tmp_path):
    url = catalog_url(tmp_path)
    lens = ["--lens-dir", tmp_path / "lens", "--lens-chunk-size", "100"]
    summary = run_json("--steps", "250", *lens, "--catalog", url)
    run = show_run(url, summary["run_id"])
    chunks = run["lens_chunks"]
    # windows [0, 100), [100, 200), [200, 251): frames the lens writer dropped under load
    # (by design, rather than stall the loop) narrow a chunk but never move it
    assert [c["start_tick"] // 100 for c in chunks] == [0, 1, 2]
    # half-open [start_tick, end_tick): end_tick is the tick after the chunk's last frame
    assert all(c["start_tick"] < c["end_tick"] <= (k + 1) * 100 for k, c in enumerate(chunks[:2]))
    assert 200 < chunks[-1]["end_tick"] <= 251
    assert sum(c["frames"] for c in chunks) + summary["lens_dropped"] == 251
    for chunk in chunks:
        # paths are stored relative to the run's lens dir, like checkpoints to theirs
        assert (Path(run["lens_dir"]) / chunk["path"]).stat().st_size == chunk["bytes"]


def test_lens_query_finds_a_run_through_the_catalog(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTINUUM_CATALOG", catalog_url(tmp_path))
    summary = run_json("--steps", "20", "--lens-dir", tmp_path / "lens")
    query = ["lens", "query", "atmosphere.temperature", "--tick", "10", "--position", "1,0,0"]
    assert ok_json(*query, "--run", summary["run_id"], "--json")["tick"] == 10
    missing = invoke(*query, "--run", "nope")
    assert missing.exit_code == 1 and "no run 'nope'" in missing.output
