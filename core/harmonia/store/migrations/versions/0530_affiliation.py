"""affiliation: parent/child affiliations between customers

Revision ID: 0530
Revises: 0520
Create Date: 2026-12-07

A source that knows which organisation a physician practises at (a CRM's
child accounts) had nowhere to put it; the ``affiliations`` record kind now
stores each (child, parent) pair of harmonia ids.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0530"
down_revision: str | None = "0520"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "affiliation",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "parent_id"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_affiliation_parent", "affiliation", ["parent_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_affiliation_parent", table_name="affiliation")
    op.drop_table("affiliation")
