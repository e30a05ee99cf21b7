"""Lens run dirs: loading only the chunks a query needs, merging and deduplicating."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from continuum.errors import LensError
from continuum.lens import ChunkFile, LensStore, resolve_run_dir, write_chunk

from .helpers import STEPS, STRIDE


def test_query_at_a_captured_tick_opens_one_chunk(lens_run, expected, opened):
    with LensStore(lens_run) as store:
        got = store.query("atmosphere.temperature", [0.2, 1.0, 0.1], tick=21)
    assert opened == ["lens_snapshot_0000000020-0000000030.lens"]
    assert got.value == expected.query("atmosphere.temperature", [0.2, 1.0, 0.1], tick=21).value
    assert (got.rule, got.ticks, got.weight) == ("containing", (21, 21), 0.0)


def test_query_between_chunks_opens_the_two_that_bracket(lens_run, expected, opened):
    with LensStore(lens_run) as store:
        got = store.query("surface.elevation", [1, 0, 0], tick=19, rule="nearest")
    assert sorted(opened) == [
        "lens_snapshot_0000000010-0000000020.lens",
        "lens_snapshot_0000000020-0000000030.lens",
    ]
    assert got.ticks == (18, 21)
    assert (
        got.value == expected.query("surface.elevation", [1, 0, 0], tick=19, rule="nearest").value
    )


def test_query_by_time_and_vectors(lens_run, expected):
    with LensStore(lens_run) as store:
        by_time = store.query("plates.velocity", [0, 0, 1], 2.45e7).value
        by_tick = store.query("plates.velocity", [0, 0, 1], tick=24.5).value
    want = expected.query("plates.velocity", [0, 0, 1], time=2.45e7).value
    np.testing.assert_array_equal(by_time, want)
    np.testing.assert_array_equal(by_tick, want)


def test_history_reads_one_tile_per_chunk_and_matches_memory(lens_run, expected):
    for field in ("atmosphere.temperature", "plates.velocity"):
        with LensStore(lens_run) as store:
            got = store.history(field, [0.3, -0.2, 0.9], start=4, stop=33)
        want = expected.history(field, [0.3, -0.2, 0.9], start=4, stop=33)
        np.testing.assert_array_equal(got.ticks, want.ticks)
        np.testing.assert_array_equal(got.sim_times, want.sim_times)
        assert got.values.tobytes() == want.values.tobytes()
        assert got.rule == want.rule


def test_at_returns_a_whole_frame(lens_run, expected):
    with LensStore(lens_run) as store:
        recon = store.at("surface.elevation", 30)
    assert recon.values.tobytes() == expected.at("surface.elevation", 30).values.tobytes()
    assert recon.positions.shape == (384, 3)


def test_errors_name_what_exists(lens_run):
    with LensStore(lens_run) as store:
        with pytest.raises(LensError, match="captured fields: atmosphere.temperature, plates"):
            store.query("nope", [1, 0, 0], tick=3)
        with pytest.raises(LensError, match=r"tick 400 is outside .* ticks 0..39"):
            store.query("surface.elevation", [1, 0, 0], tick=400)
        with pytest.raises(LensError, match="nearest captured: 3, 6"):
            store.at("surface.elevation", 4)


def test_duplicate_ticks_resolve_to_the_first_chunk(copy_run, expected):
    path = copy_run()
    with ChunkFile(path / "lens_snapshot_0000000010-0000000020.lens") as chunk:
        data, identity = chunk.read_all(), chunk.header.identity
    for series in data.fields.values():
        series.values = series.values + 1000.0
    write_chunk(
        path / "lens_snapshot_0000000012-0000000019.lens", data, identity, tick_range=(12, 19)
    )
    with LensStore(path) as store:
        np.testing.assert_array_equal(
            store.field_ticks("surface.elevation"), np.arange(0, STEPS + 1, STRIDE)
        )
        value = store.query("surface.elevation", [1, 0, 0], tick=15).value
        history = store.history("surface.elevation", [1, 0, 0])
        loaded = store.load(["surface.elevation"])
    assert value == expected.query("surface.elevation", [1, 0, 0], tick=15).value
    assert len(history.ticks) == len(set(history.ticks.tolist()))
    np.testing.assert_array_equal(
        loaded.at("surface.elevation", 15).values, expected.at("surface.elevation", 15).values
    )


def test_chunks_missing_from_the_manifest_are_still_found(copy_run):
    path = copy_run()
    manifest = json.loads((path / "manifest.json").read_text())
    lost = {"name": "lens_snapshot_9-9.lens", "bytes": 1, "tick_range": [9, 9]}
    manifest["chunks"] = manifest["chunks"][:1] + [lost]
    (path / "manifest.json").write_text(json.dumps(manifest))
    with LensStore(path) as store:
        assert store.summary()["frames"] == len(range(0, STEPS + 1, STRIDE))
        assert store.summary()["missing_chunks"] == ["lens_snapshot_9-9.lens"]
    (path / "manifest.json").unlink()
    with LensStore(path) as store:
        assert store.identity.world == "terra"
        assert len(store.field_ticks("surface.elevation")) == 14


def test_a_corrupt_chunk_is_a_clean_error(copy_run):
    path = copy_run()
    chunk = path / "lens_snapshot_0000000020-0000000030.lens"
    blob = bytearray(chunk.read_bytes())
    blob[-100] ^= 1
    chunk.write_bytes(bytes(blob))
    with LensStore(path) as store, pytest.raises(LensError, match="corrupt"):
        store.load()


def test_resolve_run_dir(lens_run, tmp_path):
    assert resolve_run_dir(lens_run) == lens_run
    assert resolve_run_dir(lens_run.parent) == lens_run  # the root of a single run
    assert resolve_run_dir(lens_run.parent, lens_run.name) == lens_run
    root = tmp_path / "root"
    for name in ("run-a", "run-b"):
        shutil.copytree(lens_run, root / name)
    with pytest.raises(LensError, match=r"holds 2 lens runs; pass --run ID \(run-a, run-b\)"):
        resolve_run_dir(root)
    with pytest.raises(LensError, match="no lens run 'run-c'"):
        resolve_run_dir(root, "run-c")
    with pytest.raises(LensError, match="does not exist"):
        resolve_run_dir(tmp_path / "nowhere")
