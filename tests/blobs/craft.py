"""Crafting hostile containers: headers rewritten with valid checksums, zero bombs.

What an attacker with a hex editor and the format's documentation does: change a header
field and recompute the header checksum, so the file passes every checksum and only the
reader's own checks stand between the bytes and a wrong state.
"""

from __future__ import annotations

import json
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
    """A valid container holding one float64 array of ``nbytes`` zeros, built without
    ever holding them: one zero frame of ``block`` bytes (1 MiB: 54 bytes compressed, as
    the writer cuts them), compressed once and repeated."""
    assert nbytes % block == 0
    frame = zstandard.ZstdCompressor(level=3, write_checksum=True, write_content_size=True)
    compressed = frame.compress(bytes(block))
    count = nbytes // block
    payload = compressed * count
    entry = {
        "checksum": xxhash.xxh3_64_hexdigest(payload),
        "dtype": "<f8",
        "frames": [[len(compressed), block]] * count,
        "name": name,
        "nbytes_compressed": len(payload),
        "nbytes_raw": nbytes,
        "offset": 0,
        "shape": [nbytes // 8],
        "shuffle": True,
    }
    digest = xxhash.xxh3_128(payload)
    header = {
        "compression": {"codec": "zstd", "level": 3},
        "layout": [entry],
        "meta": meta,
        "payload_checksum": digest.hexdigest(),
        "payload_len": len(payload),
        "totals": {"compressed_bytes": len(payload), "raw_bytes": nbytes},
    }
    footer = FOOTER.pack(len(payload), digest.digest(), END_MAGIC)
    return join(MAGIC_PREFIX + kind, header, payload + footer)
