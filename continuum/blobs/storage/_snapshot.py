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
  the second). :class:`_SnapshotReads` reads :data:`READ_AHEAD` past a small read (or
  the whole tail near the end) and keeps what it read for the filesystem's life, bounded
  by :data:`CACHE_BYTES`, so a cold point history is one GET per part and a footer or a
  page read again is none.

Why a cache of ours rather than DuckDB's: DuckDB's external file cache and metadata
cache do not keep reads of a registered Python filesystem across statements (counted:
the same footer and page GETs at every statement, with both enabled).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import s3fs
from fsspec.caching import BaseCache, register_cache

from continuum.blobs.storage._s3 import _ATTEMPTS, CONNECT_TIMEOUT, READ_TIMEOUT

#: at most this many bytes of objects kept per filesystem (least recently used dropped)
CACHE_BYTES = 64 * 2**20
#: a read ending this close to the object's end fetches (and keeps) the tail from there
MIN_TAIL = 64 * 2**10
#: a read shorter than this fetches this much from its start (filter column, then rest)
READ_AHEAD = 512 * 2**10


class _Ranges:
    """Byte ranges of objects read before, by path: LRU-bounded by their total size."""

    def __init__(self, budget: int = CACHE_BYTES) -> None:
        self._kept: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._starts: dict[str, set[int]] = {}
        self._budget, self._bytes = budget, 0
        self._lock = threading.Lock()  # DuckDB reads from several threads

    def get(self, path: str, start: int, end: int) -> bytes | None:
        """The bytes ``[start, end)`` of ``path`` if one kept range holds them all."""
        with self._lock:
            for lo in self._starts.get(path, ()):
                data = self._kept[(path, lo)]
                if lo <= start and end <= lo + len(data):
                    self._kept.move_to_end((path, lo))
                    return data[start - lo : end - lo]
        return None

    def put(self, path: str, start: int, data: bytes) -> None:
        if len(data) > self._budget:
            return
        with self._lock:
            old = self._kept.pop((path, start), None)
            self._bytes += len(data) - (len(old) if old is not None else 0)
            self._kept[(path, start)] = data
            self._starts.setdefault(path, set()).add(start)
            while self._bytes > self._budget:
                (gone, lo), dropped = self._kept.popitem(last=False)
                self._bytes -= len(dropped)
                self._starts[gone].discard(lo)


class _SnapshotReads(BaseCache):
    """An fsspec cache for one open object of a snapshot: every read is served from the
    filesystem's :class:`_Ranges` when it can be, else fetched with read-ahead (or, near
    the end, the whole tail) and kept there."""

    name = "continuum-snapshot"

    def __init__(
        self, blocksize: int, fetcher: Any, size: int, *, ranges: _Ranges, path: str
    ) -> None:
        super().__init__(blocksize, fetcher, size)
        self._ranges, self._path = ranges, path

    def _fetch(self, start: int | None, end: int | None) -> bytes:
        start = 0 if start is None else start
        end = self.size if end is None or end > self.size else end
        if start >= end:
            return b""
        kept = self._ranges.get(self._path, start, end)
        if kept is not None:
            self.hit_count += 1
            return kept
        self.miss_count += 1
        first, stop = start, min(self.size, max(end, start + READ_AHEAD))
        if stop > self.size - MIN_TAIL:  # the footer, its length, its page indexes: to the end
            first, stop = max(0, min(start, self.size - MIN_TAIL)), self.size
        data = self.fetcher(first, stop)
        self.total_requested_bytes += stop - first
        self._ranges.put(self._path, first, data)
        return data[start - first : end - first]


register_cache(_SnapshotReads, clobber=True)


class _Snapshot(s3fs.S3FileSystem):
    """An s3fs filesystem answering ``info`` and ``exists`` for what :meth:`prime` listed
    from memory, in the calling thread, and reading its objects through
    :class:`_SnapshotReads`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._known: dict[str, dict[str, Any]] = {}
        self._ranges = _Ranges()

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
            kwargs["cache_options"] = {"ranges": self._ranges, "path": key}
        return super()._open(path, mode, **kwargs)


def snapshot_filesystem() -> Any:
    """A new s3fs filesystem, configured as the store's, for a reader that lists once and
    then reads what it listed many times (module doc): its listings never expire and the
    bytes it read stay in memory (bounded). Never for objects rewritten in place."""
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
