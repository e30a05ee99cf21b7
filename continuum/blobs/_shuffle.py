"""Byte shuffle: store byte 0 of every element, then byte 1, and so on.

Smooth float fields share sign, exponent and high mantissa bytes between
neighbours; grouping bytes of equal significance gives zstd long runs, and
keeps the noisy low bytes from breaking them up. On the benchmark state
(``scripts/bench_blobs.py``: smooth float64 fields with 1e-2 noise, zstd level
3) the ratio rises from 1.14 to 1.50, zstd compresses ~3x faster (~160 ->
~540 MB/s) and decompresses ~2x faster, which more than pays for the transpose.

Both directions write into caller-owned buffers so a worker thread can reuse
one cache-sized scratch block. The unshuffle copies one byte plane at a time:
numpy's single strided pass over the ``(n, itemsize)`` transpose iterates the
short axis innermost and runs at half the speed (~1.4 vs ~2.9 GB/s on 1 MiB
blocks); splitting blocks further for cache locality measured no gain.

That is still one byte store per cycle: slower than zstd decompressing the same frame
(~270 vs ~230 us per MiB of float64), so a load could not reach the speed of
decompression alone. :func:`unshuffle_into` therefore runs the C kernel of
``_cshuffle.c`` (SSE2, ~25 us per MiB, GIL released) when the build compiled it, and
this numpy code otherwise (:func:`unshuffle_into_numpy`, same bytes).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_compiled: Callable[[np.ndarray, int, np.ndarray], None] | None
try:
    from continuum.blobs._cshuffle import unshuffle_into as _compiled
except ImportError:  # built without a C compiler: numpy does the same, slower
    _compiled = None

#: whether loads unshuffle in compiled code (reported by the benchmarks)
COMPILED = _compiled is not None


def shuffle_into(src: np.ndarray, itemsize: int, out: np.ndarray) -> np.ndarray:
    """Byte-transpose the flat uint8 ``src`` into ``out[:src.size]``; return that view."""
    n = src.size // itemsize
    planes = out[: src.size].reshape(itemsize, n)
    planes[...] = src.reshape(n, itemsize).T
    return out[: src.size]


def unshuffle_into(src: np.ndarray, itemsize: int, out: np.ndarray) -> None:
    """Invert :func:`shuffle_into`: flat uint8 planes ``src`` -> element bytes ``out``
    (contiguous, the same size, a whole number of elements)."""
    if _compiled is not None:
        _compiled(src, itemsize, out)
    else:
        unshuffle_into_numpy(src, itemsize, out)


def unshuffle_into_numpy(src: np.ndarray, itemsize: int, out: np.ndarray) -> None:
    """:func:`unshuffle_into` in numpy, one byte plane at a time."""
    n = src.size // itemsize
    planes = src.reshape(itemsize, n)
    elements = out.reshape(n, itemsize)
    for byte in range(itemsize):
        elements[:, byte] = planes[byte]
