"""assignment_input_erasure: objectors whose inputs are still to leave the inputs files

Revision ID: 0760
Revises: 0750
Create Date: 2026-12-07

Since 0740 an assignment's ``inputs`` (its profile: every value its rules read)
lives in a file per cycle on SQLite stores. An objection deletes the rows in a
transaction, but a file cannot join that transaction: the ids whose inputs are
still to be removed are recorded in the same transaction, and the files are
rewritten after it commits (by the same command, or by the next command's
recovery if it died in between). See ``harmonia.store.assignments``.

Objections recorded before this revision (by a customers load, which did not
rewrite the files) are recorded here too, so the next command removes their
inputs.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0760"
down_revision: str | None = "0750"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assignment_input_erasure",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "INSERT INTO assignment_input_erasure (customer_id) SELECT customer_id FROM objection"
        )


def downgrade() -> None:
    op.drop_table("assignment_input_erasure")
