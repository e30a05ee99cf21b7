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
and counted, and capture goes on. So does any other failure of a stage — a bug, a
manifest that cannot be rewritten or holds what it should not: each stage is a
:class:`continuum.blobs.worker.Worker`, which outlives its handler's exceptions, and
every hand-off between stages (and :meth:`ChunkWriter.close`) gives up on a stage
whose thread is gone instead of waiting for it forever. A chunk whose file was
committed but whose manifest entry could not be written is still sealed (files are
the truth; the store finds it), the manifest failure counted apart.

The writer does not read lens files: the encode stage keeps the header it computed
(:class:`~continuum.lens.format.EncodedChunk`) and the io stage records it as is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from continuum import layout
from continuum.blobs import atomic_write
from continuum.blobs.worker import Failures, Worker, describe, kill_point
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


# Failure kinds (``ChunkWriter.failures``, the run summary's ``failures``)
CHUNK = "lens_chunks"  # a piece of frames lost
MANIFEST, CALLBACK = "lens_manifest", "lens_callbacks"


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
        self.frames_written = self.dropped = 0
        self.failures = Failures(log)
        self._piece: _Piece | None = None
        self._io: Worker[EncodedChunk] = Worker(
            "lens-io", self._commit, depth=1, on_error=self._io_failed
        )
        self._encode: Worker[tuple[_Piece, int]] = Worker(
            "lens-encode", self._encode_piece, depth=1, on_error=self._encode_failed
        )
        self._buffer: Worker[Captured | _End] = Worker(
            "lens-buffer", self._take, depth=depth, on_error=self._take_failed
        )

    @property
    def failed(self) -> int:
        """Pieces of this segment lost (not written)."""
        return self.failures[CHUNK]

    def submit(self, item: Captured) -> bool:
        """Hand one tick's frames over without waiting; False (and counted) if full."""
        if self._buffer.offer(item):
            return True
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 1000 == 0:
            why = "writer queue full" if self._buffer.alive else "writer thread stopped"
            log.warning(
                "lens frames at tick %d dropped: %s (%d dropped so far)",
                item.tick,
                why,
                self.dropped,
            )
        return False

    def close(self, final_tick: int) -> None:
        """Seal what is buffered (ending at ``final_tick + 1``), write it, stop the stages.

        Never waits for a stage whose thread is gone: what it held is counted as lost.
        """
        if not self._buffer.put(_End(final_tick)):
            self._lost(f"piece ending at tick {final_tick}", "the buffer thread stopped")
        for stage in (self._buffer, self._encode, self._io):
            stage.finish()

    def _lost(self, what: str, why: str) -> None:
        """A piece that will not be written: counted and logged; the run goes on."""
        self.failures.add(CHUNK, f"lens {what} was not written: {why}")

    def _take_failed(self, item: Captured | _End, exc: Exception) -> None:
        self._piece = None
        tick = item.final_tick if isinstance(item, _End) else item.tick
        self._lost(f"piece holding tick {tick}", describe(exc))

    def _encode_failed(self, job: tuple[_Piece, int], exc: Exception) -> None:
        self._lost(f"chunk [{job[0].start}, {job[1]})", describe(exc))

    def _io_failed(self, encoded: EncodedChunk, exc: Exception) -> None:
        self._lost(f"chunk {encoded.header.path.name}", describe(exc))

    # -- stage 1: buffer ------------------------------------------------------------------

    def _take(self, item: Captured | _End) -> None:
        """Buffer stage: any failure drops the current piece (``_take_failed``)."""
        if isinstance(item, _End):
            self._seal(item.final_tick + 1)
        else:
            self._add(item)

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
        if not self._encode.put((piece, end)):  # waits while a piece is queued: backpressure
            self._lost(f"chunk [{piece.start}, {end})", "the encode thread stopped")

    # -- stage 2: encode ------------------------------------------------------------------

    def _encode_piece(self, job: tuple[_Piece, int]) -> None:
        """Encode stage: any failure loses this piece (``_encode_failed``)."""
        piece, end = job
        data = piece.lens.to_chunk(frame_lists=True)
        if not len(data.ticks):
            return
        path = layout.lens_chunk_path(self.run_dir, piece.start, end)
        span = (piece.start, end)
        encoded = encode_chunk(
            path, data, self.identity, tick_range=span, level=self.level, shuffle=self.shuffle
        )
        if not self._io.put(encoded):
            self._lost(f"chunk {path.name}", "the io thread stopped")

    # -- stage 3: io ----------------------------------------------------------------------

    def _commit(self, encoded: EncodedChunk) -> None:
        """Io stage: a failed write loses the piece; a failed manifest entry does not."""
        header, path = encoded.header, encoded.header.path
        try:
            atomic_write(path, encoded.blob)
        except Exception as exc:
            self._lost(f"chunk {path.name}", describe(exc))
            return
        kill_point("lens-rename", header.tick_range[1])  # test-only (blobs.worker)
        try:
            self.manifest.add_chunk(chunk_entry(header))
        except Exception as exc:  # the file is durable: the store finds it without the entry
            where = layout.manifest_path(self.run_dir)
            self.failures.add(MANIFEST, f"{where}: {path.name} not listed: {describe(exc)}")
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
                self.failures.add(CALLBACK, f"after lens chunk {sealed.path.name}: {describe(exc)}")
