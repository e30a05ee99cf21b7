"""Lens capture into object storage: ``--lens-dir s3://bucket/prefix``.

    s3://bucket/prefix/{run_id}/
      lens_snapshot_0000000000-0000001000.lens     one object per chunk window, put whole
      lens_by_sample_0000000000-0000004000.lens    by-sample copies, built here and put
      manifest.json                                derived: rewritten after each chunk

Object stores have no rename and no append, so the capture keeps its local working
directory — a private **staging** directory (``continuum-lens-*`` in the temp dir,
removed when the capture is let go, or at exit; the live exporter reads the last chunk
from it after the capture closes) in which the writer, the manifest, the by-sample
compactor, the live Parquet exporter and a resumed window work exactly as they do for a
local lens dir — and :class:`LensMirror` makes the bucket hold what they commit:

- a sealed chunk is put whole from the bytes the encoder built in memory
  (:meth:`Store.put_bytes` checks size and ETag) on the writer's io thread, between the
  catalog's ``pending`` row (``on_begin``) and its ``committed`` one (``on_seal``): the
  row is the commit point. A failed put loses that window like a failed local write (a
  ``failed`` gap, counted), and its staging file is removed so nothing downstream (the
  exporter, the compactor) reads a chunk the bucket does not hold;
- the manifest object is derived, for people and tools that list the bucket: rewritten
  after each chunk and at the segment's end, a failure counted (``lens_manifest``) and
  never fatal; readers of a remote lens dir trust the objects (and the catalog) over it;
- by-sample copies (what makes one point's history a few reads instead of one read per
  chunk) are built in staging by the usual compactor and put; only copies the bucket
  holds are told to the catalog, and copies the compactor removed are deleted. A user
  who moved a run to a bucket still expects fast point histories, so they stay on;
- a run resumed in place fetches its objects into staging first, so the window it ended
  in is rewritten whole and its files adopted as locally.

Why staging rather than writing only from memory: the compactor, the full snapshot and
the exporter read sealed chunks back, and reading them from local files is what they
were measured with; the cost is local disk for the run's lens data while it runs.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import weakref
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from continuum import layout
from continuum.blobs.staging import staging_dir
from continuum.blobs.storage import Store, open_store
from continuum.blobs.worker import describe
from continuum.lens.compaction import Compacted, CopyCallback

log = logging.getLogger("continuum.lens")

#: staging directories are ``continuum-lens-{pid}-*`` in the temp dir (blobs.staging)
STAGING_KIND = "lens"


class LensMirror:
    """One run's lens objects under an ``s3://`` lens root, and its local staging dir."""

    def __init__(self, root: str, run_id: str, store: Store | None = None) -> None:
        layout.split_object_url(root)  # LayoutError for a malformed URL
        self.root = root.rstrip("/")
        self.run_id = layout.check_run_id(run_id)
        self.url = layout.object_child(self.root, run_id)
        self.store = store if store is not None else open_store(self.root)
        self.staging = staging_dir(STAGING_KIND)  # 0700, unique; a killed run's swept
        self.run_dir = layout.run_dir(self.staging, run_id)
        # removed with the capture, or at exit if the run never got as far as closing it
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.staging), True)
        self._pulled = False

    def key(self, path: Path) -> str:
        """The object key (under the lens root) of a file in the staging run dir."""
        rel = Path(path).relative_to(self.run_dir)
        return layout.join_key(self.run_id, *rel.parts)

    def location(self, path: Path) -> str:
        """The ``s3://`` URL of a staging file (what the catalog and messages name)."""
        return self.store.location(self.key(path))

    def put(self, path: Path, parts: Sequence[bytes | memoryview]) -> None:
        """Put a committed staging file's bytes whole; on failure the file goes too."""
        try:
            self.store.put_bytes(self.key(path), b"".join(parts))
        except BaseException:
            with contextlib.suppress(OSError):
                path.unlink()
            raise

    def push_manifest(self) -> None:
        """Rewrite the derived manifest object from the staging one (if there is one)."""
        local = layout.manifest_path(self.run_dir)
        if local.is_file():
            self.store.put_bytes(self.key(local), local.read_bytes())

    def pull(self) -> int:
        """Fetch the run's objects into staging, once (a run continued in place: the
        window it ended in is rewritten whole, its chunk size kept); how many."""
        if self._pulled:
            return 0
        keys = [k for k in self.store.list(self.run_id) if k.count("/") == 1]
        self.run_dir.mkdir(exist_ok=True)
        for key in keys:
            name = key.split("/", 1)[1]
            if layout.is_lens_file_name(name) or name == layout.MANIFEST:
                layout.child(self.run_dir, name).write_bytes(self.store.get_bytes(key))
        self._pulled = True
        return len(keys)

    def after_copies(self, callbacks: list[CopyCallback]) -> CopyCallback:
        """The compactor's callback: put the copies it wrote, delete the ones it removed,
        then tell ``callbacks`` (filled later: the catalog) what the bucket now holds."""

        def mirrored(done: Compacted) -> None:
            written = []
            for copy in done.written:
                try:
                    self.put(copy.path, [copy.path.read_bytes()])
                except (OSError, ValueError) as exc:
                    log.warning(
                        "lens: by-sample copy %s not put: %s", copy.path.name, describe(exc)
                    )
                    continue
                written.append(replace(copy, location=self.location(copy.path)))
            removed = []
            for path in done.removed:
                with contextlib.suppress(OSError):
                    self.store.delete(self.key(path))
                removed.append(path)
            told = Compacted(written, removed, done.pending, [self.location(p) for p in removed])
            for callback in callbacks:
                callback(told)

        return mirrored

    def close(self) -> None:
        """Remove the staging directory (everything in it is in the bucket, or lost)."""
        self._cleanup()


def remote_root(lens_dir: object) -> str | None:
    """The ``s3://`` lens root of ``--lens-dir``, or None for a local directory."""
    return str(lens_dir).rstrip("/") if layout.is_object_url(lens_dir) else None
