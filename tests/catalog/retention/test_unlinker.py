"""A large prune's unlinks in a helper process: errors reported, fallbacks in-process."""

from __future__ import annotations

import logging
import shutil
import sys

import pytest

from continuum.catalog import RetentionRules
from continuum.catalog.retention import prune
from continuum.catalog.retention._claims import Group
from continuum.catalog.retention._unlinker import Unlinker
from continuum.catalog.retention.rules import Item
from tests.conftest import assert_agree, files, make_run, name, states


@pytest.fixture
def small_batches(monkeypatch):
    """Batches of 7 rows, so a 40-checkpoint prune goes through the helper process."""
    monkeypatch.setattr(prune, "BATCH", 7)


def test_helper_process_deletes_and_reports_what_it_could_not(catalog, tmp_path, small_batches):
    run, d = make_run(catalog, tmp_path, range(40))
    (d / name(3)).unlink()
    (d / name(3)).mkdir()  # a directory where the file was: unlink fails, even as root
    (d / name(3) / "x").write_text("")
    catalog.policies.set("run", run.run_id, RetentionRules(keep_last=5))

    report = catalog.retention.prune([run.run_id])

    assert report.deleted == 34
    assert len(report.errors) == 1 and "checkpoint_0000000003.ckpt" in report.errors[0]
    assert "directory" in report.errors[0].lower()
    assert states(catalog, run.run_id) == {
        t: "committed" if t == 3 or t >= 35 else "pruned" for t in range(40)
    }
    assert files(d) == {3, *range(35, 40)}
    assert_agree(catalog, run.run_id, d)


def test_prune_unlinks_in_process_when_no_helper_starts(
    catalog, tmp_path, small_batches, monkeypatch, caplog
):
    run, d = make_run(catalog, tmp_path, range(40))
    catalog.policies.set("run", run.run_id, RetentionRules(keep_last=5))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    with caplog.at_level(logging.WARNING, logger="continuum.catalog"):
        report = catalog.retention.prune([run.run_id])
    assert (report.deleted, report.errors) == (35, [])
    assert files(d) == set(range(35, 40))
    assert "unlinking in this process" in caplog.text


def test_a_killed_helper_batch_is_unlinked_here(tmp_path, caplog):
    (tmp_path / "r").mkdir()
    paths = [tmp_path / "r" / name(i) for i in range(20)]
    for p in paths:
        p.write_bytes(b"x")
    group = Group(
        "r", f"{tmp_path}/r/", [Item(str(i), i, None, 1, path=p.name) for i, p in enumerate(paths)]
    )
    with Unlinker() as unlinker:
        proc = unlinker._proc
        assert proc is not None
        proc.kill()
        proc.wait()
        with caplog.at_level(logging.WARNING, logger="continuum.catalog"):
            unlinker.send([group])
            done, failed = unlinker.receive()
    assert failed == [] and [len(g.items) for g in done] == [20]
    assert not any(p.exists() for p in paths)
    assert "unlinking in this process" in caplog.text


def test_one_large_batch_unlinked_on_threads_stays_in_the_run_directories(tmp_path):
    """A batch large enough for every helper thread, over several run directories: each
    file deleted once and only in its own directory; a run directory replaced by a link
    is refused whole (its target untouched), a file that cannot go is reported alone."""
    from continuum.catalog.retention import _unlink_worker

    per_run = _unlink_worker.THREADS * _unlink_worker.PER_THREAD // 2
    outside = tmp_path / "outside"
    outside.mkdir()
    groups, dirs = [], []
    for r in range(3):
        d = tmp_path / "root" / f"r{r}"
        d.mkdir(parents=True)
        for t in range(per_run):
            (d / name(t)).write_bytes(b"x")
        items = [Item(str(t), t, None, 1, path=name(t)) for t in range(per_run)]
        groups.append(Group(f"r{r}", f"{d}/", items))
        dirs.append(d)
    for t in range(per_run):  # r1 swapped for a link to a directory of the same files
        (outside / name(t)).write_bytes(b"x")
    shutil.rmtree(dirs[1])
    dirs[1].symlink_to(outside, target_is_directory=True)
    (dirs[2] / name(7)).unlink()
    (dirs[2] / name(7)).mkdir()  # not unlinkable, even as root
    (dirs[2] / name(7) / "x").write_text("")

    with Unlinker() as unlinker:
        unlinker.send(groups)
        done, failed = unlinker.receive()

    assert files(dirs[0]) == set() and files(dirs[2]) == {7}
    assert files(outside) == set(range(per_run))  # the link was not followed
    assert [len(g.items) for g in done] == [per_run, 0, per_run - 1]
    reasons = {why for _, why in failed}
    assert len(failed) == per_run + 1 and len(reasons) == 2
    assert any("symbolic link" in why for why in reasons)
