"""refinement: the cycle lifecycle, roster, alignment, refinement requests

Revision ID: 0500
Revises: 0400
Create Date: 2026-12-07

A run that finished was ``completed``; in the lifecycle it is a ``draft``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0500"
down_revision: str | None = "0400"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE cycle SET status = 'draft' WHERE status = 'completed'")
    op.create_table(
        "territory",
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("country", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("parent", sa.String(), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "roster",
        sa.Column("person", sa.String(), nullable=False),
        sa.Column("country", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("unit", sa.String(), nullable=False),
        sa.Column("manager", sa.String(), nullable=True),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("token_hash", sa.String(), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("person"),
    )
    op.create_index("ix_roster_unit", "roster", ["unit"], unique=False)
    op.create_table(
        "alignment",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(), nullable=False),
        sa.Column("first_month", sa.Integer(), nullable=False),
        sa.Column("last_month", sa.Integer(), nullable=False),
        sa.Column("territory", sa.String(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "period"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "refinement_scope",
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("territory", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("cycle_id", "customer_id"),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_refinement_scope_territory", "refinement_scope", ["cycle_id", "territory"], unique=False
    )
    op.create_table(
        "refinement_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("territory", sa.String(), nullable=False),
        sa.Column("requester", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("old_value", sa.String(), nullable=True),
        sa.Column("new_value", sa.String(), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("comment", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_comment", sa.String(), nullable=False),
        sa.Column("carried_from", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_refinement_request_cycle", "refinement_request", ["cycle_id", "status"], unique=False
    )
    op.create_index(
        "ix_refinement_request_customer_id", "refinement_request", ["customer_id"], unique=False
    )
    op.create_table(
        "cycle_transition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(), nullable=False),
        sa.Column("to_status", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_cycle_transition_cycle_id", "cycle_transition", ["cycle_id"], unique=False)


def downgrade() -> None:
    op.drop_table("cycle_transition")
    op.drop_table("refinement_request")
    op.drop_table("refinement_scope")
    op.drop_table("alignment")
    op.drop_table("roster")
    op.drop_table("territory")
    op.execute(
        "UPDATE cycle SET status = 'completed' "
        "WHERE status IN ('draft', 'feedback', 'review', 'approved', 'published', 'superseded')"
    )
