"""Runs by last tick: an index on ``(last_tick, run_id)`` for the inspector's sorted pages.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

``continuum serve`` lists runs sorted by their last tick, either way, with keyset pages
continuing after ``(last_tick, run_id)`` (:mod:`continuum.catalog.search`). Without an
index every page sorts the whole table: 75 ms a page at 100,000 runs on SQLite, for the
first page as for a deep one; with it, a page reads its 50 rows from the index. An index
only: nothing to migrate, and downgrading drops it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_runs_last_tick_run_id", "runs", ["last_tick", "run_id"])


def downgrade() -> None:
    op.drop_index("ix_runs_last_tick_run_id", table_name="runs")
