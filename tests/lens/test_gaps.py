"""Lens gaps read back: derived from the files, merged with the manifest's causes, and
never interpolated across without being asked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from continuum import layout
from continuum.errors import LensError
from continuum.lens import LensStore
from continuum.lens.gaps import derive_gaps, manifest_gaps

from .gap_dirs import FIELD, GAPPY, chunk, gappy_run, manifest

P = [1.0, 0.0, 0.0]


def gaps_of(store: LensStore) -> list[tuple]:
    return [(g.start, g.end, g.cause, g.ticks) for g in store.gaps]


def test_gaps_are_derived_from_the_files_and_keep_the_recorded_causes(tmp_path):
    with LensStore(gappy_run(tmp_path)) as store:
        assert gaps_of(store) == GAPPY
        assert [(r.name, r.start, r.end) for r in store.chunks] == [
            ("lens_snapshot_0000000000-0000000010.lens", 0, 10),
            ("lens_snapshot_0000000010-0000000020.lens", 10, 20),
            ("lens_snapshot_0000000020-0000000030.lens", 20, 26),  # named by its window
            ("lens_snapshot_0000000030-0000000040.lens", 30, 40),
        ]
        assert store.superseded == ["lens_snapshot_0000000010-0000000013.lens"]
        summary = store.summary()
    assert summary["missing_ticks"] == 9
    assert summary["frames"] == 10 + 9 + 6 + 8  # the superseded piece's frames not counted
    assert summary["tick_range"] == [0, 40]
    assert summary["unreadable_chunks"] == []


def test_without_a_manifest_every_hole_is_still_a_gap(tmp_path):
    """A SIGKILL can leave the manifest behind the files: the files alone give the holes."""
    run_dir = gappy_run(tmp_path)
    layout.manifest_path(run_dir).unlink()
    with LensStore(run_dir) as store:
        assert gaps_of(store) == [
            (14, 15, "missing", 1),
            (26, 30, "missing", 4),
            (33, 35, "missing", 2),
        ]


def test_a_recorded_gap_never_hides_a_captured_tick(tmp_path):
    """The manifest says [8, 12) was dropped, but the files hold 8, 9 and 10: only 11 is."""
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    entries = [
        chunk(run_dir, [6, 7, 8, 9], (6, 10), name=(0, 10)),
        chunk(run_dir, [10, 12, 13], (10, 14), name=(10, 20)),
    ]
    manifest(run_dir, entries, stride=1, gaps=[[8, 12, "dropped"], [12, 16, "failed"]])
    with LensStore(run_dir) as store:
        assert gaps_of(store) == [(11, 12, "dropped", 1), (14, 16, "failed", 2)]


def test_gaps_count_capture_ticks_only(tmp_path):
    """Stride 3: a gap means the capture ticks (multiples of 3) no file holds."""
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    entries = [
        chunk(run_dir, [0, 3, 9], (0, 10), name=(0, 10)),  # 6 missing
        chunk(run_dir, [21, 24, 27], (20, 30), name=(20, 30)),  # [10, 20) in no file
        chunk(run_dir, [30, 33], (30, 35), name=(30, 40)),  # [30, 35): 30, 33 expected
    ]
    manifest(run_dir, entries, stride=3, gaps=[[5, 8, "dropped"]])
    with LensStore(run_dir) as store:
        assert gaps_of(store) == [(6, 7, "dropped", 1), (12, 19, "missing", 3)]
        with pytest.raises(LensError, match=re.escape("lies between the captured frames 9 and 21")):
            store.query(FIELD, P, tick=10)


def test_query_refuses_to_interpolate_across_a_gap(tmp_path):
    with LensStore(gappy_run(tmp_path)) as store:
        with pytest.raises(LensError) as err:
            store.query(FIELD, P, tick=14)
        assert str(err.value) == (
            "tick 14 falls in a lens gap [14, 15) (frames dropped); the nearest captured "
            "frames are 13 and 15; pass --across-gaps (Python: across_gaps=True) to "
            "interpolate across it"
        )
        with pytest.raises(
            LensError,
            match=r"sim time 275 lies between the captured frames 25 "
            r"and 30, across a lens gap \[26, 30\) \(no chunk file holds them\)",
        ):
            store.query_batch(FIELD, [P], 275.0)
        # exact captured ticks beside a gap, and interpolation elsewhere, are fine
        assert store.query(FIELD, P, tick=13).value == 13.0
        assert store.query(FIELD, P, tick=15).value == 15.0
        assert store.query(FIELD, P, tick=25).value == 25.0
        assert store.query(FIELD, P, 125.0).value == 12.5
        # asked for: blended across the hole, and the answer says which frames
        got = store.query(FIELD, P, tick=14, across_gaps=True)
        assert (got.value, got.ticks, got.weight) == (14.0, (13, 15), 0.5)
        batch = store.query_batch(FIELD, [P, P], 275.0, across_gaps=True)
        np.testing.assert_allclose(batch.values, [27.5, 27.5])
        assert batch.ticks == (25, 30)


def test_a_query_past_the_files_inside_a_recorded_gap_says_so(tmp_path):
    with (
        LensStore(gappy_run(tmp_path)) as store,
        pytest.raises(LensError, match=r"tick 41 is outside .* falls in a lens gap \[40, 42\)"),
    ):
        store.query(FIELD, P, tick=41)


def test_history_refuses_a_window_holding_a_gap(tmp_path):
    with LensStore(gappy_run(tmp_path)) as store:
        with pytest.raises(LensError) as err:
            store.history(FIELD, P, start=0, stop=30)
        assert str(err.value).startswith(
            "the history of 't.temp' over ticks [0, 30] crosses lens gap [14, 15) "
            "(frames dropped) and 1 more (5 capture ticks missing); pass --across-gaps"
        )
        clean = store.history(FIELD, P, start=15, stop=25)
        assert clean.ticks.tolist() == list(range(15, 26)) and clean.gaps == ()
        both = store.history(FIELD, P, start=0, stop=30, across_gaps=True)
    assert both.ticks.tolist() == [t for t in range(0, 26) if t != 14] + [30]
    np.testing.assert_array_equal(both.values, both.ticks.astype(float))
    assert [(g.start, g.end, g.cause) for g in both.gaps] == [
        (14, 15, "dropped"),
        (26, 30, "missing"),
    ]


def test_a_file_whose_range_lies_outside_its_name_is_refused(tmp_path):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    chunk(run_dir, [0, 1, 2], (0, 3), name=(0, 10))
    chunk(run_dir, [12, 13], (12, 14), name=(20, 30))  # renamed into another window
    with LensStore(run_dir) as store:
        assert [r.name for r in store.chunks] == ["lens_snapshot_0000000000-0000000010.lens"]
        assert store.unreadable == [
            "lens_snapshot_0000000020-0000000030.lens: its tick range [12, 14) lies outside "
            "the window [20, 30) its name gives; move the file out of the run directory "
            "(or back to its own name)"
        ]


def test_manifest_gap_entries_old_and_new():
    assert manifest_gaps([[1, 3], [4, 6, "dropped"], [7, 9, "weird"], "x", [5, 2], [True, 3]]) == [
        (1, 3, "lost"),
        (4, 6, "dropped"),
    ]
    assert manifest_gaps(None) == []


def test_derive_gaps_reads_ticks_only_of_short_chunks():
    read: list[int] = []
    ticks = [np.arange(0, 10), np.array([10, 11, 13])]

    def ticks_of(k: int) -> np.ndarray:
        read.append(k)
        return ticks[k]

    gaps = derive_gaps(1, [(0, 10), (10, 14)], [10, 3], ticks_of)
    assert [(g.start, g.end, g.cause) for g in gaps] == [(12, 13, "missing")]
    assert read == [1]


def test_a_huge_recorded_gap_stays_one_range():
    gaps = derive_gaps(2, [(0, 4)], [2], lambda k: np.array([0, 2]), [(4, 2_000_000_001, "lost")])
    assert [(g.start, g.end, g.cause, g.ticks) for g in gaps] == [
        (4, 2_000_000_001, "lost", 999_999_999)
    ]


def test_a_frame_asked_for_inside_a_gap_names_it(tmp_path):
    wanted = "falls in a lens gap [26, 30) (no chunk file holds them); nearest captured: 25, 30"
    with LensStore(gappy_run(tmp_path)) as store, pytest.raises(LensError) as err:
        store.at(FIELD, 27)
    assert wanted in str(err.value)


@pytest.mark.parametrize("seed", range(40))
def test_derived_gaps_agree_with_counting_tick_by_tick(seed):
    """Random files and records against the definition: a capture tick is in a gap iff no
    file holds it and it lies in the files' span or in a recorded gap; its cause is the
    first recorded gap holding it, else missing."""
    rng = np.random.default_rng(seed)
    stride = int(rng.integers(1, 4))
    ranges, held, t = [], [], int(rng.integers(0, 5))
    for _ in range(int(rng.integers(1, 5))):
        t += int(rng.integers(0, 6))  # a hole between files, or none
        end = t + int(rng.integers(1, 12))
        capture = [k for k in range(t, end) if k % stride == 0]
        held.append(
            np.array(
                sorted(
                    rng.choice(capture, size=int(rng.integers(0, len(capture) + 1)), replace=False)
                )
                if capture
                else [],
                dtype=np.int64,
            )
        )
        ranges.append((t, end))
        t = end
    recorded = []
    for _ in range(int(rng.integers(0, 4))):
        a = int(rng.integers(0, t + 6))
        recorded.append(
            (a, a + int(rng.integers(1, 8)), str(rng.choice(["dropped", "failed", "lost"])))
        )
    gaps = derive_gaps(stride, ranges, [len(h) for h in held], lambda k: held[k], recorded)

    have = set(np.concatenate(held).tolist())
    expect = {}
    for k in range(0, t + 20):
        if k % stride or k in have:
            continue
        cause = next((c for a, b, c in recorded if a <= k < b), None)
        if cause is None and ranges[0][0] <= k < ranges[-1][1]:
            cause = "missing"
        if cause:
            expect[k] = cause
    got = {}
    for g in gaps:
        ticks = [k for k in range(g.start, g.end) if k % stride == 0]
        assert len(ticks) == g.ticks and ticks[0] == g.start and ticks[-1] == g.end - 1
        for k in ticks:
            assert k not in got
            got[k] = g.cause
    assert got == expect
    for a, b in zip(gaps, gaps[1:]):  # one cause, nothing captured between: one gap
        between = [k for k in range(a.end, b.start) if k % stride == 0]
        assert a.cause != b.cause or between


def test_the_gaps_of_a_run_that_dropped_frames_are_every_tick_no_file_holds(tmp_path, monkeypatch):
    """The writer under ``--lens-on-full drop`` with a slow disk: what the store derives
    accounts for every tick, agrees with what the manifest recorded, and is refused."""
    from continuum.blobs.worker import SLOW_ENV

    from .helpers import run

    monkeypatch.setenv(SLOW_ENV, "lens-io:0.02")  # the disk takes 20 ms a window
    summary = run(
        steps=1500,
        lens_dir=tmp_path,
        lens_chunk_size=5,
        lens_memory=1 << 20,
        lens_on_full="drop",
        no_catalog=True,
    )
    assert summary["lens_dropped"] > 0
    run_dir = Path(summary["lens_dir"])
    recorded = manifest_gaps(json.loads(layout.manifest_path(run_dir).read_text())["gaps"])
    with LensStore(run_dir) as store:
        held = set(store.field_ticks(store.fields[0]).tolist())
        gaps = store.gaps
        summary_ticks = store.summary()["missing_ticks"]
        interior = [g for g in gaps if g.start - 1 in held and g.end in held]
        assert interior, f"no gap between captured frames: {gaps}"
        inside = interior[0]
        with pytest.raises(LensError, match="falls in a lens gap"):
            store.query(store.fields[0], P, tick=inside.start)
    missing = {t for g in gaps for t in range(g.start, g.end)}
    assert not missing & held
    assert missing | held == set(range(summary["tick"] + 1))
    assert summary_ticks == len(missing)
    assert {t for a, b, _ in recorded for t in range(a, b)} - held <= missing
    assert {g.cause for g in gaps} <= {"dropped", "missing"} and "dropped" in {
        g.cause for g in gaps
    }


def test_the_ticks_of_pruned_chunks_are_not_gaps():
    from continuum.lens.gaps import LensGap, without

    gaps = [LensGap(10, 30, "missing", 20), LensGap(40, 43, "dropped", 3)]
    assert without(gaps, [(15, 20), (0, 12)], 1) == [
        LensGap(12, 15, "missing", 3),
        LensGap(20, 30, "missing", 10),
        LensGap(40, 43, "dropped", 3),
    ]
    assert without([LensGap(0, 31, "missing", 11)], [(0, 10)], 3) == [LensGap(12, 31, "missing", 7)]
