"""``continuum run --resume`` end to end: which run it continues, and what it says (issue 13).

The directory a user has after a while: a stale run of terra, the main run, a short side
branch made from the main run's first checkpoint under another scenario, then the main
run continued. Every file's time is scrambled the way ``cp -r`` or ``touch`` would; the
choice stays the main run, with ``--catalog path.db`` and with ``--no-catalog``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from continuum import layout
from tests.cli.conftest import invoke, ok_json, run_json, show_run

HOT = '[topology]\nresolution = 8\n[config]\n"thermal.core_cooling" = 5.0e-4\n'


@dataclass
class Dir:
    ckpt: Path
    catalog: list[str]  # the catalog options every command of the test passes
    hot: Path
    stale: str
    main: str
    side: str


@pytest.fixture(params=["--catalog", "--no-catalog"])
def made(request: pytest.FixtureRequest, tmp_path: Path) -> Dir:
    ckpt, hot = tmp_path / "ckpt", tmp_path / "tiny-hot.toml"
    hot.write_text(HOT)
    with_catalog = request.param == "--catalog"
    catalog = ["--catalog", str(tmp_path / "path.db")] if with_catalog else ["--no-catalog"]
    every = ["--checkpoint-dir", ckpt, "--checkpoint-stride", 10, *catalog]
    stale = run_json("--steps", 20, "--seed", 5, *every)["run_id"]
    main = run_json("--steps", 30, *every)["run_id"]
    first = ckpt / main / layout.checkpoint_name(10)
    side = ok_json("run", "terra", "--checkpoint-path", first, "--scenario", hot, "--steps", 5,
                   "--json", *every)["run_id"]  # fmt: skip
    newest = ckpt / main / layout.checkpoint_name(30)
    assert run_json("--checkpoint-path", newest, "--steps", 30, *every)["run_id"] == main
    for when, run_id in ((10_000, main), (4_000_000_000, stale), (4e9, side)):
        for path in (ckpt / run_id, *(ckpt / run_id).iterdir()):
            os.utime(path, (when, when), follow_symlinks=False)
    return Dir(ckpt, catalog, hot, stale, main, side)


def resume(d: Dir, *args: object):
    return invoke("run", "terra", "--resume", "--checkpoint-dir", d.ckpt, "--steps", 5,
                  "--json", *d.catalog, *args)  # fmt: skip


def test_resume_continues_the_main_run_and_says_so(made):
    result = resume(made)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["run_id"] == made.main and summary["parent_run"] is None
    assert summary["tick"] == 65
    assert summary["resumed_from"] == str(made.ckpt / made.main / layout.checkpoint_name(60))
    (line,) = [x for x in result.stderr.splitlines() if "most recently advanced" in x]
    assert line.startswith(f"WARNING: resuming run {made.main} at tick 60, written ")
    assert f"of 3 runs of world 'terra' in {made.ckpt}" in line
    assert f"{made.side} at tick 15 (scenario tiny-hot" in line
    assert f"{made.stale} at tick 20 (scenario tiny" in line
    if made.catalog[0] == "--catalog":
        assert line.endswith(f"--resume-run {made.side}")
        # the hint works as printed (a scenario from a file is named again: its path is
        # not kept)
        again = invoke("run", "terra", "--resume-run", made.side, "--scenario", made.hot,
                       "--steps", 1, "--json", *made.catalog)  # fmt: skip
        assert again.exit_code == 0, again.output
        assert json.loads(again.stdout)["run_id"] == made.side
    else:
        side_file = made.ckpt / made.side / layout.checkpoint_name(15)
        assert line.endswith(f"--checkpoint-path {side_file}")


def test_resume_with_another_scenario_branches_from_the_main_runs_newest(made):
    result = resume(made, "--scenario", made.hot)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["parent_run"] == made.main and summary["tick"] == 65
    assert summary["resumed_from"] == str(made.ckpt / made.main / layout.checkpoint_name(60))
    assert f"WARNING: branching from run {made.main} at tick 60" in result.stderr
    manifest = json.loads(layout.manifest_path(Path(summary["checkpoint_dir"])).read_text())
    assert manifest["parent"] == {
        "run_id": made.main,
        "tick": 60,
        "checkpoint": layout.checkpoint_name(60),
    }
    if made.catalog[0] == "--catalog":
        url = f"sqlite:///{made.catalog[1]}"
        lineage = show_run(url, summary["run_id"])["lineage"]
        assert lineage["parent"] == {"run_id": made.main, "tick": 60}


def test_quiet_keeps_the_choice_to_itself(made):
    result = resume(made, "--quiet")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run_id"] == made.main
    assert "resuming run" not in result.stderr and "WARNING" not in result.stderr
