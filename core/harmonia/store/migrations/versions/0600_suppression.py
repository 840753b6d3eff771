"""privacy: the suppression list of erased people, and the workspace's secret key

Revision ID: 0600
Revises: 0530
Create Date: 2026-12-07

An erasure keeps a keyed hash (HMAC-SHA256 under the workspace key) of each
source id and national identifier of the person, so that a reload of an old
file does not bring them back; the loader quarantines matching rows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0600"
down_revision: str | None = "0530"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "suppression",
        sa.Column("hash", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hash"),
    )
    op.create_table(
        "workspace_secret",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("workspace_secret")
    op.drop_table("suppression")
