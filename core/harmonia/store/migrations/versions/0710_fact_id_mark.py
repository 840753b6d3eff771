"""fact_id_mark: the highest response id ever given, which erasure never lowers

Revision ID: 0710
Revises: 0700
Create Date: 2026-12-07

The response ids came from the rows still held (review5 finding 12): erasing
the holder of the highest id gave that id to the next response loaded, another
person's. Each responses batch raises the mark when it commits; until the
first one, the ids held now count (an erasure before this upgrade cannot be
seen any more). Both dialects: PostgreSQL gave ids from MAX(id) as well.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0710"
down_revision: str | None = "0700"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fact_id_mark",
        sa.Column("fact_table", sa.String(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("fact_table"),
    )


def downgrade() -> None:
    op.drop_table("fact_id_mark")
