"""``--resume`` resumes a run, not a file (issue 13).

One checkpoint directory, as a user's looks after a while: a stale run of terra, the main
run, a short side branch made from the main run's first checkpoint under another
scenario, the main run continued after it, and — newest of all — a run of another world.
``--resume`` must continue the main run; ``--resume --scenario X`` must branch from the
main run's newest checkpoint; neither file times nor a rewritten manifest may change
that, with a catalog or without one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from continuum import layout
from continuum.blobs.worker import KILL_AFTER_ENV
from continuum.checkpoint import Manifest, choose_run
from continuum.errors import CheckpointNotFoundError
from continuum.runner import Mode, resolve
from continuum.world import load_world
from tests.conftest import TERRA

from .conftest import request, run

STRIDE = 10
HOT = '[topology]\nresolution = 8\n[config]\n"thermal.core_cooling" = 5.0e-4\n'


@dataclass
class Runs:
    ckpt: Path
    stale: str
    main: str
    side: str
    other_world: str
    catalog: str | None
    hot: Path  # a scenario file: resuming under it is a branch

    def dir(self, run_id: str) -> Path:
        return self.ckpt / run_id

    def ticks(self, run_id: str) -> list[int]:
        return sorted(
            t for p in self.dir(run_id).iterdir() if (t := layout.checkpoint_tick(p.name))
        )


def outputs(runs_catalog: str | None) -> dict[str, object]:
    return {"catalog": runs_catalog} if runs_catalog else {"no_catalog": True}


def build(root: Path, catalog: str | None) -> Runs:
    """The directory of the module doc, each run a real run, in the order a user made them."""
    ckpt, rec = root / "ckpt", outputs(catalog)
    hot = root / "tiny-hot.toml"
    hot.write_text(HOT)
    stale = run(checkpoint_dir=ckpt, steps=20, checkpoint_stride=STRIDE, seed=5, **rec)
    main = run(checkpoint_dir=ckpt, steps=30, checkpoint_stride=STRIDE, **rec)
    first = Path(main["checkpoint_dir"]) / layout.checkpoint_name(STRIDE)
    side = run(checkpoint_path=first, scenario=str(hot), steps=5, checkpoint_dir=ckpt, **rec)
    assert side["parent_run"] == main["run_id"]
    newest = Path(main["checkpoint_dir"]) / layout.checkpoint_name(30)
    more = run(checkpoint_path=newest, steps=30, checkpoint_stride=STRIDE, **rec)
    assert more["run_id"] == main["run_id"] and more["tick"] == 60  # continued in place
    mars = root / "mars"
    shutil.copytree(TERRA, mars)
    toml = mars / "world.toml"
    toml.write_text(toml.read_text().replace('name = "terra"', 'name = "mars"', 1))
    other = run(world=str(mars), checkpoint_dir=ckpt, steps=10, checkpoint_stride=STRIDE, **rec)
    return Runs(
        ckpt, stale["run_id"], main["run_id"], side["run_id"], other["run_id"], catalog, hot
    )


@pytest.fixture(params=["no catalog", "catalog"])
def runs(request: pytest.FixtureRequest, tmp_path: Path) -> Runs:
    catalog = f"sqlite:///{tmp_path / 'cat.db'}" if request.param == "catalog" else None
    return build(tmp_path, catalog)


def resume(runs: Runs, **kw: object):
    req = request(checkpoint_dir=runs.ckpt, resume=True, seed=None, **outputs(runs.catalog))
    for key, value in kw.items():
        setattr(req, key, value)
    return resolve(req, load_world("terra"))


def scramble_mtimes(runs: Runs) -> None:
    """What ``cp -r`` or ``touch`` does: the stale run and the side branch look newest,
    the main run oldest, file by file and directory by directory."""
    for when, run_id in ((10_000, runs.main), (4_000_000_000, runs.stale), (4e9, runs.side)):
        for path in (runs.dir(run_id), *runs.dir(run_id).iterdir()):
            os.utime(path, (when, when), follow_symlinks=False)


def test_resume_continues_the_main_run(runs):
    decision = resume(runs)
    assert decision.mode is Mode.IN_PLACE and decision.run_id == runs.main
    assert decision.checkpoint == runs.dir(runs.main) / layout.checkpoint_name(60)


def test_resume_under_another_scenario_branches_from_the_main_runs_newest(runs):
    decision = resume(runs, scenario=str(runs.hot))
    assert decision.mode is Mode.BRANCH and decision.parent == (runs.main, 60)
    branched = run(checkpoint_dir=runs.ckpt, resume=True, seed=None, scenario=str(runs.hot),
                   steps=3, **outputs(runs.catalog))  # fmt: skip
    manifest = Manifest.load(Path(branched["checkpoint_dir"])).data
    assert manifest["parent"] == {
        "run_id": runs.main,
        "tick": 60,
        "checkpoint": layout.checkpoint_name(60),
    }
    assert branched["tick"] == 63 and branched["parent_run"] == runs.main


def test_file_times_do_not_change_the_choice(runs):
    scramble_mtimes(runs)
    assert resume(runs).run_id == runs.main
    assert resume(runs, scenario=str(runs.hot)).parent == (runs.main, 60)


def test_a_rewritten_manifest_does_not_advance_its_run(runs):
    """Rewriting a manifest (a count, a policy) moves its ``updated_at``, not its run."""
    for run_id in (runs.stale, runs.side):
        Manifest.load(runs.dir(run_id)).update(dropped_checkpoints=0)
    assert resume(runs).run_id == runs.main


def test_the_choice_is_said_with_the_others_and_how_to_pick_one(runs, caplog):
    caplog.set_level(logging.INFO, logger="continuum")
    resume(runs)
    (line,) = [r for r in caplog.records if "most recently advanced" in r.getMessage()]
    text = line.getMessage()
    assert line.levelno == logging.WARNING  # a guess among several: shown unless --quiet
    assert text.startswith(f"resuming run {runs.main} at tick 60")
    assert "of 3 runs of world 'terra'" in text and runs.other_world not in text
    # the others, most recently advanced first, each with its tick and scenario
    assert text.index(f"{runs.side} at tick 15 (scenario tiny-hot") < text.index(
        f"{runs.stale} at tick 20 (scenario tiny"
    )
    if runs.catalog:
        assert text.endswith(f"to resume another instead: --resume-run {runs.side}")
    else:  # no catalog to find a run by its id: the file names it
        side_file = runs.dir(runs.side) / layout.checkpoint_name(15)
        assert text.endswith(f"to resume another instead: --checkpoint-path {side_file}")


def test_a_damaged_newest_checkpoint_keeps_its_run_chosen(runs):
    """The main run's newest file is damaged: the run still counts, with tick 50, which is
    not its newest file, so resuming from it is a branch (a directory never holds two
    timelines)."""
    newest = runs.dir(runs.main) / layout.checkpoint_name(60)
    data = bytearray(newest.read_bytes())
    data[-100] ^= 0xFF
    newest.write_bytes(bytes(data))
    decision = resume(runs)
    assert decision.mode is Mode.BRANCH and decision.parent == (runs.main, 50)


def test_a_run_whose_every_checkpoint_is_damaged_is_passed_over(tmp_path):
    runs = build(tmp_path, None)
    for tick in runs.ticks(runs.main):
        (runs.dir(runs.main) / layout.checkpoint_name(tick)).write_bytes(b"not a checkpoint")
    choice = choose_run(runs.ckpt, "terra")
    assert choice.chosen.run_id == runs.side  # the most recently advanced of the rest
    assert [r.run_id for r in choice.runs] == [runs.side, runs.stale]


def test_no_intact_checkpoint_of_the_world_at_all(tmp_path):
    first = run(checkpoint_dir=tmp_path, steps=10, checkpoint_stride=STRIDE, no_catalog=True)
    (Path(first["checkpoint_dir"]) / layout.checkpoint_name(10)).write_bytes(b"x" * 64)
    with pytest.raises(CheckpointNotFoundError, match="every checkpoint damaged"):
        choose_run(tmp_path, "terra")


def test_the_only_run_is_resumed_without_a_warning(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="continuum")
    first = run(checkpoint_dir=tmp_path, steps=10, checkpoint_stride=STRIDE, no_catalog=True)
    decision = resolve(request(checkpoint_dir=tmp_path, resume=True), load_world("terra"))
    assert decision.run_id == first["run_id"]
    (line,) = [r for r in caplog.records if r.getMessage().startswith("resuming run")]
    assert line.levelno == logging.INFO and "the only run of world 'terra'" in line.getMessage()


# A kill, for real: the main run is SIGKILLed while a side branch was made from it


MAIN = """
import os, subprocess, sys, time
from pathlib import Path
from continuum import layout
from continuum.runner import RunRequest, execute

ckpt, url, stale, branch = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]

def make_branch(state):
    # at tick 15, while this run goes on, another process branches from its tick 10
    if state.tick != 15:
        return
    (run_dir,) = [d for d in ckpt.iterdir() if d.name != stale]
    first = run_dir / layout.checkpoint_name(10)
    deadline = time.monotonic() + 60
    while layout.read_latest(run_dir) != first.name and time.monotonic() < deadline:
        time.sleep(0.02)  # the writer thread commits it behind the loop
    env = {k: v for k, v in os.environ.items() if k != "__KILL_ENV__"}  # the branch lives
    subprocess.run([*branch, "--checkpoint-path", str(first)], check=True, env=env)

execute(RunRequest(world="terra", scenario="tiny", seed=11, steps=100, checkpoint_dir=ckpt,
                   checkpoint_stride=10, catalog=url), on_tick=make_branch)
"""


@pytest.mark.slow
def test_a_killed_main_run_is_still_the_one_resumed(tmp_path):
    """The issue's story: the main run is killed (SIGKILL after tick 40's rename); its
    manifest still says when its segment started, before the side branch was made from
    its tick 10. It advanced after the branch, so ``--resume`` continues it."""
    ckpt, url = tmp_path / "ckpt", f"sqlite:///{tmp_path / 'cat.db'}"
    hot = tmp_path / "tiny-hot.toml"
    hot.write_text(HOT)
    stale = run(checkpoint_dir=ckpt, steps=20, checkpoint_stride=STRIDE, catalog=url)["run_id"]
    script = tmp_path / "main.py"
    script.write_text(MAIN.replace("__KILL_ENV__", KILL_AFTER_ENV))
    branch = [sys.executable, "-m", "continuum.cli", "run", "terra", "--scenario", str(hot)]
    branch += ["--steps", "5", "--catalog", url, "--quiet"]
    proc = subprocess.run(
        [sys.executable, str(script), str(ckpt), url, stale, *branch],
        env={**os.environ, KILL_AFTER_ENV: "rename:40"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    (main,) = [
        d.name
        for d in ckpt.iterdir()
        if d.name != stale and Manifest.load(d).data.get("parent") is None
    ]
    (side,) = [d.name for d in ckpt.iterdir() if d.name not in (stale, main)]
    side_manifest = Manifest.load(ckpt / side).data
    assert side_manifest["parent"]["run_id"] == main and side_manifest["parent"]["tick"] == 10
    assert (ckpt / main / layout.checkpoint_name(40)).is_file()

    req = request(checkpoint_dir=ckpt, resume=True, seed=None, catalog=url)
    decision = resolve(req, load_world("terra"))
    assert decision.mode is Mode.IN_PLACE and decision.run_id == main
    assert decision.checkpoint == ckpt / main / layout.checkpoint_name(40)
    resumed = run(checkpoint_dir=ckpt, resume=True, seed=None, steps=10, catalog=url)
    assert resumed["run_id"] == main and resumed["tick"] == 50
    branched = run(checkpoint_dir=ckpt, resume=True, seed=None, scenario=str(hot), steps=1,
                   catalog=url)  # fmt: skip
    assert branched["parent_run"] == main
    parent = json.loads(layout.manifest_path(Path(branched["checkpoint_dir"])).read_text())
    assert parent["parent"]["run_id"] == main and parent["parent"]["tick"] == 50


def test_many_runs_list_a_few_and_count_the_rest(tmp_path, caplog):
    ids = [
        run(checkpoint_dir=tmp_path, steps=STRIDE, checkpoint_stride=STRIDE, no_catalog=True)[
            "run_id"
        ]
        for _ in range(5)
    ]
    caplog.set_level(logging.WARNING, logger="continuum")
    decision = resolve(request(checkpoint_dir=tmp_path, resume=True), load_world("terra"))
    assert decision.run_id == ids[-1]  # the last one made advanced last
    (line,) = [r.getMessage() for r in caplog.records if "most recently advanced" in r.getMessage()]
    assert "of 5 runs" in line and f"1 more (continuum checkpoint list {tmp_path})" in line
    others = line.split("the others: ")[1]
    listed = [others.index(run_id) for run_id in ids[3:0:-1]]  # newest first
    assert listed == sorted(listed) and ids[0] not in others
