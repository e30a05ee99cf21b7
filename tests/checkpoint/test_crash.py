"""SIGKILL at random moments never leaves a checkpoint that resume would pick wrongly."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from continuum.checkpoint import checkpoint_files, read_checkpoint
from continuum.checkpoint.resume import load_newest_intact
from continuum.runner.stop import TICK_SLEEP_ENV

from .conftest import run

TARGET = 6000
KILLS = 8


def start(ckpt_dir: Path, steps: int, resume: bool) -> subprocess.Popen:
    args = [
        sys.executable,
        "-m",
        "continuum.cli",
        "run",
        "terra",
        "--scenario",
        "tiny",
        "--seed",
        "3",
        "--steps",
        str(steps),
        "--checkpoint-dir",
        str(ckpt_dir),
        "--checkpoint-stride",
        "7",
        "--no-catalog",  # this test is about checkpoint files; the catalog's is elsewhere
        "--quiet",
    ]
    if resume:
        args = [*args[:-1], "--resume", "--quiet"]
        args.remove("--seed"), args.remove("3")
    # ticks of terra tiny take microseconds: paced, so that a kill after up to 0.4 s lands
    # mid-run however fast the machine is (at most ~1,300 ticks a round: >= 3 kills)
    env = {**os.environ, TICK_SLEEP_ENV: "0.0003"}
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def current_tick(ckpt_dir: Path) -> int:
    # a run killed before its first checkpoint leaves a directory with none: not resumable
    run_dirs = [p for p in ckpt_dir.glob("*") if checkpoint_files(p)]
    if not run_dirs:
        return 0
    assert len(run_dirs) == 1, "resuming in place must never start a second timeline"
    return load_newest_intact(run_dirs[0]).header.tick


def wait_for_checkpoint_after(ckpt_dir: Path, tick: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        names = [p.name for p in ckpt_dir.glob("*/checkpoint_*.ckpt")]
        if names and max(names) > f"checkpoint_{tick:010d}.ckpt":
            return
        time.sleep(0.01)


def test_sigkill_at_random_moments_then_resume(tmp_path):
    rng = random.Random(20261125)
    ckpt_dir = tmp_path / "ckpt"
    deadline = time.monotonic() + 120
    kills = 0
    while kills < KILLS and time.monotonic() < deadline:
        tick = current_tick(ckpt_dir)
        if tick > TARGET - 1000:
            break
        proc = start(ckpt_dir, TARGET - tick, resume=tick > 0)
        # kill at a random moment once the process is writing (start-up time varies with load)
        wait_for_checkpoint_after(ckpt_dir, tick, proc)
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
        for path in ckpt_dir.glob("*/checkpoint_*.ckpt"):
            read_checkpoint(path)  # every file under a checkpoint name is whole and verifies
    tick = current_tick(ckpt_dir)
    assert kills >= 3 and 0 < tick < TARGET, "the kills came too early or too late"
    final = start(ckpt_dir, TARGET - tick, resume=tick > 0)
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err.decode()
    (run_dir,) = [p for p in ckpt_dir.glob("*") if checkpoint_files(p)]
    header, state = read_checkpoint(sorted(checkpoint_files(run_dir))[-1])
    assert header.tick == TARGET
    assert state.state_hash() == run(steps=TARGET, seed=3)["state_hash"]
