"""A lens run directory's chunk windows and manifest (names themselves: continuum.layout)."""

from __future__ import annotations

import json

import pytest

from continuum import layout
from continuum.errors import LensError
from continuum.lens import LensManifest, read_chunk_header
from continuum.lens.manifest import chunk_entry, is_lens_run_dir, window_of


def test_windows_are_fixed_multiples_of_the_chunk_size():
    assert window_of(0, 10) == (0, 10)
    assert window_of(9, 10) == (0, 10)
    assert window_of(12345, 10000) == (10000, 20000)


def test_a_run_dir_is_one_with_a_manifest_or_chunks(tmp_path):
    assert not is_lens_run_dir(tmp_path / "missing")
    assert not is_lens_run_dir(tmp_path)
    (tmp_path / "a").mkdir()
    layout.lens_chunk_path(tmp_path / "a", 0, 10).write_bytes(b"")
    assert is_lens_run_dir(tmp_path / "a")
    LensManifest.open(tmp_path / "b", {"run_id": "b"})
    assert is_lens_run_dir(tmp_path / "b")


def test_unreadable_manifests_are_lens_errors_and_replaced_on_open(tmp_path, caplog):
    layout.manifest_path(tmp_path).write_text("{not json")
    with pytest.raises(LensError, match="lens manifest is not valid JSON"):
        LensManifest.read(tmp_path)
    layout.manifest_path(tmp_path).write_text(json.dumps({"format": "other"}))
    with pytest.raises(LensError, match=r"malformed lens manifest: .* at `\$\.format`"):
        LensManifest.read(tmp_path)
    manifest = LensManifest.open(tmp_path, {"run_id": "r"})
    assert "starting a new manifest" in caplog.text
    assert LensManifest.read(tmp_path)["run_id"] == "r" and manifest.data["chunks"] == []


def test_chunk_entries_are_what_the_store_indexes(lens_run):
    name = layout.lens_chunk_name(10, 20)
    entry = chunk_entry(read_chunk_header(lens_run / name))
    assert entry["name"] == name and entry["tick_range"] == [10, 20]
    assert (entry["first_tick"], entry["last_tick"], entry["frames"]) == (12, 18, 3)
    listed = LensManifest.read(lens_run)["chunks"]
    assert {k: v for k, v in entry.items()} == next(c for c in listed if c["name"] == name)
