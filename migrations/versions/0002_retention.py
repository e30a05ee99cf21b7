"""Retention policies.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

One row per scope (``run`` + run id, ``world`` + world name, ``global`` + ""),
the most specific applying to a run. Each rule is its own nullable column
(NULL: the rule is off), so a policy is readable with plain SQL. Durations are
whole seconds; sizes are bytes. The ``lens_*`` columns are the lens chunks'
own rules. No foreign key to runs: a world or global policy has no run, and
``catalog rm`` removes a run's policy with the run.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _opt(name: str, type_: type[sa.types.TypeEngine]) -> sa.Column:
    return sa.Column(name, type_(), nullable=True)


def upgrade() -> None:
    op.create_table(
        "retention_policies",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("scope_key", sa.String(200), nullable=False),
        _opt("keep_last", sa.Integer),
        _opt("keep_every_ticks", sa.BigInteger),
        _opt("keep_within_s", sa.BigInteger),
        _opt("keep_hourly", sa.Integer),
        _opt("keep_daily", sa.Integer),
        _opt("keep_weekly", sa.Integer),
        _opt("max_bytes", sa.BigInteger),
        _opt("lens_keep_last", sa.Integer),
        _opt("lens_keep_within_s", sa.BigInteger),
        _opt("lens_max_bytes", sa.BigInteger),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "scope IN ('run', 'world', 'global')", name=op.f("ck_retention_policies_scope")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_policies")),
        sa.UniqueConstraint(
            "scope", "scope_key", name=op.f("uq_retention_policies_scope_scope_key")
        ),
    )


def downgrade() -> None:
    op.drop_table("retention_policies")
