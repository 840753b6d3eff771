"""assignment.refined_territory: an account added to or kept on a territory in field refinement

Revision ID: 0690
Revises: 0670
Create Date: 2026-12-07

The territory an accepted ``add`` or ``keep`` request put the customer on; NULL
leaves it where the alignment (or its customer record) puts it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0690"
down_revision: str | None = "0670"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (no table copy): the assignment table holds millions of rows.
    op.add_column("assignment", sa.Column("refined_territory", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assignment") as batch:
        batch.drop_column("refined_territory")
