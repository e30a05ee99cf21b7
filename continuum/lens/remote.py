"""Reading a lens dir on object storage: ``continuum lens ... --lens-dir s3://bucket/prefix``.

Every reader of lens data (:class:`~continuum.lens.store.LensStore`, the by-sample
copies, the exporter, ``open_dataset``, the maintenance verifiers) works on a run
*directory*: it lists chunk names, reads the manifest, stats sizes and opens files by
path. A remote lens dir is given to them as a **view** (:func:`remote_view`): a private
local directory (``continuum-lensview-*`` in the temp dir, removed at exit) mirroring
the prefix's names — each ``manifest.json`` fetched whole (small), each ``.lens``
object a *sparse placeholder* of the object's size, holding no data. Opening a
placeholder (:func:`continuum.lens.format.open_lens_container`, the one opener of lens
containers) gives a :class:`RangedReader`: the header is one ranged GET (two for a
large header), and every array the query decodes — one values tile for a point's
history, one frame's rows for a map — is a ranged GET of exactly its compressed bytes,
checksum-verified as from a file. So a query fetches what it needs, never the whole
chunk, and reads the same records as locally (the tests compare them bitwise).

A view is a snapshot of the listing when it was made (one per command); a chunk sealed
later is not in it. Nothing is written to the bucket through a view: a placeholder is
not a copy, and the commands that would change a lens dir (``lens compact``, retention)
refuse a remote one or work through :mod:`continuum.blobs.storage` directly.
"""

from __future__ import annotations

import atexit
import io
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from continuum import layout
from continuum.blobs import ContainerReader, header_bytes_needed, read_header
from continuum.blobs._frames import resolve_threads
from continuum.blobs.limits import MAX_HEADER_BYTES
from continuum.blobs.staging import staging_dir
from continuum.blobs.storage import Store, anonymous_file, open_store
from continuum.errors import BlobError, LensError, StorageError

#: view directories are ``continuum-lensview-{pid}-*`` in the temp dir (blobs.staging)
VIEW_KIND = "lensview"
_HEAD_READ = 8192  # one ranged read covers the prefix and any ordinary header
_SIZES_AT_ONCE = 8  # HEAD requests in flight while a view is made


@dataclass(frozen=True)
class RemoteObject:
    """What a placeholder stands for: an object of ``size`` bytes at ``key`` in ``store``."""

    store: Store
    key: str
    size: int

    @property
    def url(self) -> str:
        return self.store.location(self.key)


_lock = threading.Lock()
_objects: dict[str, RemoteObject] = {}  # placeholder path (absolute) -> its object
_views: list[str] = []
_urls: dict[str, str] = {}  # a view's top directory -> the URL it stands for


def remote_object(path: Path | str) -> RemoteObject | None:
    """The object a placeholder of a view stands for, or an ``s3://`` URL names (its size
    asked: one HEAD); None for an ordinary local file."""
    if isinstance(path, str) and layout.is_object_url(path):
        parent, _, name = path.rpartition("/")
        store = open_store(parent)
        try:
            return RemoteObject(store, name, store.size(name))
        except StorageError as exc:
            raise LensError(f"{path}: cannot read lens object: {exc}") from None
    with _lock:
        return _objects.get(os.path.abspath(path)) if _objects else None


def is_view(path: Path | str) -> bool:
    """Whether ``path`` lies in a view of a remote lens dir (it holds no data to write from)."""
    real = os.path.abspath(path)
    with _lock:
        return any(layout.is_within(v, real) for v in _views)


def shown(path: Path | str) -> str:
    """``path`` for people: a path inside a view as the ``s3://`` URL it stands for."""
    real = os.path.abspath(path)
    with _lock:
        for top, url in _urls.items():
            if layout.is_within(top, real):
                rel = os.path.relpath(real, top)
                return url if rel == "." else layout.object_child(url, *rel.split(os.sep))
    return str(path)


def _remove_views() -> None:
    for directory in _views:
        shutil.rmtree(directory, ignore_errors=True)


def remote_view(url: str) -> Path:
    """A local directory standing for the lens root or lens run dir at ``url`` (module doc).

    Named as the URL's last segment (a run dir stays named for its run). One
    ``StorageError`` line for an unreachable endpoint, a missing bucket or denied
    credentials; a prefix holding nothing is a ``LensError``.
    """
    store = open_store(url)
    keys = store.list()
    if not keys:
        store.check()  # a missing bucket or denied credentials say so, not "empty"
        raise LensError(f"{url} holds no lens data (no {layout.MANIFEST} or .lens objects)")
    _scheme, bucket, prefix = layout.split_object_url(url)
    base = staging_dir(VIEW_KIND)  # a killed process's views are swept by the next
    with _lock:
        if not _views:
            atexit.register(_remove_views)
        _views.append(str(base))
    top = layout.child(base, prefix.rsplit("/", 1)[-1] if prefix else bucket)
    top.mkdir()
    with _lock:
        _urls[str(top)] = url.rstrip("/")
    wanted = [k for k in keys if _wanted(k)]
    lens = [k for k in wanted if layout.is_lens_file_name(k.rsplit("/", 1)[-1])]
    with ThreadPoolExecutor(_SIZES_AT_ONCE) as pool:
        sizes = dict(zip(lens, pool.map(store.size, lens), strict=True))
    for key in wanted:
        target = layout.child(top, *key.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        if key in sizes:
            with open(target, "wb") as f:
                f.truncate(sizes[key])  # sparse: no data, the object's size
            with _lock:
                _objects[os.path.abspath(target)] = RemoteObject(store, key, sizes[key])
        else:
            target.write_bytes(store.get_bytes(key))
    return top


def remote_path(url: str) -> Path:
    """The local path standing for ``url``: a view of the lens root or run dir it names,
    or, for one ``.lens`` object, its placeholder in the view of its prefix."""
    parent, _, name = url.rstrip("/").rpartition("/")
    if layout.is_lens_file_name(name) and layout.split_object_url(parent)[2]:
        return remote_view(parent) / name
    return remote_view(url)


def _wanted(key: str) -> bool:
    """Lens objects and manifests (what readers of a lens dir look at), nothing else."""
    name = key.rsplit("/", 1)[-1]
    return name == layout.MANIFEST or layout.is_lens_file_name(name)


def _head(obj: RemoteObject) -> bytes:
    """The object's prefix and header: one ranged GET, a second for a large header."""
    head = obj.store.get_range(obj.key, 0, _HEAD_READ)
    need = header_bytes_needed(head)
    if need is not None and len(head) < need <= MAX_HEADER_BYTES + _HEAD_READ:
        head += obj.store.get_range(obj.key, len(head), need)
    return head


class RangedReader(ContainerReader):
    """A container on object storage, read by ranged GETs (the same checks as a file's).

    The header is validated by :func:`continuum.blobs.read_header` itself, from a sparse
    anonymous file of the object's size holding only the bytes fetched for it (so the
    size the header declares is checked too); every later read (arrays, rows, the
    streamed verification) goes through :meth:`_read_into` / :meth:`_read_at`, here a
    ranged GET of exactly the bytes asked for.
    """

    def __init__(
        self, obj: RemoteObject, kind: bytes, *, error_cls: type[BlobError], threads: int
    ) -> None:
        self._object = obj
        with anonymous_file(_head(obj), size=obj.size) as fd:
            header = read_header(obj.url, kind, error_cls, fd=fd)
        # what ContainerReader.__init__ sets up for an opened file, without a file: no
        # bytes held here (``_data`` None), nothing to close but an empty buffer
        self.path = Path(obj.url)
        self._where = obj.url
        self._error_cls = error_cls
        self._threads = resolve_threads(threads)
        self._data = None
        self._file = io.BytesIO()
        self.header = header
        self._entries = {entry.name: entry for entry in header.layout}
        self._starts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._seek_lock = threading.Lock()

    def _read_into(self, offset: int, view: memoryview) -> int:
        data = self._object.store.get_range(self._object.key, offset, offset + len(view))
        view[: len(data)] = data
        return len(data)

    def _read_at(self, offset: int, nbytes: int) -> np.ndarray:
        data = self._object.store.get_range(self._object.key, offset, offset + nbytes)
        return np.frombuffer(bytearray(data), np.uint8)


def open_remote(
    obj: RemoteObject, kind: bytes, error_cls: type[BlobError], threads: int
) -> RangedReader:
    """A :class:`RangedReader` of ``obj``; storage failures are one ``LensError`` line."""
    try:
        return RangedReader(obj, kind, error_cls=error_cls, threads=threads)
    except StorageError as exc:
        raise LensError(f"{obj.url}: cannot read lens object: {exc}") from None
