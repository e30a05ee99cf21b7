"""Building a run's by-sample copies from its sealed chunks, in the background.

The chunks of a run are grouped, in tick order, into spans of at most
:data:`~continuum.lens.by_sample.MAX_SEGMENT_FRAMES` frames (greedily from the first
chunk, so appending chunks never regroups earlier ones). A span's copy is written when the
span is full, or when ``final`` (the run ended: its last span, however short); a copy
already current for its span is kept. Copies that answer for no span any more (stale: a
chunk rewritten, pruned or merged; or the shorter copy of a span that has since grown) are
removed once the new ones are committed — only files named as by-sample copies, inside the
run directory, never through a link.

Who runs it: the lens capture, on a thread of its own beside the chunk writer (never the
tick loop's, never the writer's: a span of 4,096 frames at 256x256 per face is ~12 GB to
transpose), and ``continuum lens compact --by-sample``. Building reads chunks that are
sealed and never rewritten, so it needs no lock against the writer; two compactions of one
run at once would write the same bytes to the same names through atomic renames.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from continuum import layout
from continuum.blobs.worker import describe
from continuum.errors import LensError
from continuum.lens import by_sample
from continuum.lens.by_sample import BySampleFile, span_frames
from continuum.lens.format import ChunkFile, LensIdentity
from continuum.lens.store import ChunkRef, LensStore


def _planned(refs: list[ChunkRef]) -> list[tuple[list[ChunkRef], bool]]:
    """The spans of ``refs``, each with whether it is full (its frames reach the span)."""
    groups = [refs[a:b] for a, b in span_frames([r.frames for r in refs])]
    return [(g, sum(r.frames for r in g) >= by_sample.MAX_SEGMENT_FRAMES) for g in groups]


@dataclass(frozen=True)
class CopyWritten:
    """A by-sample copy just committed: what the catalog records of it."""

    path: Path
    start: int
    end: int
    frames: int
    bytes: int
    checksum: str
    #: where the copy lives when not at ``path`` (its ``s3://`` URL, :mod:`continuum.lens.mirror`)
    location: str = ""


@dataclass
class Compacted:
    """What one compaction did: copies written, copies removed (stale or outgrown), and
    the frames still served only by chunks (a last span left for later)."""

    written: list[CopyWritten] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    pending: int = 0
    #: where the removed copies lived when not at their paths (``s3://`` URLs)
    removed_at: list[str] = field(default_factory=list)


#: told what each compaction pass of a capture did (the runner records it in the catalog)
CopyCallback = Callable[[Compacted], None]


def compact_history(
    run_dir: Path | str,
    *,
    final: bool = True,
    budget: int | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Compacted:
    """Write the by-sample copies the run's chunks call for, and remove those no span
    wants.

    Full spans always get theirs. The last span, partly filled, gets one only when
    ``final`` (the run has ended, or a user asked) and its copy would transpose at most
    ``budget`` bytes (None: any); otherwise its frames are counted ``pending``. A copy
    that is current for the first chunks of the last span is kept until a longer one is
    written. ``cancelled`` calls a build off (see ``write_by_sample``). Copies of point
    fields are not made (see :mod:`continuum.lens.by_sample`).
    """
    done = Compacted()
    with LensStore(run_dir) as store:
        refs = [r for r in store.chunks if r.frames]
        current = {c.path.name: c for c in store.by_sample}
        wanted: set[str] = set()
        for group, full in _planned(refs):
            try:
                _compact_group(store, group, full, current, wanted, done, final, budget, cancelled)
            except LensError:
                if all(r.path.exists() for r in group):
                    raise
                # a chunk went (retention pruned it) since the pass listed them: nothing to
                # copy now, and a copy of that span is stale; the next pass plans anew
                wanted.update(n for n, c in current.items() if c.tick_range[0] == group[0].start)
        stale = [p for p, _ in by_sample.listed(store.run_dir) if p.name not in wanted]
    for path in stale:
        _remove(path)
        done.removed.append(path)
    return done


def _compact_group(
    store: LensStore,
    group: list[ChunkRef],
    full: bool,
    current: dict[str, BySampleFile],
    wanted: set[str],
    done: Compacted,
    final: bool,
    budget: int | None,
    cancelled: Callable[[], bool] | None,
) -> None:
    """One span: kept if its copy is current, copied if due, else counted pending."""
    span = (group[0].start, group[-1].end)
    path = layout.lens_by_sample_path(store.run_dir, *span)
    if path.name in current or not _copies_any(store, group):
        wanted.add(path.name)
        return
    if not full and not (final and _bytes(store, group) <= (budget or 1 << 62)):
        partial = [n for n, c in current.items() if span[0] == c.tick_range[0]]
        wanted.update(partial)
        covered = sum(current[n].doc.frames for n in partial)
        done.pending += sum(r.frames for r in group) - covered
        return
    wanted.add(path.name)
    written = _write(group, store.identity, span, path, cancelled)
    if written is not None:
        done.written.append(written)


def _write(
    group: list[ChunkRef],
    identity: LensIdentity,
    span: tuple[int, int],
    path: Path,
    cancelled: Callable[[], bool] | None,
) -> CopyWritten | None:
    """The copy of ``group``, or None when one of its chunks has gone since the pass
    listed them (retention pruned it): nothing to copy, the next pass plans anew. Once
    open, a chunk pruned mid-build is still read whole (its file lives while open)."""
    chunks: list[ChunkFile] = []
    try:
        for ref in group:
            chunks.append(ChunkFile(ref.path))
    except LensError:
        for chunk in chunks:
            chunk.close()
        if all(r.path.exists() for r in group):
            raise
        return None
    try:
        info = by_sample.write_by_sample(path, chunks, identity, span, cancelled)
    finally:
        for chunk in chunks:
            chunk.close()
    frames = int(info.header.meta["frames"])
    return CopyWritten(path, *span, frames, info.disk_bytes, info.payload_checksum)


def _bytes(store: LensStore, group: list[ChunkRef]) -> int:
    """What a copy of ``group`` transposes: every copied field's frames x samples."""
    names = {f for r in group for f in r.fields}
    configs = {f: store.config(f) for f in names}
    return sum(
        by_sample.raw_bytes(r.frames, configs[f])
        for r in group
        for f in r.fields
        if by_sample.copies(configs[f])
    )


def _copies_any(store: LensStore, group: list[ChunkRef]) -> bool:
    return any(by_sample.copies(store.config(f)) for r in group for f in r.fields)


def _remove(path: Path) -> None:
    """Unlink a copy no span wants (the name itself: a link is never followed)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


#: niceness of the compactor thread: the tick loop and the chunk writer go first
NICE = 10


def _lower_priority() -> None:
    """Lower this thread's CPU priority (Linux schedules threads apart): a span of 4,096
    frames is seconds to minutes of transposing and compressing, which must not take a
    core the tick loop or the chunk writer wants. Elsewhere, a no-op."""
    if hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)


#: bytes the last span's copy may transpose when a run ends (~0.5-1 s of work): a run's
#: end, a graceful stop included, never waits minutes for a copy; a larger last span is
#: left ``pending`` for ``continuum lens compact --by-sample`` or the run's next segment
CLOSE_BUDGET = 128 << 20


class Compactor:
    """``compact_history`` on a thread of its own for a capturing run.

    :meth:`notify` (the chunk writer's seal callback: it only sets a flag) wakes the
    thread, which writes the copies of spans that have filled. :meth:`close` (after the
    writer has sealed its last chunk, the tick loop done) calls off a build in progress
    (it is redone by the next pass, of this run or a later one), then gives the last span
    its copy if that fits :data:`CLOSE_BUDGET`. ``on_pass`` callbacks hear what each pass
    did. A failure is counted, never raised into the run: the chunks are the record, a
    missing copy only makes histories slower (the capture reports failures at close).
    """

    def __init__(self, run_dir: Path, on_pass: list[CopyCallback] | None = None) -> None:
        self.run_dir = run_dir
        self.written: list[CopyWritten] = []
        self.failures: list[str] = []
        self.pending = 0
        self._on_pass = on_pass if on_pass is not None else []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lens-by-sample", daemon=True)
        self._thread.start()

    def notify(self, _sealed: object = None) -> None:
        self._wake.set()

    def _loop(self) -> None:
        _lower_priority()
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            if not self._stop.is_set():
                self._pass(final=False, cancelled=self._stop.is_set)

    def _pass(self, *, final: bool, cancelled: Callable[[], bool] | None = None) -> None:
        try:
            done = compact_history(
                self.run_dir, final=final, budget=CLOSE_BUDGET, cancelled=cancelled
            )
        except by_sample.Cancelled:
            return
        except Exception as exc:  # the run goes on: counted in the summary
            self.failures.append(f"{self.run_dir}: by-sample copy not written: {describe(exc)}")
            return
        self.written += done.written
        self.pending = done.pending
        for callback in self._on_pass:
            try:
                callback(done)
            except Exception as exc:  # a catalog down: the files are written all the same
                self.failures.append(
                    f"{self.run_dir}: by-sample copy not recorded: {describe(exc)}"
                )

    def close(self) -> None:
        """Call off the thread's build, then give the last span its copy if cheap."""
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self._pass(final=True)
