"""Crafting hostile containers: headers rewritten with valid checksums, zero bombs.

What an attacker with a hex editor and the format's documentation does: change a header
field and recompute the header checksum, so the file passes every checksum and only the
reader's own checks stand between the bytes and a wrong state.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import xxhash
import zstandard

from continuum.blobs._layout import END_MAGIC, FOOTER, HEADER_CHECKSUM, MAGIC_PREFIX, PREFIX


def split(data: bytes) -> tuple[bytes, dict[str, Any], bytes]:
    """``(magic, header document, payload and footer)`` of container bytes."""
    magic, _version, header_len = PREFIX.unpack_from(data)
    header = json.loads(data[PREFIX.size : PREFIX.size + header_len])
    rest = data[PREFIX.size + header_len + HEADER_CHECKSUM.size :]
    return magic, header, rest


def join(magic: bytes, header: dict[str, Any], rest: bytes, version: int = 1) -> bytes:
    """Container bytes with ``header`` re-encoded as a writer would and its checksum
    recomputed (the payload and footer are kept as they are)."""
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    return b"".join(
        (
            PREFIX.pack(magic, version, len(text)),
            text,
            HEADER_CHECKSUM.pack(xxhash.xxh3_64_intdigest(text)),
            rest,
        )
    )


def rewrite(data: bytes, mutate: Callable[[dict[str, Any]], object]) -> bytes:
    """``data`` with its header changed in place by ``mutate``, checksum recomputed."""
    magic, header, rest = split(data)
    mutate(header)
    return join(magic, header, rest)


def zero_bomb(
    kind: bytes, nbytes: int, meta: dict[str, Any], name: str = "cur/x", block: int = 1 << 20
) -> bytes:
    """A valid container holding one float64 array of ``nbytes`` zeros (see
    :func:`zeros_container`)."""
    return zeros_container(kind, meta, {name: (nbytes // 8,)}, block=block)


def zeros_container(
    kind: bytes,
    meta: dict[str, Any],
    arrays: dict[str, tuple[int, ...]],
    block: int = 1 << 20,
) -> bytes:
    """A valid container of float64 zero arrays (byte-shuffled, as checkpoints store
    them) of the given shapes, built without ever holding them: each distinct frame size
    is compressed once and repeated (1 MiB of zeros is 54 bytes)."""
    compressor = zstandard.ZstdCompressor(level=3, write_checksum=True, write_content_size=True)
    frames_of: dict[int, bytes] = {}
    layout, chunks, offset = [], [], 0
    for name in sorted(arrays):
        shape = arrays[name]
        nbytes = 8 * math.prod(shape)
        sizes = [block] * (nbytes // block) + ([nbytes % block] if nbytes % block else [])
        for size in set(sizes):
            frames_of.setdefault(size, compressor.compress(bytes(size)))
        data = b"".join(frames_of[size] for size in sizes)
        layout.append(
            {
                "checksum": xxhash.xxh3_64_hexdigest(data),
                "dtype": "<f8",
                "frames": [[len(frames_of[size]), size] for size in sizes],
                "name": name,
                "nbytes_compressed": len(data),
                "nbytes_raw": nbytes,
                "offset": offset,
                "shape": list(shape),
                "shuffle": True,
            }
        )
        chunks.append(data)
        offset += len(data)
    payload = b"".join(chunks)
    digest = xxhash.xxh3_128(payload)
    header = {
        "compression": {"codec": "zstd", "level": 3},
        "layout": layout,
        "meta": meta,
        "payload_checksum": digest.hexdigest(),
        "payload_len": len(payload),
        "totals": {
            "compressed_bytes": len(payload),
            "raw_bytes": sum(e["nbytes_raw"] for e in layout),
        },
    }
    footer = FOOTER.pack(len(payload), digest.digest(), END_MAGIC)
    return join(MAGIC_PREFIX + kind, header, payload + footer)
