"""Lens chunk rows: which lens files a run has, their tick ranges and fields.

A chunk is identified by its run and path (the file name carries the tick
range): recording the same path again means the file was rewritten, so the
row is replaced. The ``lens_chunks`` table of revision 0001 has no unique key
to upsert on, hence a look-up inside the write transaction; a run's chunks are
recorded by its one lens writer, so two writers never race for one path.
Paths are stored relative to the run's ``lens_dir`` when they lie under it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, update

from continuum.catalog._base import CatalogBase, new_id, require_run, utcnow
from continuum.catalog._errors import CatalogError
from continuum.catalog.checkpoints import _check_state, relative_to_dir
from continuum.catalog.models import as_dicts, lens_chunks
from continuum.catalog.records import LensChunkRecord


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

    def list_lens_chunks(self, run_id: str) -> list[LensChunkRecord]:
        """The run's lens chunks by start tick; ``RunNotFoundError`` for an unknown run."""
        return self._read(lambda conn: lens_chunks_of(conn, run_id))
