"""Run status ``stopped``: a run ended on purpose by SIGINT or SIGTERM, resumable.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

``continuum run`` stopped by a signal ends its current tick, writes its final
checkpoint, seals its lens and records the run (and its segment) ``stopped``: not
``failed`` (nothing went wrong) and not ``crashed`` (it said where it ended, so its range
is settled like a finished segment's). The status checks of ``runs`` and
``run_segments`` gain the value; nothing else changes.

How, per dialect:

- PostgreSQL: drop the check and add the wider one (one ALTER each).
- SQLite cannot alter a CHECK, and batch mode's table copy is not an option here: it
  drops the old table, and the migration runs inside the catalog's locked transaction,
  where ``PRAGMA foreign_keys`` (on) cannot be turned off, so dropping ``runs`` would
  cascade to every segment, checkpoint, lens chunk, tag and parameter of every run
  (and dropping ``run_segments`` would null each checkpoint's segment). Widening a CHECK
  changes no stored row, so the table's recorded SQL is edited in place, SQLite's own
  documented procedure for such changes (https://sqlite.org/lang_altertable.html,
  "otheralter"): ``writable_schema``, one exact text substitution per table, then
  ``schema_version`` bumped so every open connection re-reads the schema.

Downgrade: ``stopped`` rows become ``failed`` (what Continuum recorded for a stopped run
before this revision), then the narrower check is put back the same way.
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = ("running", "completed", "failed", "crashed")
AFTER = (*BEFORE, "stopped")
TABLES = ("runs", "run_segments")


def _check(statuses: tuple[str, ...]) -> str:
    return f"status IN ({', '.join(repr(s) for s in statuses)})"


def _replace_sqlite(old: str, new: str) -> None:
    conn = op.get_bind()
    version = conn.execute(text("PRAGMA schema_version")).scalar_one()
    conn.execute(text("PRAGMA writable_schema = ON"))
    try:
        for table in TABLES:
            where = "type = 'table' AND name = :name"
            sql = conn.execute(
                text(f"SELECT sql FROM sqlite_master WHERE {where}"), {"name": table}
            ).scalar_one()
            if sql.count(old) != 1:
                raise RuntimeError(f"table {table}: expected the check {old!r} once in {sql!r}")
            conn.execute(
                text(f"UPDATE sqlite_master SET sql = :sql WHERE {where}"),
                {"sql": sql.replace(old, new), "name": table},
            )
        conn.execute(text(f"PRAGMA schema_version = {int(version) + 1}"))
    finally:
        conn.execute(text("PRAGMA writable_schema = OFF"))
    problems = conn.execute(text("PRAGMA quick_check")).scalars().all()
    if problems != ["ok"]:
        raise RuntimeError(f"the catalog's schema failed its check after the edit: {problems}")


def _replace(old: tuple[str, ...], new: tuple[str, ...]) -> None:
    if op.get_context().dialect.name == "sqlite":
        _replace_sqlite(_check(old), _check(new))
        return
    for table in TABLES:
        op.drop_constraint(op.f(f"ck_{table}_status"), table, type_="check")
        op.create_check_constraint(op.f(f"ck_{table}_status"), table, _check(new))


def upgrade() -> None:
    _replace(BEFORE, AFTER)


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"UPDATE {table} SET status = 'failed' WHERE status = 'stopped'")
    _replace(AFTER, BEFORE)
