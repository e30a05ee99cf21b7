"""zstd frames of array blocks: sizes checked before decoding, errors in the one hierarchy."""

from __future__ import annotations

import numpy as np
import pytest

from continuum.blobs import _frames
from continuum.errors import BlobError, ContinuumError


def test_block_spans_cover_the_array() -> None:
    assert _frames.block_spans(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert _frames.block_spans(0, 4) == []


@pytest.mark.parametrize("shuffle", [False, True])
def test_round_trip_of_one_block(shuffle: bool) -> None:
    raw = np.arange(512, dtype=np.float64).view(np.uint8)
    frame = _frames.compress_block(raw, 8, shuffle, 3)
    out = np.empty_like(raw)
    _frames.decompress_block(memoryview(frame), 8, shuffle, out)
    assert np.array_equal(out, raw)


def test_a_frame_of_the_wrong_size_is_a_blob_error() -> None:
    """Internal, re-raised by the reader with the file's name; still one of ours if it escapes."""
    frame = _frames.compress_block(np.zeros(64, np.uint8), 1, False, 3)
    with pytest.raises(_frames.FrameSizeError, match="declares 64 bytes") as info:
        _frames.decompress_block(memoryview(frame), 1, False, np.empty(32, np.uint8))
    assert isinstance(info.value, BlobError) and isinstance(info.value, ContinuumError)


def test_resolve_threads() -> None:
    assert _frames.resolve_threads(0) == _frames.resolve_threads(1) == 1
    assert _frames.resolve_threads(-1) == _frames.usable_cpus()
    with pytest.raises(ValueError, match="threads"):
        _frames.resolve_threads(-2)
