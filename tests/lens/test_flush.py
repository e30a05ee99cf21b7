"""``continuum ctl flush``: a window sealed early as a partial chunk, then rewritten whole.

What a reader of the lens sees: right after a flush, the window's file exists and holds
every frame up to the flushed tick; when the window ends, the same file holds all of it;
the run has one file per window, no gap and no duplicate frame, and the frames are the
runtime's own, bit for bit.
"""

from __future__ import annotations

import json
import time

import numpy as np

from continuum import layout
from continuum.lens import LensStore
from continuum.lens.format import read_chunk_header

from .helpers import assert_same_frames, capture, chunk_names, reference

FIELD = "surface.elevation"


def advance(sim, lens, state, to: int) -> None:
    while state.tick < to:
        sim.step(state)
        lens(state)


def wait_for_range(path, tick_range: tuple[int, int]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if path.exists() and read_chunk_header(path).tick_range == tick_range:
            return
        time.sleep(0.01)
    raise AssertionError(f"{path.name} never held {tick_range}")


def test_a_flushed_window_is_readable_at_once_and_rewritten_whole(tmp_path):
    sim, lens = capture(tmp_path, chunk_size=10, by_sample=False)
    sealed: list[tuple[int, int]] = []
    lens._on_seal.append(lambda chunk: sealed.append(chunk.tick_range))
    state = sim.initial_state()
    lens.start(state)
    advance(sim, lens, state, 6)
    assert lens.flush(6) == (0, 10)
    first = layout.lens_chunk_path(lens.run_dir, 0, 10)
    wait_for_range(first, (0, 7))
    with LensStore(lens.run_dir) as store:  # a reader sees the partial window now
        np.testing.assert_array_equal(store.field_ticks(FIELD), np.arange(0, 7))
        assert store.gaps == []
    advance(sim, lens, state, 8)
    assert lens.flush(8) == (0, 10)  # twice in one window: a longer partial
    advance(sim, lens, state, 25)
    lens.close(25)
    assert chunk_names(lens.run_dir) == [
        layout.lens_chunk_name(0, 10),
        layout.lens_chunk_name(10, 20),
        layout.lens_chunk_name(20, 30),
    ]
    assert read_chunk_header(first).tick_range == (0, 10)
    assert sealed == [(0, 7), (0, 9), (0, 10), (10, 20), (20, 26)]
    manifest = json.loads(layout.manifest_path(lens.run_dir).read_text())
    assert [c["tick_range"] for c in manifest["chunks"]] == [[0, 10], [10, 20], [20, 26]]
    assert manifest["gaps"] == []
    with LensStore(lens.run_dir) as store:
        assert_same_frames(store.load(), reference(25))


def test_a_flush_at_a_window_end_or_of_a_closed_lens_changes_nothing(tmp_path):
    sim, lens = capture(tmp_path, chunk_size=5, stride=2, by_sample=False)
    state = sim.initial_state()
    lens.start(state)
    advance(sim, lens, state, 5)  # frames 0, 2, 4: the window [0, 5) is complete
    assert lens.flush(5) == (5, 10)
    advance(sim, lens, state, 11)
    lens.close(11)
    assert lens.flush(11) is None
    manifest = json.loads(layout.manifest_path(lens.run_dir).read_text())
    assert [c["tick_range"] for c in manifest["chunks"]] == [[0, 5], [5, 10], [10, 12]]
    with LensStore(lens.run_dir) as store:
        assert_same_frames(store.load(), reference(11, stride=2))
