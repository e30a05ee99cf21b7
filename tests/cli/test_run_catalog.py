"""A run's life as the catalog records it, end to end through the CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from continuum.cli import cli

REPO = Path(__file__).resolve().parents[2]


def invoke(runner, *args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def show(runner, url: str, run_id: str) -> dict:
    return json.loads(invoke(runner, "catalog", "show", run_id, "--catalog", url, "--json"))


def test_run_resume_and_branch_are_recorded(tmp_path, runner):
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    ckpt = str(tmp_path / "ckpt")
    common = ["--scenario", "tiny", "--checkpoint-dir", ckpt, "--catalog", url, "--json"]
    first = json.loads(
        invoke(
            runner,
            "run",
            "terra",
            "--steps",
            "400",
            "--seed",
            "4",
            "--checkpoint-stride",
            "100",
            *common,
        )
    )
    run = show(runner, url, first["run_id"])
    assert run["status"] == "completed" and run["seed"] == 4
    assert (run["first_tick"], run["last_tick"]) == (0, 400)
    ticks = {c["tick"]: c for c in run["checkpoints"]}
    assert sorted(ticks) == [100, 200, 300, 400]
    assert ticks[400]["state"] == "committed" and ticks[400]["bytes"] > 0
    assert ticks[400]["era"] == "stable" and ticks[100]["era"] == "formation"
    assert ticks[200]["sim_time"] == 200 * 1.0e6

    resumed = json.loads(
        invoke(
            runner,
            "run",
            "terra",
            "--steps",
            "100",
            "--resume",
            "--checkpoint-stride",
            "100",
            *common,
        )
    )
    assert resumed["run_id"] == first["run_id"]
    run = show(runner, url, first["run_id"])
    assert len(run["segments"]) == 2 and run["last_tick"] == 500
    assert run["segments"][1]["start_tick"] == 400

    hot = tmp_path / "tiny-hot.toml"
    hot.write_text('[topology]\nresolution = 8\n[config]\n"thermal.core_cooling" = 5.0e-4\n')
    branch = json.loads(
        invoke(
            runner,
            "run",
            "terra",
            "--steps",
            "50",
            "--resume-run",
            first["run_id"],
            "--scenario",
            str(hot),
            "--checkpoint-dir",
            ckpt,
            "--catalog",
            url,
            "--json",
        )
    )
    child = show(runner, url, branch["run_id"])
    assert child["parent_run_id"] == first["run_id"]
    assert child["parent_checkpoint_tick"] == 500


def test_sigkilled_run_shows_crashed(tmp_path, runner):
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "continuum.cli",
            "run",
            "terra",
            "--steps",
            "1000000",
            "--scenario",
            "tiny",
            "--checkpoint-dir",
            str(tmp_path / "ckpt"),
            "--checkpoint-stride",
            "500",
            "--catalog",
            url,
            "--quiet",
        ],
        cwd=REPO,
    )
    deadline = time.monotonic() + 60
    runs = []
    while time.monotonic() < deadline and not runs:
        time.sleep(0.3)
        out = runner.invoke(cli, ["catalog", "list", "--catalog", url, "--json"])
        runs = json.loads(out.output) if out.exit_code == 0 else []
    assert runs and runs[0]["status"] == "running"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    run = show(runner, url, runs[0]["run_id"])
    assert run["status"] == "crashed"


def test_unreachable_catalog_fails_before_anything_is_written(tmp_path, runner):
    result = runner.invoke(
        cli,
        [
            "run",
            "terra",
            "--scenario",
            "tiny",
            "--steps",
            "10",
            "--checkpoint-dir",
            str(tmp_path / "ckpt"),
            "--catalog",
            "postgresql+psycopg://nobody@127.0.0.1:1/none",
        ],
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and result.output.count("\n") == 1
    assert not list((tmp_path / "ckpt").glob("*/checkpoint_*.ckpt"))


def test_no_catalog_records_nothing(tmp_path, runner):
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    invoke(runner, "run", "terra", "--scenario", "tiny", "--steps", "5", "--no-catalog")
    assert json.loads(invoke(runner, "catalog", "list", "--catalog", url, "--json")) == []


def test_sealed_lens_chunks_are_recorded(tmp_path, runner):
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    summary = json.loads(
        invoke(
            runner,
            "run",
            "terra",
            "--scenario",
            "tiny",
            "--steps",
            "250",
            "--lens-dir",
            str(tmp_path / "lens"),
            "--lens-chunk-size",
            "100",
            "--catalog",
            url,
            "--json",
        )
    )
    run = show(runner, url, summary["run_id"])
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


def test_lens_query_finds_a_run_through_the_catalog(tmp_path, runner, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    monkeypatch.setenv("CONTINUUM_CATALOG", url)
    summary = json.loads(
        invoke(
            runner,
            "run",
            "terra",
            "--scenario",
            "tiny",
            "--steps",
            "20",
            "--lens-dir",
            str(tmp_path / "lens"),
            "--json",
        )
    )
    out = invoke(
        runner,
        "lens",
        "query",
        "atmosphere.temperature",
        "--tick",
        "10",
        "--position",
        "1,0,0",
        "--run",
        summary["run_id"],
        "--json",
    )
    assert json.loads(out)["tick"] == 10
    missing = runner.invoke(
        cli,
        [
            "lens",
            "query",
            "atmosphere.temperature",
            "--tick",
            "10",
            "--position",
            "1,0,0",
            "--run",
            "nope",
        ],
    )
    assert missing.exit_code == 1 and "no run 'nope'" in missing.output
