"""Exporting a lens run dir (``continuum lens export``) and each chunk as it is sealed.

:func:`export_run` exports the chunk files of one lens run dir that overlap a tick
window and records each in the catalog (when given one). :class:`LiveExporter` is the
``on_seal`` callback of ``continuum run --lens-export-dir``: the lens writer's io thread
hands it a sealed chunk and returns at once; one ``sql-export`` thread exports it, so SQL
sees a running run's chunks a moment after they are sealed. Its queue is bounded: when
exports fall behind, a chunk is skipped (logged, counted) rather than stalling the lens
writer — whose own backpressure would end in dropped frames — and ``continuum lens
export`` fills the gap later (re-exports replace, never duplicate). Any failure of an
export (a full disk, DuckDB, the catalog, a bug) is counted and logged and the thread
takes the next chunk (:class:`continuum.blobs.worker.Worker`); ``close`` never waits
for a thread that is gone.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from continuum import layout
from continuum.blobs import commit_file
from continuum.blobs.worker import Failures, Worker, describe
from continuum.errors import LensError
from continuum.lens import LensStore, SealedChunk
from continuum.sql.columns import Scratch
from continuum.sql.export import ChunkExport, check_fields, export_chunk, remove_superseded_parts
from continuum.sql.remote import RemoteExports

if TYPE_CHECKING:
    from continuum.catalog import Catalog

log = logging.getLogger("continuum.sql")

DEFAULT_DEPTH = 8


def record(catalog: Catalog | None, done: ChunkExport, root: Path | str) -> None:
    """One chunk's export as a catalog row (no-op without a catalog); ``root`` a
    directory or an ``s3://`` export root."""
    if catalog is None:
        return
    catalog.exports.record(
        done.run_id,
        fields=done.fields,
        start_tick=done.tick_range[0],
        end_tick=done.tick_range[1],
        path=root if layout.is_object_url(root) else Path(root).resolve(),
        rows=done.rows,
        bytes=done.bytes,
    )


def export_run(
    run_dir: Path,
    root: Path | str,
    *,
    catalog: Catalog | None = None,
    fields: list[str] | None = None,
    start: int | None = None,
    stop: int | None = None,
    layouts: tuple[str, ...] = ("time",),
    on_chunk: Callable[[int, int], None] | None = None,
) -> list[ChunkExport]:
    """Export every chunk of ``run_dir`` overlapping ticks [start, stop]; record each.

    ``on_chunk(done, total)`` is called before the first chunk and after each chunk is
    recorded, with the chunks done and to do (a progress bar's feed).

    Chunks are exported in parallel, one DuckDB thread per worker: a single ``COPY``
    keeps row order and so barely uses a second core, while two chunks at once were
    measured 2x faster on two cores (``scripts/bench_sql.py``). Parts are committed
    (fsync, rename) on committer threads while the workers go on; a chunk is recorded
    in the catalog only once all its parts are in place.

    A chunk file whose header cannot be read refuses the whole export before anything
    is written (``LensError`` naming it): exporting around it would leave a hole in the
    history that no later query could tell from a gap. The run's lens gaps (all of them,
    derived from its files) are recorded in the catalog with its exports, so the SQL
    ``ticks`` table marks them even for a run whose writer never recorded them.

    ``root`` may be ``s3://bucket/prefix``: parts are written to a staging root and put
    whole before each chunk is recorded (:mod:`continuum.sql.remote`).
    """
    remote = RemoteExports(str(root)) if layout.is_object_url(root) else None
    try:
        return _export_run(run_dir, root, remote, catalog, fields, start, stop, layouts, on_chunk)
    finally:
        if remote is not None:
            remote.close()


def _export_run(
    run_dir: Path,
    root: Path | str,
    remote: RemoteExports | None,
    catalog: Catalog | None,
    fields: list[str] | None,
    start: int | None,
    stop: int | None,
    layouts: tuple[str, ...],
    on_chunk: Callable[[int, int], None] | None,
) -> list[ChunkExport]:
    local_root = remote.staging if remote is not None else Path(root)
    with LensStore(run_dir) as store:
        if store.unreadable:
            more = f" (and {len(store.unreadable) - 1} more)" if len(store.unreadable) > 1 else ""
            raise LensError(
                f"{run_dir}: chunk {store.unreadable[0]}{more}; nothing exported: "
                "restore the file from a copy, or move it out of the run directory to "
                "export the rest"
            )
        check_fields(set(store.fields), fields)
        chunks = [
            ref.path
            for ref in store.chunks
            if (start is None or ref.end > start) and (stop is None or ref.start <= stop)
        ]
        gaps = [(g.start, g.end, g.cause) for g in store.gaps]
    con = duckdb.connect(config={"threads": 1})
    local = threading.local()  # per worker: a DuckDB cursor and the column buffers
    committer = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sql-commit")

    def one(path: Path) -> tuple[ChunkExport, list[Future[None]]]:
        if not hasattr(local, "cursor"):  # a connection is not shared across threads
            local.cursor, local.scratch = con.cursor(), Scratch()
            cursors.append(local.cursor)
        pending: list[Future[None]] = []
        exported = export_chunk(
            local.cursor,
            path,
            local_root,
            fields=fields,
            start=start,
            stop=stop,
            layouts=layouts,
            scratch=local.scratch,
            commit=lambda tmp, final: pending.append(committer.submit(commit_file, tmp, final)),
        )
        return exported, pending

    cursors: list[duckdb.DuckDBPyConnection] = []

    done: list[ChunkExport] = []
    if on_chunk is not None:
        on_chunk(0, len(chunks))
    try:
        with committer, ThreadPoolExecutor(max_workers=min(os.cpu_count() or 1, 4)) as pool:
            for exported, pending in pool.map(one, chunks):  # in chunk order
                for commit in pending:  # its parts durable and in place: now record it
                    commit.result()
                if remote is not None:
                    remote.publish(exported)  # put whole, then the row
                else:
                    remove_superseded_parts(exported)
                record(catalog, exported, root)
                done.append(exported)
                if on_chunk is not None:
                    on_chunk(len(done), len(chunks))
    finally:
        for cursor in cursors:
            cursor.close()
        con.close()
    if catalog is not None and done and gaps:  # what the SQL ticks table marks
        catalog.lens_gaps.record_many(done[0].run_id, gaps)
    return done


class LiveExporter:
    """``on_seal`` callback: export each sealed chunk on a background thread."""

    def __init__(
        self,
        root: Path | str,
        catalog: Catalog | None,
        *,
        layouts: tuple[str, ...] = ("time",),
        depth: int = DEFAULT_DEPTH,
    ) -> None:
        self.catalog, self.layouts = catalog, layouts
        #: an ``s3://`` root: parts written to its staging root, then put (sql.remote)
        self.remote = RemoteExports(str(root)) if layout.is_object_url(root) else None
        self.root: Path | str = root if self.remote is not None else Path(root)
        self._local_root = self.remote.staging if self.remote is not None else Path(root)
        self.exported = self.skipped = 0
        self.failures = Failures(log)
        self._con = duckdb.connect()
        self._scratch = Scratch()  # the column buffers, reused chunk after chunk
        self._worker: Worker[SealedChunk] = Worker(
            "sql-export", self._export, depth=depth, on_error=self._failed
        )

    @property
    def failed(self) -> int:
        """Chunks whose export failed."""
        return self.failures["parquet_exports"]

    def __call__(self, sealed: SealedChunk) -> None:
        """Hand a sealed chunk over without waiting; skipped (and logged) when full."""
        if self._worker.offer(sealed):
            return
        self.skipped += 1
        why = "exporter behind" if self._worker.alive else "exporter stopped"
        log.warning(
            "parquet export of %s skipped: %s; run `continuum lens export`", sealed.path.name, why
        )

    def _export(self, sealed: SealedChunk) -> None:
        done = export_chunk(
            self._con, sealed.path, self._local_root, layouts=self.layouts, scratch=self._scratch
        )
        if self.remote is not None:
            self.remote.publish(done)
        else:
            remove_superseded_parts(done)
        record(self.catalog, done, self.root)
        self.exported += 1

    def _failed(self, sealed: SealedChunk, exc: Exception) -> None:
        """An export must not stop the run: counted, logged, the next chunk exported."""
        self.failures.add(
            "parquet_exports", f"parquet export of {sealed.path.name} failed: {describe(exc)}"
        )

    def close(self) -> None:
        """Export what is queued, then stop the thread (at once if it is gone)."""
        self._worker.finish()
        self._con.close()
        if self.remote is not None:
            self.remote.close()
