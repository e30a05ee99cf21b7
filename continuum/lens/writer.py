"""The background lens writer: frames in, sealed chunk files out, never blocking the loop.

The tick loop hands over the frames it observed (references to immutable arrays, no
copy) through a bounded queue; when the queue is full the frames are **dropped**,
counted and logged — lost observer data beats a blocked simulation. Everything else is
off the loop, in three pipelined stages (threads joined by bounded queues):

1. ``lens-buffer`` appends frames to the current piece of a chunk window (cheap: no
   copies) and cuts pieces by the sealing rules below;
2. ``lens-encode`` turns a piece into a blob: stacking columns, byte shuffle, zstd;
3. ``lens-io`` commits the blob atomically (temp file, fsync, rename, fsync dir),
   records it in the manifest and calls the ``on_seal`` callbacks (the catalog records
   chunks through one).

Why three: encoding a 64 MiB piece takes ~0.15 s, during which a 64x64 world ticks a
hundred times, so buffering must not wait for it; and at 256x256 writing + fsync is
~40 % of a chunk's cost, so encoding the next piece overlaps the disk. Each stage holds
at most one piece in its queue: memory stays a few ``max_chunk_bytes``, and when the
disk cannot keep up the backpressure ends in dropped frames, not a blocked loop.

The stages run at normal CPU priority. Encoding costs ~9 ms of CPU per 256x256 frame of
two float64 fields (stack 2, shuffle 3.5, zstd 5), about 0.6 of the core a 15 ms tick
leaves free on a two-core machine. Running them at nice +10 was measured: on a machine
with other load the run kept its speed but dropped 40 % of the frames — at stride 1,
most of what was asked for — so CPU contention is left to the OS as for any thread.

Sealing rules (windows: :mod:`continuum.lens.manifest`; names: :mod:`continuum.layout`):
a piece is sealed when a frame past its window arrives (named by the window), when its frames reach
``max_chunk_bytes`` (ending after its last frame), and at the end of a segment (ending
at the segment's last tick + 1). A failed write (ENOSPC...) loses that piece, is logged
and counted, and capture goes on.

The writer does not read lens files: the encode stage keeps the header it computed
(:class:`~continuum.lens.format.EncodedChunk`) and the io stage records it as is.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from continuum import layout
from continuum.blobs import atomic_write
from continuum.errors import LensError
from continuum.lens.format import DEFAULT_LEVEL, EncodedChunk, LensIdentity, encode_chunk
from continuum.lens.history import FieldLens
from continuum.lens.manifest import LensManifest, chunk_entry, window_of
from continuum.lens.reconstruct import topology_from_spec
from continuum.runtime import FieldFrame

log = logging.getLogger("continuum.lens")

DEFAULT_QUEUE_DEPTH = 32
#: Raw bytes of frames buffered before a piece is sealed early. Sealing 64 MiB takes
#: ~0.15 s on one core (level 1 + shuffle), well inside what the queue absorbs.
DEFAULT_MAX_CHUNK_BYTES = 64 << 20


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


SealCallback = Callable[[SealedChunk], None]


@dataclass
class Captured:
    """One tick's observation, as the loop hands it over."""

    tick: int
    sim_time: float
    frames: list[FieldFrame]
    signals: dict[str, np.ndarray]


@dataclass
class _End:
    final_tick: int


@dataclass
class _Piece:
    start: int
    window_end: int
    lens: FieldLens


class _Stage:
    """One worker thread draining a bounded queue; ``None`` ends it after what is queued."""

    def __init__(self, name: str, handle: Callable[[Any], None], depth: int) -> None:
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._handle = handle
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while (item := self.queue.get()) is not None:
            self._handle(item)

    def finish(self) -> None:
        self.queue.put(None)
        self._thread.join()


class ChunkWriter:
    """The buffer, encode and io stages writing the chunks of one lens run dir."""

    def __init__(
        self,
        manifest: LensManifest,
        identity: LensIdentity,
        *,
        chunk_size: int,
        next_start: int,
        max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES,
        level: int = DEFAULT_LEVEL,
        shuffle: bool = True,
        depth: int = DEFAULT_QUEUE_DEPTH,
        on_seal: list[SealCallback] | None = None,
    ) -> None:
        self.manifest = manifest
        self.run_dir = manifest.run_dir
        self.identity = identity
        self.topology = topology_from_spec(identity.topology) if identity.topology else None
        self.chunk_size = chunk_size
        self.next_start = next_start
        self.max_chunk_bytes = max_chunk_bytes
        self.level, self.shuffle = level, shuffle
        self.on_seal = list(on_seal or [])
        self.sealed: list[SealedChunk] = []
        self.frames_written = self.dropped = self.failed = 0
        self._piece: _Piece | None = None
        self._count_lock = threading.Lock()
        self._io = _Stage("lens-io", self._commit, 1)
        self._encode = _Stage("lens-encode", self._encode_piece, 1)
        self._buffer = _Stage("lens-buffer", self._take, depth)

    def submit(self, item: Captured) -> bool:
        """Hand one tick's frames over without waiting; False (and counted) if full."""
        try:
            self._buffer.queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning(
                    "lens frames at tick %d dropped: writer queue full (%d dropped so far)",
                    item.tick,
                    self.dropped,
                )
            return False
        return True

    def close(self, final_tick: int) -> None:
        """Seal what is buffered (ending at ``final_tick + 1``), write it, stop the stages."""
        self._buffer.queue.put(_End(final_tick))
        for stage in (self._buffer, self._encode, self._io):
            stage.finish()

    def _failed(self, what: str, exc: Exception) -> None:
        """A lens bug or a failed write is logged and counted; it must not stop the run."""
        with self._count_lock:  # three stages can fail at once
            self.failed += 1
        log.warning("lens %s failed: %s", what, exc)

    # -- stage 1: buffer ------------------------------------------------------------------

    def _take(self, item: Captured | _End) -> None:
        try:
            if isinstance(item, _End):
                self._seal(item.final_tick + 1)
            else:
                self._add(item)
        except Exception as exc:
            self._piece = None
            self._failed(f"capture at tick {getattr(item, 'tick', item)}", exc)

    def _add(self, item: Captured) -> None:
        piece = self._piece
        if piece is not None and item.tick >= piece.window_end:
            self._seal(piece.window_end)
            piece = None
        if piece is None:
            window_start, window_end = window_of(item.tick, self.chunk_size)
            lens = FieldLens(self.topology, max_frames=None, identity=self.identity)
            piece = self._piece = _Piece(max(window_start, self.next_start), window_end, lens)
        piece.lens.record_many(item.tick, item.frames, sim_time=item.sim_time, signals=item.signals)
        if piece.lens.nbytes >= self.max_chunk_bytes:
            self._seal(item.tick + 1)

    def _seal(self, end: int) -> None:
        """Cut the current piece at [start, min(end, window end)); the next starts there."""
        piece, self._piece = self._piece, None
        if piece is None:
            return
        end = min(end, piece.window_end)
        self.next_start = end
        self._encode.queue.put((piece, end))  # waits while a piece is queued: backpressure

    # -- stage 2: encode ------------------------------------------------------------------

    def _encode_piece(self, job: tuple[_Piece, int]) -> None:
        piece, end = job
        name = f"[{piece.start}, {end})"
        try:
            data = piece.lens.to_chunk(frame_lists=True)
            if not len(data.ticks):
                return
            path = layout.lens_chunk_path(self.run_dir, piece.start, end)
            name = path.name
            span = (piece.start, end)
            encoded = encode_chunk(
                path, data, self.identity, tick_range=span, level=self.level, shuffle=self.shuffle
            )
        except Exception as exc:
            self._failed(f"chunk {name}", exc)
            return
        self._io.queue.put(encoded)

    # -- stage 3: io ----------------------------------------------------------------------

    def _commit(self, encoded: EncodedChunk) -> None:
        header, path = encoded.header, encoded.header.path
        try:
            atomic_write(path, encoded.blob)
            self.manifest.add_chunk(chunk_entry(header))
        except (OSError, LensError) as exc:
            self._failed(f"chunk {path.name} (not written)", exc)
            return
        self.frames_written += header.frames
        self._notify(
            SealedChunk(
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
            )
        )

    def _notify(self, sealed: SealedChunk) -> None:
        self.sealed.append(sealed)
        for callback in self.on_seal:
            try:
                callback(sealed)
            except Exception as exc:  # a catalog failure must not stop capture
                log.warning("after lens chunk %s: %s", sealed.path.name, exc)
