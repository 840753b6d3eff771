"""refinement: one open request per cycle, customer and dimension

Revision ID: 0510
Revises: 0500
Create Date: 2026-12-07

Two submits that checked the policy at the same moment could both store a
request for the same customer and dimension; the store now refuses the second.
An existing duplicate (from before) is expired first, with why.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0510"
down_revision: str | None = "0500"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('pending', 'accepted')"


def upgrade() -> None:
    # Keep the oldest open request of each customer and dimension; a later
    # duplicate expires with a message the rep is shown (nothing is deleted).
    op.execute(
        f"""
        UPDATE refinement_request SET status = 'expired', rule = 'policy.duplicate',
            message = 'expired: another open request for the same customer and dimension '
                || 'was made first'
        WHERE {OPEN} AND EXISTS (
            SELECT 1 FROM refinement_request o
            WHERE o.cycle_id = refinement_request.cycle_id
              AND o.customer_id = refinement_request.customer_id
              AND o.action = refinement_request.action
              AND o.status IN ('pending', 'accepted') AND o.id < refinement_request.id)
        """
    )
    op.create_index(
        "ux_refinement_request_open",
        "refinement_request",
        ["cycle_id", "customer_id", "action"],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ux_refinement_request_open", table_name="refinement_request")
