"""Where one run's blobs of one kind live, as the verify walker touches them.

A run directory on disk (:class:`LocalFolder`) or a run prefix on object storage
(:class:`ObjectFolder`, ``s3://bucket/prefix/{run_id}``): whether a blob exists, the
blobs directly in it, and deleting one — confined, in both, to the run's own place
(on disk: by name in the directory opened without following links; on object storage:
a key that is one of this project's blob names directly under the run's prefix,
checked by :mod:`continuum.layout`, never anything else in the bucket), and the
multipart uploads our killed writers left directly under that prefix (never another's).

A *location* is a ``Path`` on disk and an ``s3://`` URL (a ``str``) on object storage.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from continuum import layout
from continuum.errors import LayoutError, StorageError

if TYPE_CHECKING:
    from continuum.blobs.storage import Upload

Location = Path | str


def name_of(loc: Location) -> str:
    """The file (object) name of a location."""
    return loc.rsplit("/", 1)[-1] if isinstance(loc, str) else loc.name


def stored(loc: Location) -> Path | str:
    """What a blob row records for a location: a URL as it is, a file by its resolved path."""
    return loc if isinstance(loc, str) else loc.resolve()


class Folder(Protocol):
    def exists(self, loc: Location) -> bool: ...
    def unlink(self, loc: Location) -> str | None: ...
    def entries(self) -> list[Location]: ...
    def identity(self, loc: Location) -> str: ...
    def uploads(self) -> list[Upload]: ...
    def abort(self, upload: Upload) -> str | None: ...
    def location(self, upload: Upload) -> str: ...


class LocalFolder:
    """A run directory ``{root}/{run_id}`` on this host's filesystem."""

    def __init__(self, run_id: str, directory: str | None) -> None:
        self.run_id, self.directory = run_id, directory

    def exists(self, loc: Location) -> bool:
        return Path(loc).is_file()

    def unlink(self, loc: Location) -> str | None:
        """None when deleted (or already gone), else why it was left in place."""
        path = Path(loc)
        try:
            if self.directory is None or os.path.dirname(path) != os.path.normpath(self.directory):
                raise LayoutError(f"{path} is not directly in run directory {self.directory}")
            root, name = layout.split_run_dir(os.path.normpath(self.directory), self.run_id)
            with layout.ConfinedDir(root, name) as folder:
                folder.unlink(path.name)
        except FileNotFoundError:
            return None
        except (LayoutError, OSError) as exc:
            return f"{exc}; left in place"
        return None

    def entries(self) -> list[Location]:
        directory = Path(self.directory) if self.directory else None
        if directory is None or directory.is_symlink() or not directory.is_dir():
            return []  # a run directory replaced by a link is never listed through it
        return [entry for entry in sorted(directory.iterdir()) if entry.is_file()]

    def identity(self, loc: Location) -> str:
        return os.path.realpath(loc)

    def uploads(self) -> list[Upload]:
        return []  # a killed local write is a temporary (the walker finds it by name)

    def abort(self, upload: Upload) -> str | None:
        return None

    def location(self, upload: Upload) -> str:
        return upload.key


class ObjectFolder:
    """A run prefix ``s3://bucket/prefix/{run_id}`` on object storage."""

    def __init__(self, run_id: str, directory: str) -> None:
        from continuum.blobs.storage import open_store

        self.run_id, self.directory = run_id, directory.rstrip("/")
        root, _ = layout.split_run_dir(self.directory, run_id)
        self.store = open_store(root)

    def key(self, loc: Location) -> str:
        """The store key of ``loc``: a blob name directly under the run's prefix, or
        ``LayoutError`` (the one test of what may be deleted here)."""
        name = layout.run_file_name(self.directory, str(loc))
        return layout.check_key(layout.join_key(self.run_id, name), self.run_id)

    def exists(self, loc: Location) -> bool:
        return self.store.exists(self.key(loc))

    def unlink(self, loc: Location) -> str | None:
        try:
            self.store.delete(self.key(loc))
        except (LayoutError, StorageError) as exc:
            return f"{exc}; left in place"
        return None

    def entries(self) -> list[Location]:
        found: list[Location] = []
        for key in self.store.list(self.run_id):
            rest = key[len(self.run_id) + 1 :]
            if "/" not in rest:  # directly under the run's prefix
                found.append(layout.object_child(self.directory, rest))
        return found

    def identity(self, loc: Location) -> str:
        return str(loc)

    def uploads(self) -> list[Upload]:
        """Incomplete multipart uploads our writers left: a blob name (:func:`upload_blob`)
        directly under the run's prefix, and nothing else (a stranger's is left alone)."""
        return [
            u
            for u in self.store.uploads(self.run_id)
            if u.key.rsplit("/", 1)[0] == self.run_id and upload_blob(name_of(u.key))
        ]

    def abort(self, upload: Upload) -> str | None:
        """None when aborted (or already gone), else why it was left."""
        try:
            layout.check_key(upload.key, self.run_id)
            self.store.abort(upload)
        except (LayoutError, StorageError) as exc:
            return f"{exc}; left in place"
        return None

    def location(self, upload: Upload) -> str:
        return self.store.location(upload.key)


def upload_blob(name: str) -> str | None:
    """The kind of blob an object name is (``checkpoint``; ``lens``: a chunk or a
    by-sample copy), None for a name no writer of ours puts multipart."""
    if layout.checkpoint_tick(name) is not None:
        return "checkpoint"
    if layout.parse_lens_chunk_name(name) is not None or layout.parse_lens_by_sample_name(name):
        return "lens"
    return None


def folder_of(run_id: str, directory: str | None) -> Folder:
    """The folder of a run's ``directory`` as its row names it (disk or object storage)."""
    if directory is not None and layout.is_object_url(directory):
        return ObjectFolder(run_id, directory)
    return LocalFolder(run_id, directory)
