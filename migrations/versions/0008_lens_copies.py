"""Lens copies: a run's current by-sample copies of its lens chunks.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

One row per by-sample file (``continuum.lens.by_sample``): the span of chunks it copies,
``[start_tick, end_tick)`` half-open, its frames, path, size and payload checksum. A copy
is derived data, written in the background of a capture (or by ``continuum lens compact
--by-sample``) and replaced when its span grows or a source chunk changes, so the row is
replaced with it; a run's spans never overlap, so (run_id, start_tick) is the key. A new
table: nothing to migrate (copies made before it are found in the run directory).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

START = "first tick of the half-open range [start_tick, end_tick)"
END = "end of the half-open range [start_tick, end_tick): the first tick after it"


def upgrade() -> None:
    fk = sa.ForeignKey("runs.run_id", ondelete="CASCADE", name=op.f("fk_lens_copies_run_id_runs"))
    op.create_table(
        "lens_copies",
        sa.Column("run_id", sa.String(64), fk, nullable=False),
        sa.Column("start_tick", sa.BigInteger(), nullable=False, comment=START),
        sa.Column("end_tick", sa.BigInteger(), nullable=False, comment=END),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("checksum", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("start_tick < end_tick", name=op.f("ck_lens_copies_range")),
        sa.PrimaryKeyConstraint("run_id", "start_tick", name=op.f("pk_lens_copies")),
    )


def downgrade() -> None:
    op.drop_table("lens_copies")
