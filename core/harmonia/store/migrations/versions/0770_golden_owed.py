"""load_batch.golden_owed: a customers batch whose golden records are not refreshed yet

Revision ID: 0770
Revises: 0760
Create Date: 2026-12-07

A customers batch commits with ``golden_owed`` set; the refresh of the golden
records of the persons it touched clears it in its own commit. A refresh cut
short (Ctrl-C, a crash) leaves it set, and the next load refreshes every batch
still owed first. Batches from before are taken as refreshed (as they were
treated).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0770"
down_revision: str | None = "0760"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "load_batch",
        sa.Column("golden_owed", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("load_batch") as batch:
        batch.drop_column("golden_owed")
