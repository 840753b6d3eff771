"""customer_attribute_history: which source record and batch gave each customer attribute

Revision ID: 0650
Revises: 0640
Create Date: 2026-12-07

Until now a load overwrote a customer's attributes and kept only the batch
of the latest change. The history starts from what the store knows: each
customer's current values, given by its source record in the system of its
latest batch (what golden records assumed so far). Loads from now on record
each source record's own values.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0650"
down_revision: str | None = "0640"
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
        "customer_attribute_history",
        sa.Column("system", sa.String(), nullable=False),
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        *(sa.Column(attribute, sa.String(), nullable=True) for attribute in ATTRIBUTES),
        sa.PrimaryKeyConstraint("system", "source_id", "batch_id"),
        sqlite_with_rowid=False,
    )
    columns = ", ".join(ATTRIBUTES)
    values = ", ".join(f"NULLIF(c.{attribute}, '')" for attribute in ATTRIBUTES)
    # One system knows a customer by one source id (the loader refuses a second).
    op.execute(
        f"""
        INSERT INTO customer_attribute_history (system, source_id, batch_id, {columns})
        SELECT x.system, x.source_id, c.batch_id, {values}
        FROM customer c
        JOIN load_batch b ON b.id = c.batch_id
        JOIN crosswalk x ON x.customer_id = c.id AND x.system = b.system
        """
    )


def downgrade() -> None:
    op.drop_table("customer_attribute_history")
