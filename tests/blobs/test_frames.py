"""zstd frames of array blocks: sizes checked before decoding, errors in the one hierarchy."""

from __future__ import annotations

import numpy as np
import pytest
import zstandard

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


def test_a_feed_runs_every_job_once_on_caller_and_helpers() -> None:
    done: list[int] = []
    feed = _frames.Feed(done.append, list(range(50)))
    feed.start_helpers(3)
    for k in range(0, 51, 10):  # released as their input "arrives"
        feed.release(k)
    feed.finish()
    assert sorted(done) == list(range(50))


def test_a_feed_reraises_the_first_error_once_nothing_runs() -> None:
    """No job still writes into the outputs when the caller sees the error."""
    running: list[int] = []

    def job(k: int) -> None:
        running.append(k)
        if k == 3:
            raise BlobError("frame 3 is corrupt")
        running.remove(k)

    feed = _frames.Feed(job, list(range(20)))
    feed.start_helpers(2)
    with pytest.raises(BlobError, match="frame 3"):
        feed.finish()
    assert running == [3]


def test_an_abandoned_feed_starts_nothing_more() -> None:
    done: list[int] = []
    feed = _frames.Feed(done.append, list(range(10)))
    feed.start_helpers(2)
    feed.release(2)
    feed.abandon()
    feed.finish()  # nothing left to run, no error
    assert set(done) <= {0, 1}


@pytest.mark.parametrize("shuffle", [False, True])
def test_a_frame_with_bytes_after_it_or_a_bad_checksum_is_refused(shuffle: bool) -> None:
    """Decoding into a reused buffer still reads the frame to its very end."""
    raw = np.arange(4096, dtype=np.float64).view(np.uint8)
    frame = _frames.compress_block(raw, 8, shuffle, 3)
    out = np.empty_like(raw)
    with pytest.raises(_frames.FrameSizeError, match="more than"):
        _frames.decompress_block(memoryview(frame + frame), 8, shuffle, out)
    with pytest.raises(zstandard.ZstdError):
        _frames.decompress_block(memoryview(frame + b"junk"), 8, shuffle, out)
    bad = bytearray(frame)
    bad[-1] ^= 1  # the content checksum zstd wrote last
    with pytest.raises(zstandard.ZstdError):
        _frames.decompress_block(memoryview(bytes(bad)), 8, shuffle, out)
    with pytest.raises(_frames.FrameSizeError, match="bytes,"):
        _frames.decompress_block(memoryview(frame[:-40]), 8, shuffle, out)
