"""State checks the prune can afford (SQLite).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

A prune changes each row it deletes twice (``committed`` -> ``deleting`` ->
``pruned``). On SQLite the check ``state IN ('pending', ...)`` made each such
UPDATE cost twice what it does without a check (SQLite evaluates a CHECK's IN
list as a lookup it sets up per row): 1,000 runs x 90 rows took ~0.32 s per
step, ~0.15 s with the same check written ``state = 'pending' OR state = ...``
(measured; the same as no check at all). Same rule, cheaper form, on the two
tables the prune rewrites (``checkpoints``, ``lens_chunks``).

SQLite cannot alter a CHECK: batch mode copies each table (a few seconds for a
million checkpoints, once). Neither table is referenced by a foreign key, so the
copy-and-rename drops nothing else. PostgreSQL gets the same text (one ALTER).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = ("pending", "committed", "deleting", "pruned", "missing", "corrupt")
TABLES = ("checkpoints", "lens_chunks")


def _either(column: str) -> str:
    return " OR ".join(f"{column} = '{s}'" for s in STATES)


def _listed(column: str) -> str:
    return f"{column} IN ({', '.join(repr(s) for s in STATES)})"


def _replace(check: str) -> None:
    for table in TABLES:
        with op.batch_alter_table(table, recreate="auto") as batch:
            batch.drop_constraint(op.f(f"ck_{table}_state"), type_="check")
            batch.create_check_constraint("state", check)


def upgrade() -> None:
    _replace(_either("state"))


def downgrade() -> None:
    _replace(_listed("state"))
