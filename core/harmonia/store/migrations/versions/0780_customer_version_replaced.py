"""customer_version keeps only the states a later batch replaced

Revision ID: 0780
Revises: 0770
Create Date: 2026-12-07

A customer's current state is its ``customer`` row; ``customer_version`` now
holds only the states a change replaced, each under the batch that gave it,
so a first load of a million customers writes no version at all. The
versions that repeat the current row (under the row's own batch) go; a
downgrade writes them back from the rows.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0780"
down_revision: str | None = "0770"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "id",
    "batch_id",
    "country",
    "type",
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
    op.execute(
        "DELETE FROM customer_version WHERE EXISTS (SELECT 1 FROM customer c "
        "WHERE c.id = customer_version.id AND c.batch_id = customer_version.batch_id)"
    )


def downgrade() -> None:
    columns = ", ".join(COLUMNS)
    op.execute(
        f"INSERT INTO customer_version ({columns}) SELECT {columns} FROM customer c "
        "WHERE NOT EXISTS (SELECT 1 FROM customer_version v "
        "WHERE v.id = c.id AND v.batch_id = c.batch_id)"
    )
