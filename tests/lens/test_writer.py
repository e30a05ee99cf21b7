"""The background writer: sealed chunks, backpressure that drops frames, failed writes.

The writer encodes and commits apart and never reads back what it wrote: it records the
header that encoding computed, and it does not import the reader (``store``).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import continuum.lens.writer as writer_module
from continuum.lens import LensStore, OnFull, read_chunk_header

from .helpers import capture, chunk_names, run, run_dir, tiny_sim


def test_the_writer_does_not_import_the_reader():
    tree = ast.parse(Path(writer_module.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert "continuum.lens.store" not in imported and "continuum.lens.format" in imported
    assert not any(m and m.startswith("continuum.catalog") for m in imported)


def test_the_recorded_header_is_the_one_on_disk(tmp_path, opened, monkeypatch):
    """What the manifest and on_seal get without reading equals a fresh read of the file
    (the by-sample copies, which read the sealed chunks on their own thread, are off)."""
    sim, lens = capture(tmp_path, by_sample=False)
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


def _held_up_run(tmp_path, steps: int, **config):
    """A run whose io stage is held up in on_seal until the loop has ticked ``steps``."""
    sim, lens = capture(tmp_path, memory=1 << 20, **config)
    release = threading.Event()
    lens._on_seal = [lambda _s: release.wait(30)]
    state = sim.initial_state()
    lens.start(state)
    timer = threading.Timer(2.0, release.set)  # under wait, the loop waits until then
    timer.start()
    sim.run(state, steps, observer=lens)
    release.set()
    timer.cancel()
    lens.close(state.tick)
    return sim, lens, state


def test_under_drop_a_full_budget_drops_frames_as_gaps_and_never_waits(tmp_path, caplog):
    """The io stage is held up: the budget fills, frames are dropped, each a recorded gap."""
    sim, lens, state = _held_up_run(tmp_path, 500, on_full=OnFull.DROP)
    assert lens.writer.dropped > 250 and lens.writer.wait_s == 0  # 1 MiB holds ~150 frames
    assert "dropped (recorded as a gap)" in caplog.text
    manifest = json.loads((tmp_path / "run-x" / "manifest.json").read_text())
    assert manifest["dropped_frames"] == lens.writer.dropped
    with LensStore(tmp_path / "run-x") as store:
        held = set(store.field_ticks("surface.elevation").tolist())
    in_gaps = {t for start, end, cause in manifest["gaps"] for t in range(start, end)}
    assert {c for *_, c in manifest["gaps"]} == {"dropped"}
    assert held | in_gaps == set(range(501)) and not held & in_gaps  # every tick accounted
    assert len(in_gaps) == lens.writer.dropped == lens.writer.missing_ticks
    assert state.state_hash() == tiny_sim().run(tiny_sim().initial_state(), 500).state_hash()


def test_under_wait_a_full_budget_makes_the_loop_wait_and_loses_nothing(tmp_path):
    sim, lens, state = _held_up_run(tmp_path, 500)
    assert lens.writer.dropped == 0 and lens.writer.waits > 0 and lens.writer.wait_s > 1.0
    manifest = json.loads((tmp_path / "run-x" / "manifest.json").read_text())
    assert manifest["gaps"] == [] and manifest["dropped_frames"] == 0
    with LensStore(tmp_path / "run-x") as store:
        assert store.field_ticks("surface.elevation").tolist() == list(range(501))
    assert lens.summary(500)["lens_wait_ms_per_tick"] > 0


def test_failed_writes_are_counted_and_capture_goes_on(tmp_path, monkeypatch):
    calls = []

    def disk_full(path, data):
        calls.append(path)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("continuum.lens.writer.atomic_write", disk_full)
    summary = run(steps=12, lens_dir=tmp_path, lens_chunk_size=5)
    assert summary["lens_failed"] == 3 and summary["lens_chunks"] == 0 and len(calls) == 3
    assert chunk_names(run_dir(summary)) == []


# --- issue 12, class 6: a stage that fails is counted and the run never hangs --------------

FORMAT = "continuum.lens.manifest"
MALFORMED = {
    "chunks-not-a-list": {"chunks": 5},
    "a-json-list": [1, 2, 3],
    "a-chunk-that-is-a-number": {"format": FORMAT, "chunks": [5]},  # killed the io thread
    "a-chunk-with-odd-ticks": {"format": FORMAT, "chunks": [{"name": "x", "tick_range": "a"}]},
    "segments-not-a-list": {"format": FORMAT, "chunks": [], "segments": 5},
    "gaps-not-a-list": {"format": FORMAT, "chunks": [], "gaps": {"a": 1}},
}


def resume_cli(ckpt: Path, lens: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "continuum.cli", "run", "terra", "--resume"]
    argv += ["--checkpoint-dir", str(ckpt), "--lens-dir", str(lens), "--lens-chunk-size", "5"]
    argv += ["--steps", "12", "--checkpoint-stride", "5", "--no-catalog", "--json"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("content", MALFORMED.values(), ids=MALFORMED)
def test_a_malformed_lens_manifest_on_resume_never_hangs_the_run(tmp_path, content):
    """Whatever the manifest holds, the resumed run ends: it captures on (the manifest
    replaced, or its failures counted: rc 3), or it is refused in one line before the loop
    (rc 1) — never a dead io thread and a run waiting for it forever."""
    first = run(
        steps=12,
        checkpoint_dir=tmp_path / "ckpt",
        checkpoint_stride=5,
        lens_dir=tmp_path / "lens",
        lens_chunk_size=5,
        no_catalog=True,
    )
    lens_dir = run_dir(first)
    (lens_dir / "manifest.json").write_text(json.dumps(content))
    proc = resume_cli(tmp_path / "ckpt", tmp_path / "lens")  # the hard timeout: no hang
    assert "Traceback" not in proc.stderr, proc.stderr
    if proc.returncode == 1:  # refused before the loop, naming the manifest
        (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error: ")]
        assert str(lens_dir / "manifest.json") in line and "move it away" in line
        return
    summary = json.loads(proc.stdout)
    assert summary["tick"] == 24 and summary["lens_chunks"] == 3 and summary["lens_failed"] == 0
    assert proc.returncode == (3 if summary["failures"] else 0), proc.stderr
    assert set(summary["failures"]) <= {"lens_manifest"}
    assert chunk_names(lens_dir)[-3:] == [  # the window 10-15 rewritten with ticks 13, 14
        "lens_snapshot_0000000010-0000000015.lens",
        "lens_snapshot_0000000015-0000000020.lens",
        "lens_snapshot_0000000020-0000000025.lens",
    ]


def test_a_bug_in_every_stage_is_counted_and_close_returns(tmp_path, monkeypatch):
    """Encode raises a non-OSError on every piece: each is lost and counted, once each."""

    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(writer_module, "encode_chunk", broken)
    summary = run(steps=12, lens_dir=tmp_path, lens_chunk_size=5)
    assert summary["lens_failed"] == 3 and summary["lens_chunks"] == 0
    assert summary["failures"] == {"lens_chunks": 3}
    assert chunk_names(run_dir(summary)) == []


def test_a_manifest_that_cannot_be_rewritten_loses_no_chunk(tmp_path, monkeypatch):
    """The chunk file is durable: it is sealed and recorded even if its entry fails."""

    def refuse(self, entry):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("continuum.lens.manifest.LensManifest.add_chunk", refuse)
    sealed: list[str] = []
    sim, lens = capture(tmp_path)
    lens._on_seal = [lambda s: sealed.append(s.path.name)]
    state = sim.initial_state()
    lens.start(state)
    sim.run(state, 12, observer=lens)
    lens.close(state.tick)
    assert sealed == chunk_names(tmp_path / "run-x") and len(sealed) == 3
    assert lens.failures == {"lens_manifest": 3}


def test_a_dead_stage_is_never_waited_for(tmp_path, monkeypatch):
    """A stage thread ended by a BaseException: hand-offs and close give up on it."""

    def die(*args, **kwargs):
        raise SystemExit("gone")

    monkeypatch.setattr(writer_module, "atomic_write", die)
    sim, lens = capture(tmp_path, chunk_size=2)
    state = sim.initial_state()
    lens.start(state)
    sim.run(state, 20, observer=lens)
    lens.close(state.tick)  # would block forever on the dead io thread's full queue
    assert lens.writer.failed >= 1 and lens.writer.sealed == []
    assert not lens.writer._io.alive and isinstance(lens.writer._io.died, SystemExit)
