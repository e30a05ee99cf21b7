"""The determinism guarantee and the rules of resuming."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from continuum.checkpoint import CheckpointWriter, Manifest, RunIdentity, inspect_checkpoint
from continuum.errors import CheckpointNotFoundError, ResumeMismatchError
from continuum.layout import LATEST, checkpoint_name
from continuum.runner import RunRequest, Trigger, open_manifest, prepare
from continuum.world import ir_hash, load_world

from .conftest import run


def test_straight_equals_checkpoint_and_resume(tmp_path, straight_2000):
    first = run(tmp_path, steps=1000)
    assert first["checkpoints_written"] >= 1
    resumed = run(tmp_path, steps=1000, resume=True, seed=None)
    assert resumed["tick"] == 2000
    assert resumed["run_id"] == first["run_id"]  # in place: same run, new segment
    assert resumed["state_hash"] == straight_2000
    segments = Manifest.load(Path(first["checkpoint_dir"])).data["segments"]
    assert [(s["start_tick"], s["end_tick"]) for s in segments] == [(0, 1000), (1000, 2000)]


def test_identical_with_checkpoint_stride_1(tmp_path, straight_2000):
    run(tmp_path, steps=1000, checkpoint_stride=1)
    assert run(tmp_path, steps=1000, resume=True)["state_hash"] == straight_2000


def test_identical_when_checkpoints_are_dropped(tmp_path, straight_2000):
    """A writer stuck in its commit callback fills the queue: real drops, same result."""
    request = RunRequest(
        world="terra",
        scenario="tiny",
        seed=11,
        steps=2000,
        checkpoint_dir=tmp_path,
        checkpoint_stride=1,
        queue_depth=1,
    )
    prepared = prepare(request)
    release = threading.Event()
    writer = CheckpointWriter(
        open_manifest(prepared, request),
        RunIdentity.of(prepared.program, prepared.run_id),
        depth=1,
        on_commit=[lambda _c: release.wait(30)],
    )
    prepared.sim.run(prepared.state, 2000, observer=Trigger(writer, 1, None))
    release.set()
    writer.close()
    assert writer.dropped > 1900
    assert prepared.state.state_hash() == straight_2000
    assert Manifest.load(prepared.run_dir).data["dropped_checkpoints"] == writer.dropped


def test_resume_across_era_transition_and_stride_10_boundary(tmp_path):
    straight = run(steps=1000)
    assert straight["era"] == "stable"
    first = run(tmp_path, steps=335, checkpoint_stride=335)
    assert first["era"] == "formation"  # the transition is still ahead (~tick 340)
    ckpt = Path(first["checkpoint_dir"]) / checkpoint_name(335)
    resumed = run(steps=665, checkpoint_path=ckpt)
    assert resumed["state_hash"] == straight["state_hash"]


def test_changed_world_is_refused_with_both_hashes_unless_forced(tmp_path, terra_dir):
    first = run(tmp_path, world=str(terra_dir), steps=50, checkpoint_stride=50)
    old_hash = first["ir_hash"]
    text = (
        (terra_dir / "world.toml")
        .read_text()
        .replace('"climate.relax" = 0.05', '"climate.relax" = 0.06')
    )
    (terra_dir / "world.toml").write_text(text)
    new_hash = ir_hash(load_world(terra_dir))
    with pytest.raises(ResumeMismatchError) as info:
        run(tmp_path, world=str(terra_dir), steps=10, resume=True)
    assert old_hash in str(info.value) and new_hash in str(info.value)
    assert "--force-resume" in str(info.value)
    forced = run(tmp_path, world=str(terra_dir), steps=10, resume=True, force_resume=True)
    assert forced["tick"] == 60
    assert forced["parent_run"] == first["run_id"]  # another world: recorded as a branch


def test_changed_dt_and_stride_are_named(tmp_path, terra_dir):
    run(tmp_path, world=str(terra_dir), steps=20, checkpoint_stride=20)
    text = (
        (terra_dir / "world.toml")
        .read_text()
        .replace("[strata.tectonics]\nstride = 10", "[strata.tectonics]\nstride = 20")
    )
    (terra_dir / "world.toml").write_text(text.replace("dt = 1.0e5", "dt = 2.0e5"))
    with pytest.raises(ResumeMismatchError, match=r"\(\+2 more\)"):
        run(tmp_path, world=str(terra_dir), steps=10, resume=True)


def test_schema_change_is_refused_even_when_forced(tmp_path, terra_dir):
    run(tmp_path, world=str(terra_dir), steps=20, checkpoint_stride=20)
    text = (terra_dir / "world.toml").read_text().replace("impacts.flux", "impacts.rate2")
    (terra_dir / "world.toml").write_text(text)
    with pytest.raises(ResumeMismatchError, match="schema"):
        run(tmp_path, world=str(terra_dir), steps=10, resume=True, force_resume=True)


def test_other_resolution_is_refused(tmp_path):
    first = run(tmp_path, steps=20, checkpoint_stride=20)
    ckpt = Path(first["checkpoint_dir"]) / checkpoint_name(20)
    with pytest.raises(ResumeMismatchError, match="384 instances"):
        run(steps=5, checkpoint_path=ckpt, scenario="large")


def test_dangling_latest_falls_back_to_newest_intact(tmp_path, caplog):
    first = run(tmp_path, steps=300, checkpoint_stride=100)
    run_dir = Path(first["checkpoint_dir"])
    (run_dir / checkpoint_name(300)).unlink()
    resumed = run(tmp_path, steps=100, resume=True)
    assert "points to missing" in caplog.text
    assert resumed["resumed_from"].endswith(checkpoint_name(200))
    assert resumed["state_hash"] == run(steps=300)["state_hash"]


def test_corrupt_latest_falls_back(tmp_path, caplog):
    first = run(tmp_path, steps=200, checkpoint_stride=100)
    newest = Path(first["checkpoint_dir"]) / checkpoint_name(200)
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    resumed = run(tmp_path, steps=10, resume=True)
    assert resumed["resumed_from"].endswith(checkpoint_name(100))
    assert "skipping" in caplog.text


def test_resume_with_nothing_to_resume_from(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="no checkpoints of world 'terra'"):
        run(tmp_path, steps=10, resume=True)


def test_other_scenario_is_a_branch_with_new_parameters(tmp_path):
    first = run(tmp_path, steps=100, checkpoint_stride=100)
    branch = run(tmp_path, steps=50, resume=True, scenario=str(_tiny_hot(tmp_path)))
    assert branch["run_id"] != first["run_id"]
    assert branch["parent_run"] == first["run_id"]
    assert branch["tick"] == 150 and branch["scenario"] == "tiny-hot"
    manifest = Manifest.load(Path(branch["checkpoint_dir"])).data
    assert manifest["parent"] == {
        "run_id": first["run_id"],
        "tick": 100,
        "checkpoint": checkpoint_name(100),
    }
    plain = run(
        tmp_path,
        steps=50,
        resume=True,
        checkpoint_path=Path(first["checkpoint_dir"]) / checkpoint_name(100),
    )
    assert plain["state_hash"] != branch["state_hash"]  # the new parameters took effect


def _tiny_hot(tmp_path: Path) -> Path:
    path = tmp_path / "tiny-hot.toml"
    path.write_text(
        '[scenario]\nname = "tiny-hot"\n[topology]\nresolution = 8\n'
        '[config]\n"thermal.core_cooling" = 5.0e-2\n'
    )
    return path


def test_moved_checkpoint_dir_resumes_from_its_new_place(tmp_path, straight_2000):
    first = run(tmp_path / "a", steps=1000)
    shutil.move(tmp_path / "a", tmp_path / "b")
    run_dir = tmp_path / "b" / first["run_id"]
    assert os.readlink(run_dir / LATEST) == checkpoint_name(1000)  # relative link
    resumed = run(tmp_path / "b", steps=1000, resume=True)
    assert resumed["state_hash"] == straight_2000
    assert resumed["checkpoint_dir"] == str(run_dir)


def test_seed_is_kept_on_resume(tmp_path):
    run(tmp_path, steps=20, checkpoint_stride=20)
    with pytest.raises(ResumeMismatchError, match="seed is 11"):
        run(tmp_path, steps=10, resume=True, seed=12)


def test_final_checkpoint_header(tmp_path):
    first = run(tmp_path, steps=37, checkpoint_stride=1000)
    header = inspect_checkpoint(Path(first["checkpoint_dir"]) / checkpoint_name(37))
    assert (header.tick, header.seed, header.identity.scenario) == (37, 11, "tiny")
    assert header.identity.ir_hash == first["ir_hash"]


def test_keep_checkpoints_keeps_the_newest_n(tmp_path):
    # a deep queue: no drop under load, so exactly these ticks are written
    first = run(tmp_path, steps=500, checkpoint_stride=50, keep_checkpoints=3, queue_depth=100)
    run_dir = Path(first["checkpoint_dir"])
    names = sorted(p.name for p in run_dir.glob("checkpoint_*.ckpt"))
    assert names == [checkpoint_name(t) for t in (400, 450, 500)]
    assert os.readlink(run_dir / LATEST) == checkpoint_name(500)
