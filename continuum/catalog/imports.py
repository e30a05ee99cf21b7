"""Rows for run directories read from disk: what ``catalog scan`` records.

The catalog is an index over files; a run written with ``--no-catalog``, into another
catalog, or before the catalog existed, is brought in from what its directory says.
Reading the directory (manifest, checkpoint headers) is ``continuum.maintenance.scan``'s
job; this part only turns a :class:`ScannedRun` into rows, idempotently:

- Rows get the fields the live recorder writes: path (stored relative to the run
  directory), bytes_on_disk, raw_bytes and checksum, state ``committed`` — or
  ``corrupt`` for a file whose header could not be believed (audit-logged).
- A run already in the catalog only gets missing checkpoint rows added and rows whose
  file differs (path, size or checksum) re-recorded; its other fields are the live
  recorder's and stay as they are, except that a missing parent link is filled in once
  the parent is in the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from continuum import layout
from continuum.catalog.audit import add_audit
from continuum.catalog.db import Database, new_id, utcnow
from continuum.catalog.db.models import checkpoints, lens_chunks, run_segments, runs, worlds
from continuum.catalog.records import _Record
from continuum.catalog.ticks import settle


@dataclass(frozen=True, slots=True)
class ScannedCheckpoint:
    """What one checkpoint file says about itself (header and ``stat`` only)."""

    tick: int
    path: str  # absolute
    bytes_on_disk: int
    sim_time: float
    era: str | None
    raw_bytes: int | None
    checksum: str | None
    created_at: datetime
    problem: str | None = None  # set: the file is recorded corrupt

    @property
    def state(self) -> str:
        return "corrupt" if self.problem else "committed"


@dataclass(frozen=True, slots=True)
class ScannedRun:
    """One run directory as the catalog would record it."""

    run: dict[str, Any]  # the ``runs`` row, without parent link
    world_version: str | None
    parent: tuple[str, int] | None  # (run_id, tick) from the manifest
    segments: tuple[dict[str, Any], ...]
    checkpoints: tuple[ScannedCheckpoint, ...]

    @property
    def run_id(self) -> str:
        return self.run["run_id"]


@dataclass(frozen=True, slots=True)
class RunScan(_Record):
    """What scanning one run directory changed."""

    run_id: str
    checkpoint_dir: str
    action: str  # added | updated | unchanged
    checkpoints_added: int = 0
    checkpoints_updated: int = 0
    corrupt: tuple[str, ...] = ()  # one message per corrupt file found


@dataclass(frozen=True, slots=True)
class ScannedChunk:
    """What one lens chunk file's header says (the row the lens writer would record)."""

    path: str  # absolute
    start_tick: int  # [first frame, last frame + 1), as the recorder records it
    end_tick: int
    frames: int
    fields: tuple[str, ...]
    bytes: int
    checksum: str | None


@dataclass(frozen=True, slots=True)
class ScannedLens:
    """One lens run directory: its run's identity and the chunks its files hold."""

    run_id: str
    lens_dir: str  # absolute
    world: str | None
    ir_hash: str | None
    seed: int | None
    started_at: datetime
    chunks: tuple[ScannedChunk, ...]


@dataclass(frozen=True, slots=True)
class LensScan(_Record):
    """What scanning one lens run directory changed."""

    run_id: str
    lens_dir: str
    action: str  # added | updated | unchanged | skipped
    chunks_added: int = 0
    chunks_updated: int = 0


class Imports:
    """Recording scanned run directories (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def run(self, s: ScannedRun, warnings: list[str]) -> RunScan:
        """Record one scanned run directory; a parent not in the catalog adds a warning.

        The run id (and its parent's) must be a run id and the directory ``{root}/{run_id}``
        (``LayoutError`` otherwise): the catalog records no identifier that cannot be a path.
        """
        layout.split_run_dir(s.run["checkpoint_dir"], s.run_id)
        if s.parent is not None:
            layout.check_run_id(s.parent[0])
        corrupt = tuple(c.problem for c in s.checkpoints if c.problem)

        def op(conn: Connection) -> RunScan:
            parent = self._known_parent(conn, s, warnings)
            row = conn.execute(select(runs).where(runs.c.run_id == s.run_id)).first()
            if row is None:
                self._add_run(conn, s, parent)
                added = len(s.checkpoints)
                return RunScan(s.run_id, s.run["checkpoint_dir"], "added", added, 0, corrupt)
            link: dict[str, object] = {}
            if parent and row.parent_run_id is None:
                link = {"parent_run_id": parent[0], "parent_checkpoint_tick": parent[1]}
            directory = row.checkpoint_dir
            if directory is None:  # known from its lens directory only (scanned first)
                directory = link["checkpoint_dir"] = s.run["checkpoint_dir"]
            if link:
                conn.execute(update(runs).where(runs.c.run_id == s.run_id).values(**link))
            added, changed = self._merge_checkpoints(conn, s, directory)
            if row.status == "crashed":  # its range: where its committed checkpoints got it
                settle(conn, s.run_id)
            action = "updated" if added or changed else "unchanged"
            return RunScan(s.run_id, directory, action, added, changed, corrupt)

        return self._db.write(op)

    def lens(self, s: ScannedLens, warnings: list[str]) -> LensScan:
        """Record one scanned lens directory's chunks (by path, as the lens writer does).

        The run must be in the catalog, or be registrable from the chunks' identity
        (world, IR hash and seed): a lens-only run is added as ``completed`` with no
        checkpoints. A run in the catalog without a lens directory gets this one. The
        directory must be ``{root}/{run_id}`` with a valid run id (``LayoutError``).
        """
        layout.split_run_dir(s.lens_dir, s.run_id)

        def op(conn: Connection) -> LensScan:
            row = conn.execute(select(runs).where(runs.c.run_id == s.run_id)).first()
            action = "updated"
            if row is None:
                if not (s.world and s.ir_hash and s.seed is not None):
                    warnings.append(
                        f"run {s.run_id}: not in the catalog and its lens files do not say "
                        "its world, IR hash and seed; scan its checkpoint directory first"
                    )
                    return LensScan(s.run_id, s.lens_dir, "skipped")
                self._add_lens_run(conn, s)
                action, lens_dir = "added", s.lens_dir
            else:
                lens_dir = row.lens_dir or s.lens_dir
                if row.lens_dir is None:
                    stmt = update(runs).where(runs.c.run_id == s.run_id)
                    conn.execute(stmt.values(lens_dir=s.lens_dir))
            added, changed = self._merge_chunks(conn, s, lens_dir)
            if action == "updated" and not (added or changed) and row and row.lens_dir:
                action = "unchanged"
            return LensScan(s.run_id, lens_dir, action, added, changed)

        return self._db.write(op)

    def _add_lens_run(self, conn: Connection, s: ScannedLens) -> None:
        world = {"name": s.world, "ir_hash": s.ir_hash, "version": None}
        conn.execute(
            self._db.insert(worlds).values(**world, first_seen_at=utcnow()).on_conflict_do_nothing()
        )
        first = min((c.start_tick for c in s.chunks), default=0)
        last = max((c.end_tick for c in s.chunks), default=0)
        run = {
            "run_id": s.run_id,
            "world": s.world,
            "ir_hash": s.ir_hash,
            "seed": s.seed,
            "status": "completed",
            "started_at": s.started_at,
            "heartbeat_at": s.started_at,
            "first_tick": first,
            "last_tick": last,
            "lens_dir": s.lens_dir,
            "dropped_checkpoints": 0,
        }
        conn.execute(runs.insert().values(**run))

    def _merge_chunks(self, conn: Connection, s: ScannedLens, lens_dir: str) -> tuple[int, int]:
        """(rows added, rows re-recorded) for the chunk files of ``s``."""
        mine = lens_chunks.c.run_id == s.run_id
        rows = {r.path: r for r in conn.execute(select(lens_chunks).where(mine))}
        added = changed = 0
        for c in s.chunks:
            values = _chunk_values(c, lens_dir)
            old = rows.get(values["path"])
            if old is None:
                row = {"id": new_id(), "run_id": s.run_id, "state": "committed", **values}
                conn.execute(lens_chunks.insert().values(**row, created_at=utcnow()))
                added += 1
            elif any(getattr(old, k) != values[k] for k in ("bytes", "checksum", "frames")):
                stmt = update(lens_chunks).where(lens_chunks.c.id == old.id)
                conn.execute(stmt.values(**values, state="committed"))
                changed += 1
        return added, changed

    def _known_parent(
        self, conn: Connection, s: ScannedRun, warnings: list[str]
    ) -> tuple[str, int] | None:
        if s.parent is None:
            return None
        if conn.execute(select(runs.c.run_id).where(runs.c.run_id == s.parent[0])).first():
            return s.parent
        warnings.append(
            f"run {s.run_id}: parent run {s.parent[0]} is not in the catalog; "
            "scan its directory too to link them"
        )
        return None

    def _add_run(self, conn: Connection, s: ScannedRun, parent: tuple[str, int] | None) -> None:
        world = {"name": s.run["world"], "ir_hash": s.run["ir_hash"], "version": s.world_version}
        conn.execute(
            self._db.insert(worlds).values(**world, first_seen_at=utcnow()).on_conflict_do_nothing()
        )
        link = {"parent_run_id": parent[0], "parent_checkpoint_tick": parent[1]} if parent else {}
        conn.execute(runs.insert().values(**s.run, **link))
        for seg in s.segments:
            conn.execute(run_segments.insert().values(id=new_id(), run_id=s.run_id, **seg))
        for c in s.checkpoints:
            self._put_checkpoint(conn, s.run_id, c, s.run["checkpoint_dir"], None)
        if s.run["status"] == "crashed":  # its range: where its intact checkpoints got it
            settle(conn, s.run_id)

    def _merge_checkpoints(
        self, conn: Connection, s: ScannedRun, run_dir: str | None
    ) -> tuple[int, int]:
        """(rows added, rows re-recorded) for a run already in the catalog."""
        mine = checkpoints.c.run_id == s.run_id
        rows = {r.tick: r for r in conn.execute(select(checkpoints).where(mine))}
        added = changed = 0
        for c in s.checkpoints:
            old = rows.get(c.tick)
            values = _checkpoint_values(c, run_dir or s.run["checkpoint_dir"])
            if old is not None and not _differs(old, values):
                continue
            self._put_checkpoint(conn, s.run_id, c, run_dir or s.run["checkpoint_dir"], old)
            added, changed = (added + 1, changed) if old is None else (added, changed + 1)
        return added, changed

    def _put_checkpoint(
        self, conn: Connection, run_id: str, c: ScannedCheckpoint, run_dir: str, old: Any
    ) -> None:
        """Insert or replace one row (keeping ``pinned``); corrupt files are audit-logged."""
        values = _checkpoint_values(c, run_dir)
        if old is None:
            conn.execute(
                checkpoints.insert().values(id=new_id(), run_id=run_id, tick=c.tick, **values)
            )
        else:
            conn.execute(update(checkpoints).where(checkpoints.c.id == old.id).values(**values))
        if c.problem:
            detail = f"catalog scan: {c.problem}"
            add_audit(
                conn,
                "checkpoint-corrupt",
                run_id=run_id,
                tick=c.tick,
                path=values["path"],
                detail=detail,
            )


def _checkpoint_values(c: ScannedCheckpoint, run_dir: str) -> dict[str, Any]:
    return {
        "segment_id": None,  # as the live recorder writes them
        "sim_time": c.sim_time,
        "era": c.era,
        "path": layout.relative_to(c.path, run_dir),
        "bytes_on_disk": c.bytes_on_disk,
        "raw_bytes": c.raw_bytes,
        "checksum": c.checksum,
        "created_at": c.created_at,
        "state": c.state,
    }


def _differs(row: Any, values: dict[str, Any]) -> bool:
    keys = ("path", "bytes_on_disk", "checksum")
    return any(getattr(row, k) != values[k] for k in keys)


def _chunk_values(c: ScannedChunk, lens_dir: str) -> dict[str, Any]:
    return {
        "start_tick": c.start_tick,
        "end_tick": c.end_tick,
        "frames": c.frames,
        "fields": list(c.fields),
        "path": layout.relative_to(c.path, lens_dir),
        "bytes": c.bytes,
        "checksum": c.checksum,
    }
