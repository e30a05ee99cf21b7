"""resolve: what a request resumes (fresh, in place, branch) and from which checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from continuum.errors import CheckpointNotFoundError, ResumeMismatchError, RunNotFoundError
from continuum.layout import checkpoint_name
from continuum.runner import Mode, find_checkpoint, resolve
from continuum.world import load_world

from .conftest import request, run, tree


def terra():
    return load_world("terra")


def test_no_resume_option_is_a_fresh_run(tmp_path):
    decision = resolve(request(checkpoint_dir=tmp_path / "ckpt"), terra())
    assert decision.mode is Mode.FRESH
    assert decision.root == tmp_path / "ckpt"
    assert decision.loaded is None and decision.checkpoint is None
    assert decision.run_id is None and decision.parent is None
    assert decision.program.scenario.name == "tiny"


def test_a_fresh_run_without_checkpoint_dir_has_nowhere_to_write():
    decision = resolve(request(), terra())
    assert decision.mode is Mode.FRESH and decision.root is None


def test_resume_continues_the_newest_run_in_place(tmp_path):
    first = run(checkpoint_dir=tmp_path, steps=200, checkpoint_stride=100)
    decision = resolve(request(checkpoint_dir=tmp_path, resume=True, seed=None), terra())
    assert decision.mode is Mode.IN_PLACE
    assert decision.run_id == first["run_id"]
    assert decision.run_dir == Path(first["checkpoint_dir"])
    assert decision.checkpoint == Path(first["checkpoint_dir"]) / checkpoint_name(200)
    assert decision.parent is None and decision.problems == ()


def test_an_older_checkpoint_is_a_branch_of_its_run(tmp_path):
    first = run(checkpoint_dir=tmp_path, steps=200, checkpoint_stride=100)
    older = Path(first["checkpoint_dir"]) / checkpoint_name(100)
    decision = resolve(request(checkpoint_path=older), terra())
    assert decision.mode is Mode.BRANCH
    assert decision.parent == (first["run_id"], 100)
    assert decision.root == tmp_path  # beside its parent, without --checkpoint-dir
    assert decision.checkpoint == older and decision.run_id is None


def test_the_newest_checkpoint_by_path_continues_in_place(tmp_path):
    first = run(checkpoint_dir=tmp_path, steps=200, checkpoint_stride=100)
    newest = Path(first["checkpoint_dir"]) / checkpoint_name(200)
    decision = resolve(request(checkpoint_path=newest), terra())
    assert decision.mode is Mode.IN_PLACE and decision.run_id == first["run_id"]


def test_another_scenario_is_a_branch(tmp_path):
    run(checkpoint_dir=tmp_path, steps=100)
    hot = tmp_path / "tiny-hot.toml"
    hot.write_text('[topology]\nresolution = 8\n[config]\n"thermal.core_cooling" = 5.0e-4\n')
    decision = resolve(request(checkpoint_dir=tmp_path, resume=True, scenario=str(hot)), terra())
    assert decision.mode is Mode.BRANCH
    assert decision.program.scenario.name == "tiny-hot"


def test_a_checkpoint_without_its_manifest_is_a_branch_where_the_user_says(tmp_path):
    """A loose file has no run directory to branch beside (its grandparent may be ``/``):
    the branch goes where --checkpoint-dir says, and without one the resume is refused."""
    first = run(checkpoint_dir=tmp_path / "a", steps=100)
    loose = tmp_path / "loose"
    loose.mkdir()
    (Path(first["checkpoint_dir"]) / checkpoint_name(100)).rename(loose / checkpoint_name(100))
    with pytest.raises(ResumeMismatchError, match="--checkpoint-dir"):
        resolve(request(checkpoint_path=loose / checkpoint_name(100)), terra())
    req = request(checkpoint_path=loose / checkpoint_name(100), checkpoint_dir=tmp_path / "b")
    decision = resolve(req, terra())
    assert decision.mode is Mode.BRANCH and decision.root == tmp_path / "b"


def test_a_forced_resume_under_a_changed_world_is_a_branch(tmp_path, terra_dir):
    first = run(checkpoint_dir=tmp_path, world=str(terra_dir), steps=50, checkpoint_stride=50)
    toml = terra_dir / "world.toml"
    toml.write_text(toml.read_text().replace('"climate.relax" = 0.05', '"climate.relax" = 0.06'))
    req = request(checkpoint_dir=tmp_path, world=str(terra_dir), resume=True)
    with pytest.raises(ResumeMismatchError, match="--force-resume"):
        resolve(req, load_world(terra_dir))
    req.force_resume = True
    decision = resolve(req, load_world(terra_dir))
    assert decision.mode is Mode.BRANCH
    assert decision.parent == (first["run_id"], 50)
    assert len(decision.problems) == 1 and "IR hash" in decision.problems[0]


def test_another_seed_is_refused(tmp_path):
    run(checkpoint_dir=tmp_path, steps=20, checkpoint_stride=20)
    with pytest.raises(ResumeMismatchError, match="seed is 11"):
        resolve(request(checkpoint_dir=tmp_path, resume=True, seed=12), terra())


def test_resume_with_nothing_to_resume_from(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="no checkpoints of world 'terra'"):
        resolve(request(checkpoint_dir=tmp_path, resume=True), terra())


def test_resume_run_goes_through_the_catalog(tmp_path, catalog_url):
    first = run(
        checkpoint_dir=tmp_path / "ckpt", steps=200, checkpoint_stride=100, catalog=catalog_url
    )
    # no --checkpoint-dir: the catalog says where the run's checkpoints are
    decision = resolve(request(resume_run=first["run_id"], catalog=catalog_url), terra())
    assert decision.mode is Mode.IN_PLACE and decision.run_id == first["run_id"]
    assert decision.checkpoint == (Path(first["checkpoint_dir"]) / checkpoint_name(200)).resolve()


def test_resume_run_of_an_unknown_run(catalog_url):
    with pytest.raises(RunNotFoundError):
        find_checkpoint(
            request(resume_run="20260101_000000_deadbeef", catalog=catalog_url), "terra"
        )


def test_resume_run_without_committed_checkpoints(catalog_url):
    first = run(catalog=catalog_url, steps=5)  # no --checkpoint-dir: nothing to resume
    with pytest.raises(CheckpointNotFoundError, match="no committed checkpoint"):
        find_checkpoint(request(resume_run=first["run_id"], catalog=catalog_url), "terra")


def test_resume_run_whose_file_is_gone(tmp_path, catalog_url):
    first = run(checkpoint_dir=tmp_path / "ckpt", steps=100, catalog=catalog_url)
    (Path(first["checkpoint_dir"]) / checkpoint_name(100)).unlink()
    with pytest.raises(CheckpointNotFoundError, match="missing on disk.*verify --repair"):
        find_checkpoint(request(resume_run=first["run_id"], catalog=catalog_url), "terra")


def test_resolving_writes_nothing(tmp_path, catalog_url):
    first = run(
        checkpoint_dir=tmp_path / "ckpt", steps=200, checkpoint_stride=100, catalog=catalog_url
    )
    before = tree(tmp_path / "ckpt")
    older = Path(first["checkpoint_dir"]) / checkpoint_name(100)
    for req in (
        request(checkpoint_dir=tmp_path / "ckpt", resume=True),
        request(checkpoint_path=older),
        request(resume_run=first["run_id"], catalog=catalog_url),
        request(checkpoint_dir=tmp_path / "new"),
    ):
        resolve(req, terra())
    assert tree(tmp_path / "ckpt") == before
    assert not (tmp_path / "new").exists()
