"""assignment.refined_target: a target added or removed in field refinement

Revision ID: 0630
Revises: 0620
Create Date: 2026-12-07

``yes`` or ``no`` where an accepted request added the customer to the target
list or removed it; NULL leaves it to the segment's strategy.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0630"
down_revision: str | None = "0620"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (no table copy): the assignment table holds millions of rows.
    op.add_column("assignment", sa.Column("refined_target", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assignment") as batch:
        batch.drop_column("refined_target")
