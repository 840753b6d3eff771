"""assignment.refined_by: which accepted request changed each dimension

Revision ID: 0520
Revises: 0510
Create Date: 2026-12-07

``origin`` says a final segment was refined; ``refined_by`` names the request
for every dimension a request changed (segment, needs, tier), as JSON.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0520"
down_revision: str | None = "0510"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (no table copy): the assignment table holds millions of rows.
    op.add_column("assignment", sa.Column("refined_by", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assignment") as batch:
        batch.drop_column("refined_by")
