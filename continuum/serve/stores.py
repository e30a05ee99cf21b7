"""Open lens run directories, shared between requests and reopened when they change.

Opening a :class:`~continuum.lens.LensStore` lists its directory and reads its manifest;
a frame then opens one chunk and keeps it open, so playback pays the opening once. A
store is not thread-safe (open files, caches), and handlers run on a thread pool: each
store is used under its own lock. A live run adds chunks: the directory's modification
time (a chunk or a manifest renamed into place changes it) is checked on each use, and
a changed directory is opened again. A run's lens directory is asked of the catalog once
(it never changes; a run removed since takes its directory with it: a 404).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from continuum import layout
from continuum.catalog import Catalog, RunRecord
from continuum.errors import LensError, StorageError
from continuum.lens import LensStore
from continuum.serve.errors import ApiError

#: Stores kept open (each holds up to 8 open chunk files: ``continuum serve`` raises its
#: open-file limit to fit); more than the 100 runs a signal overlay reads at once.
OPEN_STORES = 128


@dataclass
class _Entry:
    store: LensStore
    stamp: int
    generation: int
    lock: threading.Lock = field(default_factory=threading.Lock)


def lens_dir_of(run: RunRecord) -> Path:
    """The run's lens directory, or a 404 saying it has none."""
    if run.lens_dir is None:
        raise ApiError(404, f"run {run.run_id} captured no lens data (it ran without --lens-dir)")
    if layout.is_object_url(run.lens_dir):  # a view of its names (continuum.lens.remote)
        from continuum.lens.remote import remote_view

        try:
            return remote_view(run.lens_dir)
        except (LensError, StorageError) as exc:
            raise ApiError(404, f"run {run.run_id}'s lens objects: {exc}") from None
    path = Path(run.lens_dir)
    if not path.is_dir():
        raise ApiError(404, f"run {run.run_id}'s lens directory {path} is gone")
    return path


class Stores:
    """run_id -> its open lens store, least recently used closed first."""

    def __init__(self, catalog: Catalog, size: int = OPEN_STORES) -> None:
        self.catalog = catalog
        self.size = size
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0
        self._dirs: dict[str, Path] = {}  # run_id -> its lens directory, as the catalog said

    @contextmanager
    def open(self, run_id: str, run: RunRecord | None = None) -> Iterator[tuple[LensStore, int]]:
        """(store, generation) of ``run_id``'s lens data (``run``: its record, if already
        read), used under the store's lock; the generation changes whenever the store is
        opened again (a cache key part)."""
        path = self._dirs.get(run_id) if run is None else None
        if path is None:  # a run's lens directory never changes: asked once
            path = lens_dir_of(run if run is not None else self.catalog.runs.get(run_id))
            self._dirs[run_id] = path
        entry = self._entry(run_id, path)
        with entry.lock:
            yield entry.store, entry.generation

    def _entry(self, run_id: str, path: Path) -> _Entry:
        try:
            stamp = os.stat(path).st_mtime_ns
        except OSError as exc:
            raise ApiError(404, f"run {run_id}'s lens directory {path}: {exc.strerror}") from None
        stale: list[_Entry] = []
        with self._lock:
            entry = self._entries.get(run_id)
            if entry is not None and entry.stamp == stamp and entry.store.run_dir == path:
                self._entries.move_to_end(run_id)
                return entry
            if entry is not None:
                stale.append(self._entries.pop(run_id))
            try:
                store = LensStore(path)
            except LensError as exc:
                raise ApiError(404, f"run {run_id}: {exc}") from None
            self._generation += 1
            entry = self._entries[run_id] = _Entry(store, stamp, self._generation)
            while len(self._entries) > self.size:
                stale.append(self._entries.popitem(last=False)[1])
        for old in stale:  # closed once whoever is reading it is done
            with old.lock:
                old.store.close()
        return entry

    def close(self) -> None:
        with self._lock:
            entries, self._entries = list(self._entries.values()), OrderedDict()
        for entry in entries:
            with entry.lock:
                entry.store.close()
