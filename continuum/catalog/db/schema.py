"""Schema revisions: the cheap check on every open, Alembic only when needed.

The schema is created and changed only by the Alembic revisions shipped in the
package (``continuum/_migrations``, the repository's top-level ``migrations/``).
Opening a catalog reads ``alembic_version`` with one query and compares it
with :data:`REVISIONS`, so Alembic is imported only to upgrade. A revision this
code does not know belongs to a newer Continuum and is refused, never touched.

Upgrades run inside one transaction that first takes a lock, so processes
that open a fresh catalog at the same moment take turns: ``BEGIN IMMEDIATE``
on SQLite (the database's own write lock; DDL is transactional there) and
``pg_advisory_xact_lock`` on PostgreSQL (released with the transaction).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from continuum.catalog.db.engine import WRITE_OPTION
from continuum.catalog.db.errors import is_missing_table
from continuum.errors import CatalogSchemaError

# every revision this code knows, oldest first; a test checks it against migrations/
REVISIONS: tuple[str, ...] = tuple(f"{n:04d}" for n in range(1, 11))
HEAD = REVISIONS[-1]
_PG_LOCK_KEY = 0x436F6E74696E7575  # "Continuu": one lock id for catalog migrations


def migrations_dir() -> Path:
    """The Alembic script directory shipped inside the package."""
    return Path(str(resources.files("continuum") / "_migrations"))


def read_revision(conn: Connection) -> str | None:
    """The catalog's revision, ``None`` for an empty database. One query."""
    try:
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError as exc:
        if not is_missing_table(exc):
            raise
        conn.rollback()
        return None
    if len(rows) > 1:
        return ",".join(sorted(rows))
    return rows[0] if rows else None


def needs_upgrade(found: str | None, where: str) -> bool:
    """False at head, True for an empty or older schema; refuses a revision we don't know."""
    if found == HEAD:
        return False
    if found is None or found in REVISIONS:
        return True
    raise CatalogSchemaError(
        f"catalog {where} has schema revision {found}, newer than this Continuum knows "
        f"(expected {HEAD} or older); upgrade continuum, or use another --catalog"
    )


def ensure_schema(engine: Engine, where: str) -> None:
    """Check the revision cheaply; upgrade to head (under the lock) only if needed."""
    with engine.connect() as conn:
        found = read_revision(conn)
    if needs_upgrade(found, where):
        upgrade(engine, where)


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that holds the migration lock; commits on exit."""
    with engine.execution_options(**{WRITE_OPTION: True}).connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        yield conn


def _locked_revision(conn: Connection) -> str | None:
    """Like :func:`read_revision`, without aborting the (PostgreSQL) transaction."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return ",".join(sorted(rows)) if rows else None


def upgrade(engine: Engine, where: str, target: str = "head") -> tuple[str | None, str | None]:
    """Upgrade to ``target`` under the lock; returns (revision before, revision after)."""
    with migration_connection(engine) as conn:
        before = _locked_revision(conn)
        needs_upgrade(before, where)
        if before != HEAD or target != "head":
            run_alembic(conn, "upgrade", target)
        after = _locked_revision(conn)
    return before, after


def downgrade(engine: Engine, where: str, target: str = "base") -> tuple[str | None, str | None]:
    """Downgrade to ``target`` under the lock (tests and emergencies only)."""
    with migration_connection(engine) as conn:
        before = _locked_revision(conn)
        needs_upgrade(before, where)
        run_alembic(conn, "downgrade", target)
        after = _locked_revision(conn)
    return before, after


def run_alembic(conn: Connection, command_name: str, revision: str) -> None:
    """Run an Alembic command on ``conn`` with the shipped script directory."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()).replace("%", "%%"))
    config.attributes["connection"] = conn
    getattr(command, command_name)(config, revision)
