"""Blob rows: checkpoints and lens chunks, one state machine for both.

A blob row says where a file is and how to check it, never what is in it. Both
kinds move through the same states; :class:`BlobKind` says how a kind's rows are
stored (table, key, tick and size columns, the run column its paths are under),
and :class:`BlobRows` is the part that records, moves and lists them.

    pending   -> committed | missing | corrupt | deleting
    committed -> deleting | missing | corrupt
    deleting  -> pruned | committed | missing        (prune: mark, delete, mark done)
    missing   -> committed | corrupt | deleting | pruned
    corrupt   -> committed | missing | deleting | pruned
    pruned    -> (final; recording the same file again starts it over)

The writer records a checkpoint as ``pending`` before its atomic rename and marks it
``committed`` after; the lens writer records a chunk ``committed`` once it is durable;
prune moves rows through ``deleting`` to ``pruned``; ``catalog verify`` settles
``missing``/``corrupt``. A pinned checkpoint cannot be marked ``deleting``. Moves into
deleting, pruned, missing and corrupt made one row at a time are audit-logged as
``{kind}-{state}`` (prune logs its batches the same way, ``retention/_claims.py``).
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Row, Table, select, update

from continuum import layout
from continuum.catalog.audit import add_audit
from continuum.catalog.db import Database, new_id, require_run, utcnow
from continuum.catalog.db.models import (
    as_dicts,
    checkpoint_record,
    checkpoints,
    lens_chunk_record,
    lens_chunks,
    runs,
)
from continuum.catalog.records import BLOB_STATES, CheckpointRecord, LensChunkRecord, span_text
from continuum.errors import BlobStateError, CatalogError, LayoutError

TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"committed", "missing", "corrupt", "deleting"}),
    "committed": frozenset({"deleting", "missing", "corrupt"}),
    "deleting": frozenset({"pruned", "committed", "missing"}),
    "missing": frozenset({"committed", "corrupt", "deleting", "pruned"}),
    "corrupt": frozenset({"committed", "missing", "deleting", "pruned"}),
    "pruned": frozenset(),
}
AUDITED = frozenset({"deleting", "pruned", "missing", "corrupt"})


@dataclass(frozen=True)
class BlobKind:
    """How one kind of blob row is stored; retention and verify read rows through it."""

    name: str  # audit actions are f"{name}-{state}"
    table: Table
    key_col: str  # what identifies a row within its run: "tick" or "id"
    tick_col: str  # the tick retention orders rows by
    size_col: str
    dir_col: Column[Any]  # the runs column its paths are relative to
    pins: bool  # whether rows can be pinned


CHECKPOINT = BlobKind(
    "checkpoint", checkpoints, "tick", "tick", "bytes_on_disk", runs.c.checkpoint_dir, True
)
LENS_CHUNK = BlobKind("lens-chunk", lens_chunks, "id", "end_tick", "bytes", runs.c.lens_dir, False)
KINDS = (CHECKPOINT, LENS_CHUNK)


def check_state(state: str) -> str:
    """``state`` if it is a blob state, else ``BlobStateError`` listing them."""
    if state not in BLOB_STATES:
        raise BlobStateError(
            f"unknown checkpoint state {state!r}; expected one of {', '.join(BLOB_STATES)}"
        )
    return state


def check_move(old: str, new: str, pinned: bool, where: str) -> None:
    """Refuse a move the state machine does not allow (``where`` names the row)."""
    if new not in TRANSITIONS[old]:
        raise BlobStateError(f"{where} is {old}; it cannot become {new}")
    if new == "deleting" and pinned:
        raise BlobStateError(f"{where} is pinned; unpin it first")


class BlobRows:
    """Moving and listing the rows of one :class:`BlobKind`."""

    def __init__(self, db: Database, kind: BlobKind) -> None:
        self._db = db
        self.kind = kind

    def _move(
        self,
        conn: Connection,
        row: Mapping[Any, Any],
        state: str,
        where: str,
        audit: dict[str, Any],
    ) -> bool:
        """Check and audit one row's move to ``state``; False if it is already there."""
        if row["state"] == state:
            return False
        check_move(row["state"], state, bool(row.get("pinned")), where)
        if state in AUDITED:
            add_audit(conn, f"{self.kind.name}-{state}", run_id=row["run_id"], **audit)
        table = self.kind.table
        conn.execute(update(table).where(table.c.id == row["id"]).values(state=state))
        return True


# --- checkpoints ---------------------------------------------------------------------------


def _checkpoint_row(conn: Connection, run_id: str, tick: int) -> tuple[str | None, Row[Any]]:
    """(the run's checkpoint_dir, the checkpoint's row); raises if either is unknown."""
    run_dir = require_run(conn, run_id).checkpoint_dir
    row = conn.execute(
        select(checkpoints).where(checkpoints.c.run_id == run_id, checkpoints.c.tick == tick)
    ).first()
    if row is None:
        raise BlobStateError(
            f"run {run_id!r} has no checkpoint at tick {tick}; "
            f"list its checkpoints with: continuum catalog show {run_id}"
        )
    return run_dir, row


def checkpoints_of(
    conn: Connection, run_id: str, states: builtins.list[str] | None = None
) -> builtins.list[CheckpointRecord]:
    """Records of one run's checkpoints in tick order (raises if the run is unknown)."""
    run = require_run(conn, run_id)
    stmt = select(checkpoints).where(checkpoints.c.run_id == run_id).order_by(checkpoints.c.tick)
    if states is not None:
        stmt = stmt.where(checkpoints.c.state.in_(states))
    return [checkpoint_record(row, run.checkpoint_dir) for row in as_dicts(conn.execute(stmt))]


class Checkpoints(BlobRows):
    """What the checkpoint writer, resume and retention need to know of checkpoint files."""

    def __init__(self, db: Database) -> None:
        super().__init__(db, CHECKPOINT)

    def record(
        self,
        run_id: str,
        *,
        tick: int,
        sim_time: float,
        path: str | Path,
        bytes_on_disk: int,
        era: str | None = None,
        raw_bytes: int | None = None,
        checksum: str | None = None,
        segment_id: str | None = None,
        state: str = "pending",
        created_at: datetime | None = None,
    ) -> CheckpointRecord:
        """Record (or re-record) the checkpoint of ``run_id`` at ``tick``.

        ``path`` is stored relative to the run's checkpoint_dir when under it.
        Re-recording a tick means its file was rewritten: the row is replaced
        (keeping ``pinned``) and its state starts over.
        """
        check_state(state)
        now = created_at or utcnow()

        def op(conn: Connection) -> CheckpointRecord:
            run = require_run(conn, run_id)
            values = {
                "segment_id": segment_id,
                "sim_time": sim_time,
                "era": era,
                "path": layout.relative_to(path, run.checkpoint_dir),
                "bytes_on_disk": bytes_on_disk,
                "raw_bytes": raw_bytes,
                "checksum": checksum,
                "created_at": now,
                "state": state,
            }
            stmt = self._db.insert(checkpoints).values(
                id=new_id(), run_id=run_id, tick=tick, **values
            )
            stmt = stmt.on_conflict_do_update(index_elements=["run_id", "tick"], set_=values)
            row = conn.execute(stmt.returning(*checkpoints.c)).one()
            return checkpoint_record(row._mapping, run.checkpoint_dir)

        return self._db.write(op)

    def mark(
        self, run_id: str, tick: int, state: str, *, detail: str | None = None
    ) -> CheckpointRecord:
        """Move a checkpoint to ``state`` (see the module docstring for allowed moves)."""
        check_state(state)

        def op(conn: Connection) -> CheckpointRecord:
            run_dir, row = _checkpoint_row(conn, run_id, tick)
            where = f"checkpoint at tick {tick} of run {run_id!r}"
            audit = {"tick": tick, "path": row.path, "detail": detail}
            self._move(conn, row._mapping, state, where, audit)
            return checkpoint_record({**row._mapping, "state": state}, run_dir)

        return self._db.write(op)

    def pin(self, run_id: str, tick: int, pinned: bool = True) -> CheckpointRecord:
        """Pin (or unpin) a checkpoint; retention never deletes a pinned one."""

        def op(conn: Connection) -> CheckpointRecord:
            run_dir, row = _checkpoint_row(conn, run_id, tick)
            conn.execute(
                update(checkpoints).where(checkpoints.c.id == row.id).values(pinned=pinned)
            )
            return checkpoint_record({**row._mapping, "pinned": pinned}, run_dir)

        return self._db.write(op)

    def list(
        self, run_id: str, *, states: Iterable[str] | None = None
    ) -> builtins.list[CheckpointRecord]:
        """The run's checkpoints by tick, optionally only those in ``states``."""
        wanted = [check_state(x) for x in states] if states is not None else None
        return self._db.read(lambda conn: checkpoints_of(conn, run_id, wanted))

    def latest_committed(self, run_id: str) -> CheckpointRecord | None:
        """The committed checkpoint with the highest tick, or None (resume starts here)."""

        def op(conn: Connection) -> CheckpointRecord | None:
            run = require_run(conn, run_id)
            row = conn.execute(
                select(checkpoints)
                .where(checkpoints.c.run_id == run_id, checkpoints.c.state == "committed")
                .order_by(checkpoints.c.tick.desc())
                .limit(1)
            ).first()
            return None if row is None else checkpoint_record(row._mapping, run.checkpoint_dir)

        return self._db.read(op)

    def live_paths(self) -> set[str]:
        """Absolute paths of every checkpoint row that still claims its file (gc's view).

        A row whose stored path climbs out of its run directory claims no file gc could
        delete (gc deletes only under the roots, by name): it is left out, so one crafted
        row does not stop gc for every run.
        """
        live = ("pending", "committed", "deleting", "missing", "corrupt")
        stmt = (
            select(runs.c.checkpoint_dir, checkpoints.c.path)
            .join(runs, runs.c.run_id == checkpoints.c.run_id)
            .where(checkpoints.c.state.in_(live))
        )

        def paths(conn: Connection) -> set[str]:
            out = set()
            for directory, stored in conn.execute(stmt):
                with contextlib.suppress(LayoutError):
                    out.add(os.path.normpath(layout.resolve_under(directory, stored)))
            return out

        return self._db.read(paths)


# --- lens chunks ---------------------------------------------------------------------------


def lens_chunks_of(conn: Connection, run_id: str) -> builtins.list[LensChunkRecord]:
    """One run's chunks by start tick (raises if the run is unknown)."""
    require_run(conn, run_id)
    stmt = (
        select(lens_chunks)
        .where(lens_chunks.c.run_id == run_id)
        .order_by(lens_chunks.c.start_tick, lens_chunks.c.end_tick, lens_chunks.c.path)
    )
    return [lens_chunk_record(row) for row in as_dicts(conn.execute(stmt))]


def _check_range(start_tick: int, end_tick: int, frames: int) -> None:
    if end_tick < start_tick or frames < 0:
        raise CatalogError(
            f"a lens chunk covers ticks [start_tick, end_tick) with start_tick <= end_tick "
            f"and frames >= 0; got ticks {span_text(start_tick, end_tick)}, {frames} frames"
        )


class LensChunks(BlobRows):
    """Which lens files a run has, their tick ranges and fields.

    A chunk is identified by its run and path (the file name carries the tick range):
    recording the same path again means the file was rewritten, so the row is
    replaced. The table has no unique key to upsert on (revision 0001), hence a look-up
    inside the write transaction; a run's chunks are recorded by its one lens writer, so
    two writers never race for one path. Paths are stored relative to the run's
    ``lens_dir`` when they lie under it. A row's ticks are half-open, ``[start_tick,
    end_tick)``: its first frame's tick and the tick after its last. A chunk's audit
    entries carry its end tick (retention's tick for a chunk) and, in ``detail``, its
    tick range.
    """

    def __init__(self, db: Database) -> None:
        super().__init__(db, LENS_CHUNK)

    def record(
        self,
        run_id: str,
        *,
        start_tick: int,
        end_tick: int,
        frames: int,
        fields: Sequence[str],
        path: str | Path,
        bytes: int,  # noqa: A002 - the column's (and the JSON contract's) name
        checksum: str | None,
        state: str = "committed",
        created_at: datetime | None = None,
    ) -> LensChunkRecord:
        """Record (or re-record, by run and path) one lens chunk file."""
        check_state(state)
        _check_range(start_tick, end_tick, frames)
        values: dict[str, Any] = {
            "start_tick": start_tick,
            "end_tick": end_tick,
            "frames": frames,
            "fields": builtins.list(fields),
            "bytes": bytes,
            "checksum": checksum,
            "state": state,
            "created_at": created_at or utcnow(),
        }

        def op(conn: Connection) -> LensChunkRecord:
            stored = layout.relative_to(path, require_run(conn, run_id).lens_dir)
            mine = (lens_chunks.c.run_id == run_id, lens_chunks.c.path == stored)
            found = conn.execute(select(lens_chunks.c.id).where(*mine)).first()
            row_id = new_id() if found is None else found.id
            row = {"id": row_id, "run_id": run_id, "path": stored, **values}
            if found is None:
                conn.execute(lens_chunks.insert().values(**row))
            else:
                conn.execute(update(lens_chunks).where(lens_chunks.c.id == row_id).values(values))
            return lens_chunk_record(row)

        return self._db.write(op)

    def mark(
        self, run_id: str, chunk_id: str, state: str, *, detail: str | None = None
    ) -> LensChunkRecord:
        """Move one chunk of ``run_id`` to ``state`` (the allowed moves above).

        ``BlobStateError`` for an unknown state, a chunk the run does not have, or a
        move the state machine does not allow.
        """
        check_state(state)

        def op(conn: Connection) -> LensChunkRecord:
            require_run(conn, run_id)
            mine = (lens_chunks.c.run_id == run_id, lens_chunks.c.id == chunk_id)
            found = conn.execute(select(lens_chunks).where(*mine)).first()
            if found is None:
                raise BlobStateError(
                    f"run {run_id!r} has no lens chunk {chunk_id!r}; "
                    f"list its chunks with: continuum catalog show {run_id} --json"
                )
            row = lens_chunk_record(found._mapping)
            ticks = f"ticks {span_text(row.start_tick, row.end_tick)}"
            where = f"lens chunk {row.path} ({ticks}) of run {run_id!r}"
            audit = {
                "tick": row.end_tick,
                "path": row.path,
                "detail": f"{ticks}; {detail}" if detail else ticks,
            }
            self._move(conn, found._mapping, state, where, audit)
            return dataclasses.replace(row, state=state)

        return self._db.write(op)

    def list(self, run_id: str) -> builtins.list[LensChunkRecord]:
        """The run's lens chunks by start tick; ``RunNotFoundError`` for an unknown run."""
        return self._db.read(lambda conn: lens_chunks_of(conn, run_id))
