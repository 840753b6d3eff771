"""assignment.refined_goal: the calls planned for a customer, changed in field refinement

Revision ID: 0670
Revises: 0650
Create Date: 2026-12-07

The face-to-face calls an accepted ``goal`` request planned for the customer in
the cycle's period; NULL leaves them to the final segment's strategy.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0670"
down_revision: str | None = "0650"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (no table copy): the assignment table holds millions of rows.
    op.add_column("assignment", sa.Column("refined_goal", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assignment") as batch:
        batch.drop_column("refined_goal")
