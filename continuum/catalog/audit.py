"""The audit log: an append-only record of every prune, delete and crash detection.

Entries keep the run id as plain text (no foreign key), so the log still says
what happened to a run after the run itself is gone.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from continuum.catalog._base import CatalogBase, new_id, utcnow
from continuum.catalog.models import audit_log, audit_record
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


class AuditOps(CatalogBase):
    """Writing and reading the audit log."""

    def record_audit(
        self,
        action: str,
        *,
        run_id: str | None = None,
        tick: int | None = None,
        path: str | None = None,
        detail: str | None = None,
    ) -> AuditRecord:
        """Append one entry (e.g. ``action="checkpoint-deleted"``)."""
        return self._write(
            lambda conn: add_audit(conn, action, run_id=run_id, tick=tick, path=path, detail=detail)
        )

    def list_audit(self, run_id: str | None = None, *, limit: int = 100) -> list[AuditRecord]:
        """Newest entries first, optionally for one run."""
        stmt = select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
        if run_id is not None:
            stmt = stmt.where(audit_log.c.run_id == run_id)
        return self._read(
            lambda conn: [audit_record(r._mapping) for r in conn.execute(stmt.limit(limit))]
        )
