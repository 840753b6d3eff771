"""facts: each load batch records how many fact files it wrote

Revision ID: 0610
Revises: 0600
Create Date: 2026-12-07

A reader compares the files it finds with the number each committed batch
wrote (``load_batch.facts_files``), so a facts folder that did not come
along with its database, a lost file or a file put there by hand is a clear
error instead of metrics that silently are not there. Batches committed
before are counted from the files on disk now. When the store's facts folder
is already gone, a batch that loaded rows has lost them: its count is unknown
(NULL), and a reader then says its files were missing at the upgrade instead
of taking 0 files for the truth.
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0610"
down_revision: str | None = "0600"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("load_batch") as batch:
        batch.add_column(sa.Column("facts_files", sa.Integer(), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return  # PostgreSQL keeps its facts as tables
    from harmonia.store.facts import FACT_TABLES, batch_folder, facts_folder

    root = facts_folder(Path(bind.engine.url.database or ""))
    for table in FACT_TABLES.values():
        committed = bind.execute(
            sa.text(
                "SELECT id, rows_loaded, id < (SELECT COALESCE(MAX(id), 0) FROM load_batch "
                "WHERE source = 'migration' AND kind = :kind) AS moved "
                "FROM load_batch WHERE status = 'loaded' AND kind = :kind"
            ),
            {"kind": table.load_kind},
        ).all()
        for batch_id, rows_loaded, moved in committed:
            files: int | None = len(
                list(batch_folder(root, table.name, batch_id).glob("part-*.parquet"))
            )
            # Without the folder, a batch that kept rows of its own lost them (0300
            # moved the rows of the batches before its own into its files).
            if not root.exists() and rows_loaded and not moved:
                files = None
            bind.execute(
                sa.text("UPDATE load_batch SET facts_files = :files WHERE id = :id"),
                {"files": files, "id": batch_id},
            )


def downgrade() -> None:
    with op.batch_alter_table("load_batch") as batch:
        batch.drop_column("facts_files")
