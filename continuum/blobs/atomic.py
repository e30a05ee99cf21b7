"""Atomic file commits: a file (or symlink) is either its old self or wholly new.

The protocol, after Orbax's ``atomicity.py``: write a temporary file in the
*same directory* (so the final rename cannot cross filesystems), flush and
``fsync`` it, ``os.replace`` it onto the final name (atomic on POSIX), then
``fsync`` the directory so the rename itself survives a power cut. A crash at
any instant leaves the previous file or the new one, plus at worst a stray
temporary whose name matches :data:`TEMP_NAME_RE`, which garbage collection
can recognise with :func:`is_temp_name` (the name carries the writer's pid).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "TEMP_NAME_RE",
    "atomic_write",
    "atomic_writer",
    "fsync_dir",
    "is_temp_name",
    "replace_symlink",
    "temp_name",
]

StrPath = str | os.PathLike[str]
BytesLike = bytes | bytearray | memoryview

#: Matches the temporaries made here: ``.{final}.tmp-{pid}-{8 hex digits}``.
TEMP_NAME_RE = re.compile(r"^\.(?P<final>.+)\.tmp-(?P<pid>[0-9]+)-(?P<token>[0-9a-f]{8})$")


def temp_name(final_name: str) -> str:
    """A fresh, hidden temporary name for ``final_name`` (same directory)."""
    return f".{final_name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"


def is_temp_name(name: str) -> bool:
    """True if ``name`` (a bare file name) is a temporary left by this module."""
    return TEMP_NAME_RE.match(name) is not None


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


@contextlib.contextmanager
def atomic_writer(path: StrPath) -> Iterator[BinaryIO]:
    """Yield a binary file whose content replaces ``path`` only on a clean exit.

    On any exception inside the block (or while syncing/renaming), the
    temporary is removed and the exception re-raised; ``path`` is untouched.
    """
    final = Path(path)
    tmp = final.with_name(temp_name(final.name))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(final.parent)


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
    tmp = link.with_name(temp_name(link.name))
    os.symlink(target_name, tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(link.parent)
