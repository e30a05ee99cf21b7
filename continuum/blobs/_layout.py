"""Container layout: fixed structs, the typed header, and parsing it at the boundary.

File layout (version 1, integers little-endian)::

    prefix   magic 8 bytes (b"CNTM" + kind tag), format_version u32, header_len u32
    header   header_len bytes of UTF-8 JSON (sorted keys), then xxh3_64(header) u64
    payload  zstd frames, array after array, in the order of the header's layout
    footer   payload_len u64, xxh3_128(payload) 16 bytes (canonical digest), b"CNTMEND\\0"

The JSON header (compact, sorted keys; checksums as lowercase hex)::

    {"compression": {"codec": "zstd", "level": 3},
     "layout": [{"name": "cur/x", "dtype": "<f8", "shape": [6, 32, 32],
                 "shuffle": true, "offset": 0, "nbytes_compressed": 30211,
                 "nbytes_raw": 49152, "checksum": "<xxh3_64 of the array's frames>",
                 "frames": [[30211, 49152]]}, ...],
     "meta": {...the caller's JSON...},
     "payload_checksum": "<xxh3_128>", "payload_len": 30211,
     "totals": {"compressed_bytes": 30211, "raw_bytes": 49152}}

Each frame holds a block of whole elements; with ``shuffle`` the block's bytes
are stored plane by plane (byte 0 of every element, then byte 1...), so every
frame decodes on its own. The file size is fully determined by the header,
which is how truncation is detected without touching the payload.

The JSON header is parsed once, here, into :class:`ContainerHeader`; nothing
deeper looks at the raw dict again.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
import numpy as np
from msgspec import Meta

from continuum.blobs.limits import (
    MAX_FRAME_BYTES,
    MAX_RAW_ENV,
    ZSTD_MAX_RATIO,
    max_raw_bytes,
)
from continuum.errors import BlobError

FORMAT_VERSION = 1
MAGIC_PREFIX = b"CNTM"
END_MAGIC = b"CNTMEND\0"
PREFIX = struct.Struct("<8sII")
HEADER_CHECKSUM = struct.Struct("<Q")
FOOTER = struct.Struct("<Q16s8s")
#: kind tags this project writes; any other is named "unknown" in messages, never printed
KNOWN_KINDS = (b"CKPT", b"LENS")

#: dtype kinds a container stores: bool, signed/unsigned ints, floats, complex.
_KINDS = "biufc"
_MAX_ITEMSIZE = {"b": 1, "i": 8, "u": 8, "f": 8, "c": 16}  # no platform long doubles


@dataclass(frozen=True)
class ArrayEntry:
    """One array of the layout table: where its frames sit and how to decode them."""

    name: str
    dtype: str  # numpy dtype str, little-endian or byte-order free ("<f8", "|b1")
    shape: tuple[int, ...]
    shuffle: bool
    offset: int  # into the payload
    nbytes_compressed: int
    nbytes_raw: int
    checksum: str  # hex xxh3_64 of the array's compressed bytes
    frames: tuple[tuple[int, int], ...]  # (compressed, raw) bytes of each zstd frame


@dataclass(frozen=True)
class ContainerHeader:
    """Everything known about a container without decompressing anything."""

    kind: bytes
    version: int
    meta: dict[str, Any]
    layout: tuple[ArrayEntry, ...]
    raw_bytes: int
    compressed_bytes: int
    codec: str
    level: int
    payload_offset: int
    payload_len: int
    payload_checksum: str  # hex xxh3_128
    file_size: int
    #: ``meta`` as it is in the file, for callers that decode it with their own typed Struct
    meta_json: bytes = field(default=b"{}", repr=False, compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        """Array names in payload order."""
        return tuple(entry.name for entry in self.layout)


def kind_text(kind: bytes) -> str:
    """A kind tag for messages: ``b"CKPT"`` -> ``CKPT``."""
    return kind.decode("ascii", "backslashreplace")


def check_kind(kind: bytes) -> bytes:
    """Validate a caller's kind tag (4 ASCII bytes)."""
    if not isinstance(kind, bytes) or len(kind) != 4 or not kind.isascii():
        raise ValueError(f"kind must be 4 ASCII bytes such as b'CKPT', got {kind!r}")
    return kind


def storable_dtype(dtype: np.dtype, name: str) -> np.dtype:
    """The little-endian dtype an array is stored as, or BlobError if it cannot be."""
    if dtype.kind not in _KINDS or dtype.itemsize > _MAX_ITEMSIZE[dtype.kind]:
        raise BlobError(
            f"array {name!r}: dtype {dtype} cannot be stored; containers hold fixed-size "
            "bool, int, uint, float (up to 64 bit) and complex (up to 128 bit) arrays"
        )
    return dtype.newbyteorder("<")


class _Malformed(Exception):
    """Internal: the header JSON does not have the expected shape."""


def _expect(cond: bool, what: str) -> None:
    if not cond:
        raise _Malformed(what)


#: Every dtype :func:`storable_dtype` admits, as numpy spells it little-endian.
DTYPES: tuple[str, ...] = ("|b1", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8")
DTYPES += ("<f2", "<f4", "<f8", "<c8", "<c16")
_MAX_DIMS = 32
_Count = Annotated[int, Meta(ge=0, le=1 << 62)]
_Positive = Annotated[int, Meta(ge=1, le=1 << 62)]
_DtypeStr = Annotated[
    str, Meta(pattern="^(" + "|".join(d.replace("|", "\\|") for d in DTYPES) + ")$")
]


class _EntryDoc(msgspec.Struct):
    name: Annotated[str, Meta(pattern=r"^[\x20-\x7e]{1,1024}$")]  # printable ASCII
    dtype: _DtypeStr
    shape: Annotated[list[_Count], Meta(max_length=_MAX_DIMS)]
    shuffle: bool
    offset: _Count
    nbytes_compressed: _Count
    nbytes_raw: _Count
    checksum: Annotated[str, Meta(pattern="^[0-9a-f]{16}$")]
    frames: list[tuple[_Count, _Positive]]


class _CompressionDoc(msgspec.Struct):
    codec: Annotated[str, Meta(pattern="^zstd$")]
    level: Annotated[int, Meta(ge=-131072, le=22)]


class _TotalsDoc(msgspec.Struct):
    compressed_bytes: _Count
    raw_bytes: _Count


class _HeaderDoc(msgspec.Struct):
    compression: _CompressionDoc
    layout: list[_EntryDoc]
    meta: msgspec.Raw
    payload_checksum: Annotated[str, Meta(pattern="^[0-9a-f]{32}$")]
    payload_len: _Count
    totals: _TotalsDoc


_HEADER_DECODER = msgspec.json.Decoder(_HeaderDoc)
_META_DECODER = msgspec.json.Decoder(dict[str, Any])


def _decode(data: bytes | msgspec.Raw, decoder: msgspec.json.Decoder[Any]) -> Any:
    try:
        return decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        text = "".join(c if c.isprintable() else "?" for c in str(exc))
        raise _Malformed(text) from None
    except RecursionError:
        raise _Malformed("nested too deeply") from None


def _check_frames(doc: _EntryDoc, itemsize: int, where: str) -> None:
    """Each frame's declared raw size: whole elements, under the frame ceiling, and no
    more than zstd could produce from its compressed bytes (see ``limits``). Checked on
    all frames at once (an array written a row per frame has tens of thousands); the
    first bad one is then named by the per-frame check."""
    if len(doc.frames) > 16:
        sizes = np.array(doc.frames, dtype=np.int64).reshape(-1, 2)  # each <= 2**62
        compressed, raw = sizes[:, 0], sizes[:, 1]
        bad = (raw % itemsize != 0) | (raw > MAX_FRAME_BYTES)
        bad |= (raw + ZSTD_MAX_RATIO - 1) // ZSTD_MAX_RATIO > compressed  # raw > c * ratio
        if not bad.any():
            return
        first = int(np.argmax(bad))
        _check_frame(doc.frames[first], first, itemsize, where)
    for index, frame in enumerate(doc.frames):
        _check_frame(frame, index, itemsize, where)


def _check_frame(frame: tuple[int, int], index: int, itemsize: int, where: str) -> None:
    compressed, raw = frame
    at = f"{where}.frames[{index}]"
    _expect(raw % itemsize == 0, f"{at}: {raw} bytes is not whole elements")
    _expect(raw <= MAX_FRAME_BYTES, f"{at}: declares {raw} bytes, over {MAX_FRAME_BYTES}")
    _expect(
        raw <= compressed * ZSTD_MAX_RATIO,
        f"{at}: declares {raw} bytes from {compressed} compressed, beyond what zstd can produce",
    )


def _total(values: list[int]) -> int:
    """Exact sum of counts (each <= 2**62: a numpy sum could overflow)."""
    return sum(values)


def _parse_entry(doc: _EntryDoc, index: int, offset: int) -> ArrayEntry:
    where = f"$.layout[{index}]"
    dtype = np.dtype(doc.dtype)
    shape = tuple(doc.shape)
    _expect(doc.offset == offset, f"{where}.offset: {doc.offset}, expected {offset}")
    _expect(
        doc.nbytes_raw == math.prod(shape) * dtype.itemsize,
        f"{where}.nbytes_raw: {doc.nbytes_raw} does not match shape and dtype",
    )
    _check_frames(doc, dtype.itemsize, where)
    compressed, raw = zip(*doc.frames) if doc.frames else ((), ())
    _expect(
        _total(list(compressed)) == doc.nbytes_compressed,
        f"{where}.frames: compressed sizes do not add up to nbytes_compressed",
    )
    _expect(
        _total(list(raw)) == doc.nbytes_raw,
        f"{where}.frames: raw sizes do not add up to nbytes_raw",
    )
    return ArrayEntry(
        name=doc.name,
        dtype=dtype.str,
        shape=shape,
        shuffle=doc.shuffle,
        offset=doc.offset,
        nbytes_compressed=doc.nbytes_compressed,
        nbytes_raw=doc.nbytes_raw,
        checksum=doc.checksum,
        frames=tuple(doc.frames),  # msgspec gave (int, int) tuples
    )


def parse_header(
    data: bytes, *, kind: bytes, version: int, payload_offset: int, file_size: int
) -> ContainerHeader:
    """Decode and check the JSON header into a :class:`ContainerHeader`; raise _Malformed.

    Typed by msgspec (types, non-negative counts, the dtype allowlist, hex checksums),
    then checked for consistency: offsets follow each other, sizes add up, names are
    unique and in the sorted order every writer uses (a swap of two names shows), and
    the declared decompressed total is under :func:`limits.max_raw_bytes`.
    """
    doc = _decode(data, _HEADER_DECODER)
    layout, offset = [], 0
    for index, entry_doc in enumerate(doc.layout):
        layout.append(_parse_entry(entry_doc, index, offset))
        offset += layout[-1].nbytes_compressed
    names = [e.name for e in layout]
    _expect(len(set(names)) == len(names), "$.layout: duplicate array names")
    _expect(names == sorted(names), "$.layout: arrays are not in name order")
    raw_bytes = sum(e.nbytes_raw for e in layout)
    ceiling = max_raw_bytes()
    _expect(
        raw_bytes <= ceiling,
        f"$.layout: declares {raw_bytes} decompressed bytes, over the ceiling of {ceiling} "
        f"(set {MAX_RAW_ENV} to read larger files)",
    )
    _expect(doc.payload_len == offset, "$.payload_len: does not match the layout")
    _expect(doc.totals.compressed_bytes == offset, "$.totals.compressed_bytes: wrong")
    _expect(doc.totals.raw_bytes == raw_bytes, "$.totals.raw_bytes: wrong")
    meta = _decode(doc.meta, _META_DECODER)
    return ContainerHeader(
        kind=kind,
        version=version,
        meta=meta,
        layout=tuple(layout),
        raw_bytes=raw_bytes,
        compressed_bytes=offset,
        codec="zstd",
        level=doc.compression.level,
        payload_offset=payload_offset,
        payload_len=doc.payload_len,
        payload_checksum=doc.payload_checksum,
        file_size=file_size,
        meta_json=bytes(doc.meta),
    )


def header_doc(
    meta: dict[str, Any],
    layout: list[dict[str, Any]],
    *,
    level: int,
    payload_len: int,
    payload_checksum: str,
) -> dict[str, Any]:
    """The JSON header a writer emits (inverse of :func:`parse_header`)."""
    return {
        "compression": {"codec": "zstd", "level": level},
        "layout": layout,
        "meta": meta,
        "payload_checksum": payload_checksum,
        "payload_len": payload_len,
        "totals": {
            "compressed_bytes": payload_len,
            "raw_bytes": sum(entry["nbytes_raw"] for entry in layout),
        },
    }


def expected_file_size(payload_offset: int, payload_len: int) -> int:
    """Total bytes of a container whose payload starts at ``payload_offset``."""
    return payload_offset + payload_len + FOOTER.size
