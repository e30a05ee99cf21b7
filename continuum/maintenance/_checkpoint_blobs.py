"""Verify's adapter for checkpoints: how a checkpoint file is checked and adopted.

An orphan checkpoint file (one no row lists) is recorded by ``--repair``:
``committed`` if it verifies and its header names this run and the tick in its
name, else ``corrupt`` (so the catalog knows the file exists and retention can
delete it) — unless its tick already has a row for another file.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from continuum import layout
from continuum.catalog import Catalog, CheckpointRecord, RunDirs
from continuum.checkpoint import CheckpointHeader, verify_checkpoint
from continuum.checkpoint.format import verify_checkpoint_bytes
from continuum.errors import BlobError, CheckpointError
from continuum.maintenance.folders import Location, name_of, stored
from continuum.maintenance.walker import FileCheck, Problem, RunFiles, done, reason


def check_file(path: Location, run_id: str, tick: int) -> FileCheck[CheckpointHeader]:
    """Header, size and full payload verification of one file (decompresses it), or of
    one object (``s3://`` URL: fetched whole, then verified the same way)."""
    if isinstance(path, str):
        data = _fetch(path)
        size = len(data)
    else:
        size = path.stat().st_size
    try:
        if isinstance(path, str):
            header = verify_checkpoint_bytes(data, path)
        else:
            header = verify_checkpoint(path)  # streamed: one frame in memory at a time
    except (CheckpointError, BlobError, OSError) as exc:
        return FileCheck(size, None, reason(exc, path))
    if header.tick != tick or header.identity.run_id != run_id:
        found = f"tick {header.tick} of run {header.identity.run_id}"
        return FileCheck(size, None, f"header holds {found}, expected tick {tick} of run {run_id}")
    return FileCheck(size, header, None)


def _fetch(url: str) -> bytes:
    """The bytes of the object at ``url`` (``StorageError`` as it comes)."""
    from continuum.blobs.storage import open_store

    scheme, bucket, key = layout.split_object_url(url)
    return open_store(layout.object_url(scheme, bucket, "")).get_bytes(key)


class CheckpointBlobs:
    """The checkpoint rows of each run, and the files in its checkpoint directory."""

    blob = "checkpoint"

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def files(self, run: RunDirs) -> RunFiles:
        rows = tuple(self.catalog.checkpoints.list(run.run_id))
        return RunFiles(run.run_id, run.checkpoint_dir, run.host, rows)

    def path_of(self, run: RunFiles, row: CheckpointRecord) -> Location:
        if layout.is_object_url(row.resolved_path):
            return row.resolved_path
        return Path(row.resolved_path)

    def created_at(self, row: CheckpointRecord) -> datetime:
        return row.created_at

    def check(self, run: RunFiles, row: CheckpointRecord, path: Location) -> FileCheck:
        return check_file(path, run.run_id, row.tick)

    def differences(self, row: CheckpointRecord, f: FileCheck) -> list[str]:
        checksum = f.intact.payload_checksum
        if f.size == row.bytes_on_disk and checksum == row.checksum:
            return []
        return [f"size {row.bytes_on_disk} -> {f.size}", f"checksum {row.checksum} -> {checksum}"]

    def mark(self, row: CheckpointRecord, state: str, why: str) -> object:
        return self.catalog.checkpoints.mark(row.run_id, row.tick, state, detail=why)

    def record_intact(self, run_id: str, path: Location, f: FileCheck) -> CheckpointRecord:
        h = f.intact
        return self.catalog.checkpoints.record(
            run_id,
            tick=h.tick,
            sim_time=h.sim_time,
            era=h.era,
            path=stored(path),
            bytes_on_disk=f.size,
            raw_bytes=h.raw_bytes,
            checksum=h.payload_checksum,
            state="committed",
        )

    def problem(self, run: RunFiles, row: CheckpointRecord, kind: str, detail: str) -> Problem:
        return Problem(kind, row.run_id, row.tick, row.resolved_path, detail)

    def is_blob_name(self, name: str) -> bool:
        return layout.checkpoint_tick(name) is not None

    def orphan(self, run: RunFiles, path: Location, repair: bool) -> Problem:
        tick = layout.checkpoint_tick(name_of(path))
        assert tick is not None  # the walker only passes checkpoint names
        problem = Problem("orphan", run.run_id, tick, str(path), "checkpoint file no row lists")
        if not repair:
            return problem
        other = next((r for r in run.rows if r.tick == tick), None)
        if other is not None and other.state != "pruned":
            return done(problem, None, f"; tick {tick} already has a row for {other.path}")
        f = check_file(path, run.run_id, tick)
        if f.error is None:
            self.record_intact(run.run_id, path, f)
            return done(problem, "recorded committed")
        self.catalog.checkpoints.record(
            run.run_id, tick=tick, sim_time=0.0, path=stored(path), bytes_on_disk=f.size
        )
        detail = f"catalog verify: orphan file is bad: {f.error}"
        self.catalog.checkpoints.mark(run.run_id, tick, "corrupt", detail=detail)
        return done(problem, f"recorded corrupt ({f.error})")
