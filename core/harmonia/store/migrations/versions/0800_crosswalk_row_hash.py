"""crosswalk.row_hash: the source record's row as last loaded, fingerprinted

Revision ID: 0800
Revises: 0790
Create Date: 2026-12-08

A customers refresh compares each row's hash with its record's before
checking or merging anything, and passes over the rows that come again as
they were (1% of 1M rows changed: every row was checked and merged again,
about as much CPU as a first load). Records loaded before have no hash: their
next row is compared in full, and records its hash.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0800"
down_revision: str | None = "0790"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("crosswalk", sa.Column("row_hash", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crosswalk") as batch:
        batch.drop_column("row_hash")
