"""A read-only s3fs filesystem for a reader that lists once and reads what it listed.

A SQL session over exports (:mod:`continuum.sql.sandbox`) lists its roots when it
opens; parts are put whole and never rewritten under the same name, so what it listed
stays true for the session. Two costs of plain s3fs are then avoidable:

- every open asks ``info`` / ``exists`` through s3fs's event loop (a thread hop each,
  ~1 ms on a busy machine): the listing answers them from memory;
- every read is a ranged GET, and DuckDB re-reads what it read before: each query binds
  every part of its view again (the footers, 7 of 11 GETs of a cold point history,
  counted against a terra ``large`` export), and reads a row group's filter column
  before the rest of the row group (2 GETs one after another per part, the first inside
  the second). :class:`_SnapshotReads` keeps each object's tail (footer) for the
  filesystem's life, bounded by :data:`TAIL_CACHE_BYTES`, and reads :data:`READ_AHEAD`
  past a small read, so a cold point history is one GET per part.

Why a cache of ours rather than DuckDB's: DuckDB's external file cache and metadata
cache do not keep reads of a registered Python filesystem across statements (counted:
the same footer GETs at every statement, with both enabled).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import s3fs
from fsspec.caching import BaseCache, register_cache

from continuum.blobs.storage._s3 import _ATTEMPTS, CONNECT_TIMEOUT, READ_TIMEOUT

#: at most this many bytes of object tails kept per filesystem (oldest dropped first)
TAIL_CACHE_BYTES = 64 * 2**20
#: a read ending this close to the object's end fetches (and keeps) the tail from there
MIN_TAIL = 64 * 2**10
#: a read shorter than this fetches this much from its start (filter column, then rest)
READ_AHEAD = 512 * 2**10


class _Tails:
    """Object tails by path: (offset of the first byte kept, the bytes), LRU-bounded."""

    def __init__(self, budget: int = TAIL_CACHE_BYTES) -> None:
        self._kept: OrderedDict[str, tuple[int, bytes]] = OrderedDict()
        self._budget, self._bytes = budget, 0
        self._lock = threading.Lock()  # DuckDB reads from several threads

    def get(self, path: str) -> tuple[int, bytes] | None:
        with self._lock:
            found = self._kept.get(path)
            if found is not None:
                self._kept.move_to_end(path)
            return found

    def put(self, path: str, start: int, data: bytes) -> None:
        with self._lock:
            old = self._kept.pop(path, None)
            self._bytes -= len(old[1]) if old else 0
            if len(data) > self._budget:
                return
            self._kept[path] = (start, data)
            self._bytes += len(data)
            while self._bytes > self._budget:
                _, (_, dropped) = self._kept.popitem(last=False)
                self._bytes -= len(dropped)


class _SnapshotReads(BaseCache):
    """An fsspec cache for one open object of a snapshot: the tail from the
    filesystem's :class:`_Tails`, other reads through one read-ahead block."""

    name = "continuum-snapshot"

    def __init__(
        self, blocksize: int, fetcher: Any, size: int, *, tails: _Tails, path: str
    ) -> None:
        super().__init__(blocksize, fetcher, size)
        self._tails, self._path = tails, path
        self._block, self._block_start = b"", 0

    def _fetch(self, start: int | None, end: int | None) -> bytes:
        start = 0 if start is None else start
        end = self.size if end is None or end > self.size else end
        if start >= end:
            return b""
        if end > self.size - MIN_TAIL:  # the footer, its length, its page indexes
            return self._tail(start, end)
        lo, block = self._block_start, self._block
        if lo <= start and end <= lo + len(block):
            self.hit_count += 1
            return block[start - lo : end - lo]
        self.miss_count += 1
        stop = min(self.size, max(end, start + READ_AHEAD))
        self._block, self._block_start = self.fetcher(start, stop), start
        self.total_requested_bytes += stop - start
        return self._block[: end - start]

    def _tail(self, start: int, end: int) -> bytes:
        kept = self._tails.get(self._path)
        if kept is not None and kept[0] <= start:
            self.hit_count += 1
            return kept[1][start - kept[0] : end - kept[0]]
        self.miss_count += 1
        first = max(0, min(start, self.size - MIN_TAIL))
        data = self.fetcher(first, self.size)
        self.total_requested_bytes += self.size - first
        self._tails.put(self._path, first, data)
        return data[start - first : end - first]


register_cache(_SnapshotReads, clobber=True)


class _Snapshot(s3fs.S3FileSystem):
    """An s3fs filesystem answering ``info`` and ``exists`` for what :meth:`prime` listed
    from memory, in the calling thread, and reading its objects through
    :class:`_SnapshotReads`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._known: dict[str, dict[str, Any]] = {}
        self._tails = _Tails()

    def prime(self, path: str) -> int:
        """List ``path`` (``bucket/prefix``) recursively and keep what was found."""
        found = super().find(path, detail=True)
        self._known.update({k.rstrip("/"): v for k, v in found.items()})
        return len(found)

    def info(self, path: str, **kwargs: Any) -> Any:
        known = self._known.get(self._strip_protocol(path).rstrip("/"))
        return dict(known) if known is not None else super().info(path, **kwargs)

    def exists(self, path: str, **kwargs: Any) -> bool:
        if self._strip_protocol(path).rstrip("/") in self._known:
            return True
        return bool(super().exists(path, **kwargs))

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if mode == "rb":
            key = self._strip_protocol(path).rstrip("/")
            kwargs["cache_type"] = _SnapshotReads.name
            kwargs["cache_options"] = {"tails": self._tails, "path": key}
        return super()._open(path, mode, **kwargs)


def snapshot_filesystem() -> Any:
    """A new s3fs filesystem, configured as the store's, for a reader that lists once and
    then reads what it listed many times (module doc): its listings never expire and its
    objects' tails stay in memory. Never for objects that may be rewritten in place."""
    fs = _Snapshot(
        skip_instance_cache=True,
        use_listings_cache=True,
        listings_expiry_time=None,
        config_kwargs={
            "connect_timeout": CONNECT_TIMEOUT,
            "read_timeout": READ_TIMEOUT,
            "retries": {"max_attempts": _ATTEMPTS, "mode": "standard"},
        },
    )
    fs.retries = _ATTEMPTS
    return fs
