"""Parquet exports on object storage: ``--lens-export-dir s3://...``, ``lens export --output s3://...``.

The same Hive-partitioned tree as a local export root (:mod:`continuum.sql.export`),
under a bucket prefix. DuckDB writes each part to a local file (``COPY ... TO`` needs a
file system DuckDB can write, and the sandboxed read sessions have none that reaches a
bucket), so an export goes to a private **staging** root first (``continuum-export-*``
in the temp dir, removed on close); :meth:`RemoteExports.publish` then puts each part
whole (:meth:`Store.put_bytes`: size and ETag checked), removes its staging file, and
deletes the older parts the new one supersedes (a window re-exported with more frames,
as :func:`continuum.sql.export.remove_superseded_parts` does locally). Only then is the
export recorded in the catalog's ``parquet_exports`` (the row names the ``s3://`` root),
so a row never names a part the bucket does not hold. A put that fails fails the
chunk's export (counted by the live exporter; ``continuum lens export`` fills it later).
"""

from __future__ import annotations

import shutil
import weakref
from pathlib import Path

from continuum import layout
from continuum.blobs.staging import staging_dir
from continuum.blobs.storage import Store, open_store
from continuum.sql.export import ChunkExport

#: staging roots are ``continuum-export-{pid}-*`` in the temp dir (blobs.staging)
STAGING_KIND = "export"


class RemoteExports:
    """An ``s3://`` export root and the local staging root DuckDB writes parts into."""

    def __init__(self, url: str, store: Store | None = None) -> None:
        layout.split_object_url(url)  # LayoutError for a malformed URL
        self.url = url.rstrip("/")
        self.store = store if store is not None else open_store(self.url)
        self.staging = staging_dir(STAGING_KIND)  # 0700, unique; a killed export's swept
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.staging), True)

    def key(self, path: Path) -> str:
        """The object key (under the export root) of a staging file."""
        return layout.join_key("", *Path(path).relative_to(self.staging).parts)

    def publish(self, done: ChunkExport) -> list[str]:
        """Put one chunk's parts whole, drop their staging files, delete what they
        supersede; returns the keys deleted."""
        for part in done.files:
            self.store.put_bytes(self.key(part), part.read_bytes())
            part.unlink()
        return self._remove_superseded(done)

    def _remove_superseded(self, done: ChunkExport) -> list[str]:
        lo, hi = done.tick_range
        removed = []
        for part in done.files:
            key = self.key(part)
            folder = key.rsplit("/", 1)[0]
            for other in self.store.list(folder):
                name = other.rsplit("/", 1)[-1]
                span = layout.PART_NAME_RE.match(name)
                if other.count("/") != key.count("/") or span is None or other == key:
                    continue
                if lo <= int(span["start"]) and int(span["end"]) <= hi:
                    self.store.delete(other)
                    removed.append(other)
        return removed

    def close(self) -> None:
        """Remove the staging root."""
        self._cleanup()
