"""Runs' control path: where a live run's control socket is, so ``continuum ctl`` finds it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

``runs.control_path`` (nullable text): the Unix socket a running ``continuum run`` answers
``status``, ``checkpoint``, ``flush`` and ``stop`` on (:mod:`continuum.control`), recorded
once the socket is up and cleared when the run ends, whatever the ending; a run killed
before it could clear it keeps the path until ``continuum ctl`` finds the socket dead or
the run is resumed. A new nullable column: every existing run is not live (NULL),
and both dialects add (and, downgrading, drop) it with one ALTER, no table copy.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("control_path", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "control_path")
