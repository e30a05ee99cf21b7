"""Lens gaps: the ticks a run's lens meant to capture and no chunk file holds.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

One row per gap of a run, ``[start_tick, end_tick)`` half-open like every tick range,
and its cause: ``dropped`` (frames dropped on a full writer queue), ``failed`` (a chunk
write failed), ``lost`` (frames buffered when the process stopped) — what the lens
writer records — or ``missing`` (a hole ``catalog scan``/``verify`` found in the files
that nothing recorded). A run's gaps never overlap, so (run_id, start_tick) is the key.
A new table: nothing to migrate; the gaps of runs recorded before it are found by
``continuum catalog scan`` of their lens directories.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

START = "first tick of the half-open range [start_tick, end_tick)"
END = "end of the half-open range [start_tick, end_tick): the first tick after it"
CAUSE = "why no file holds these ticks: dropped, failed, lost or missing"
CAUSES = ("dropped", "failed", "lost", "missing")


def upgrade() -> None:
    fk = sa.ForeignKey("runs.run_id", ondelete="CASCADE", name=op.f("fk_lens_gaps_run_id_runs"))
    op.create_table(
        "lens_gaps",
        sa.Column("run_id", sa.String(64), fk, nullable=False),
        sa.Column("start_tick", sa.BigInteger(), nullable=False, comment=START),
        sa.Column("end_tick", sa.BigInteger(), nullable=False, comment=END),
        sa.Column("cause", sa.String(16), nullable=False, comment=CAUSE),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            f"cause IN ({', '.join(repr(c) for c in CAUSES)})", name=op.f("ck_lens_gaps_cause")
        ),
        sa.CheckConstraint("start_tick < end_tick", name=op.f("ck_lens_gaps_range")),
        sa.PrimaryKeyConstraint("run_id", "start_tick", name=op.f("pk_lens_gaps")),
    )


def downgrade() -> None:
    op.drop_table("lens_gaps")
