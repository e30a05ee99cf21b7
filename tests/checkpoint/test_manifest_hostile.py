"""Hostile run manifests (``manifest.json`` of a checkpoint run directory).

Issue 12, class 7: read by ``Manifest.load`` (resume in place, ``catalog scan``) and by
``--resume`` discovery (``newest_run_dir``, which skips an unreadable one with a
warning). Properties over arbitrary bytes, truncations and fields rewritten with any JSON
value; crafted NaN / 1e400 / -1 / 1.5 counts, 100,000-deep nesting, a path as run id or
as a segment's checkpoint name; a directory, a FIFO, /dev/zero, a file over the ceiling.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from continuum import layout
from continuum.checkpoint import Manifest, newest_run_dir
from continuum.errors import CheckpointError
from tests.blobs.manifest_props import check_special_files, crafted_values, property_tests
from tests.cli.conftest import assert_one_line_error, catalog_url, invoke

from .conftest import run


def read(path: Path) -> dict:
    return Manifest.load(path.parent).data


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    summary = run(tmp_path_factory.mktemp("manifest"), steps=5, checkpoint_stride=5)
    return Path(summary["checkpoint_dir"])


@pytest.fixture(scope="module")
def good(run_dir) -> bytes:
    return layout.manifest_path(run_dir).read_bytes()


def believed(doc: dict) -> bool:
    """Identifiers that may become paths are in layout's grammar."""
    resumed = [s.get("resumed_from") for s in doc.get("segments") or []]
    return re.match(layout.RUN_ID_RE, doc["run_id"]) is not None and all(
        r is None or layout.checkpoint_tick(r) is not None for r in resumed
    )


(
    test_the_real_manifest_reads,
    test_arbitrary_bytes,
    test_truncations,
    test_any_field_rewritten,
) = property_tests(read, CheckpointError, believed)


GOOD_MINIMAL = {"run_id": "r1", "world": "terra"}


@pytest.mark.parametrize("case", sorted(crafted_values(GOOD_MINIMAL, "dropped_checkpoints")))
def test_crafted_manifest_is_one_line(case, tmp_path):
    data, fragment = crafted_values(GOOD_MINIMAL, "dropped_checkpoints")[case]
    path = layout.manifest_path(tmp_path)
    path.write_bytes(data)
    with pytest.raises(CheckpointError) as info:
        Manifest.load(tmp_path)
    message = str(info.value)
    assert str(path) in message and fragment in message and "\n" not in message
    assert "s3cr3t" not in message and "\x1b" not in message


def test_a_segment_naming_a_path_is_refused(tmp_path):
    doc = {**GOOD_MINIMAL, "segments": [{"resumed_from": "../../etc/passwd"}]}
    layout.manifest_path(tmp_path).write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match=r"\$\.segments\[0\]\.resumed_from"):
        Manifest.load(tmp_path)


def test_directory_fifo_dev_zero_and_huge_are_refused_by_stat(tmp_path):
    check_special_files(read, CheckpointError, layout.manifest_path(tmp_path))


def test_resume_discovery_skips_a_malformed_manifest_with_a_warning(run_dir, tmp_path, caplog):
    good_copy = Path(shutil.copytree(run_dir, tmp_path / "ckpt" / run_dir.name, symlinks=True))
    bad = Path(shutil.copytree(run_dir, tmp_path / "ckpt" / "bad-run", symlinks=True))
    layout.manifest_path(bad).write_text('{"run_id": "bad-run", "world": "terra", "seed": NaN}')
    assert newest_run_dir(tmp_path / "ckpt", "terra") == good_copy
    assert "not valid JSON" in caplog.text


def test_a_manifest_that_is_dev_zero_or_a_fifo_through_the_cli(run_dir, tmp_path, caplog):
    copy = Path(shutil.copytree(run_dir, tmp_path / "ckpt" / run_dir.name, symlinks=True))
    path = layout.manifest_path(copy)
    path.unlink()
    path.symlink_to("/dev/zero")
    scan = invoke("catalog", "scan", copy, "--catalog", catalog_url(tmp_path))
    assert_one_line_error(scan, str(copy), "not a checkpoint directory")
    path.unlink()
    os.mkfifo(path)  # --resume discovery opens it without blocking, warns and skips it
    resume = invoke("run", "terra", "--resume", "--checkpoint-dir", tmp_path / "ckpt")
    assert resume.exit_code == 1 and isinstance(resume.exception, SystemExit)
    assert resume.stderr.splitlines()[-1].startswith("error: no checkpoints of world 'terra'")
    warning = f"{path}: a FIFO, not a checkpoint manifest file; skipped"
    assert warning in resume.stderr + caplog.text  # the CLI's log handler, or pytest's
