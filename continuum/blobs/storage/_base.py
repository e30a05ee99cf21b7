"""The :class:`Store` protocol: what every blob store (directory or bucket prefix) can do.

Small on purpose: whole-object writes, whole or ranged reads, existence, size, a
recursive listing under a prefix and single-key deletes. No rename and no append,
because object stores have neither; a writer that needs "all or nothing" gets it from
``put_bytes`` (an object is visible whole or not at all) and makes it *committed* in
the catalog afterwards (the catalog row is the commit point, not a rename).

Keys are relative to the store's root, ``/``-separated, each segment one plain name
(:func:`continuum.layout.check_key`); a key never escapes the root.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, Protocol, runtime_checkable

BytesLike = bytes | bytearray | memoryview


class Upload(NamedTuple):
    """A multipart upload begun and never completed or aborted: what a writer killed
    during a large PUT leaves (S3 keeps its parts, billed, invisible to listings)."""

    key: str  # relative to the store's root, as every key
    upload_id: str
    initiated: datetime  # UTC, as the server says


@runtime_checkable
class Store(Protocol):
    """A blob root: a local directory or ``s3://bucket/prefix``."""

    #: the root as the user names it (a path or an ``s3://`` URL), normalised
    url: str
    #: False for a local directory (rename and fsync exist there), True for object storage
    remote: bool

    def location(self, key: str = "") -> str:
        """The path or URL of ``key`` (for messages, catalog rows and other tools)."""
        ...

    def put_bytes(self, key: str, data: BytesLike) -> None:
        """Make ``data`` the whole content of ``key``: on return it is there, checked.

        Locally an atomic write (temp file, fsync, rename, fsync dir); on object storage
        one PUT (multipart when large), then a HEAD whose size and ETag must match what
        was sent (or a read-back when the ETag is not an MD5). ``StorageIntegrityError``
        if they do not; a failed write never leaves a partial object under ``key``.
        """
        ...

    def get_bytes(self, key: str) -> bytes:
        """The whole content of ``key`` (``ObjectNotFoundError`` without one)."""
        ...

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of ``key`` (fewer past its end)."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object (a file) is at ``key``."""
        ...

    def size(self, key: str) -> int:
        """The size in bytes of ``key`` (``ObjectNotFoundError`` without one)."""
        ...

    def list(self, prefix: str = "") -> list[str]:
        """Every key under ``prefix`` (``""``: the whole root), recursively, sorted."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; a key that is already gone is not an error."""
        ...

    def check(self) -> None:
        """Fail now, with one clear ``StorageError`` line, if the root cannot be used."""
        ...

    def uploads(self, prefix: str = "") -> tuple[Upload, ...]:
        """Incomplete multipart uploads of keys under ``prefix``, oldest first (none in a
        directory: a killed local write leaves a named temporary, found by its name)."""
        ...

    def abort(self, upload: Upload) -> None:
        """Discard an incomplete upload and its parts; one already gone is not an error."""
        ...
