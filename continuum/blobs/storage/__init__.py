"""The storage seam: one small interface for every blob root, local or ``s3://``.

    store = open_store("s3://bucket/runs")       # or open_store("/data/checkpoints")
    store.put_bytes("RUN/checkpoint_0000001000.ckpt", blob)   # whole, then checked
    store.get_range("RUN/checkpoint_0000001000.ckpt", 0, 4096)

:func:`open_store` picks by scheme: a local directory (:class:`LocalStore`, writes are
the atomic temp-fsync-rename of :mod:`continuum.blobs.atomic`) or object storage
(``s3://``, ``S3Store`` in ``_s3``, imported only when such a URL is opened, so
``import continuum.blobs`` never loads s3fs or botocore). Keys are relative,
``/``-separated and confined to the root (:func:`continuum.layout.check_key`).

Why fsspec / s3fs rather than boto3 or a hand-written client: the URL a user gives
Continuum (``s3://bucket/prefix``) is the same URL every tool that reads our blobs and
exports already opens through fsspec — DuckDB (httpfs / fsspec filesystems), Spark
(s3a over the same buckets), xarray / Zarr / pandas (``storage_options``) — so one
library, one URL grammar and one credential resolution (botocore's: the standard AWS
variables and ``~/.aws`` files) serve the writer, the readers and the exports. s3fs
is async underneath (aiobotocore): multipart parts upload concurrently, and ranged
reads are plain ``cat_file(start, end)``. It is an optional extra (``[s3]``).

Object stores have no rename: ``put_bytes`` makes an object visible whole or not at all
and checks it (size + ETag, or a read-back); *committing* it is the caller's catalog
row (``pending`` -> ``committed``), never a rename or a ``latest`` link.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import Any

from continuum import layout
from continuum.blobs.storage._base import BytesLike, Store, Upload
from continuum.blobs.storage._local import LocalStore

__all__ = [
    "BytesLike",
    "LocalStore",
    "Store",
    "Upload",
    "anonymous_file",
    "fsspec_filesystem",
    "is_remote",
    "open_store",
]


def is_remote(location: layout.StrPath) -> bool:
    """Whether ``location`` is object storage (``s3://...``) rather than a directory."""
    return layout.is_object_url(location)


def open_store(location: layout.StrPath) -> Store:
    """The store of a blob root: a directory path or an ``s3://bucket/prefix`` URL.

    ``LayoutError`` for a malformed URL; ``StorageError`` when s3fs is not installed.
    Opening does no I/O (call :meth:`Store.check` to fail early on a bad endpoint,
    a missing bucket or denied credentials).
    """
    if layout.is_object_url(location):
        from continuum.blobs.storage._s3 import S3Store

        return S3Store(str(location))
    return LocalStore(location)


@contextlib.contextmanager
def anonymous_file(data: BytesLike, size: int | None = None) -> Iterator[int]:
    """A read-write descriptor of a file with no name holding ``data``, closed on exit.

    How part of a blob fetched from object storage is read by a reader of files
    (``read_header(..., fd=)``: positioned reads, ``fstat`` for its size) without leaving
    anything on disk, even if the process is killed: a ``memfd`` on Linux (RAM), else an
    unlinked temporary file. With ``size``, ``data`` is only the first bytes of a blob of
    that size (the rest reads as zeros and takes no memory): a header read from a ranged
    GET, where the reader checks the size the header declares. (A whole blob needs none
    of this: ``ContainerReader(..., data=)`` decodes it where it is.)
    """
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("continuum-blob", getattr(os, "MFD_CLOEXEC", 0))
    else:  # pragma: no cover - not Linux
        with tempfile.TemporaryFile() as scratch:
            fd = os.dup(scratch.fileno())
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if size is not None:  # ``data`` is the head of a larger blob: the rest a hole
            os.ftruncate(fd, size)
        os.lseek(fd, 0, os.SEEK_SET)  # readers that share the offset start at the top
        yield fd
    finally:
        os.close(fd)


def fsspec_filesystem(location: layout.StrPath, *, snapshot: bool = False) -> Any | None:
    """The fsspec filesystem serving an ``s3://`` location (None for a local directory).

    For tools that read our blobs and exports through fsspec themselves, e.g. DuckDB's
    ``register_filesystem`` (:mod:`continuum.sql.sandbox`): the same endpoint, credentials
    and timeouts as :func:`open_store`'s (s3fs is imported only here). ``snapshot``: a new
    filesystem of its own that keeps its listings and its objects' tails
    (``_snapshot.snapshot_filesystem``), for a reader that lists once and reads what it
    listed many times.
    """
    if not layout.is_object_url(location):
        return None
    if snapshot:
        from continuum.blobs.storage._snapshot import snapshot_filesystem

        return snapshot_filesystem()
    from continuum.blobs.storage._s3 import _filesystem

    return _filesystem()
