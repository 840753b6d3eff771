"""strategy: saved call plans and their goals

Revision ID: strategy1
Revises: 0001
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "strategy1"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS = ("face_to_face", "remote", "phone", "email", "event", "web", "sample")


def upgrade() -> None:
    op.create_table(
        "strategy_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(), nullable=False),
        sa.Column("period", sa.String(), nullable=False),
        sa.Column("cycle_ids", sa.String(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("capacity", sa.Text(), nullable=False),
        sa.Column("pro_forma", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "plan_goal",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        *(sa.Column(channel, sa.Integer(), nullable=False) for channel in CHANNELS),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "cycle_id", "customer_id"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("plan_goal")
    op.drop_table("strategy_plan")
