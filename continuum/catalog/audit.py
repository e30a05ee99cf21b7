"""The audit log: an append-only record of every prune, delete and crash detection.

Entries keep the run id as plain text (no foreign key), so the log still says
what happened to a run after the run itself is gone.
"""

from __future__ import annotations

import builtins

from sqlalchemy import Connection, select

from continuum.catalog.db import Database, new_id, utcnow
from continuum.catalog.db.models import audit_log, audit_record, runs
from continuum.catalog.records import AuditRecord


def add_audit(
    conn: Connection,
    action: str,
    *,
    run_id: str | None = None,
    tick: int | None = None,
    path: str | None = None,
    detail: str | None = None,
) -> AuditRecord:
    """Append an entry inside ``conn``'s transaction, so it commits with what it logs."""
    row = {"id": new_id(), "at": utcnow(), "action": action, "run_id": run_id}
    row.update(tick=tick, path=path, detail=detail)
    conn.execute(audit_log.insert().values(**row))
    return audit_record(row)


class Audit:
    """Writing and reading the audit log."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(
        self,
        action: str,
        *,
        run_id: str | None = None,
        tick: int | None = None,
        path: str | None = None,
        detail: str | None = None,
    ) -> AuditRecord:
        """Append one entry (e.g. ``action="checkpoint-deleted"``)."""
        return self._db.write(
            lambda conn: add_audit(conn, action, run_id=run_id, tick=tick, path=path, detail=detail)
        )

    def removed_run_ids(self) -> set[str]:
        """Runs the log says ``catalog rm`` removed and that are not (again) in the catalog."""

        def op(conn: Connection) -> set[str]:
            gone = select(audit_log.c.run_id).where(audit_log.c.action == "run-deleted")
            return set(conn.scalars(gone)) - set(conn.scalars(select(runs.c.run_id)))

        return self._db.read(op)

    def list(self, run_id: str | None = None, *, limit: int = 100) -> builtins.list[AuditRecord]:
        """Newest entries first, optionally for one run."""
        stmt = select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
        if run_id is not None:
            stmt = stmt.where(audit_log.c.run_id == run_id)
        return self._db.read(
            lambda conn: [audit_record(r._mapping) for r in conn.execute(stmt.limit(limit))]
        )
