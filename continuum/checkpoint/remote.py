"""Checkpoints of a run on object storage: ``s3://bucket/prefix/{run_id}/``.

    s3://bucket/prefix/{run_id}/
      checkpoint_0000001000.ckpt     one object per checkpoint, written whole
      manifest.json                  derived: rewritten for other tools, never read back

Object stores have no rename, so the commit protocol is the catalog's: the writer
records the row ``pending``, PUTs the whole object and checks it (size + ETag, see
:mod:`continuum.blobs.storage`), then the row becomes ``committed``. A crash before the
PUT completes leaves no object (S3 shows an object, multipart included, only once it is
complete) or an unchecked one under a ``pending`` row, which resume never picks and
``catalog verify --repair`` settles. There is no ``latest`` object: the newest
committed row *is* latest. The manifest is written for people and tools that list the
bucket; everything that decides (resume, branch, retention) reads the catalog.

Reading fetches the object whole and runs the same reader as a local file over it
(``ContainerReader(data=)``, decoding the fetched bytes where they are): every checksum
and array is checked as on disk. ``checkpoint inspect`` of an object reads its header
only, from a ranged GET.
"""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path
from typing import Any

from continuum import layout
from continuum.blobs import ContainerInfo, encode_container_with_header, header_bytes_needed
from continuum.blobs.limits import MAX_HEADER_BYTES, MAX_MANIFEST_BYTES
from continuum.blobs.manifest import manifest_bytes
from continuum.blobs.storage import Store, open_store
from continuum.checkpoint.directory import Manifest, parse_run_manifest
from continuum.checkpoint.format import (
    CheckpointHeader,
    RunIdentity,
    checkpoint_meta,
    inspect_checkpoint_head,
    read_checkpoint_bytes,
    verify_checkpoint_bytes,
)
from continuum.errors import (
    CheckpointError,
    CheckpointNotFoundError,
    ContinuumError,
    ObjectNotFoundError,
)
from continuum.runtime import State

log = logging.getLogger("continuum.checkpoint")


class RemoteRun:
    """One run's checkpoint prefix under an object-storage root (``root/run_id``)."""

    def __init__(self, root: str, run_id: str, store: Store | None = None) -> None:
        layout.split_object_url(root)  # LayoutError for a malformed URL
        self.root = root.rstrip("/")
        self.run_id = layout.check_run_id(run_id)
        self.url = layout.object_child(self.root, run_id)
        if store is not None:
            self.__dict__["store"] = store

    @classmethod
    def of_url(cls, run_url: str, run_id: str) -> RemoteRun:
        """The run whose prefix is ``run_url`` (a catalog row's ``checkpoint_dir``)."""
        root, _ = layout.split_run_dir(run_url, run_id)
        return cls(root, run_id)

    @cached_property
    def store(self) -> Store:
        """The store of the root (opened on first use: opening does no I/O anyway)."""
        return open_store(self.root)

    def key(self, name: str) -> str:
        return layout.join_key(self.run_id, name)

    def location(self, name: str) -> str:
        return layout.object_child(self.url, name)

    def checkpoint_url(self, tick: int) -> str:
        return self.location(layout.checkpoint_name(tick))

    # --- checkpoints -----------------------------------------------------------------------

    def write_checkpoint(
        self, tick: int, state: State, identity: RunIdentity, level: int = 3
    ) -> ContainerInfo:
        """Encode ``state`` in memory and PUT it whole as the checkpoint of ``tick``; on
        return the object is there and checked (``StorageError`` otherwise)."""
        meta, arrays = checkpoint_meta(state, identity)
        parts, header = encode_container_with_header(b"CKPT", meta, arrays, level=level)
        self.store.put_bytes(self.key(layout.checkpoint_name(tick)), b"".join(parts))
        return ContainerInfo(
            path=Path(self.run_id, layout.checkpoint_name(tick)),
            raw_bytes=header.raw_bytes,
            disk_bytes=header.file_size,
            payload_checksum=header.payload_checksum,
            header=header,
        )

    def read(self, name: str) -> tuple[CheckpointHeader, State]:
        """Fetch and verify the checkpoint ``name``; ``CheckpointNotFoundError`` without it."""
        layout.check_component(name)
        if layout.checkpoint_tick(name) is None:
            raise CheckpointError(f"{name!r} is not a checkpoint file name")
        url = self.location(name)
        try:
            data = self.store.get_bytes(self.key(name))
        except ObjectNotFoundError:
            raise CheckpointNotFoundError(f"{url}: no such checkpoint object") from None
        return read_checkpoint_bytes(data, url)

    def checkpoint_names(self) -> list[str]:
        """The checkpoint objects under the run's prefix, oldest first."""
        names = [key.rsplit("/", 1)[-1] for key in self.store.list(self.run_id)]
        return sorted(n for n in names if layout.checkpoint_tick(n) is not None)


class RemoteManifest(Manifest):
    """The run's ``manifest.json`` object: kept in memory, rewritten whole on each change."""

    def __init__(self, run: RemoteRun, data: dict[str, Any]) -> None:
        super().__init__(Path(run.run_id), data)
        self.remote = run

    @property
    def where(self) -> str:
        return self.remote.location(layout.MANIFEST)

    def _save_locked(self) -> None:
        self.remote.store.put_bytes(self.remote.key(layout.MANIFEST), manifest_bytes(self.data))


def read_remote_manifest(run: RemoteRun) -> dict[str, Any] | None:
    """The run's manifest object as a dict, or None when it is missing, too big or not a
    manifest (it is derived: a defect is logged and the caller starts it over)."""
    key = run.key(layout.MANIFEST)
    try:
        if run.store.size(key) > MAX_MANIFEST_BYTES:
            raise CheckpointError(f"{run.location(layout.MANIFEST)}: larger than a manifest")
        return parse_run_manifest(run.store.get_bytes(key), run.location(layout.MANIFEST))[1]
    except ObjectNotFoundError:
        return None
    except ContinuumError as exc:
        log.warning("%s; starting the derived manifest over", exc)
        return None


#: bytes of an object read for its header: the prefix and any ordinary header at once
HEAD_BYTES = 64 << 10


def _object(url: str) -> tuple[Store, str]:
    """The store of ``url``'s bucket and ``url``'s key in it."""
    scheme, bucket, key = layout.split_object_url(url)
    return open_store(layout.object_url(scheme, bucket, "")), key


def inspect_object(url: str) -> CheckpointHeader:
    """The header of the checkpoint object at ``url``, from one or two ranged GETs."""
    store, key = _object(url)
    if not key:
        raise CheckpointError(f"{url} names a bucket, not a checkpoint object")
    try:
        size = store.size(key)
    except ObjectNotFoundError:
        raise CheckpointNotFoundError(f"{url}: no such checkpoint object") from None
    head = store.get_range(key, 0, min(size, HEAD_BYTES))
    need = header_bytes_needed(head)  # the prefix says how long the header is
    if need is not None and len(head) < min(size, need, MAX_HEADER_BYTES + HEAD_BYTES):
        head += store.get_range(key, len(head), min(size, need))
    return inspect_checkpoint_head(head, size, url)


def _fetch(url: str) -> bytes:
    """The whole checkpoint object at ``url`` (one line for a bucket or a missing key)."""
    store, key = _object(url)
    if not key:
        raise CheckpointError(f"{url} names a bucket, not a checkpoint object")
    try:
        return store.get_bytes(key)
    except ObjectNotFoundError:
        raise CheckpointNotFoundError(f"{url}: no such checkpoint object") from None


def read_object(url: str) -> tuple[CheckpointHeader, State]:
    """Fetch the checkpoint object at ``url``, verify it and rebuild its State."""
    return read_checkpoint_bytes(_fetch(url), url)


def verify_object(url: str) -> CheckpointHeader:
    """Fetch the checkpoint object at ``url`` and verify every byte of it."""
    return verify_checkpoint_bytes(_fetch(url), url)


def checkpoint_objects(url: str) -> list[str]:
    """URLs of the checkpoint objects at ``url`` (one object, or every one under a prefix)."""
    store, key = _object(url)
    name = key.rsplit("/", 1)[-1]
    if layout.checkpoint_tick(name) is not None and store.exists(key):
        return [url]
    scheme, bucket, _ = layout.split_object_url(url)
    keys = store.list(key) if key else store.list()
    found = [k for k in keys if layout.checkpoint_tick(k.rsplit("/", 1)[-1]) is not None]
    return [layout.object_url(scheme, bucket, k) for k in found]
