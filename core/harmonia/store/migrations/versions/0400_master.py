"""master: contact attributes of customers, merges and redirects, the match review queue, golden values, objections

Revision ID: 0400
Revises: 0300
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0400"
down_revision: str | None = "0300"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


#: Contact attributes matching compares (and erasure empties).
CONTACT = ("address", "phone", "email")


def upgrade() -> None:
    for column in CONTACT:
        op.add_column("customer", sa.Column(column, sa.String(), nullable=True))
    op.create_table(
        "customer_redirect",
        sa.Column("merged_id", sa.Integer(), nullable=False),
        sa.Column("survivor_id", sa.Integer(), nullable=False),
        sa.Column("merge_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("merged_id"),
    )
    op.create_index("ix_customer_redirect_survivor_id", "customer_redirect", ["survivor_id"])
    op.create_table(
        "customer_merge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survivor_id", sa.Integer(), nullable=False),
        sa.Column("merged_id", sa.Integer(), nullable=False),
        sa.Column("pair_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("undo", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_customer_merge_survivor_id", "customer_merge", ["survivor_id"])
    op.create_index("ix_customer_merge_merged_id", "customer_merge", ["merged_id"])
    op.create_table(
        "match_pair",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("left_id", sa.Integer(), nullable=False),
        sa.Column("right_id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(), nullable=False),
        sa.Column("method", sa.String(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("merge_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("left_id", "right_id", name="uq_match_pair"),
    )
    op.create_index("ix_match_pair_status", "match_pair", ["status"])
    op.create_table(
        "golden_value",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("attribute", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=True),
        sa.Column("system", sa.String(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "attribute"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "objection",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id"),
    )


def downgrade() -> None:
    for table in ("objection", "golden_value", "match_pair", "customer_merge", "customer_redirect"):
        op.drop_table(table)
    with op.batch_alter_table("customer") as batch:
        for column in CONTACT:
            batch.drop_column(column)
