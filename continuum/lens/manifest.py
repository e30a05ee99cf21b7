"""A lens run directory's chunk windows and its manifest (names: :mod:`continuum.layout`).

    {lens_dir}/{run_id}/
      manifest.json                                run identity, chunks, segments, drops
      lens_snapshot_0000000000-0000010000.lens     chunk files, [start, end) in the name
      lens_snapshot_full.lens                      optional: every frame in one file

**Chunk windows and names.** Chunks follow fixed windows of ``chunk_size`` ticks,
``[k * C, (k + 1) * C)``. A file covers a half-open tick range inside one window and is
named by it (:func:`continuum.layout.lens_chunk_name`); the ranges of a run's files
never overlap, so names never collide, and sorting names sorts time. A window sealed
whole is named by the window (``0000000000-0000010000`` for ticks [0, 10000)). A window
is sealed in *pieces* when a segment ends inside it (the piece ends at the segment's last
tick + 1: ``0000010000-0000012346`` if the run stopped at tick 12345) or when its frames
outgrow the writer's memory budget (the piece ends after its last frame). The next piece
starts where the previous one ended (a resumed run writes ``0000012346-0000020000``).

A file is authoritative for its whole range: a tick in it that the file does not hold
was not captured (off-stride, or dropped). The manifest is an index rewritten atomically
after each chunk; the files and their headers stay the truth (a chunk written just before
a crash, but not yet listed, is still found by :mod:`continuum.lens.store`).

**Pruned chunks.** Retention deletes whole chunk files on purpose; a reader must not take
them for damage. :func:`record_pruned` (called by :mod:`continuum.maintenance` after the
catalog's prune unlinked the files) moves their entries from ``chunks`` to ``pruned``
(name, tick range, frames, bytes, ``pruned_at``), so :mod:`continuum.lens.store` lists
them as pruned, apart from missing ones. The prune is usually made by another process (or
thread) than the run's writer, which rewrites the manifest whole from its memory after
every chunk. So that such a rewrite cannot undo a prune, every rewrite of a lens manifest
— the writer's and the pruner's — happens under an exclusive ``flock`` on the run
directory, and the writer first takes in the ``pruned`` list on disk (read only when the
file is not the one it wrote last) and drops the chunk entries it names.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from continuum import layout
from continuum.blobs import decode_json, read_small_file
from continuum.blobs.manifest import JsonManifest, manifest_bytes, now_iso, write_manifest
from continuum.errors import LensError
from continuum.lens.format import ChunkHeader, check_topology_spec

log = logging.getLogger("continuum.lens")

MANIFEST_FORMAT = "continuum.lens.manifest"
MANIFEST_VERSION = 1

_Count = Annotated[int, Meta(ge=0, le=1 << 62)]
_Text = Annotated[str, Meta(max_length=1024, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$")]
_Hex = Annotated[str, Meta(pattern="^[0-9a-f]{32}$")]
_FieldName = Annotated[str, Meta(max_length=200, pattern=layout.DOTTED_NAME_RE.pattern)]
_ChunkName = Annotated[
    str,
    Meta(
        pattern=f"({layout.LENS_CHUNK_RE.pattern})|(^{layout.LENS_FULL_NAME.replace('.', '[.]')}$)"
    ),
]
#: a run id, or empty for a lens recorded outside a run
_RunId = Annotated[str, Meta(pattern=f"({layout.RUN_ID_RE.pattern})|(^$)")]
_Cause = Annotated[str, Meta(pattern="^(dropped|failed|lost|missing)$")]
_Float = Annotated[float, Meta(ge=-1.7976931348623157e308, le=1.7976931348623157e308)]


class _ChunkDoc(msgspec.Struct):
    """A chunk entry; its name is only compared with the names of files found (an entry
    for a file that is not there is reported missing), never made into a path."""

    name: _Text
    bytes: _Count
    tick_range: tuple[_Count, _Count]  # required: the writer keeps entries sorted by it
    frames: _Count = 0
    fields: list[_FieldName] = []
    raw_bytes: _Count | None = None
    checksum: _Hex | None = None
    first_tick: _Count | None = None
    last_tick: _Count | None = None
    first_sim_time: _Float | None = None
    last_sim_time: _Float | None = None
    created_at: _Text = ""


class _PrunedDoc(msgspec.Struct):
    """A chunk retention deleted (see the module docstring): what it held, and when."""

    name: _Text
    tick_range: tuple[_Count, _Count]
    frames: _Count = 0
    bytes: _Count = 0
    pruned_at: _Text = ""


class LensManifestDoc(msgspec.Struct):
    """A lens manifest as it must be to be believed: typed, bounded, identifiers (run id,
    field and chunk names) in :mod:`continuum.layout`'s grammar."""

    format: Annotated[str, Meta(pattern="^continuum[.]lens[.]manifest$")]
    chunks: list[_ChunkDoc]
    manifest_version: Annotated[int, Meta(ge=1)] = MANIFEST_VERSION
    run_id: _RunId = ""
    world: _Text = ""
    seed: _Count | None = None
    ir_hash: _Text | None = None
    stride: Annotated[int, Meta(ge=1, le=1 << 62)] | None = None
    chunk_size: Annotated[int, Meta(ge=1, le=1 << 62)] | None = None
    dropped_frames: _Count = 0
    #: ``[start, end, cause]`` (``[start, end]`` in older versions): see :func:`merge_gaps`
    gaps: list[Annotated[list[_Count | _Cause], Meta(min_length=2, max_length=3)]] = []
    failed_chunks: _Count = 0
    full: _ChunkDoc | None = None
    topology: dict[str, Any] | None = None
    pruned: list[_PrunedDoc] = []


_DOC_DECODER = msgspec.json.Decoder(LensManifestDoc)
_DICT_DECODER = msgspec.json.Decoder(dict[str, Any])


def window_of(tick: int, chunk_size: int) -> tuple[int, int]:
    """The chunk window [k * C, (k + 1) * C) holding ``tick``."""
    start = tick - tick % chunk_size
    return start, start + chunk_size


def is_lens_run_dir(path: Path) -> bool:
    """A directory holding a lens manifest or chunk files."""
    if not path.is_dir():
        return False
    if layout.manifest_path(path).is_file():
        return True
    return any(layout.parse_lens_chunk_name(p.name) for p in path.iterdir())


class LensManifest(JsonManifest):
    """``manifest.json`` of one lens run dir: chunks, segments, gaps, pruned chunks."""

    _written: tuple[int, int, int] | None = None  # the file as this object last wrote it

    @classmethod
    def read(cls, run_dir: Path) -> dict[str, Any] | None:
        """The manifest's data, None if there is none; an unreadable one is a LensError."""
        path = layout.manifest_path(run_dir)
        try:
            raw = read_small_file(path, "lens manifest", LensError)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise LensError(f"{path}: unreadable lens manifest ({exc.strerror or exc})") from None
        where, what = str(path), "lens manifest"
        doc = decode_json(raw, _DOC_DECODER, where, what, LensError)
        for k, gap in enumerate(doc.gaps):
            if not (isinstance(gap[0], int) and isinstance(gap[1], int) and gap[0] <= gap[1]):
                raise LensError(f"{path}: $.gaps[{k}] is not [start, end, cause] with start <= end")
            if len(gap) > 2 and not isinstance(gap[2], str):
                raise LensError(f"{path}: $.gaps[{k}][2] is not a gap cause")
        if doc.topology is not None:
            check_topology_spec(doc.topology, path, "lens manifest topology", LensError)
        return decode_json(raw, _DICT_DECODER, where, what, LensError)

    def _save_locked(self) -> None:
        """Rewrite the manifest, first taking in what a prune recorded on disk meanwhile."""
        with run_dir_lock(self.run_dir):
            path = layout.manifest_path(self.run_dir)
            if _identity_of(path) != self._written:  # someone else wrote it since
                _take_pruned(self.data, _pruned_on_disk(self.run_dir))
            super()._save_locked()
            self._written = _identity_of(path)

    @classmethod
    def open(cls, run_dir: Path, identity: dict[str, Any]) -> LensManifest:
        """Load the run's manifest (a resumed run) or start one; ``identity`` is merged in.

        An unreadable manifest is replaced (logged): chunks are still found from their
        files, and a lens must not stop a run.
        """
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LensError(f"cannot create lens directory {run_dir}: {exc}") from None
        try:
            data = cls.read(run_dir)
        except LensError as exc:
            log.warning("%s; starting a new manifest", exc)
            data = None
        base = {
            "format": MANIFEST_FORMAT,
            "manifest_version": MANIFEST_VERSION,
            "chunks": [],
            "segments": [],
            "gaps": [],
            "dropped_frames": 0,
            "failed_chunks": 0,
            "full": None,
        }
        manifest = cls(run_dir, {**base, **(data or {}), **identity})
        manifest.save()
        return manifest

    def add_chunk(self, entry: dict[str, Any], *, gaps: list[list[Any]] | None = None) -> None:
        """List a chunk (replacing an entry of the same name: a window rewritten) and the
        gaps found while its window filled, in one rewrite."""
        with self._lock:
            chunks = [c for c in self.data["chunks"] if c.get("name") != entry["name"]]
            chunks.append(entry)
            self.data["chunks"] = sorted(chunks, key=lambda c: c["tick_range"])
            if gaps:
                self.data["gaps"] = merge_gaps([*self.data.get("gaps", []), *gaps])
            self._save_locked()

    def add_gaps(self, gaps: list[list[Any]]) -> None:
        """Record ``[start, end, cause]`` gaps (merged with those already listed)."""
        with self._lock:
            self.data["gaps"] = merge_gaps([*self.data.get("gaps", []), *gaps])
            self._save_locked()


def merge_gaps(gaps: list[list[Any]]) -> list[list[Any]]:
    """Gaps sorted, with overlapping or touching ranges of one cause merged.

    An entry of an older manifest, ``[start, end]``, is read as cause ``lost`` (the only
    gaps those versions recorded: frames not sealed before a run stopped).
    """
    out: list[list[Any]] = []
    for start, end, cause in sorted(
        (int(g[0]), int(g[1]), str(g[2]) if len(g) > 2 else "lost") for g in gaps
    ):
        if out and out[-1][2] == cause and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end, cause])
    return out


def _identity_of(path: Path) -> tuple[int, int, int] | None:
    """What tells one write of a file from another (inode, size, mtime), None if absent."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _pruned_on_disk(run_dir: Path) -> list[dict[str, Any]]:
    """The ``pruned`` entries of the manifest on disk ([] when it is absent or unreadable:
    the writer must go on, and its own copy already holds what it read at open)."""
    try:
        data = LensManifest.read(run_dir)
    except LensError:
        return []
    pruned = (data or {}).get("pruned")
    return [e for e in pruned if isinstance(e, dict)] if isinstance(pruned, list) else []


def _take_pruned(data: dict[str, Any], entries: Iterable[dict[str, Any]]) -> list[str]:
    """Add ``entries`` to ``data``'s pruned list and drop the chunks they name; the names
    new to the list."""
    pruned = {str(e.get("name")): e for e in data.get("pruned") or [] if isinstance(e, dict)}
    new = [str(e["name"]) for e in entries if str(e.get("name")) not in pruned]
    pruned.update({str(e.get("name")): e for e in entries if str(e.get("name")) in new})
    if new or "pruned" in data:
        data["chunks"] = [c for c in data.get("chunks", []) if c.get("name") not in pruned]
        data["pruned"] = sorted(pruned.values(), key=lambda e: list(e.get("tick_range", [])))
    return new


@contextlib.contextmanager
def run_dir_lock(run_dir: Path) -> Iterator[None]:
    """An exclusive ``flock`` on the lens run directory, held while its manifest is rewritten.

    Between processes and between threads of one process alike (each holder opens the
    directory anew). Without ``fcntl`` (not POSIX) there is no lock: a prune racing a
    live writer may then be undone in the manifest (the files stay deleted).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(run_dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def pruned_names(run_dir: Path | str) -> set[str]:
    """The chunk names the manifest records as pruned (none without a manifest); an
    ``s3://`` run dir: its manifest object's."""
    if isinstance(run_dir, str) and layout.is_object_url(run_dir):
        data = _remote_manifest(run_dir)[1]
    else:
        run_dir = Path(run_dir)
        data = LensManifest.read(run_dir) if run_dir.is_dir() else None
    return {str(e.get("name")) for e in (data or {}).get("pruned") or [] if isinstance(e, dict)}


def record_pruned(run_dir: Path | str, chunks: Iterable[tuple[str, tuple[int, int]]]) -> list[str]:
    """Record chunk files retention deleted, by (file name, tick range); the names new.

    Their entries move from ``chunks`` to ``pruned`` (an unlisted chunk gets a pruned
    entry from its name and range alone). Idempotent: a name already pruned is skipped,
    so a prune interrupted before this call is completed by the next one. A directory
    without a manifest (or with an unreadable one) records nothing: ``lens load`` of it
    lists no chunk as missing either. Names must be chunk names
    (:func:`continuum.layout.parse_lens_chunk_name`); others are ignored.

    An ``s3://`` run dir: its manifest object is read, changed and put back. It is
    derived (:mod:`continuum.lens.mirror`): a live run's next rewrite may drop the
    entries, which the next prune records again (the catalog's rows stay the truth).
    """
    wanted = [(n, span) for n, span in chunks if layout.parse_lens_chunk_name(n)]
    if not wanted:
        return []
    if isinstance(run_dir, str) and layout.is_object_url(run_dir):
        store, found = _remote_manifest(run_dir)
        if found is None:
            return []
        new = _take_pruned(found, _pruned_entries(found, wanted))
        if new:
            store.put_bytes(layout.MANIFEST, manifest_bytes(found))
        return new
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    with run_dir_lock(run_dir):
        try:
            data = LensManifest.read(run_dir)
        except LensError as exc:
            log.warning("%s; pruned chunks not recorded there", exc)
            return []
        if data is None:
            return []
        new = _take_pruned(data, _pruned_entries(data, wanted))
        if new:
            write_manifest(run_dir, data)
        return new


def _pruned_entries(
    data: dict[str, Any], wanted: list[tuple[str, tuple[int, int]]]
) -> list[dict[str, Any]]:
    listed = {c.get("name"): c for c in data.get("chunks", []) if isinstance(c, dict)}
    at = now_iso()
    entries = []
    for name, (start, end) in wanted:
        c = listed.get(name, {})
        entries.append(
            {
                "name": name,
                "tick_range": [start, end],
                "frames": c.get("frames", 0),
                "bytes": c.get("bytes", 0),
                "pruned_at": at,
            }
        )
    return entries


def _remote_manifest(url: str) -> tuple[Any, dict[str, Any] | None]:
    """(the run prefix's store, its manifest object's content or None when absent)."""
    from continuum.blobs.storage import open_store
    from continuum.errors import ObjectNotFoundError

    store = open_store(url)
    try:
        raw = store.get_bytes(layout.MANIFEST)
    except ObjectNotFoundError:
        return store, None
    where = store.location(layout.MANIFEST)
    decode_json(raw, _DOC_DECODER, where, "lens manifest", LensError)  # its shape checked
    data: dict[str, Any] = decode_json(raw, _DICT_DECODER, where, "lens manifest", LensError)
    return store, data


def chunk_entry(h: ChunkHeader) -> dict[str, Any]:
    """The manifest entry of a chunk (everything the store indexes without opening it)."""
    return {
        "name": h.path.name,
        "tick_range": list(h.tick_range),
        "frames": h.frames,
        "fields": sorted(h.fields),
        "bytes": h.disk_bytes,
        "raw_bytes": h.raw_bytes,
        "checksum": h.checksum,
        "first_tick": h.first_tick,
        "last_tick": h.last_tick,
        "first_sim_time": h.first_sim_time,
        "last_sim_time": h.last_sim_time,
        "created_at": h.created_at,
    }
