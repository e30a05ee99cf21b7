"""The background writer: sealed chunks, backpressure that drops frames, failed writes.

The writer encodes and commits apart and never reads back what it wrote: it records the
header that encoding computed, and it does not import the reader (``store``).
"""

from __future__ import annotations

import ast
import json
import threading
from pathlib import Path

import continuum.lens.writer as writer_module
from continuum.lens import read_chunk_header

from .helpers import capture, chunk_names, run, run_dir, tiny_sim


def test_the_writer_does_not_import_the_reader():
    tree = ast.parse(Path(writer_module.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert "continuum.lens.store" not in imported and "continuum.lens.format" in imported
    assert not any(m and m.startswith("continuum.catalog") for m in imported)


def test_the_recorded_header_is_the_one_on_disk(tmp_path, opened, monkeypatch):
    """What the manifest and on_seal get without reading equals a fresh read of the file."""
    sim, lens = capture(tmp_path)
    sealed = []
    lens._on_seal = [sealed.append]
    state = sim.initial_state()
    lens.start(state)
    sim.run(state, 7, observer=lens)
    lens.close(state.tick)
    assert opened == [] and len(sealed) == 2  # no lens file was opened to write them
    monkeypatch.undo()
    manifest = json.loads((tmp_path / "run-x" / "manifest.json").read_text())
    for s, entry in zip(sealed, manifest["chunks"]):
        h = read_chunk_header(s.path)
        assert (s.tick_range, s.frames, s.bytes, s.raw_bytes, s.checksum) == (
            h.tick_range,
            h.frames,
            h.disk_bytes,
            h.raw_bytes,
            h.checksum,
        )
        assert entry["created_at"] == h.created_at and entry["bytes"] == h.disk_bytes


def test_sealed_chunks_reach_on_seal(tmp_path):
    sim, lens = capture(tmp_path)
    sealed = []
    lens._on_seal = [sealed.append]
    state = sim.initial_state()
    lens.start(state)
    sim.run(state, 12, observer=lens)
    lens.close(state.tick)
    manifest = json.loads((tmp_path / "run-x" / "manifest.json").read_text())
    assert [s.tick_range for s in sealed] == [(0, 5), (5, 10), (10, 13)]
    for s, entry in zip(sealed, manifest["chunks"]):
        assert s.run_id == "run-x" and s.path.name == entry["name"]
        assert (s.frames, s.bytes, s.checksum) == (
            entry["frames"],
            entry["bytes"],
            entry["checksum"],
        )
        assert s.bytes == s.path.stat().st_size
        assert s.fields == ("atmosphere.temperature", "plates.velocity", "surface.elevation")


def test_a_full_queue_drops_frames_and_never_blocks(tmp_path, caplog):
    """The io stage is held up in on_seal: the queues fill, frames are dropped, counted."""
    sim, lens = capture(tmp_path, queue_depth=1, max_chunk_bytes=1)
    release = threading.Event()
    lens._on_seal = [lambda _s: release.wait(30)]
    state = sim.initial_state()
    lens.start(state)
    sim.run(state, 300, observer=lens)
    release.set()
    lens.close(state.tick)
    assert lens.writer.dropped > 250
    assert "dropped" in caplog.text
    manifest = json.loads((tmp_path / "run-x" / "manifest.json").read_text())
    assert manifest["dropped_frames"] == lens.writer.dropped
    assert state.state_hash() == tiny_sim().run(tiny_sim().initial_state(), 300).state_hash()


def test_failed_writes_are_counted_and_capture_goes_on(tmp_path, monkeypatch):
    calls = []

    def disk_full(path, data):
        calls.append(path)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("continuum.lens.writer.atomic_write", disk_full)
    summary = run(steps=12, lens_dir=tmp_path, lens_chunk_size=5)
    assert summary["lens_failed"] == 3 and summary["lens_chunks"] == 0 and len(calls) == 3
    assert chunk_names(run_dir(summary)) == []
