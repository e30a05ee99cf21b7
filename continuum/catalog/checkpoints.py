"""Checkpoint rows: record, change state, pin, list — never the file contents.

The writer records a checkpoint as ``pending`` before its atomic rename and
marks it ``committed`` after; a crash in between leaves a pending row that
``catalog verify`` settles. States and the moves allowed between them:

    pending   -> committed | missing | corrupt | deleting
    committed -> deleting | missing | corrupt
    deleting  -> pruned | committed | missing        (prune: mark, delete, mark done)
    missing   -> committed | corrupt | deleting | pruned
    corrupt   -> committed | missing | deleting | pruned
    pruned    -> (final; recording the tick again starts it over as pending)

A pinned checkpoint cannot be marked ``deleting``. Moves into deleting,
pruned, missing and corrupt are written to the audit log.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Row, select, update

from continuum.catalog._base import CatalogBase, new_id, require_run, utcnow
from continuum.catalog.audit import add_audit
from continuum.catalog.models import as_dicts, checkpoint_record, checkpoints
from continuum.catalog.records import CHECKPOINT_STATES, CheckpointRecord
from continuum.errors import BlobStateError

TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"committed", "missing", "corrupt", "deleting"}),
    "committed": frozenset({"deleting", "missing", "corrupt"}),
    "deleting": frozenset({"pruned", "committed", "missing"}),
    "missing": frozenset({"committed", "corrupt", "deleting", "pruned"}),
    "corrupt": frozenset({"committed", "missing", "deleting", "pruned"}),
    "pruned": frozenset(),
}
_AUDITED = frozenset({"deleting", "pruned", "missing", "corrupt"})


def relative_to_dir(path: str | Path, directory: str | None) -> str:
    """``path`` relative to ``directory`` when it lies under it, else as given."""
    text = os.fspath(path)
    if not directory or not os.path.isabs(text):
        return text
    base = os.path.abspath(directory)
    target = os.path.abspath(text)
    if os.path.commonpath([base, target]) != base:
        return text
    return os.path.relpath(target, base)


def _check_state(state: str) -> str:
    if state not in CHECKPOINT_STATES:
        raise BlobStateError(
            f"unknown checkpoint state {state!r}; expected one of {', '.join(CHECKPOINT_STATES)}"
        )
    return state


def _get(conn: Connection, run_id: str, tick: int) -> tuple[str | None, Row[Any]]:
    """(the run's checkpoint_dir, the checkpoint's row); raises if either is unknown."""
    run_dir = require_run(conn, run_id).checkpoint_dir
    row = conn.execute(
        select(checkpoints).where(checkpoints.c.run_id == run_id, checkpoints.c.tick == tick)
    ).first()
    if row is None:
        raise BlobStateError(f"run {run_id!r} has no checkpoint at tick {tick}")
    return run_dir, row


def _set(conn: Connection, row: Row[Any], run_dir: str | None, **values: Any) -> CheckpointRecord:
    conn.execute(update(checkpoints).where(checkpoints.c.id == row.id).values(**values))
    return checkpoint_record({**row._mapping, **values}, run_dir)


class CheckpointOps(CatalogBase):
    """What the checkpoint writer, resume and retention need from the catalog."""

    def record_checkpoint(
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
        _check_state(state)
        now = created_at or utcnow()

        def op(conn: Connection) -> CheckpointRecord:
            run = require_run(conn, run_id)
            values = {
                "segment_id": segment_id,
                "sim_time": sim_time,
                "era": era,
                "path": relative_to_dir(path, run.checkpoint_dir),
                "bytes_on_disk": bytes_on_disk,
                "raw_bytes": raw_bytes,
                "checksum": checksum,
                "created_at": now,
                "state": state,
            }
            stmt = self._insert(checkpoints).values(id=new_id(), run_id=run_id, tick=tick, **values)
            stmt = stmt.on_conflict_do_update(index_elements=["run_id", "tick"], set_=values)
            row = conn.execute(stmt.returning(*checkpoints.c)).one()
            return checkpoint_record(row._mapping, run.checkpoint_dir)

        return self._write(op)

    def mark_checkpoint_state(
        self, run_id: str, tick: int, state: str, *, detail: str | None = None
    ) -> CheckpointRecord:
        """Move a checkpoint to ``state`` (see the module docstring for allowed moves)."""
        _check_state(state)

        def op(conn: Connection) -> CheckpointRecord:
            run_dir, row = _get(conn, run_id, tick)
            if row.state == state:
                return checkpoint_record(row._mapping, run_dir)
            where = f"checkpoint at tick {tick} of run {run_id!r}"
            if state not in TRANSITIONS[row.state]:
                raise BlobStateError(f"{where} is {row.state}; it cannot become {state}")
            if state == "deleting" and row.pinned:
                raise BlobStateError(f"{where} is pinned; unpin it first")
            if state in _AUDITED:
                add_audit(
                    conn,
                    f"checkpoint-{state}",
                    run_id=run_id,
                    tick=tick,
                    path=row.path,
                    detail=detail,
                )
            return _set(conn, row, run_dir, state=state)

        return self._write(op)

    def pin_checkpoint(self, run_id: str, tick: int, pinned: bool = True) -> CheckpointRecord:
        """Pin (or unpin) a checkpoint; retention never deletes a pinned one."""

        def op(conn: Connection) -> CheckpointRecord:
            run_dir, row = _get(conn, run_id, tick)
            return _set(conn, row, run_dir, pinned=pinned)

        return self._write(op)

    def list_checkpoints(
        self, run_id: str, *, states: Iterable[str] | None = None
    ) -> list[CheckpointRecord]:
        """The run's checkpoints by tick, optionally only those in ``states``."""
        wanted = [_check_state(x) for x in states] if states is not None else None
        return self._read(lambda conn: checkpoints_of(conn, run_id, wanted))

    def latest_committed_checkpoint(self, run_id: str) -> CheckpointRecord | None:
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

        return self._read(op)


def checkpoints_of(
    conn: Connection, run_id: str, states: list[str] | None = None
) -> list[CheckpointRecord]:
    """Records of one run's checkpoints in tick order (raises if the run is unknown)."""
    run = require_run(conn, run_id)
    stmt = select(checkpoints).where(checkpoints.c.run_id == run_id).order_by(checkpoints.c.tick)
    if states is not None:
        stmt = stmt.where(checkpoints.c.state.in_(states))
    return [checkpoint_record(row, run.checkpoint_dir) for row in as_dicts(conn.execute(stmt))]
