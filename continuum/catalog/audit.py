"""The audit log: an append-only record of every prune, delete and crash detection.

Entries keep the run id as plain text (no foreign key), so the log still says
what happened to a run after the run itself is gone.

What an entry says (``detail``, ``path``) often quotes an error about a file, and a
file's error may quote the file. So both are stored escaped (control characters, bidi
overrides and undecodable bytes made visible, :func:`continuum.printable.printable`) and
cut to a bound: the log never holds a foreign file's raw bytes, every reader of it (a
terminal, a SQL console) is safe, and a row is always valid UTF-8 for PostgreSQL.
"""

from __future__ import annotations

import builtins

from sqlalchemy import Connection, select

from continuum.catalog.db import Database, new_id, utcnow
from continuum.catalog.db.models import audit_log, audit_record, runs
from continuum.catalog.records import AuditRecord
from continuum.printable import printable, without_bytes

#: Longest ``detail`` stored (escaped characters; the rest is cut and counted).
DETAIL_LIMIT = 1000
#: Longest ``path`` stored (the longest path Linux resolves is 4096 bytes).
PATH_LIMIT = 4096


def bounded_detail(text: str | None) -> str | None:
    """What an entry says, as stored: bytes literals hidden, escaped, at most
    :data:`DETAIL_LIMIT` characters."""
    return None if text is None else printable(without_bytes(text), DETAIL_LIMIT)


def bounded_path(path: object) -> str | None:
    """The file an entry names, as stored: escaped, at most :data:`PATH_LIMIT` characters."""
    return None if path is None else printable(path, PATH_LIMIT)


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
    row.update(tick=tick, path=bounded_path(path), detail=bounded_detail(detail))
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
