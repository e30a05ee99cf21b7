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
from hypothesis import given
from hypothesis import strategies as st

from continuum import layout
from continuum.errors import LensError
from continuum.lens.manifest import LensManifest
from tests.blobs.manifest_props import (
    accepted_as_written,
    check_special_files,
    crafted_values,
    outcome,
)
from tests.blobs.test_hostile import JSON_VALUES, _leaves, _set
from tests.cli.conftest import assert_one_line_error, invoke


def read(path: Path) -> dict:
    data = LensManifest.read(path.parent)
    assert data is not None
    return data


@pytest.fixture(scope="module")
def good(lens_run) -> bytes:
    return layout.manifest_path(lens_run).read_bytes()


def test_the_real_manifest_reads(good, tmp_path):
    assert outcome(read, LensError, layout.manifest_path(tmp_path), good) == json.loads(good)


@given(data=st.binary(max_size=1024))
def test_arbitrary_bytes(tmp_path_factory, data):
    path = layout.manifest_path(tmp_path_factory.mktemp("m"))
    assert accepted_as_written(outcome(read, LensError, path, data), data or b"null")


@given(cut=st.integers(0, 4096))
def test_truncations(good, tmp_path_factory, cut):
    path = layout.manifest_path(tmp_path_factory.mktemp("m"))
    data = good[: cut % len(good)]
    result = outcome(read, LensError, path, data)
    assert result is None or data.strip() == good.strip()


@given(data=st.data())
def test_any_field_rewritten(good, tmp_path_factory, data):
    doc = json.loads(good)
    field = data.draw(st.sampled_from([p for p in _leaves(doc) if p]))
    _set(doc, field, data.draw(JSON_VALUES))
    crafted = json.dumps(doc).encode()
    path = layout.manifest_path(tmp_path_factory.mktemp("m"))
    result = outcome(read, LensError, path, crafted)
    assert accepted_as_written(result, crafted)
    if result is not None:  # what is believed satisfies the grammar and the bounds
        assert result["run_id"] == "" or re.match(layout.RUN_ID_RE, result["run_id"])
        assert all(
            type(result.get(k, 0)) is int and result.get(k, 0) >= 0
            for k in ("dropped_frames", "failed_chunks")
        )


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
