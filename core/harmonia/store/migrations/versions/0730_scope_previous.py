"""refinement_scope.previous: the territory a kept account returns to, frozen at opening

Revision ID: 0730
Revises: 0710
Create Date: 2026-12-07

A ``keep`` request is valid when the customer was on the rep's territory before
the cycle. That territory was read when the request was asked, so a later
alignment or customers load changed what reps were refining against; it is now
frozen with the snapshot when feedback opens. Cycles in feedback when upgrading
get it from the store as it is now (the best there is); other cycles take no
requests and keep NULL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0730"
down_revision: str | None = "0710"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from harmonia.periods import Period

    # A plain ADD COLUMN (no table copy): the scope holds a row per customer and cycle.
    op.add_column("refinement_scope", sa.Column("previous", sa.String(), nullable=True))
    connection = op.get_bind()
    open_cycles = connection.execute(
        sa.text("SELECT id, period FROM cycle WHERE status = 'feedback'")
    ).all()
    for cycle_id, period in open_cycles:
        # Set-based (a row per customer of a 1M universe): each customer's latest
        # alignment before the cycle, else its record's, joined once.
        connection.execute(
            sa.text(
                """
                UPDATE refinement_scope SET previous = v.previous FROM (
                    SELECT s.customer_id, COALESCE(p.territory, c.territory) AS previous
                    FROM refinement_scope s
                    JOIN customer c ON c.id = s.customer_id
                    LEFT JOIN (
                        SELECT customer_id, territory, ROW_NUMBER() OVER (
                            PARTITION BY customer_id ORDER BY last_month DESC,
                            first_month DESC) AS rn
                        FROM alignment WHERE last_month < :first_month
                    ) p ON p.customer_id = s.customer_id AND p.rn = 1
                    WHERE s.cycle_id = :cycle_id
                ) v
                WHERE refinement_scope.cycle_id = :cycle_id
                    AND refinement_scope.customer_id = v.customer_id
                """
            ),
            {"cycle_id": cycle_id, "first_month": Period.parse(period).first_month},
        )


def downgrade() -> None:
    with op.batch_alter_table("refinement_scope") as batch:
        batch.drop_column("previous")
