"""zstd frames of array blocks, on codec objects reused per thread.

Arrays are cut into blocks of :data:`DEFAULT_BLOCK_BYTES` raw bytes, each its
own zstd frame (with content size and checksum). Measured with
``scripts/bench_blobs.py`` on one 50 MB smooth float64 field (2-CPU KVM guest):

- 1 MiB frames decompress ~3x faster than one 50 MB frame (~2.2 vs ~0.75
  GB/s, output discarded) because output and match window stay in cache; a
  full single-threaded load runs ~2x faster (~670-860 vs ~340-420 MB/s);
- the ratio gives up < 0.1 % (1.5338 vs 1.5344); 256 KiB frames lose 0.6 %
  and load slower, 4-16 MiB frames were no faster on the whole;
- frames are independent, so a block decodes or encodes on any thread and the
  bytes written do not depend on the thread count. Our frame-parallel writer
  gained 1.5x with 2 threads (263 -> 386 MB/s); zstd's own ``threads`` option
  only 1.3x on one frame (536 -> 703 MB/s) and changes the output, so it is
  not used.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

import numpy as np
import zstandard

from continuum.blobs._shuffle import shuffle_into, unshuffle_into
from continuum.errors import BlobError

DEFAULT_BLOCK_BYTES = 1 << 20
_MAX_KEPT_SCRATCH = 16 << 20  # larger scratch buffers are not kept per thread

_local = threading.local()
T = TypeVar("T")
R = TypeVar("R")


class FrameSizeError(BlobError):
    """A frame decodes to a size other than the layout says.

    Internal to ``continuum.blobs``: the reader re-raises it as the caller's ``error_cls``
    naming the file and array. A ``BlobError`` all the same, so that if a new caller let
    it through, the user would still see one line, not a traceback.
    """


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def resolve_threads(threads: int) -> int:
    """Worker count for a ``threads`` argument: -1 means every usable CPU, 0 or 1 none."""
    if threads < -1:
        raise ValueError(f"threads must be -1 (all CPUs), 0 or a positive count, got {threads}")
    return usable_cpus() if threads == -1 else max(threads, 1)


def run(fn: Callable[[T], R], items: Sequence[T], threads: int) -> list[R]:
    """``[fn(x) for x in items]``, on up to ``threads`` workers when that can help."""
    if threads <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    return list(_pool(threads).map(fn, items))


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(threads: int) -> ThreadPoolExecutor:
    """One long-lived pool per size: starting threads per read cost ~1.5 ms each time."""
    with _pools_lock:
        if threads not in _pools:
            _pools[threads] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="blobs")
        return _pools[threads]


class Feed(Generic[T]):
    """Jobs run in order by the calling thread and any helper that is free to take one.

    Why not ``pool.map`` and wait: on a machine whose other cores are busy (the
    benchmark guest is shared; "another job holds the second core"), a helper thread
    may not run for milliseconds, and the caller waiting on its share made a load
    slower than doing it all alone. Here each job is claimed by whichever thread gets
    to it first, the caller included, so the split follows the cores actually free,
    measured as the load runs rather than guessed from the load average (a one-minute
    average of other processes, which says nothing about the next 3 ms). A busy
    helper costs one wake-up, and at worst the tail of the one job it claimed.

    Jobs may be released (:meth:`release`) a few at a time while their input is still being
    read (the reader publishes frames as their bytes arrive), so decoding overlaps the
    read and the checksum. The first error stops further claims and is re-raised by
    :meth:`finish`, once no job is running any more (so nothing still writes into
    the outputs when the caller sees the result or the error).
    """

    def __init__(self, fn: Callable[[T], object], jobs: Sequence[T]) -> None:
        self._fn, self._jobs = fn, jobs
        self._cond = threading.Condition()
        self._released = self._next = self._running = 0
        self._closed = False
        self._error: BaseException | None = None

    def start_helpers(self, threads: int) -> None:
        """Offer the jobs to ``threads - 1`` pool threads (the caller is the last one)."""
        if threads > 1 and len(self._jobs) > 1:
            pool = _pool(threads - 1)
            for _ in range(min(threads - 1, len(self._jobs) - 1)):
                pool.submit(self._work, True)

    def release(self, count: int) -> None:
        """The first ``count`` jobs may run now (their inputs are complete)."""
        with self._cond:
            self._released = max(self._released, min(count, len(self._jobs)))
            self._cond.notify_all()

    def finish(self) -> None:
        """Release every job, run what is left on this thread, wait for helpers, and
        raise the first error."""
        with self._cond:
            self._released, self._closed = len(self._jobs), True
            self._cond.notify_all()
        self._work(False)
        with self._cond:
            while self._running:
                self._cond.wait()
        if self._error is not None:
            raise self._error

    def abandon(self) -> None:
        """No further job may start; wait for those running (the inputs are going away)."""
        with self._cond:
            self._next = len(self._jobs)
            self._closed = True
            self._cond.notify_all()
            while self._running:
                self._cond.wait()

    def _work(self, helper: bool) -> None:
        while (job := self._claim(helper)) is not None:
            try:
                self._fn(job)
            except BaseException as exc:  # re-raised by finish() on the caller's thread
                with self._cond:
                    self._error = self._error or exc
                    self._next = len(self._jobs)
            finally:
                with self._cond:
                    self._running -= 1
                    self._cond.notify_all()

    def _claim(self, helper: bool) -> T | None:
        with self._cond:
            while helper and self._next >= self._released and not self._closed:
                self._cond.wait()  # a helper waits for input; the caller never does
            if self._next >= self._released:
                return None
            self._next += 1
            self._running += 1
            return self._jobs[self._next - 1]


def block_spans(nbytes: int, block_bytes: int) -> list[tuple[int, int]]:
    """``(start, stop)`` byte ranges of the blocks of an ``nbytes`` array."""
    return [(start, min(start + block_bytes, nbytes)) for start in range(0, nbytes, block_bytes)]


def _compressor(level: int) -> zstandard.ZstdCompressor:
    cache = _local.__dict__.setdefault("compressors", {})
    if level not in cache:
        cache[level] = zstandard.ZstdCompressor(
            level=level, write_checksum=True, write_content_size=True
        )
    return cache[level]


def _decompressor() -> zstandard.ZstdDecompressor:
    if not hasattr(_local, "decompressor"):
        _local.decompressor = zstandard.ZstdDecompressor()
    return _local.decompressor


def scratch(nbytes: int, slot: str = "shuffle") -> np.ndarray:
    """A per-thread uint8 buffer of at least ``nbytes``, reused call after call.

    Reuse is the point: a writer beside the tick loop that allocated (and page-faulted,
    and unmapped) fresh buffers for every block would make the loop's thread pay for it
    in TLB shootdowns and contended page tables. ``slot`` keeps apart buffers in use at
    the same time (the stacked block and its shuffled copy).
    """
    kept = _local.__dict__.setdefault("scratch", {})
    buf = kept.get(slot)
    if buf is None or buf.size < nbytes:
        buf = np.empty(nbytes, np.uint8)
        if nbytes <= _MAX_KEPT_SCRATCH:
            kept[slot] = buf
    return buf


def compress_block(raw: np.ndarray, itemsize: int, shuffle: bool, level: int) -> bytes:
    """One zstd frame of the flat uint8 block ``raw`` (byte-shuffled first if asked)."""
    data = shuffle_into(raw, itemsize, scratch(raw.size)) if shuffle else raw
    return _compressor(level).compress(data.data)


def has_checksum(frame: memoryview) -> bool:
    """Whether a zstd frame carries its content checksum (False for a malformed one:
    the decode that follows reports it)."""
    try:
        return bool(zstandard.get_frame_parameters(frame).has_checksum)
    except zstandard.ZstdError:
        return True


def decompress_block(frame: memoryview, itemsize: int, shuffle: bool, out: np.ndarray) -> None:
    """Decode one frame into the flat uint8 ``out``, whose size the frame must match.

    The frame's declared content size is checked *before* decompressing, so a
    forged size cannot make us allocate more than the layout promised.
    Raises ``zstandard.ZstdError`` or :class:`FrameSizeError`.

    zstd writes straight into ``out``, or into this thread's reused scratch block
    when the bytes are unshuffled after: a fresh 1 MiB output per frame (what
    ``ZstdDecompressor.decompress`` returns) page-faults, and on the busy 2-CPU guest
    that made decoding 2.4x slower (6.9 vs 2.9 ms for the 24 frames of the benchmark
    checkpoint). Reading one byte past the end still catches a frame that holds more
    than declared, trailing garbage (zstd fails on it) and a bad content checksum.
    """
    declared = zstandard.frame_content_size(frame)
    if declared != out.size:
        raise FrameSizeError(f"frame declares {declared} bytes, the layout {out.size}")
    target = scratch(out.size, slot="decoded")[: out.size] if shuffle else out
    with _decompressor().stream_reader(frame, read_size=max(len(frame), 1)) as reader:
        got = reader.readinto(target)
        more = len(reader.read(1)) if got == out.size else 0
    if got != out.size or more:
        what = "more than" if more else f"{got} bytes,"
        raise FrameSizeError(f"frame holds {what} the {out.size} the layout says")
    if shuffle:
        unshuffle_into(target, itemsize, out)
