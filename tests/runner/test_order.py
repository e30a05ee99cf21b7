"""The order of a run: nothing is written to disk before the catalog has accepted it."""

from __future__ import annotations

from pathlib import Path

import pytest

from continuum.catalog import Catalog
from continuum.checkpoint import Manifest
from continuum.errors import CatalogError, CatalogUnavailableError, CheckpointError, LensError
from continuum.runner import prepare
from continuum.runner.recorder import RunRecorder

from .conftest import UNREACHABLE_PG, request, run, tree

UNREACHABLE = [
    pytest.param(UNREACHABLE_PG, id="postgresql-closed-port"),
    pytest.param("sqlite:////nonexistent-continuum-dir/sub/catalog.db", id="sqlite-missing-dir"),
]


def outputs(tmp_path: Path) -> dict[str, Path]:
    return {
        "checkpoint_dir": tmp_path / "ckpt",
        "lens_dir": tmp_path / "lens",
        "lens_export_dir": tmp_path / "export",
    }


@pytest.mark.parametrize("url", UNREACHABLE)
def test_unreachable_catalog_leaves_nothing_behind(tmp_path, url):
    with pytest.raises(CatalogUnavailableError) as info:
        run(steps=10, catalog=url, **outputs(tmp_path))
    message = str(info.value)
    assert "\n" not in message and message  # the CLI prints it as one `error:` line
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no run dir, no manifest
    assert not Path("/nonexistent-continuum-dir").exists()


@pytest.mark.parametrize("url", UNREACHABLE)
def test_unreachable_catalog_leaves_a_resumed_run_untouched(tmp_path, url):
    first = run(steps=100, checkpoint_stride=50, **outputs(tmp_path))
    before = tree(tmp_path)
    with pytest.raises(CatalogError):
        run(steps=10, resume=True, seed=None, catalog=url, **outputs(tmp_path))
    with pytest.raises(CatalogError):  # a branch too: its new directory is never made
        older = Path(first["checkpoint_dir"]) / "checkpoint_0000000050.ckpt"
        run(steps=10, checkpoint_path=older, catalog=url, **outputs(tmp_path))
    assert tree(tmp_path) == before  # no new segment, no new manifest, no lens frames


def test_resume_run_with_an_unreachable_catalog_writes_nothing(tmp_path):
    with pytest.raises(CatalogUnavailableError):
        run(resume_run="20260101_000000_deadbeef", catalog=UNREACHABLE_PG, **outputs(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_no_catalog_runs_as_before(tmp_path):
    summary = run(steps=10, catalog=UNREACHABLE_PG, no_catalog=True, **outputs(tmp_path))
    assert summary["tick"] == 10
    assert (Path(summary["checkpoint_dir"]) / "manifest.json").is_file()
    assert (Path(summary["lens_dir"]) / "manifest.json").is_file()


def test_the_catalog_accepts_the_run_before_any_directory_exists(tmp_path, monkeypatch):
    seen: list[dict[str, bool]] = []
    real_open = RunRecorder.open

    def spying_open(p, req):
        seen.append({name: path.exists() for name, path in outputs(tmp_path).items()})
        return real_open(p, req)

    monkeypatch.setattr(RunRecorder, "open", staticmethod(spying_open))
    summary = run(steps=10, **outputs(tmp_path))
    assert seen == [{"checkpoint_dir": False, "lens_dir": False, "lens_export_dir": False}]
    assert Path(summary["checkpoint_dir"]).is_dir() and Path(summary["lens_dir"]).is_dir()


def test_bad_lens_fields_fail_before_the_catalog_is_asked(tmp_path, monkeypatch):
    def never(p, req):
        raise AssertionError("the catalog was asked")

    monkeypatch.setattr(RunRecorder, "open", staticmethod(never))
    with pytest.raises(LensError, match="unknown lens field"):
        run(steps=5, lens_fields="nope", **outputs(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_prepare_writes_nothing(tmp_path):
    prepared = prepare(request(checkpoint_dir=tmp_path / "ckpt"))
    assert prepared.run_dir == tmp_path / "ckpt" / prepared.run_id
    assert prepared.is_new and not (tmp_path / "ckpt").exists()


def test_a_directory_that_cannot_be_made_is_refused_before_the_catalog(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setattr(RunRecorder, "open", staticmethod(lambda p, req: pytest.fail("asked")))
    with pytest.raises(CheckpointError, match="cannot create checkpoint directory"):
        run(steps=5, checkpoint_dir=blocker / "sub")


def test_a_failure_opening_the_outputs_marks_the_run_failed(tmp_path, catalog_url, monkeypatch):
    def broken(run_dir, data):
        raise OSError("disk on fire")

    monkeypatch.setattr(Manifest, "create", staticmethod(broken))
    with pytest.raises(CheckpointError, match="cannot write checkpoint directory .*: disk on fire"):
        run(steps=5, catalog=catalog_url, **outputs(tmp_path))
    with Catalog(catalog_url) as catalog:
        (record,) = catalog.search.list().runs
    assert record.status == "failed"
    assert not (tmp_path / "lens").exists()  # the lens had not started
    assert list((tmp_path / "ckpt").iterdir()) == []  # the new run's directory is taken back
