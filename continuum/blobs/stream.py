"""Writing a container too large to hold in memory, block by block.

:func:`~continuum.blobs.write_container` compresses every array before writing the header,
because the header (sizes and checksums of every frame) comes first in the file. A
background job that builds a file of several GB (a run's by-sample copy of its field
history) cannot hold it whole, so here the header's place is *reserved*: its length is
bounded before any frame is compressed (each frame's compressed size is at most zstd's
compress bound of its raw size, so the header with those bounds is at least as long as the
real one), the frames are streamed to the temporary file as they are compressed, and the
real header, padded with JSON whitespace to the reserved length, is written into its place
last. The result is a container like any other (readers see a header followed by trailing
spaces, which JSON allows), committed by the same temp-fsync-rename protocol.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

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
    _Malformed,
    check_kind,
    expected_file_size,
    header_doc,
    parse_header,
    storable_dtype,
)
from continuum.blobs.atomic import atomic_writer
from continuum.blobs.container import ContainerInfo, _header_json
from continuum.blobs.limits import MAX_FRAME_BYTES
from continuum.errors import BlobError
from continuum.layout import StrPath

#: ``fill(name, start, stop)``: rows ``[start, stop)`` of array ``name``
Fill = Callable[[str, int, int], np.ndarray]


@dataclass(frozen=True)
class ArraySpec:
    """An array to stream: what it is, and how many rows of it go into each zstd frame."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    rows_per_frame: int
    shuffle: bool = True

    @property
    def row_bytes(self) -> int:
        return math.prod(self.shape[1:]) * np.dtype(self.dtype).itemsize

    def blocks(self) -> list[tuple[int, int]]:
        """``(start, stop)`` row ranges, one per frame."""
        step = max(int(self.rows_per_frame), 1)
        return [(a, min(a + step, self.shape[0])) for a in range(0, self.shape[0], step)]


def _bound(raw: int) -> int:
    """zstd's compress bound of ``raw`` bytes (ZSTD_COMPRESSBOUND), plus frame overhead."""
    small = ((128 << 10) - raw) >> 11 if raw < (128 << 10) else 0
    return raw + (raw >> 8) + small + 64


def _entry(spec: ArraySpec, sizes: Sequence[int], checksum: str, offset: int) -> dict[str, Any]:
    raws = [(b - a) * spec.row_bytes for a, b in spec.blocks()]
    return {
        "checksum": checksum,
        "dtype": np.dtype(spec.dtype).str,
        "frames": [[c, r] for c, r in zip(sizes, raws)],
        "name": spec.name,
        "nbytes_compressed": sum(sizes),
        "nbytes_raw": sum(raws),
        "offset": offset,
        "shape": list(spec.shape),
        "shuffle": spec.shuffle,
    }


def _header_bytes(
    meta: Mapping[str, Any], layout: list[dict[str, Any]], level: int, checksum: str
) -> bytes:
    payload_len = sum(e["nbytes_compressed"] for e in layout)
    doc = header_doc(
        dict(meta), layout, level=level, payload_len=payload_len, payload_checksum=checksum
    )
    return _header_json(doc)


def _reserved(meta: Mapping[str, Any], specs: Sequence[ArraySpec], level: int) -> int:
    """An upper bound of the header's length: every size at its compress bound."""
    layout, offset = [], 0
    for spec in specs:
        sizes = [_bound((b - a) * spec.row_bytes) for a, b in spec.blocks()]
        layout.append(_entry(spec, sizes, "0" * 16, offset))
        offset += sum(sizes)
    return len(_header_bytes(meta, layout, level, "0" * 32))


def _check(specs: Sequence[ArraySpec]) -> list[ArraySpec]:
    names = [s.name for s in specs]
    if names != sorted(names) or len(set(names)) != len(names):
        raise BlobError("streamed arrays must have unique names, given in sorted order")
    out = []
    for spec in specs:
        dtype = storable_dtype(np.dtype(spec.dtype), spec.name)
        if not spec.shape:
            raise BlobError(f"array {spec.name!r}: a streamed array needs at least one axis")
        if spec.rows_per_frame * spec.row_bytes > MAX_FRAME_BYTES:
            raise BlobError(f"array {spec.name!r}: frames over {MAX_FRAME_BYTES} bytes")
        shuffle = spec.shuffle and dtype.itemsize > 1
        out.append(ArraySpec(spec.name, dtype, tuple(spec.shape), spec.rows_per_frame, shuffle))
    return out


def _frames_of(spec: ArraySpec, fill: Fill, level: int, threads: int) -> Iterator[bytes]:
    """The compressed frames of one array, in order, a few blocks compressed at once."""
    blocks, batch = spec.blocks(), max(threads, 1) * 2
    itemsize = np.dtype(spec.dtype).itemsize
    for k in range(0, len(blocks), batch):
        raws = []
        for a, b in blocks[k : k + batch]:
            rows = np.ascontiguousarray(fill(spec.name, a, b), dtype=spec.dtype)
            if rows.shape != (b - a, *spec.shape[1:]):
                raise BlobError(f"fill gave {rows.shape} for rows [{a}, {b}) of {spec.name!r}")
            raws.append(rows.reshape(-1).view(np.uint8))

        def one(raw: np.ndarray) -> bytes:
            return _frames.compress_block(raw, itemsize, spec.shuffle, level)

        yield from _frames.run(one, raws, threads)


def write_streamed(
    path: StrPath,
    kind: bytes,
    meta: Mapping[str, Any],
    specs: Sequence[ArraySpec],
    fill: Fill,
    *,
    level: int = 3,
    threads: int = 0,
) -> ContainerInfo:
    """Atomically write a container whose arrays ``fill`` hands over block by block.

    ``fill`` is called once per frame, in the file's order (arrays by name, rows
    ascending), so it may keep a cursor; at most ``2 * threads`` blocks are held at once.
    """
    check_kind(kind)
    specs = _check(specs)
    threads = _frames.resolve_threads(threads)
    reserved = _reserved(meta, specs, level)
    head_len = PREFIX.size + reserved + HEADER_CHECKSUM.size
    with atomic_writer(path) as f:
        f.write(b"\0" * head_len)
        layout, payload_hash, offset = _stream(f, specs, fill, level, threads)
        real = _header_bytes(meta, layout, level, payload_hash.hexdigest())
        header_bytes = real + b" " * (reserved - len(real))
        header = _parsed(header_bytes, kind, head_len, offset)
        f.write(FOOTER.pack(offset, payload_hash.digest(), END_MAGIC))
        f.seek(0)
        f.write(PREFIX.pack(MAGIC_PREFIX + kind, FORMAT_VERSION, reserved))
        f.write(header_bytes)
        f.write(HEADER_CHECKSUM.pack(xxhash.xxh3_64_intdigest(header_bytes)))
    return ContainerInfo(
        Path(path), header.raw_bytes, header.file_size, header.payload_checksum, header
    )


def _stream(
    f: BinaryIO, specs: Sequence[ArraySpec], fill: Fill, level: int, threads: int
) -> tuple[list[dict[str, Any]], Any, int]:
    layout, payload_hash, offset = [], xxhash.xxh3_128(), 0
    for spec in specs:
        digest, sizes = xxhash.xxh3_64(), []
        for frame in _frames_of(spec, fill, level, threads):
            f.write(frame)
            digest.update(frame)
            payload_hash.update(frame)
            sizes.append(len(frame))
        layout.append(_entry(spec, sizes, digest.hexdigest(), offset))
        offset += sum(sizes)
    return layout, payload_hash, offset


def _parsed(header_bytes: bytes, kind: bytes, head_len: int, payload_len: int) -> Any:
    """The reader's own checks of what is about to be committed."""
    try:
        return parse_header(
            header_bytes,
            kind=kind,
            version=FORMAT_VERSION,
            payload_offset=head_len,
            file_size=expected_file_size(head_len, payload_len),
        )
    except _Malformed as exc:
        raise BlobError(f"refusing to write a container readers would refuse: {exc}") from None
