"""Lens gap rows: the ticks a run's lens meant to capture and no chunk file holds.

Recorded by the lens writer as it drops or loses frames (``dropped``, ``failed``,
``lost``: the runner's ``on_gap`` callback) and by ``catalog scan``/``verify --repair``
from the files (``missing`` for a hole nothing recorded), so a run killed before any
catalog write still gets its gaps from a scan.

Recording is idempotent and keeps a run's gaps disjoint: a range overlapping (or
touching) recorded gaps of the same cause merges with them into one row. Where causes
differ on a tick, a writer's cause beats ``missing`` (the writer knew why; a scan only
sees the hole), and between two writer causes the one recorded first keeps the tick.
So recording the same gaps again, in any order, from the writer and a scan, gives the
same rows. The whole read-merge-write runs in one transaction that first locks the
run's row (PostgreSQL ``SELECT ... FOR UPDATE``; SQLite write transactions are already
serial), so two processes recording gaps of one run cannot interleave.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select

from continuum.catalog.db import Database, require_run, utcnow
from continuum.catalog.db.models import LENS_GAP_CAUSES, as_dicts, lens_gaps, runs
from continuum.catalog.records import _Record
from continuum.errors import CatalogError

MISSING = "missing"


@dataclass(frozen=True, slots=True)
class LensGapRecord(_Record):
    """One gap of a run: ticks ``[start_tick, end_tick)`` and why no file holds them."""

    run_id: str
    start_tick: int
    end_tick: int
    cause: str


Gap = tuple[int, int, str]


def merge_gap(gaps: list[Gap], new: Gap) -> list[Gap]:
    """``gaps`` (disjoint, sorted) with ``new`` recorded: see the module docstring."""
    start, end, cause = new
    # the parts of `new` no existing gap owns, and the existing gaps `new` takes over
    kept: list[Gap] = []
    pieces = [(start, end)]
    for g0, g1, gc in gaps:
        overlaps = g0 < end and start < g1
        if overlaps and gc == MISSING and cause != MISSING:
            kept += [(a, b, gc) for a, b in ((g0, max(g0, start)), (min(g1, end), g1)) if a < b]
            continue
        kept.append((g0, g1, gc))
        if overlaps:  # the existing cause keeps these ticks
            pieces = [
                (a, b)
                for p0, p1 in pieces
                for a, b in ((p0, min(p1, g0)), (max(p0, g1), p1))
                if a < b
            ]
    merged: list[Gap] = []
    for g in sorted(kept + [(a, b, cause) for a, b in pieces]):
        if merged and merged[-1][2] == g[2] and g[0] <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], g[1]), g[2])
        else:
            merged.append(g)
    return merged


def _check(start: int, end: int, cause: str) -> None:
    if cause not in LENS_GAP_CAUSES:
        raise CatalogError(
            f"a lens gap's cause is one of {', '.join(LENS_GAP_CAUSES)}; got {cause!r}"
        )
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end))
    if not ints or not 0 <= start < end:
        raise CatalogError(
            f"a lens gap is a tick range [start, end) with 0 <= start < end; got [{start}, {end})"
        )


class LensGaps:
    """``catalog.lens_gaps``: record and list a run's lens gaps."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, run_id: str, start: int, end: int, cause: str) -> builtins.list[LensGapRecord]:
        """Record ticks ``[start, end)`` of ``run_id`` as a gap of ``cause``; returns the
        run's gaps that now cover or touch that range. Idempotent; merges with the run's
        gaps (module docstring)."""
        return self.record_many(run_id, [(start, end, cause)])

    def record_many(self, run_id: str, gaps: builtins.list[Gap]) -> builtins.list[LensGapRecord]:
        """:meth:`record` for several gaps of one run, in one transaction.

        Each gap reads and rewrites only the rows it overlaps or touches (a run's rows
        are disjoint, so no other row can change): a writer recording its thousandth
        drop of a run costs what its first did.
        """
        for g in gaps:
            _check(*g)

        def op(conn: Connection) -> builtins.list[LensGapRecord]:
            require_run(conn, run_id)
            if conn.dialect.name == "postgresql":
                lock = select(runs.c.run_id).where(runs.c.run_id == run_id).with_for_update()
                conn.execute(lock)
            now, touched = utcnow(), set[Gap]()
            for g in gaps:
                near = self._gaps(conn, run_id, g[0], g[1])
                merged = merge_gap(near, g)
                gone = [r[0] for r in near if r not in merged]
                added = [r for r in merged if r not in near]
                if gone:
                    mine = lens_gaps.c.run_id == run_id
                    conn.execute(delete(lens_gaps).where(mine, lens_gaps.c.start_tick.in_(gone)))
                if added:
                    rows = [
                        {"run_id": run_id, "start_tick": a, "end_tick": b, "cause": c}
                        for a, b, c in added
                    ]
                    conn.execute(lens_gaps.insert(), [{**r, "recorded_at": now} for r in rows])
                touched = {t for t in touched if t[0] not in gone} | set(merged)
            return [LensGapRecord(run_id, a, b, c) for a, b, c in sorted(touched)]

        return self._db.write(op)

    def list(self, run_id: str) -> builtins.list[LensGapRecord]:
        """The run's gaps in tick order; an unknown run is a RunNotFoundError."""

        def op(conn: Connection) -> builtins.list[LensGapRecord]:
            require_run(conn, run_id)
            return [LensGapRecord(run_id, a, b, c) for a, b, c in self._gaps(conn, run_id)]

        return self._db.read(op)

    @staticmethod
    def _gaps(
        conn: Connection, run_id: str, start: int | None = None, end: int | None = None
    ) -> builtins.list[Gap]:
        """The run's gaps in tick order; with ``start, end`` those that overlap or touch
        ``[start, end)``."""
        stmt = select(lens_gaps).where(lens_gaps.c.run_id == run_id)
        if start is not None and end is not None:
            stmt = stmt.where(lens_gaps.c.start_tick <= end, lens_gaps.c.end_tick >= start)
        rows = as_dicts(conn.execute(stmt.order_by(lens_gaps.c.start_tick)))
        return [(r["start_tick"], r["end_tick"], r["cause"]) for r in rows]
