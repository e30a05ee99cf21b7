"""The background lens writer: frames in, one sealed chunk file per window out, nothing lost.

The tick loop hands over the frames it observed (references to immutable arrays, no
copy). What the writer holds — frames handed over and not yet encoded, encoded chunks
not yet on disk — is bounded by a **memory budget** (:class:`Budget`, ``--lens-memory``).
While there is room, a hand-off never waits. When there is none, the run's declared
policy decides (``--lens-on-full``): ``wait`` (the default) makes the loop wait until the
writer has freed room — the wait is measured and reported, and nothing is lost — and
``drop`` drops the frame, counted and recorded as a gap. A wait is never forever: a
writer whose stages are gone, or that frees nothing for :data:`STALL_S`, gets frames
dropped (and gaps recorded) instead of a hung simulation.

Everything else is off the loop, in three pipelined stages (threads joined by queues):

1. ``lens-buffer`` appends frames to the current chunk window (cheap: no copies);
2. ``lens-encode`` turns a window into a blob: each values tile stacked into a reused
   scratch buffer just before it is compressed (:class:`continuum.blobs.Stacked`: no
   stacked copy of the window, no fresh pages — allocating and faulting in a window's
   worth of memory per chunk measurably slowed the loop's thread), byte shuffle, zstd —
   with cheaper settings (:data:`FAST_LEVEL`, no shuffle: ~1.8x faster, ratio 3.6 ->
   2.9 on terra) when it falls behind (a window sealed while the one before is still
   encoding) or the budget is more than half used, and on every usable core while it
   is nearly full (the loop is then waiting and leaves its core free);
3. ``lens-io`` commits the blob atomically (temp file, fsync, rename, fsync dir),
   records it and the gaps it carries in the manifest in one rewrite, and calls the
   ``on_seal`` / ``on_gap`` callbacks (the catalog records chunks and gaps through them).
   For an ``s3://`` lens dir (``mirror``, :mod:`continuum.lens.mirror`) the file is the
   staging copy and the commit goes on: ``on_begin`` (the catalog's ``pending`` row),
   the whole blob put from the bytes the encoder built (size and ETag checked), the
   derived manifest object; a failed put loses the window as a failed write does.

**Windows.** A chunk file holds exactly one window ``[kC, (k+1)C)`` of ``chunk_size``
ticks and is named by it; its header's ``tick_range`` is the part of the window it is
authoritative for: ``[kC, (k+1)C)`` for a window sealed whole, ``[kC, t + 1)`` for the
window a segment ended in at tick ``t`` (or from the tick a branch started at). A later
segment of the run resumes that window: :class:`LensCapture` reads the file back before
the loop and the writer rewrites it, same name, with the union. So a run has one file
per window, whatever its segments — no tail pieces.

**Gaps.** Every tick the lens should have captured and did not is a gap ``[start, end,
cause]`` in the manifest (``dropped``: the budget under ``drop``, or a writer that
stopped; ``failed``: a chunk that could not be encoded or written; ``lost``: frames held
in memory when a process died, recorded by the next segment). A dropped frame leaves a
marker in the queue, so its gap is recorded with the chunk of its window, in the same
manifest rewrite; and the chunk file itself lacks the tick, so after a SIGKILL the gap
is still derivable from the files (:mod:`continuum.lens.store`).

A failed write (ENOSPC...) loses that window, is logged, counted and recorded as a gap,
and capture goes on; so does any other failure of a stage — each stage is a
:class:`continuum.blobs.worker.Worker`, which outlives its handler's exceptions, and
every hand-off between stages (and :meth:`ChunkWriter.close`) gives up on a stage whose
thread is gone instead of waiting for it forever. A chunk committed whose manifest entry
could not be written is still sealed (files are the truth), the manifest failure
counted apart. The writer does not read lens files: the encode stage keeps the header it
computed (:class:`~continuum.lens.format.EncodedChunk`) and the io stage records it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from continuum import layout
from continuum.blobs import atomic_write, usable_cpus
from continuum.blobs.worker import POLL_S, Failures, Worker, describe, kill_point, slow_point
from continuum.lens.format import DEFAULT_LEVEL, ChunkData, EncodedChunk, LensIdentity, encode_chunk
from continuum.lens.gaps import capture_ticks
from continuum.lens.history import FieldLens
from continuum.lens.manifest import LensManifest, chunk_entry, window_of
from continuum.lens.reconstruct import topology_from_spec
from continuum.runtime import FieldFrame

if TYPE_CHECKING:
    from continuum.lens.mirror import LensMirror

log = logging.getLogger("continuum.lens")
T = TypeVar("T")

#: zstd level while the budget is more than half used (no byte shuffle either): measured
#: on terra ``large``, 7.0 vs 12.8 ms of CPU per frame, ratio 2.9 vs 3.6.
FAST_LEVEL = -1
#: A waiting loop gives up on a writer that frees nothing for this long (a stuck disk):
#: frames are then dropped and recorded as gaps, so the run ends instead of hanging.
STALL_S = 60.0

# Gap causes (manifest ``gaps``, catalog ``lens_gaps``)
DROPPED, FAILED, LOST = "dropped", "failed", "lost"

# Failure kinds (``ChunkWriter.failures``, the run summary's ``failures``)
CHUNK = "lens_chunks"  # a window of frames lost
MANIFEST, CALLBACK = "lens_manifest", "lens_callbacks"


class OnFull(StrEnum):
    """What the loop does when the lens memory budget is used up (``--lens-on-full``)."""

    WAIT = "wait"  # the loop waits for the writer: nothing lost, the wait reported
    DROP = "drop"  # the frame is dropped and recorded as a gap: the loop never waits


@dataclass(frozen=True)
class RecordedGap:
    """A gap as the writer records it (what ``on_gap`` gets, for the catalog): ticks
    ``[start, end)`` of ``run_id`` the lens should have captured and no file holds. Readers
    derive gaps from the files as :class:`continuum.lens.LensGap`."""

    run_id: str
    start: int
    end: int
    cause: str


@dataclass(frozen=True)
class SealedChunk:
    """A chunk durable on disk: what the catalog records (``on_seal`` receives it)."""

    run_id: str
    tick_range: tuple[int, int]  # [start, end) the file is authoritative for
    first_tick: int
    last_tick: int
    frames: int
    fields: tuple[str, ...]
    path: Path
    bytes: int
    raw_bytes: int
    checksum: str  # xxh3_128 of the payload, hex
    #: where the chunk lives when not at ``path`` (its ``s3://`` URL: :mod:`continuum.lens.mirror`)
    location: str = ""

    @property
    def where(self) -> str:
        """The chunk's path, or its URL on object storage (catalog rows, messages)."""
        return self.location or str(self.path)


SealCallback = Callable[[SealedChunk], None]
GapCallback = Callable[[RecordedGap], None]


@dataclass
class Captured:
    """One tick's observation, as the loop hands it over.

    ``nbytes`` is what holding it costs the budget: values, signals and per-frame point
    positions; the observer leaves out the cell centres every cell field shares.
    """

    tick: int
    sim_time: float
    frames: list[FieldFrame]
    signals: dict[str, np.ndarray]
    nbytes: int = 0

    @classmethod
    def of(
        cls,
        tick: int,
        sim_time: float,
        frames: list[FieldFrame],
        signals: dict[str, np.ndarray],
        shared: np.ndarray | None = None,
    ) -> Captured:
        """``nbytes`` counted, ``shared`` (positions held anyway) left out."""
        cost = sum(f.values.nbytes for f in frames) + sum(v.nbytes for v in signals.values())
        cost += sum(
            f.positions.nbytes
            for f in frames
            if f.positions is not None and f.positions is not shared
        )
        return cls(tick, sim_time, frames, signals, cost)


class Budget:
    """Bytes the writer holds, bounded by ``limit``: the one place the loop may wait."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self._freed = threading.Condition()

    def take(self, n: int, *, wait: bool, alive: Callable[[], bool]) -> float | None:
        """Hold ``n`` more bytes: the seconds waited for room, or None if refused.

        Refused: no room and ``wait`` is off, the writer is gone, or it freed nothing for
        :data:`STALL_S`. An empty budget always admits (one item larger than the limit
        must not block forever; the capture refuses such a configuration up front).
        """
        with self._freed:
            if self.held + n <= self.limit or self.held == 0:
                self.held += n
                return 0.0
            if not wait:
                return None
            started = last_free = time.perf_counter()
            seen = self.held
            while self.held + n > self.limit and self.held > 0:
                now = time.perf_counter()
                if self.held < seen:
                    seen, last_free = self.held, now
                if not alive() or now - last_free > STALL_S:
                    return None
                self._freed.wait(POLL_S)
            self.held += n
            return time.perf_counter() - started

    def force(self, n: int) -> None:
        """Hold ``n`` bytes whatever the room (an encoded blob replacing its frames)."""
        with self._freed:
            self.held += n

    def give(self, n: int) -> None:
        with self._freed:
            self.held -= n
            self._freed.notify_all()

    @property
    def pressure(self) -> float:
        """Share of the budget in use (0..1, more when one item exceeds it)."""
        return self.held / self.limit if self.limit else 1.0


@dataclass
class _Dropped:
    """A frame the budget refused: its tick becomes a gap of its window."""

    tick: int


@dataclass
class _End:
    final_tick: int


@dataclass
class _Flush:
    """Seal what the current window holds up to ``tick`` now; the window goes on filling."""

    tick: int


@dataclass
class _Window:
    """The frames of one chunk window being filled, and what they cost the budget."""

    start: int  # first tick the file will be authoritative for
    window: tuple[int, int]
    lens: FieldLens
    held: int = 0
    gaps: list[list[int | str]] = field(default_factory=list)
    behind: bool = False  # sealed while the window before it was still encoding


@dataclass
class _Commit:
    """What the io stage commits: a chunk (None when a window holds no frame) and gaps."""

    encoded: EncodedChunk | None
    gaps: list[list[int | str]]
    held: int


class ChunkWriter:
    """The buffer, encode and io stages writing the chunks of one lens run dir."""

    def __init__(
        self,
        manifest: LensManifest,
        identity: LensIdentity,
        *,
        chunk_size: int,
        next_start: int,
        memory: int,
        on_full: OnFull = OnFull.WAIT,
        resumed: tuple[int, ChunkData] | None = None,
        level: int = DEFAULT_LEVEL,
        shuffle: bool = True,
        on_seal: list[SealCallback] | None = None,
        on_gap: list[GapCallback] | None = None,
        on_begin: list[SealCallback] | None = None,
        mirror: LensMirror | None = None,
    ) -> None:
        self.manifest = manifest
        self.run_dir = manifest.run_dir
        self.identity = identity
        self.topology = topology_from_spec(identity.topology) if identity.topology else None
        self.chunk_size = chunk_size
        self.next_start = next_start
        self.budget = Budget(memory)
        self.on_full = on_full
        self.level, self.shuffle = level, shuffle
        self.stride = identity.stride or 1
        self.on_seal = list(on_seal or [])
        self.on_gap = list(on_gap or [])
        #: told of a chunk before it is put to object storage (the catalog's pending row)
        self.on_begin = list(on_begin or [])
        self.mirror = mirror  # None: a local lens dir
        self.sealed: list[SealedChunk] = []
        self.gaps: list[RecordedGap] = []
        self.frames_written = self.dropped = self.fast_chunks = 0
        self.wait_s, self.waits = 0.0, 0
        self.failures = Failures(log)
        self._window: _Window | None = None
        self._encoding = False  # the encode stage is busy (read by the buffer stage)
        self._orphaned: list[list[int | str]] = []  # drops no stage was alive to take
        if resumed is not None:
            self._resume_window(*resumed)
        self._io: Worker[_Commit] = Worker(
            "lens-io", self._commit, depth=1, on_error=self._io_failed
        )
        self._encode: Worker[tuple[_Window, int]] = Worker(
            "lens-encode", self._encode_window, depth=1, on_error=self._encode_failed
        )
        # unbounded in count: the budget bounds what it holds in bytes
        self._buffer: Worker[Captured | _Dropped | _End | _Flush] = Worker(
            "lens-buffer", self._take, depth=0, on_error=self._take_failed
        )

    def _resume_window(self, start: int, data: ChunkData) -> None:
        """The window a previous segment ended in: its frames go into the rewritten file."""
        lens = FieldLens(self.topology, max_frames=None, identity=self.identity)
        lens.merge([data])
        window = window_of(start, self.chunk_size)
        self._window = _Window(start, window, lens, held=lens.nbytes)
        self.budget.force(lens.nbytes)

    @property
    def failed(self) -> int:
        """Windows of this segment lost (not written)."""
        return self.failures[CHUNK]

    @property
    def missing_ticks(self) -> int:
        """Stride ticks of this segment recorded as gaps."""
        return sum(capture_ticks(g.start, g.end, self.stride) for g in self.gaps)

    def _alive(self) -> bool:
        return self._buffer.alive and self._encode.alive and self._io.alive

    def submit(self, item: Captured) -> bool:
        """Hand one tick's frames over; False if dropped (counted, recorded as a gap)."""
        waited = self.budget.take(item.nbytes, wait=self.on_full is OnFull.WAIT, alive=self._alive)
        if waited is not None:
            if waited:
                self.wait_s += waited
                self.waits += 1
            if self._buffer.offer(item):
                return True
            self.budget.give(item.nbytes)
        self._drop(item.tick)
        return False

    def _drop(self, tick: int) -> None:
        self.dropped += 1
        alive = self._alive()
        if not (alive and self._buffer.offer(_Dropped(tick))):
            # no stage to carry the marker: kept, and recorded at close (never from the
            # tick loop, which must not wait on the manifest or the catalog)
            _add_gap(self._orphaned, tick, tick + self.stride)
        if self.dropped == 1 or self.dropped % 1000 == 0:
            why = "the lens memory budget is full" if alive else "the lens writer stopped"
            log.warning(
                "lens frame at tick %d dropped (recorded as a gap): %s (%d dropped so far)",
                tick,
                why,
                self.dropped,
            )

    def close(self, final_tick: int) -> None:
        """Seal what is buffered (ending at ``final_tick + 1``), write it, stop the stages.

        Never waits for a stage whose thread is gone: what it held is counted as lost.
        """
        if not self._buffer.put(_End(final_tick)):
            self._lost(f"window ending at tick {final_tick}", "the buffer thread stopped")
        for stage in (self._buffer, self._encode, self._io):
            stage.finish()
        self._record_gaps(self._orphaned)
        self._orphaned = []

    def _lost(self, what: str, why: str, span: tuple[int, int] | None = None) -> None:
        """A window that will not be written: counted, logged and recorded as a gap."""
        self.failures.add(CHUNK, f"lens {what} was not written: {why}")
        if span is not None and span[0] < span[1]:
            self._record_gaps([[span[0], span[1], FAILED]])

    @property
    def queued(self) -> int:
        """Frames handed over and not yet buffered (read from any thread: ``continuum ctl``)."""
        return self._buffer.pending

    def flush(self, tick: int) -> bool:
        """Seal the window holding ``tick`` now, as a partial chunk ``[start, tick + 1)``.

        Never waits (the buffer stage's queue is bounded by the budget, not in count);
        False if the writer is gone. The window keeps its frames and goes on filling:
        when it ends (or the run does) its file is rewritten whole under the same name,
        as a resumed segment rewrites the window its run ended in. So a flush never makes
        a tail piece or moves a window: one file per window ``[kC, (k+1)C)``, each
        rename atomic, readers see the partial file until the whole one replaces it.
        """
        return self._buffer.offer(_Flush(tick))

    def _take_failed(self, item: Captured | _Dropped | _End | _Flush, exc: Exception) -> None:
        window, self._window = self._window, None
        tick = item.final_tick if isinstance(item, _End) else item.tick
        span = None
        if window is not None:
            self.budget.give(window.held)
            span = (window.start, max(tick + 1, window.start))
        self._lost(f"window holding tick {tick}", describe(exc), span)

    def _encode_failed(self, job: tuple[_Window, int], exc: Exception) -> None:
        window, end = job
        self.budget.give(window.held)
        self._lost(f"chunk [{window.start}, {end})", describe(exc), (window.start, end))
        self._record_gaps(window.gaps)

    def _io_failed(self, job: _Commit, exc: Exception) -> None:
        self.budget.give(job.held)
        span = job.encoded.header.tick_range if job.encoded else None
        name = job.encoded.header.path.name if job.encoded else "gaps"
        self._lost(f"chunk {name}", describe(exc), span)

    # -- stage 1: buffer ------------------------------------------------------------------

    def _take(self, item: Captured | _Dropped | _End | _Flush) -> None:
        """Buffer stage: any failure drops the current window (``_take_failed``)."""
        if isinstance(item, _End):
            self._seal(item.final_tick + 1)
            return
        if isinstance(item, _Flush):
            self._flush(item.tick + 1)
            return
        window = self._window_for(item.tick)
        if isinstance(item, _Dropped):
            _add_gap(window.gaps, item.tick, item.tick + self.stride)
            return
        window.held += item.nbytes  # first: a failure below gives it back with the window
        window.lens.record_many(
            item.tick, item.frames, sim_time=item.sim_time, signals=item.signals
        )

    def _window_for(self, tick: int) -> _Window:
        """The window holding ``tick``, sealing the one before when ``tick`` is past it."""
        window = self._window
        if window is not None and tick >= window.window[1]:
            self._seal(window.window[1])
            window = None
        if window is None:
            span = window_of(tick, self.chunk_size)
            lens = FieldLens(self.topology, max_frames=None, identity=self.identity)
            window = self._window = _Window(max(span[0], self.next_start), span, lens)
        return window

    def _flush(self, end: int) -> None:
        """Seal the current window up to ``end`` and keep filling it (:meth:`flush`)."""
        window = self._window
        if window is None or end <= window.start:
            return
        if end >= window.window[1]:  # the window is over already: sealed whole
            self._seal(window.window[1])
            return
        held = window.lens.to_chunk(frame_lists=True)  # references to the frames: no copy
        self._seal(end)
        again = FieldLens(self.topology, max_frames=None, identity=self.identity)
        again.merge([held])
        self._window = _Window(window.start, window.window, again, held=again.nbytes)
        self.budget.force(again.nbytes)  # held twice until the partial file is encoded

    def _seal(self, end: int) -> None:
        """Hand the current window, authoritative for [start, min(end, window end)), on."""
        window, self._window = self._window, None
        if window is None:
            return
        end = min(end, window.window[1])
        self.next_start = end
        window.behind = self._encoding
        if not self._encode.put((window, end)):  # waits while a window is queued
            self.budget.give(window.held)
            self._lost(f"chunk [{window.start}, {end})", "the encode thread stopped")
            self._record_gaps([*window.gaps, [window.start, end, FAILED]])

    # -- stage 2: encode ------------------------------------------------------------------

    def _encode_window(self, job: tuple[_Window, int]) -> None:
        """Encode stage: any failure loses this window (``_encode_failed``)."""
        window, end = job
        self._encoding = True
        try:
            self._encode_one(window, end)
        finally:
            self._encoding = False

    def _encode_one(self, window: _Window, end: int) -> None:
        data = window.lens.to_chunk(frame_lists=True)
        encoded = None
        if len(data.ticks):
            level, shuffle, threads = self._codec(window.behind)
            path = layout.lens_chunk_path(self.run_dir, *window.window)
            encoded = encode_chunk(
                path,
                data,
                self.identity,
                tick_range=(window.start, end),
                level=level,
                shuffle=shuffle,
                threads=threads,
            )
        del data
        window.lens = FieldLens(self.topology, max_frames=None)  # the frames go now
        blob = encoded.nbytes if encoded else 0
        self.budget.force(blob)
        self.budget.give(window.held)
        if not self._io.put(_Commit(encoded, window.gaps, blob)):
            self.budget.give(blob)
            self._lost(f"chunk [{window.start}, {end})", "the io thread stopped")
            self._record_gaps([*window.gaps, [window.start, end, FAILED]])

    def _codec(self, behind: bool) -> tuple[int, bool, int]:
        """(level, shuffle, threads) for a window: the fast settings when the encoder
        fell behind (the window was sealed while the one before was still encoding) or
        the budget is more than half used; every core when it is nearly full."""
        pressure = self.budget.pressure
        if pressure <= 0.5 and not behind:
            return self.level, self.shuffle, 0
        self.fast_chunks += 1
        return FAST_LEVEL, False, usable_cpus() if pressure > 0.9 else 0

    # -- stage 3: io ----------------------------------------------------------------------

    def _commit(self, job: _Commit) -> None:
        """Io stage: a failed write loses the window; a failed manifest entry does not."""
        try:
            if job.encoded is not None:
                self._write(job.encoded, job.gaps)
            elif job.gaps:
                self._record_gaps(job.gaps)
        finally:
            self.budget.give(job.held)

    def _write(self, encoded: EncodedChunk, gaps: list[list[int | str]]) -> None:
        header, path = encoded.header, encoded.header.path
        slow_point("lens-io")  # test-only (blobs.worker): a slow disk
        sealed = SealedChunk(
            self.identity.run_id,
            header.tick_range,
            int(header.first_tick or 0),
            int(header.last_tick or 0),
            header.frames,
            tuple(header.fields),
            path,
            header.disk_bytes,
            header.raw_bytes,
            header.checksum,
            self.mirror.location(path) if self.mirror else "",
        )
        try:
            atomic_write(path, encoded.parts)
            if self.mirror is not None:  # the catalog row first: the put is not committed yet
                self._call_each(self.on_begin, sealed, f"lens chunk {path.name}")
                self.mirror.put(path, encoded.parts)  # whole, size and ETag checked
        except OSError as exc:  # StorageError is an OSError too
            self._lost(f"chunk {path.name}", describe(exc), header.tick_range)
            self._record_gaps(gaps)
            return
        kill_point("lens-rename", header.tick_range[1])  # test-only (blobs.worker)
        try:
            self.manifest.add_chunk(chunk_entry(header), gaps=gaps)
            self._push_manifest()
        except Exception as exc:  # the file is durable: the store finds it without the entry
            where = layout.manifest_path(self.run_dir)
            self.failures.add(MANIFEST, f"{where}: {path.name} not listed: {describe(exc)}")
        self.announce_gaps(gaps)
        self.frames_written += header.frames
        self._notify(sealed)

    def _push_manifest(self) -> None:
        """The derived manifest object of a remote lens dir (nothing for a local one)."""
        if self.mirror is not None:
            self.mirror.push_manifest()

    def _record_gaps(self, gaps: list[list[int | str]]) -> None:
        """Gaps without a chunk to carry them: into the manifest alone, and announced."""
        if not gaps:
            return
        try:
            self.manifest.add_gaps(gaps)
            self._push_manifest()
        except Exception as exc:  # the store derives holes from the files all the same
            where = layout.manifest_path(self.run_dir)
            self.failures.add(MANIFEST, f"{where}: lens gaps not recorded: {describe(exc)}")
        self.announce_gaps(gaps)

    def announce_gaps(self, gaps: list[list[int | str]], *, new: bool = True) -> None:
        """Hand recorded gaps to ``on_gap`` (the catalog); ``new`` ones also count in the
        summary (gaps an earlier segment recorded are announced again, not counted)."""
        for start, end, cause in gaps:
            gap = RecordedGap(self.identity.run_id, int(start), int(end), str(cause))
            if new:
                self.gaps.append(gap)
            self._call_each(self.on_gap, gap, f"lens gap {start}-{end}")

    def count_gaps(self, gaps: list[list[int | str]]) -> None:
        """Count gaps this segment found in the summary without announcing them."""
        self.gaps += [RecordedGap(self.identity.run_id, int(a), int(b), str(c)) for a, b, c in gaps]

    def _notify(self, sealed: SealedChunk) -> None:
        self.sealed.append(sealed)
        self._call_each(self.on_seal, sealed, f"lens chunk {sealed.path.name}")

    def _call_each(self, callbacks: list[Callable[[T], None]], value: T, what: str) -> None:
        for callback in callbacks:
            try:
                callback(value)
            except Exception as exc:  # a catalog failure must not stop capture
                self.failures.add(CALLBACK, f"after {what}: {describe(exc)}")


def _add_gap(gaps: list[list[int | str]], start: int, end: int) -> None:
    """Append a dropped range, merged with the last one when they touch."""
    if gaps and gaps[-1][1] == start and gaps[-1][2] == DROPPED:
        gaps[-1][1] = end
    else:
        gaps.append([start, end, DROPPED])
