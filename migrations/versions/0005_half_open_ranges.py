"""Tick ranges are half-open everywhere: ``lens_chunks.end_tick`` becomes exclusive.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Every tick range the catalog stores is ``[start_tick, end_tick)``: a Parquet export's
(``parquet_exports``, as its part file is named), a run segment's (the ticks its process
executed: it started at state ``start_tick`` and ended at state ``end_tick``), and from
this revision a lens chunk's, whose ``end_tick`` held its last frame's tick (inclusive)
and now holds the tick after it, as chunk file names do. Both tables were visible in
``continuum lens sql`` side by side with opposite conventions.

PostgreSQL also gets column comments saying so (SQLite keeps none).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

START = "first tick of the half-open range [start_tick, end_tick)"
END = "end of the half-open range [start_tick, end_tick): the first tick after it"
RANGES = ("lens_chunks", "parquet_exports", "run_segments")


def _comment(table: str, column: str, text: str | None, nullable: bool) -> None:
    op.alter_column(
        table, column, comment=text, existing_type=sa.BigInteger(), existing_nullable=nullable
    )


def _comments(on: bool) -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table in RANGES:
        nullable = table != "lens_chunks"
        _comment(table, "start_tick", START if on else None, table == "parquet_exports")
        _comment(table, "end_tick", END if on else None, nullable)


def upgrade() -> None:
    op.execute("UPDATE lens_chunks SET end_tick = end_tick + 1")
    _comments(True)


def downgrade() -> None:
    op.execute("UPDATE lens_chunks SET end_tick = end_tick - 1")
    _comments(False)
