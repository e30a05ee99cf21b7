"""Capture on `continuum run`: the observer boundary, chunk windows, resume, drops."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from continuum.errors import LensError
from continuum.lens import CaptureConfig, ChunkData, FieldLens, FieldSeries, LensStore, write_chunk
from continuum.runtime import Simulation

from .helpers import assert_same_frames, chunk_names, reference, run, run_dir


def test_lens_does_not_change_the_run(tmp_path):
    """Observer boundary: all fields at stride 1 on, or off: the same final state."""
    off = run(steps=120)
    on = run(steps=120, lens_dir=tmp_path, lens_stride=1)
    # frames the writer dropped under load (by design, rather than stall) are still ticks
    assert on["lens_frames"] + on["lens_dropped"] == 121 and on["lens_frames"] > 0
    assert on["state_hash"] == off["state_hash"]


def test_fields_are_computed_only_on_captured_ticks(tmp_path, monkeypatch):
    seen = []
    real = Simulation.observe
    monkeypatch.setattr(
        Simulation,
        "observe",
        lambda self, s, names=None: seen.append(s.tick) or real(self, s, names),
    )
    run(steps=20, lens_dir=tmp_path, lens_stride=4, lens_fields="surface.elevation")
    assert seen == [0, 4, 8, 12, 16, 20]


def test_chunk_boundaries_inside_a_stride(tmp_path):
    summary = run(steps=25, lens_dir=tmp_path, lens_stride=3, lens_chunk_size=10)
    path = run_dir(summary)
    assert chunk_names(path) == [
        "lens_snapshot_0000000000-0000000010.lens",
        "lens_snapshot_0000000010-0000000020.lens",
        "lens_snapshot_0000000020-0000000030.lens",  # named by its window, not its frames
    ]
    manifest = json.loads((path / "manifest.json").read_text())
    assert [c["frames"] for c in manifest["chunks"]] == [4, 3, 2]  # 0 3 6 9 | 12 15 18 | 21 24
    assert [c["tick_range"] for c in manifest["chunks"]] == [[0, 10], [10, 20], [20, 26]]
    with LensStore(path) as store:
        assert_same_frames(store.load(), reference(25, stride=3))


def test_resume_continues_without_gaps_or_duplicates(tmp_path):
    lens = {"lens_dir": tmp_path / "lens", "lens_stride": 3, "lens_chunk_size": 10}
    first = run(steps=25, checkpoint_dir=tmp_path / "ckpt", **lens)
    second = run(steps=12, checkpoint_dir=tmp_path / "ckpt", resume=True, seed=None, **lens)
    assert second["run_id"] == first["run_id"] and second["tick"] == 37
    path = run_dir(second)
    assert chunk_names(path) == [  # one file per window: the second segment rewrote 20-30
        "lens_snapshot_0000000000-0000000010.lens",
        "lens_snapshot_0000000010-0000000020.lens",
        "lens_snapshot_0000000020-0000000030.lens",
        "lens_snapshot_0000000030-0000000040.lens",
    ]
    manifest = json.loads((path / "manifest.json").read_text())
    assert [c["tick_range"] for c in manifest["chunks"]][-2:] == [[20, 30], [30, 38]]
    assert manifest["gaps"] == []
    with LensStore(path) as store:
        np.testing.assert_array_equal(store.field_ticks("surface.elevation"), np.arange(0, 37, 3))
        assert_same_frames(store.load(), reference(37, stride=3))
    segments = json.loads((path / "manifest.json").read_text())["segments"]
    assert [(s["capture_from"], s["end_tick"]) for s in segments] == [(0, 25), (26, 37)]


def test_lens_ahead_of_the_checkpoint_is_not_captured_twice(tmp_path):
    """Chunks sealed after the newest surviving checkpoint: resume skips those ticks."""
    lens = {"lens_dir": tmp_path / "lens", "lens_stride": 2, "lens_chunk_size": 10}
    first = run(steps=25, checkpoint_dir=tmp_path / "ckpt", checkpoint_stride=10, **lens)
    ckpt = Path(first["checkpoint_dir"])
    (ckpt / "checkpoint_0000000025.ckpt").unlink()
    (ckpt / "latest").unlink()
    second = run(steps=10, checkpoint_dir=tmp_path / "ckpt", resume=True, **lens)
    assert second["run_id"] == first["run_id"] and second["tick"] == 30
    with LensStore(run_dir(second)) as store:
        assert_same_frames(store.load(), reference(30, stride=2))


def test_lost_frames_are_recorded_as_a_gap(tmp_path, caplog):
    lens = {"lens_dir": tmp_path / "lens", "lens_stride": 1, "lens_chunk_size": 10}
    first = run(steps=25, checkpoint_dir=tmp_path / "ckpt", **lens)
    (run_dir(first) / "lens_snapshot_0000000020-0000000030.lens").unlink()  # as if lost
    second = run(steps=5, checkpoint_dir=tmp_path / "ckpt", resume=True, **lens)
    manifest = json.loads((run_dir(second) / "manifest.json").read_text())
    assert manifest["gaps"] == [[20, 25, "lost"]]
    assert "were lost" in caplog.text
    with LensStore(run_dir(second)) as store:
        ticks = store.field_ticks("surface.elevation")
    np.testing.assert_array_equal(ticks, [*range(20), *range(25, 31)])


def test_a_branch_gets_its_own_lens_dir(tmp_path):
    """Resuming from an older checkpoint branches: a new run id, a new lens dir from there."""
    lens = {"lens_dir": tmp_path / "lens", "lens_chunk_size": 10, "lens_stride": 5}
    first = run(steps=20, checkpoint_dir=tmp_path / "ckpt", checkpoint_stride=10, **lens)
    older = Path(first["checkpoint_dir"]) / "checkpoint_0000000010.ckpt"
    branch = run(steps=10, checkpoint_path=older, seed=None, **lens)
    assert branch["parent_run"] == first["run_id"] and branch["run_id"] != first["run_id"]
    with LensStore(run_dir(branch)) as store:
        np.testing.assert_array_equal(store.field_ticks("surface.elevation"), [10, 15, 20])
    with LensStore(run_dir(first)) as store:
        np.testing.assert_array_equal(store.field_ticks("surface.elevation"), [0, 5, 10, 15, 20])


def test_full_file_holds_every_frame(tmp_path):
    summary = run(steps=14, lens_dir=tmp_path, lens_stride=2, lens_chunk_size=5, lens_full=True)
    full = run_dir(summary) / "lens_snapshot_full.lens"
    assert_same_frames(FieldLens.load_snapshot(full), reference(14, stride=2))
    manifest = json.loads((run_dir(summary) / "manifest.json").read_text())
    assert manifest["full"]["frames"] == 8


def test_unknown_fields_fail_before_the_run_starts(tmp_path):
    with pytest.raises(LensError, match=r"unknown lens field\(s\) nope; .* atmosphere.temperature"):
        run(steps=5, lens_dir=tmp_path, lens_fields="surface.elevation,nope")
    assert not any(tmp_path.iterdir())


def test_bad_capture_config_is_refused(tmp_path):
    with pytest.raises(LensError, match=">= 1"):
        CaptureConfig(tmp_path, stride=0)


# --- issue 13: windows sized to the memory budget ----------------------------------------


def test_the_default_window_shrinks_to_fit_the_memory_budget(tmp_path):
    """tiny frames are 6.8 KB: 1 MiB holds three windows of 50 ticks, not of 100."""
    summary = run(steps=120, lens_dir=tmp_path, lens_memory=1 << 20)
    assert summary["lens_chunk_size"] == 50 and summary["lens_missing_ticks"] == 0
    assert chunk_names(run_dir(summary)) == [
        "lens_snapshot_0000000000-0000000050.lens",
        "lens_snapshot_0000000050-0000000100.lens",
        "lens_snapshot_0000000100-0000000150.lens",
    ]


def test_a_window_the_budget_cannot_hold_is_refused_before_the_run(tmp_path):
    with pytest.raises(LensError, match=r"--lens-chunk-size 1000: .* pass --lens-chunk-size 50"):
        run(steps=5, lens_dir=tmp_path / "lens", lens_chunk_size=1000, lens_memory=1 << 20)
    assert not (tmp_path / "lens").exists() or not any((tmp_path / "lens").iterdir())


def test_a_resume_keeps_the_runs_windows_and_checks_them_against_its_budget(tmp_path):
    lens = {"lens_dir": tmp_path / "lens", "checkpoint_dir": tmp_path / "ckpt"}
    first = run(steps=20, lens_chunk_size=500, **lens)
    with pytest.raises(LensError, match="this run's lens windows are 500 ticks"):
        run(steps=5, resume=True, seed=None, lens_memory=1 << 20, **lens)
    with pytest.raises(LensError, match="resume with --lens-chunk-size 500"):
        run(steps=5, resume=True, seed=None, lens_chunk_size=100, **lens)
    second = run(steps=5, resume=True, seed=None, **lens)  # no flag: the run's own windows
    assert second["run_id"] == first["run_id"] and second["lens_chunk_size"] == 500
    assert chunk_names(run_dir(second)) == ["lens_snapshot_0000000000-0000000500.lens"]


def test_a_resume_lists_a_chunk_a_killed_segment_committed_but_did_not_list(tmp_path):
    """As if SIGKILLed between a window file's rename and its manifest entry, in drop
    mode with ticks 13 and 14 dropped: the next segment lists the file and its gap."""
    lens = {"lens_dir": tmp_path / "lens", "lens_chunk_size": 10}
    first = run(steps=25, checkpoint_dir=tmp_path / "ckpt", **lens)
    path = run_dir(first)
    window = path / "lens_snapshot_0000000010-0000000020.lens"
    with LensStore(path) as store:
        kept = [t for t in range(10, 20) if t not in (13, 14)]
        data = FieldLens.from_chunks(
            [store.load(start=10, stop=19).to_chunk()], store.identity
        ).to_chunk()
        identity = store.identity
    keep = np.isin(data.ticks, kept)
    rows = {n: np.flatnonzero(keep[s.rows]) for n, s in data.fields.items()}

    def cut_series(s: FieldSeries, kept_rows: np.ndarray) -> FieldSeries:
        per_frame = s.positions is not None and s.positions.ndim == 3  # point samples
        positions = s.positions[kept_rows] if per_frame else s.positions
        return FieldSeries(s.config, np.arange(len(kept_rows)), positions, s.values[kept_rows])

    cut = ChunkData(
        data.ticks[keep],
        data.sim_times[keep],
        {n: cut_series(s, rows[n]) for n, s in data.fields.items()},
        {n: v[keep] for n, v in data.signals.items()},
    )
    write_chunk(window, cut, identity, tick_range=(10, 20))
    manifest_path = path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["chunks"] = [c for c in manifest["chunks"] if c["name"] != window.name]
    manifest_path.write_text(json.dumps(manifest))

    second = run(steps=5, checkpoint_dir=tmp_path / "ckpt", resume=True, seed=None, **lens)
    manifest = json.loads(manifest_path.read_text())
    assert window.name in [c["name"] for c in manifest["chunks"]]
    assert manifest["gaps"] == [[13, 15, "dropped"]]
    assert second["lens_missing_ticks"] == 2
