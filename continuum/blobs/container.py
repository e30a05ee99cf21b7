"""The checksummed array container that ``.ckpt`` and ``.lens`` files are built on.

A container is a JSON header (caller metadata plus a layout table) followed
by zstd frames of raw little-endian numpy buffers and a footer; the byte
layout is documented in :mod:`continuum.blobs._layout`. Design choices:

- The header is complete before the payload is written (it carries the payload
  length and checksum), so inspecting a file reads a few KB and decompresses
  nothing, and truncation is caught from the file size alone.
- Every byte is covered: the header by xxh3_64, each array's frames by xxh3_64,
  the whole payload by xxh3_128 (also in the footer), each frame's content by
  zstd's own checksum. A cut or flipped bit raises the caller's ``error_cls``,
  never returns a different array.
- Output is deterministic: arrays are stored sorted by name, with fixed codec
  parameters, so the same meta and arrays give the same bytes (timestamps are
  the caller's business, in ``meta``).

Defaults, from ``scripts/bench_blobs.py`` on 50 MB of smooth float64 state:
zstd level 3; float arrays byte-shuffled (ratio 1.14 -> 1.50, and faster, see
:mod:`~continuum.blobs._shuffle`); 1 MiB frames (see :mod:`~continuum.blobs._frames`);
writers compress in the calling thread (they run beside the tick loop), readers
on every usable CPU that is free (decoding while they read, unshuffling in C).
Measured there (2-CPU guest shared with other jobs, so ranges over runs): write
1.1-1.6x the speed of one-call zstd of the raw bytes + write + fsync; header < 1 ms.
Load figures against plain zstd and h5py: ``scripts/bench_checkpoint.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xxhash

from continuum.blobs import _frames
from continuum.blobs._layout import (
    END_MAGIC,
    FOOTER,
    FORMAT_VERSION,
    HEADER_CHECKSUM,
    MAGIC_PREFIX,
    PREFIX,
    ArrayEntry,
    ContainerHeader,
    _Malformed,
    check_kind,
    expected_file_size,
    header_doc,
    parse_header,
    storable_dtype,
)
from continuum.blobs._reader import (
    DEFAULT_READ_THREADS,
    ContainerReader,
    header_bytes_needed,
    read_header,
)
from continuum.blobs.atomic import atomic_write
from continuum.blobs.limits import MAX_FRAME_BYTES
from continuum.errors import BlobError
from continuum.layout import StrPath

__all__ = [
    "DEFAULT_READ_THREADS",
    "ArrayEntry",
    "ContainerHeader",
    "ContainerInfo",
    "ContainerReader",
    "FrameRows",
    "ShufflePolicy",
    "Stacked",
    "encode_container",
    "encode_container_with_header",
    "header_bytes_needed",
    "read_header",
    "write_container",
]

ShufflePolicy = bool | Literal["auto"] | Callable[[str, "np.ndarray | Stacked"], bool]
#: ``(array name) -> rows of its first axis per zstd frame``, or None for byte blocks: an
#: array cut at row boundaries can be read a few rows at a time
#: (:meth:`ContainerReader.read_rows` decodes only the frames holding them)
FrameRows = Callable[[str], "int | None"]


@dataclass(frozen=True)
class ContainerInfo:
    """What :func:`write_container` committed: sizes and checksum for the catalog."""

    path: Path
    raw_bytes: int
    disk_bytes: int
    payload_checksum: str
    header: ContainerHeader


@dataclass(frozen=True)
class Stacked:
    """An array given as its rows — ``np.stack(rows)`` — that is never stacked whole.

    The writer stacks it into a per-thread scratch buffer just before compressing it, so
    encoding a chunk of many frames holds no stacked copy of them: the lens writer's
    memory stays what its budget counts, and no fresh pages are faulted in per chunk.
    Every row must have the shape and dtype of the first; there must be at least one.
    """

    rows: Sequence[np.ndarray]

    def __post_init__(self) -> None:
        if not self.rows:
            raise BlobError("Stacked needs at least one row (an empty array is an ndarray)")
        first = self.rows[0]
        for row in self.rows:
            if row.shape != first.shape or row.dtype != first.dtype:
                got, want = f"{row.shape} {row.dtype}", f"{first.shape} {first.dtype}"
                raise BlobError(f"Stacked rows differ: {got} after {want}")

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.rows), *self.rows[0].shape)

    @property
    def dtype(self) -> np.dtype:
        return self.rows[0].dtype


@dataclass(frozen=True)
class _Plan:
    """One array on its way to disk: stored dtype and shape, its bytes and block spans.

    ``source`` is the flat uint8 view of a stored-form array, or a :class:`Stacked`
    whose bytes exist only while :meth:`flat` is in use.
    """

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    source: np.ndarray | Stacked
    shuffle: bool
    spans: list[tuple[int, int]]

    @property
    def nbytes(self) -> int:
        return self.spans[-1][1] if self.spans else 0

    def flat(self) -> np.ndarray:
        """The stored bytes, flat: a view, or the rows stacked into this thread's scratch
        (valid until the thread's next call)."""
        if isinstance(self.source, np.ndarray):
            return self.source
        out = _frames.scratch(self.nbytes, slot="stack")[: self.nbytes]
        np.stack(self.source.rows, out=out.view(self.dtype).reshape(self.shape))
        return out


def _wants_shuffle(policy: ShufflePolicy, name: str, array: np.ndarray | Stacked) -> bool:
    if array.dtype.itemsize == 1:
        return False  # a one-byte element has nothing to transpose
    if policy == "auto":
        return array.dtype.kind in "fc"
    return bool(policy(name, array)) if callable(policy) else bool(policy)


def _sorted_names(arrays: Mapping[str, Any]) -> list[str]:
    for name in arrays:
        if not isinstance(name, str) or not name:
            raise BlobError(f"array names must be non-empty strings, got {name!r}")
    return sorted(arrays)


def _spans(
    nbytes: int, shape: tuple[int, ...], block: int, rows: int | None
) -> list[tuple[int, int]]:
    """Byte blocks of an array: ``block`` bytes each, or ``rows`` whole rows each."""
    if rows is None or len(shape) == 0 or nbytes == 0:
        return _frames.block_spans(nbytes, block)
    row_bytes = nbytes // shape[0]
    step = max(int(rows), 1) * row_bytes
    if step > MAX_FRAME_BYTES:
        raise BlobError(f"{rows} rows of {row_bytes} bytes exceed a frame ({MAX_FRAME_BYTES})")
    return _frames.block_spans(nbytes, step)


def _plan(
    name: str, value: Any, policy: ShufflePolicy, block_bytes: int, rows: int | None = None
) -> _Plan:
    if isinstance(value, Stacked):
        dtype = storable_dtype(value.dtype, name)
        if dtype != value.dtype:  # stacking into scratch does not swap bytes
            value = Stacked([r.astype(dtype) for r in value.rows])
        shape = value.shape
        nbytes = int(np.prod(shape)) * dtype.itemsize
        source: np.ndarray | Stacked = value
        wants = _wants_shuffle(policy, name, value)
    else:
        array = np.asarray(value)
        dtype = storable_dtype(array.dtype, name)
        array = array.astype(dtype, copy=False)
        shape, source = array.shape, np.ascontiguousarray(array.reshape(-1)).view(np.uint8)
        nbytes = source.size
        wants = _wants_shuffle(policy, name, array)
    spans = _spans(nbytes, shape, block_bytes, rows)
    return _Plan(name, dtype, shape, source, wants, spans)


def _compress(plans: list[_Plan], level: int, threads: int) -> list[list[bytes]]:
    """Frames of every array, compressed on ``threads`` workers, grouped per array.

    A plain array is one job per block; a :class:`Stacked` one job for all its blocks
    (stacked once, into the worker's scratch).
    """
    jobs = []
    for k, plan in enumerate(plans):
        if isinstance(plan.source, Stacked):
            jobs.append((k, plan.spans))
        else:
            jobs += [(k, [span]) for span in plan.spans]

    def one(job: tuple[int, list[tuple[int, int]]]) -> list[bytes]:
        plan = plans[job[0]]
        flat = plan.flat()
        itemsize = plan.dtype.itemsize
        return [_frames.compress_block(flat[a:b], itemsize, plan.shuffle, level) for a, b in job[1]]

    grouped: list[list[bytes]] = [[] for _ in plans]
    for (k, _), frames in zip(jobs, _frames.run(one, jobs, _frames.resolve_threads(threads))):
        grouped[k] += frames
    return grouped


def _layout_entry(plan: _Plan, frames: list[bytes], offset: int) -> dict[str, Any]:
    digest = xxhash.xxh3_64()
    for frame in frames:
        digest.update(frame)
    return {
        "checksum": digest.hexdigest(),
        "dtype": plan.dtype.str,
        "frames": [[len(f), stop - start] for f, (start, stop) in zip(frames, plan.spans)],
        "name": plan.name,
        "nbytes_compressed": sum(len(f) for f in frames),
        "nbytes_raw": plan.nbytes,
        "offset": offset,
        "shape": list(plan.shape),
        "shuffle": plan.shuffle,
    }


def _header_json(doc: dict[str, Any]) -> bytes:
    try:
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise BlobError(f"meta must be plain JSON data (no NaN, no numpy scalars): {exc}") from exc
    return text.encode("utf-8")


def _encode(
    kind: bytes,
    meta: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray | Stacked],
    *,
    level: int,
    shuffle: ShufflePolicy,
    threads: int,
    block_bytes: int,
    frame_rows: FrameRows | None = None,
) -> tuple[list[bytes], ContainerHeader]:
    """All chunks of the file, in order, and the header a reader will see."""
    check_kind(kind)
    if block_bytes <= 0 or block_bytes % 16 or block_bytes > MAX_FRAME_BYTES:
        raise ValueError(
            f"block_bytes must be a positive multiple of 16 up to {MAX_FRAME_BYTES}, "
            f"got {block_bytes}"
        )
    _header_json({"meta": dict(meta)})  # refuse bad meta before spending time compressing
    plans = [
        _plan(name, arrays[name], shuffle, block_bytes, frame_rows(name) if frame_rows else None)
        for name in _sorted_names(arrays)
    ]
    grouped = _compress(plans, level, threads)
    layout, payload_hash, offset = [], xxhash.xxh3_128(), 0
    for plan, frames in zip(plans, grouped):
        layout.append(_layout_entry(plan, frames, offset))
        offset += layout[-1]["nbytes_compressed"]
        for frame in frames:
            payload_hash.update(frame)
    doc = header_doc(
        dict(meta),
        layout,
        level=level,
        payload_len=offset,
        payload_checksum=payload_hash.hexdigest(),
    )
    header_bytes = _header_json(doc)
    head = b"".join(
        (
            PREFIX.pack(MAGIC_PREFIX + kind, FORMAT_VERSION, len(header_bytes)),
            header_bytes,
            HEADER_CHECKSUM.pack(xxhash.xxh3_64_intdigest(header_bytes)),
        )
    )
    try:  # the reader's own checks: a file no reader would accept is never written
        header = parse_header(
            header_bytes,
            kind=kind,
            version=FORMAT_VERSION,
            payload_offset=len(head),
            file_size=expected_file_size(len(head), offset),
        )
    except _Malformed as exc:
        raise BlobError(f"refusing to write a container readers would refuse: {exc}") from None
    footer = FOOTER.pack(offset, payload_hash.digest(), END_MAGIC)
    return [head, *(f for frames in grouped for f in frames), footer], header


def encode_container(
    kind: bytes,
    meta: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray | Stacked],
    *,
    level: int = 3,
    shuffle: ShufflePolicy = "auto",
    threads: int = 0,
    block_bytes: int = _frames.DEFAULT_BLOCK_BYTES,
) -> bytes:
    """The bytes :func:`write_container` would write (for tests and in-memory use)."""
    parts = encode_container_with_header(
        kind, meta, arrays, level=level, shuffle=shuffle, threads=threads, block_bytes=block_bytes
    )[0]
    return b"".join(parts)


def encode_container_with_header(
    kind: bytes,
    meta: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray | Stacked],
    *,
    level: int = 3,
    shuffle: ShufflePolicy = "auto",
    threads: int = 0,
    block_bytes: int = _frames.DEFAULT_BLOCK_BYTES,
    frame_rows: FrameRows | None = None,
) -> tuple[list[bytes], ContainerHeader]:
    """The file's bytes, as the parts to write in order, and the header a reader will
    parse from them, so a writer that encodes and commits apart never reads back the
    file it just wrote. The parts are not joined: a copy of a whole chunk, made beside
    the tick loop, would fault in fresh pages for nothing (``atomic_write`` takes them)."""
    return _encode(
        kind,
        meta,
        arrays,
        level=level,
        shuffle=shuffle,
        threads=threads,
        block_bytes=block_bytes,
        frame_rows=frame_rows,
    )


def write_container(
    path: StrPath,
    kind: bytes,
    meta: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray | Stacked],
    *,
    level: int = 3,
    shuffle: ShufflePolicy = "auto",
    threads: int = 0,
    block_bytes: int = _frames.DEFAULT_BLOCK_BYTES,
    frame_rows: FrameRows | None = None,
) -> ContainerInfo:
    """Atomically write ``arrays`` and ``meta`` (JSON data) as a ``kind`` container.

    ``shuffle``: ``"auto"`` byte-shuffles float and complex arrays (smooth
    fields compress better and faster, see :mod:`continuum.blobs._shuffle`),
    ``True``/``False`` every/no array, or a callable ``(name, array) -> bool``.
    ``threads``: compression workers; 0 compresses in the calling thread, the
    default, because writers run beside the tick loop and must not take its
    cores; -1 uses every CPU. Output bytes do not depend on it.
    ``block_bytes``: raw bytes per zstd frame (see :mod:`continuum.blobs._frames`);
    ``frame_rows``: for the arrays it names, whole rows per frame instead.
    Invalid input (unsupported dtype, non-JSON meta) raises ``BlobError``;
    ``OSError`` from the filesystem propagates and leaves ``path`` untouched.
    """
    chunks, header = _encode(
        kind,
        meta,
        arrays,
        level=level,
        shuffle=shuffle,
        threads=threads,
        block_bytes=block_bytes,
        frame_rows=frame_rows,
    )
    atomic_write(path, chunks)
    return ContainerInfo(
        path=Path(path),
        raw_bytes=header.raw_bytes,
        disk_bytes=header.file_size,
        payload_checksum=header.payload_checksum,
        header=header,
    )
