"""fact_files: the files a load batch wrote, counted per fact table

Revision ID: 0640
Revises: 0630
Create Date: 2026-12-07

``load_batch.facts_files`` counted a batch's files per load kind, which is
right only while one fact table belongs to each kind (review1 finding). A
responses load writes two (``response`` and ``answer``), and a reader checks
the files of the table it reads: the count moves to ``fact_files``, one row
per batch and fact table. Until now only metrics were kept as files. A count
0610 could not know (the facts folder was gone at that upgrade) stays NULL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0640"
down_revision: str | None = "0630"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fact_files",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("fact_table", sa.String(), nullable=False),
        sa.Column("files", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("batch_id", "fact_table"),
        sqlite_with_rowid=False,
    )
    # On SQLite 0610 counted every committed batch: NULL there is "unknown", not "none".
    unknown = " OR status = 'loaded'" if op.get_bind().dialect.name == "sqlite" else ""
    op.execute(
        "INSERT INTO fact_files (batch_id, fact_table, files) SELECT id, 'metric', facts_files "
        f"FROM load_batch WHERE kind = 'metrics' AND (facts_files IS NOT NULL{unknown})"
    )
    with op.batch_alter_table("load_batch") as batch:
        batch.drop_column("facts_files")


def downgrade() -> None:
    with op.batch_alter_table("load_batch") as batch:
        batch.add_column(sa.Column("facts_files", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE load_batch SET facts_files = (SELECT SUM(files) FROM fact_files "
        "WHERE fact_files.batch_id = load_batch.id) "
        "WHERE id IN (SELECT batch_id FROM fact_files)"
    )
    op.drop_table("fact_files")
