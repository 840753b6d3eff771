"""territory: keyed on (code, country)

Revision ID: 0620
Revises: 0610
Create Date: 2026-12-07

A territory code is its country's own: France's ``T1`` and Belgium's ``T1``
are two units. The table is small (the field force's units): it is copied
into one keyed on both.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0620"
down_revision: str | None = "0610"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = "code, country, name, level, parent, batch_id"


def _territory(name: str, *key: str) -> None:
    op.create_table(
        name,
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("country", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("parent", sa.String(), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*key),
    )


def _rekey(*key: str) -> None:
    _territory("territory_rekeyed", *key)
    op.execute(f"INSERT INTO territory_rekeyed ({COLUMNS}) SELECT {COLUMNS} FROM territory")
    op.drop_table("territory")
    op.rename_table("territory_rekeyed", "territory")


def upgrade() -> None:
    _rekey("code", "country")


def downgrade() -> None:
    _rekey("code")
