"""customer_version: each state of a customer row, under the batch that gave it

Revision ID: 0750
Revises: 0740
Create Date: 2026-12-07

A cycle re-run on an input snapshot (``--as-of``) read a changed customer's
attributes from the per-record history, which misses what the row held when
two systems disagree, and read its country and type as now. The loader now
appends each new row state to ``customer_version``. The table starts from
what the store knows: each customer's current row, under its latest batch.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0750"
down_revision: str | None = "0740"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ATTRIBUTES = (
    "first_name",
    "last_name",
    "specialty",
    "postal_code",
    "city",
    "territory",
    "address",
    "phone",
    "email",
)


def upgrade() -> None:
    op.create_table(
        "customer_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("type", sa.String(length=3), nullable=False),
        *(sa.Column(attribute, sa.String(), nullable=True) for attribute in ATTRIBUTES),
        sa.PrimaryKeyConstraint("id", "batch_id"),
        sqlite_with_rowid=False,
    )
    columns = ", ".join(ATTRIBUTES)
    op.execute(
        f"INSERT INTO customer_version (id, batch_id, country, type, {columns}) "
        f"SELECT id, batch_id, country, type, {columns} FROM customer"
    )


def downgrade() -> None:
    op.drop_table("customer_version")
