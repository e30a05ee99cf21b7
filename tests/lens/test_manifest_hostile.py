"""Hostile lens manifests: one line naming the file and the field, or what the file says.

Issue 12, class 7 (and 6: a malformed manifest no longer kills the lens thread on
resume; ``LensManifest.open`` replaces it with a warning). Properties over arbitrary
bytes, truncations and fields rewritten with any JSON value; crafted cases (NaN, 1e400,
-1 and 1.5 where a count belongs, 100,000-deep nesting, a path as run id); a directory,
a FIFO, /dev/zero and a file over the ceiling; and the CLI (``lens load``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from continuum import layout
from continuum.errors import LensError
from continuum.lens.manifest import LensManifest
from tests.blobs.manifest_props import check_special_files, crafted_values, property_tests
from tests.cli.conftest import assert_one_line_error, invoke


def read(path: Path) -> dict:
    data = LensManifest.read(path.parent)
    assert data is not None
    return data


@pytest.fixture(scope="module")
def good(lens_run) -> bytes:
    return layout.manifest_path(lens_run).read_bytes()


def believed(doc: dict) -> bool:
    """What is believed satisfies the grammar and the bounds."""
    run_id = doc["run_id"]
    counts = [doc.get(k, 0) for k in ("dropped_frames", "failed_chunks")]
    return (run_id == "" or re.match(layout.RUN_ID_RE, run_id) is not None) and all(
        type(n) is int and n >= 0 for n in counts
    )


(
    test_the_real_manifest_reads,
    test_arbitrary_bytes,
    test_truncations,
    test_any_field_rewritten,
) = property_tests(read, LensError, believed)


@pytest.mark.parametrize(
    "case",
    sorted(crafted_values({"format": "continuum.lens.manifest", "chunks": []}, "dropped_frames")),
)
def test_crafted_manifest_is_one_line(case, tmp_path):
    data, fragment = crafted_values(
        {"format": "continuum.lens.manifest", "chunks": []}, "dropped_frames"
    )[case]
    path = layout.manifest_path(tmp_path)
    path.write_bytes(data)
    with pytest.raises(LensError) as info:
        LensManifest.read(tmp_path)
    message = str(info.value)
    assert str(path) in message and fragment in message and "\n" not in message
    assert "s3cr3t" not in message and "\x1b" not in message


def test_directory_fifo_dev_zero_and_huge_are_refused_by_stat(tmp_path):
    check_special_files(read, LensError, layout.manifest_path(tmp_path))


def test_lens_load_of_a_run_with_a_malformed_manifest_is_one_line(copy_run):
    run_dir = copy_run()
    path = layout.manifest_path(run_dir)
    doc = json.loads(path.read_text())
    doc["dropped_frames"] = -3
    path.write_text(json.dumps(doc))
    assert_one_line_error(invoke("lens", "load", run_dir), str(path), "$.dropped_frames")
