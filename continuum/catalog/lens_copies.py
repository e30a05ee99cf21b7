"""Lens copy rows: a run's current by-sample copies of its lens chunks.

A by-sample file (``continuum.lens.by_sample``) is derived from a span of chunks, written
in the background of a capture or by ``continuum lens compact --by-sample``, and replaced
when its span grows or a source changes. The rows say which copies a run has now — what
they span, where they are, their size and checksum — so a user (``catalog`` queries, the
SQL session's catalog tables) sees the second shape of a run's history beside its chunks.
They are an index like every other: readers of the files decide whether a copy is current
from the files themselves (its sources' checksums), never from a row.

Spans of a run never overlap, so a copy replaces the row with its start tick; ``forget``
drops the rows of copies removed from disk.
"""

from __future__ import annotations

import builtins
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, select

from continuum.catalog.db import Database, require_run, utcnow
from continuum.catalog.db.models import as_dicts, lens_copies
from continuum.catalog.records import _Record
from continuum.errors import CatalogError


@dataclass(frozen=True, slots=True)
class LensCopyRecord(_Record):
    """One by-sample copy of a run: ticks ``[start_tick, end_tick)`` of its chunks."""

    run_id: str
    start_tick: int
    end_tick: int
    frames: int
    path: str
    bytes: int
    checksum: str
    created_at: datetime


class LensCopies:
    """The ``lens_copies`` table: record, forget and list a run's copies."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(
        self,
        run_id: str,
        *,
        start_tick: int,
        end_tick: int,
        frames: int,
        path: str,
        bytes: int,
        checksum: str,
    ) -> LensCopyRecord:
        """Record a copy just committed (replacing any row of the same span start)."""
        if not 0 <= start_tick < end_tick:
            raise CatalogError(
                f"a lens copy spans [start, end) ticks; got [{start_tick}, {end_tick})"
            )
        record = LensCopyRecord(
            run_id,
            int(start_tick),
            int(end_tick),
            int(frames),
            str(path),
            int(bytes),
            checksum,
            utcnow(),
        )

        def op(conn: Connection) -> LensCopyRecord:
            require_run(conn, run_id)
            mine = (lens_copies.c.run_id == run_id) & (lens_copies.c.start_tick == start_tick)
            conn.execute(delete(lens_copies).where(mine))
            conn.execute(lens_copies.insert(), [asdict(record)])
            return record

        return self._db.write(op)

    def forget(self, run_id: str, paths: builtins.list[str]) -> int:
        """Drop the rows of the copies at ``paths`` (removed from disk); how many went."""
        if not paths:
            return 0

        def op(conn: Connection) -> int:
            mine = lens_copies.c.run_id == run_id
            result = conn.execute(delete(lens_copies).where(mine, lens_copies.c.path.in_(paths)))
            return int(result.rowcount or 0)

        return self._db.write(op)

    def list(self, run_id: str) -> builtins.list[LensCopyRecord]:
        """The run's copies in tick order; an unknown run is a RunNotFoundError."""

        def op(conn: Connection) -> builtins.list[LensCopyRecord]:
            require_run(conn, run_id)
            stmt = select(lens_copies).where(lens_copies.c.run_id == run_id)
            rows = as_dicts(conn.execute(stmt.order_by(lens_copies.c.start_tick)))
            return [LensCopyRecord(**r) for r in rows]

        return self._db.read(op)
