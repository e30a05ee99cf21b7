"""Lens chunk rows: which lens files a run has, their tick ranges and fields.

A chunk is identified by its run and path (the file name carries the tick
range): recording the same path again means the file was rewritten, so the
row is replaced. The ``lens_chunks`` table of revision 0001 has no unique key
to upsert on, hence a look-up inside the write transaction; a run's chunks are
recorded by its one lens writer, so two writers never race for one path.
Paths are stored relative to the run's ``lens_dir`` when they lie under it.

A chunk row's state follows the checkpoint state machine (``checkpoints.py``:
the same states, the same allowed moves): the writer records it ``committed``
once the file is durable, prune moves it through ``deleting`` to ``pruned``,
and ``catalog verify`` settles ``missing``/``corrupt``. A move made one row at a
time (:meth:`LensChunkOps.mark_lens_chunk_state`) into deleting, pruned, missing
or corrupt is written to the audit log as ``lens-chunk-{state}`` — the action
prune uses for its batches — with the chunk's end tick (prune's tick for a
chunk), its path and, in ``detail``, its tick range.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, update

from continuum.catalog._base import CatalogBase, new_id, require_run, utcnow
from continuum.catalog.audit import add_audit
from continuum.catalog.checkpoints import _AUDITED, TRANSITIONS, _check_state, relative_to_dir
from continuum.catalog.models import as_dicts, lens_chunks
from continuum.catalog.records import LensChunkRecord
from continuum.errors import BlobStateError, CatalogError


def lens_chunk_record(row: Mapping[str, Any]) -> LensChunkRecord:
    fields = dict(row)
    return LensChunkRecord(
        chunk_id=fields.pop("id"), fields=tuple(fields.pop("fields") or ()), **fields
    )


def lens_chunks_of(conn: Connection, run_id: str) -> list[LensChunkRecord]:
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
            f"a lens chunk needs start_tick <= end_tick and frames >= 0; "
            f"got ticks {start_tick}-{end_tick}, {frames} frames"
        )


class LensChunkOps(CatalogBase):
    """What the lens writer records and ``catalog show`` lists."""

    def record_lens_chunk(
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
        _check_state(state)
        _check_range(start_tick, end_tick, frames)
        values: dict[str, Any] = {
            "start_tick": start_tick,
            "end_tick": end_tick,
            "frames": frames,
            "fields": list(fields),
            "bytes": bytes,
            "checksum": checksum,
            "state": state,
            "created_at": created_at or utcnow(),
        }

        def op(conn: Connection) -> LensChunkRecord:
            stored = relative_to_dir(path, require_run(conn, run_id).lens_dir)
            mine = (lens_chunks.c.run_id == run_id, lens_chunks.c.path == stored)
            found = conn.execute(select(lens_chunks.c.id).where(*mine)).first()
            if found is None:
                row = {"id": new_id(), "run_id": run_id, "path": stored, **values}
                conn.execute(lens_chunks.insert().values(**row))
            else:
                row = {"id": found.id, "run_id": run_id, "path": stored, **values}
                conn.execute(update(lens_chunks).where(lens_chunks.c.id == found.id).values(values))
            return lens_chunk_record(row)

        return self._write(op)

    def mark_lens_chunk_state(
        self, run_id: str, chunk_id: str, state: str, *, detail: str | None = None
    ) -> LensChunkRecord:
        """Move one chunk of ``run_id`` to ``state`` (the checkpoints' allowed moves).

        ``BlobStateError`` for an unknown state, a chunk the run does not
        have, or a move the state machine does not allow.
        """
        _check_state(state)

        def op(conn: Connection) -> LensChunkRecord:
            require_run(conn, run_id)
            mine = (lens_chunks.c.run_id == run_id, lens_chunks.c.id == chunk_id)
            found = conn.execute(select(lens_chunks).where(*mine)).first()
            if found is None:
                raise BlobStateError(f"run {run_id!r} has no lens chunk {chunk_id!r}")
            row = lens_chunk_record(found._mapping)
            if row.state == state:
                return row
            if state not in TRANSITIONS[row.state]:
                where = f"lens chunk {row.path} (ticks {row.start_tick}-{row.end_tick})"
                raise BlobStateError(
                    f"{where} of run {run_id!r} is {row.state}; it cannot become {state}"
                )
            if state in _AUDITED:
                ticks = f"ticks {row.start_tick}-{row.end_tick}"
                add_audit(
                    conn,
                    f"lens-chunk-{state}",
                    run_id=run_id,
                    tick=row.end_tick,
                    path=row.path,
                    detail=f"{ticks}; {detail}" if detail else ticks,
                )
            conn.execute(update(lens_chunks).where(*mine).values(state=state))
            return dataclasses.replace(row, state=state)

        return self._write(op)

    def list_lens_chunks(self, run_id: str) -> list[LensChunkRecord]:
        """The run's lens chunks by start tick; ``RunNotFoundError`` for an unknown run."""
        return self._read(lambda conn: lens_chunks_of(conn, run_id))
