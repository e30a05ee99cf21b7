"""Atomic file commits: a file (or symlink) is either its old self or wholly new.

The protocol, after Orbax's ``atomicity.py``: write a temporary file in the
*same directory* (so the final rename cannot cross filesystems), flush and
``fsync`` it, ``os.replace`` it onto the final name (atomic on POSIX), then
``fsync`` the directory so the rename itself survives a power cut. A crash at
any instant leaves the previous file or the new one, plus at worst a stray
temporary named by :func:`continuum.layout.temp_name` (it carries the writer's
pid), which garbage collection recognises with :func:`continuum.layout.is_temp_name`.

Writers that produce the bytes themselves use :func:`atomic_writer` or
:func:`atomic_write`; writers whose bytes come from elsewhere (DuckDB's ``COPY``
writes the Parquet parts) write to :func:`continuum.layout.temp_path` and hand
the result to :func:`commit_file`, so there is one protocol, not one per format.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from continuum.layout import StrPath, temp_path

__all__ = [
    "atomic_write",
    "atomic_writer",
    "commit_file",
    "fsync_dir",
    "fsync_file",
    "make_dirs",
    "replace_symlink",
]

BytesLike = bytes | bytearray | memoryview


def fsync_dir(path: StrPath) -> None:
    """Flush directory ``path`` so renames and new entries in it are durable.

    Filesystems that cannot sync a directory (``EINVAL``) are tolerated: there
    is nothing more we could do on them.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)


def fsync_file(path: StrPath) -> None:
    """Flush the content of a file someone else wrote and closed (e.g. DuckDB)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: StrPath) -> None:
    """``mkdir -p path``, syncing the parent of each directory it creates.

    Without that, a power cut could lose a new directory and every file committed
    into it. Directories that already exist cost one ``stat``.
    """
    missing: list[Path] = []
    here = Path(path)
    while not here.is_dir():
        missing.append(here)
        here = here.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another writer made it meanwhile
            directory.mkdir()
        fsync_dir(directory.parent)


def _remove(tmp: StrPath) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)


def _publish(tmp: StrPath, final: Path) -> None:
    """Rename the synced ``tmp`` onto ``final`` (removing ``tmp`` on failure), sync the dir."""
    try:
        os.replace(tmp, final)
    except BaseException:
        _remove(tmp)
        raise
    fsync_dir(final.parent)


def commit_file(tmp: StrPath, final: StrPath) -> None:
    """Make the finished temporary ``tmp`` the file ``final``: fsync, rename, fsync the dir.

    ``tmp`` must be in ``final``'s directory (:func:`continuum.layout.temp_path`). On
    any failure ``tmp`` is removed and ``final`` keeps its old content.
    """
    try:
        fsync_file(tmp)
    except BaseException:
        _remove(tmp)
        raise
    _publish(tmp, Path(final))


@contextlib.contextmanager
def atomic_writer(path: StrPath) -> Iterator[BinaryIO]:
    """Yield a binary file whose content replaces ``path`` only on a clean exit.

    On any exception inside the block (or while syncing/renaming), the
    temporary is removed and the exception re-raised; ``path`` is untouched.
    """
    final = Path(path)
    tmp = temp_path(final)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        _remove(tmp)
        raise
    _publish(tmp, final)


def atomic_write(path: StrPath, data: BytesLike | Iterable[BytesLike]) -> None:
    """Atomically make ``data`` the content of ``path``.

    ``data`` is one buffer (anything with the buffer protocol, numpy arrays
    included) or an iterable of them, so callers can write large payloads
    without joining them in memory first.
    """
    try:
        chunks: Iterable[BytesLike] = (memoryview(data),)  # type: ignore[arg-type]
    except TypeError:
        chunks = data  # type: ignore[assignment]
    with atomic_writer(path) as f:
        for chunk in chunks:
            f.write(chunk)


def replace_symlink(link_path: StrPath, target_name: str) -> None:
    """Atomically point the relative symlink ``link_path`` at ``target_name``.

    A temporary symlink is created beside it and renamed over it, so readers see
    the old target or the new one, never a missing link. Absolute targets are
    refused: a relative link keeps working when the directory is moved or copied.
    """
    if os.path.isabs(target_name):
        raise ValueError(f"symlink target must be relative, got {target_name!r}")
    link = Path(link_path)
    tmp = temp_path(link)
    os.symlink(target_name, tmp)
    _publish(tmp, link)
