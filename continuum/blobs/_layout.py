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
from dataclasses import dataclass
from typing import Any

import numpy as np

from continuum.errors import BlobError

FORMAT_VERSION = 1
MAGIC_PREFIX = b"CNTM"
END_MAGIC = b"CNTMEND\0"
PREFIX = struct.Struct("<8sII")
HEADER_CHECKSUM = struct.Struct("<Q")
FOOTER = struct.Struct("<Q16s8s")

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


def _int(value: Any, what: str) -> int:
    _expect(type(value) is int and value >= 0, f"{what} must be a non-negative int")
    return value


def _bool(value: Any, what: str) -> bool:
    _expect(isinstance(value, bool), f"{what} must be true or false")
    return value


def _hex(value: Any, digits: int, what: str) -> str:
    ok = isinstance(value, str) and len(value) == digits
    _expect(ok and all(c in "0123456789abcdef" for c in value), f"{what} must be {digits} hex")
    return value


def _parse_dtype(value: Any, name: str) -> np.dtype:
    _expect(isinstance(value, str) and value[:1] in "<|", f"{name}: bad dtype {value!r}")
    try:
        dtype = np.dtype(value)
        storable_dtype(dtype, name)
    except (TypeError, ValueError) as exc:  # BlobError is a ValueError
        raise _Malformed(f"{name}: bad dtype {value!r}") from exc
    return dtype


def _parse_entry(raw: Any, offset: int) -> ArrayEntry:
    _expect(isinstance(raw, dict), "layout entries must be objects")
    name = raw.get("name")
    _expect(isinstance(name, str) and bool(name), "array names must be non-empty strings")
    dtype = _parse_dtype(raw.get("dtype"), name)
    shape = raw.get("shape")
    _expect(isinstance(shape, list), f"{name}: shape must be a list")
    shape = tuple(_int(n, f"{name}: shape") for n in shape)
    frames_raw = raw.get("frames")
    _expect(isinstance(frames_raw, list), f"{name}: frames must be a list")
    frames = tuple(_parse_frame(f, dtype.itemsize, name) for f in frames_raw)
    entry = ArrayEntry(
        name=name,
        dtype=dtype.str,
        shape=shape,
        shuffle=_bool(raw.get("shuffle"), f"{name}: shuffle"),
        offset=_int(raw.get("offset"), f"{name}: offset"),
        nbytes_compressed=_int(raw.get("nbytes_compressed"), f"{name}: nbytes_compressed"),
        nbytes_raw=_int(raw.get("nbytes_raw"), f"{name}: nbytes_raw"),
        checksum=_hex(raw.get("checksum"), 16, f"{name}: checksum"),
        frames=frames,
    )
    _expect(entry.offset == offset, f"{name}: offset {entry.offset}, expected {offset}")
    _expect(entry.nbytes_raw == math.prod(shape) * dtype.itemsize, f"{name}: size != shape")
    _expect(sum(c for c, _ in frames) == entry.nbytes_compressed, f"{name}: frame sizes")
    _expect(sum(r for _, r in frames) == entry.nbytes_raw, f"{name}: frame raw sizes")
    return entry


def _parse_frame(raw: Any, itemsize: int, name: str) -> tuple[int, int]:
    _expect(isinstance(raw, list) and len(raw) == 2, f"{name}: frames are [compressed, raw]")
    compressed, size = (_int(n, f"{name}: frame size") for n in raw)
    _expect(size % itemsize == 0 and size > 0, f"{name}: frame of {size} bytes")
    return compressed, size


def parse_header(
    doc: Any, *, kind: bytes, version: int, payload_offset: int, file_size: int
) -> ContainerHeader:
    """Turn the decoded JSON header into a :class:`ContainerHeader`; raise _Malformed."""
    _expect(isinstance(doc, dict), "the header must be a JSON object")
    meta, layout_raw = doc.get("meta"), doc.get("layout")
    compression, totals = doc.get("compression"), doc.get("totals")
    _expect(isinstance(meta, dict), "meta must be an object")
    _expect(isinstance(layout_raw, list), "layout must be a list")
    _expect(isinstance(compression, dict) and isinstance(totals, dict), "missing sections")
    _expect(compression.get("codec") == "zstd", f"unknown codec {compression.get('codec')!r}")
    level = compression.get("level")
    _expect(type(level) is int, "compression.level must be an int")
    layout, offset = [], 0
    for raw in layout_raw:
        layout.append(_parse_entry(raw, offset))
        offset += layout[-1].nbytes_compressed
    _expect(len({e.name for e in layout}) == len(layout), "duplicate array names")
    header = ContainerHeader(
        kind=kind,
        version=version,
        meta=meta,
        layout=tuple(layout),
        raw_bytes=_int(totals.get("raw_bytes"), "totals.raw_bytes"),
        compressed_bytes=_int(totals.get("compressed_bytes"), "totals.compressed_bytes"),
        codec="zstd",
        level=level,
        payload_offset=payload_offset,
        payload_len=_int(doc.get("payload_len"), "payload_len"),
        payload_checksum=_hex(doc.get("payload_checksum"), 32, "payload_checksum"),
        file_size=file_size,
    )
    _expect(header.payload_len == offset == header.compressed_bytes, "payload length")
    _expect(header.raw_bytes == sum(e.nbytes_raw for e in layout), "totals.raw_bytes")
    return header


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
