"""A local directory as a :class:`~continuum.blobs.storage.Store`.

Writes go through :func:`continuum.blobs.atomic.atomic_write` (temp file, fsync,
rename, fsync the directory), so a local root keeps the guarantees it always had.
Paths are built with :func:`continuum.layout.child` from checked keys.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from continuum import layout
from continuum.blobs.atomic import atomic_write, make_dirs
from continuum.blobs.storage._base import BytesLike, Upload
from continuum.errors import ObjectNotFoundError, StorageDeniedError, StorageError


@contextlib.contextmanager
def _translated(where: Path) -> Iterator[None]:
    try:
        yield
    except StorageError:
        raise
    except FileNotFoundError as exc:
        raise ObjectNotFoundError(f"{where}: no such file") from exc
    except PermissionError as exc:
        raise StorageDeniedError(f"{where}: permission denied ({exc.strerror})") from exc


class LocalStore:
    """Blobs as files under a directory; keys are relative paths below it."""

    remote = False

    def __init__(self, root: layout.StrPath) -> None:
        self.root = Path(root)
        self.url = str(self.root)

    def path(self, key: str) -> Path:
        """The file of ``key`` (checked: plain segments, under the root)."""
        return layout.child(self.root, *layout.check_key(key).split("/"))

    def location(self, key: str = "") -> str:
        return str(self.path(key)) if key else self.url

    def put_bytes(self, key: str, data: BytesLike) -> None:
        path = self.path(key)
        with _translated(path):
            make_dirs(path.parent)
            atomic_write(path, data)

    def get_bytes(self, key: str) -> bytes:
        path = self.path(key)
        with _translated(path):
            return path.read_bytes()

    def get_range(self, key: str, start: int, end: int) -> bytes:
        path = self.path(key)
        if end <= start:
            return b""
        with _translated(path), open(path, "rb") as f:
            f.seek(start)
            return f.read(end - start)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        path = self.path(key)
        with _translated(path):
            return path.stat().st_size

    def list(self, prefix: str = "") -> list[str]:
        base = self.path(prefix) if prefix else self.root
        if base.is_file():
            return [prefix]
        keys = []
        with _translated(base):
            for directory, _dirs, files in os.walk(base):
                rel = os.path.relpath(directory, self.root)
                for name in files:
                    keys.append(name if rel == "." else f"{rel.replace(os.sep, '/')}/{name}")
        return sorted(keys)

    def delete(self, key: str) -> None:
        path = self.path(key)
        with _translated(path), contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    def uploads(self, prefix: str = "") -> tuple[Upload, ...]:
        return ()  # an interrupted local write is a temporary named for its writer

    def abort(self, upload: Upload) -> None:
        return None

    def check(self) -> None:
        with _translated(self.root):
            if self.root.exists() and not self.root.is_dir():
                raise StorageError(f"{self.root} is not a directory; name a directory")
