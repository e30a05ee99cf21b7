"""The background lens writer: frames in, sealed chunk files out, never blocking the loop.

The tick loop hands over the frames it observed (references to immutable arrays, no
copy) through a bounded queue; when the queue is full the frames are **dropped**,
counted and logged — lost observer data beats a blocked simulation. Everything else
runs on this thread: buffering frames into the current piece of a chunk window, sealing
it (stacking columns, byte shuffle, zstd), the atomic write, the manifest update and the
``on_seal`` callbacks (the catalog records chunks through one).

Sealing rules (names and windows: :mod:`continuum.lens.manifest`): a piece is sealed
when a frame past its window arrives (named by the window), when its frames reach
``max_chunk_bytes`` (ending after its last frame), and at the end of a segment (ending
at the segment's last tick + 1). A failed write (ENOSPC...) loses that piece, is logged
and counted, and capture goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from continuum.errors import LensError
from continuum.lens.format import DEFAULT_LEVEL, LensIdentity, write_chunk
from continuum.lens.history import FieldLens
from continuum.lens.manifest import LensManifest, chunk_name, window_of
from continuum.lens.store import chunk_entry
from continuum.runtime import FieldFrame
from continuum.topology import CubedSphere

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


class ChunkWriter:
    """One thread sealing and writing the chunks of one lens run dir."""

    def __init__(
        self,
        manifest: LensManifest,
        identity: LensIdentity,
        *,
        chunk_size: int,
        next_start: int,
        max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES,
        level: int = DEFAULT_LEVEL,
        depth: int = DEFAULT_QUEUE_DEPTH,
        on_seal: list[SealCallback] | None = None,
    ) -> None:
        self.manifest = manifest
        self.run_dir = manifest.run_dir
        self.identity = identity
        self.topology = CubedSphere.from_spec(identity.topology) if identity.topology else None
        self.chunk_size = chunk_size
        self.next_start = next_start
        self.max_chunk_bytes = max_chunk_bytes
        self.level = level
        self.on_seal = list(on_seal or [])
        self.sealed: list[SealedChunk] = []
        self.frames_written = self.dropped = self.failed = 0
        self._piece: _Piece | None = None
        self._queue: queue.Queue[Captured | _End] = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._loop, name="lens-writer", daemon=True)
        self._thread.start()

    def submit(self, item: Captured) -> bool:
        """Hand one tick's frames over without waiting; False (and counted) if full."""
        try:
            self._queue.put_nowait(item)
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
        """Seal what is buffered (ending at ``final_tick + 1``), then stop the thread."""
        self._queue.put(_End(final_tick))
        self._thread.join()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if isinstance(item, _End):
                    self._seal(item.final_tick + 1)
                    return
                self._add(item)
            except Exception as exc:  # a lens bug must not take the run down with it
                self.failed += 1
                log.warning("lens capture failed at tick %s: %s", getattr(item, "tick", "?"), exc)
                self._piece = None

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
        """Write the current piece as [start, min(end, window end)); start the next there."""
        piece, self._piece = self._piece, None
        if piece is None:
            return
        end = min(end, piece.window_end)
        self.next_start = end
        data = piece.lens.to_chunk()
        if not len(data.ticks):
            return
        path = self.run_dir / chunk_name(piece.start, end)
        try:
            info = write_chunk(
                path, data, self.identity, tick_range=(piece.start, end), level=self.level
            )
            self.manifest.add_chunk(chunk_entry(info))
        except (OSError, LensError) as exc:
            self.failed += 1
            log.warning("lens chunk %s failed and was not written: %s", path.name, exc)
            return
        self.frames_written += len(data.ticks)
        self._notify(
            SealedChunk(
                self.identity.run_id,
                (piece.start, end),
                int(data.ticks[0]),
                int(data.ticks[-1]),
                len(data.ticks),
                tuple(sorted(data.fields)),
                path,
                info.disk_bytes,
                info.raw_bytes,
                info.payload_checksum,
            )
        )

    def _notify(self, sealed: SealedChunk) -> None:
        self.sealed.append(sealed)
        for callback in self.on_seal:
            try:
                callback(sealed)
            except Exception as exc:  # a catalog failure must not stop capture
                log.warning("after lens chunk %s: %s", sealed.path.name, exc)
