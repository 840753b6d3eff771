"""refinement: one open request per cycle, customer and dimension

Revision ID: 0510
Revises: 0500
Create Date: 2026-12-07

Two submits that checked the policy at the same moment could both store a
request for the same customer and dimension; the store now refuses the second.
An existing duplicate (from before) is expired first, with why: an accepted
request is kept before a pending one, then the latest.
"""

import datetime as dt
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0510"
down_revision: str | None = "0500"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('pending', 'accepted')"


#: Each open request with the one kept of its cycle, customer and dimension: an
#: accepted request (a manager's decision) before a pending one, then the latest.
KEPT = f"""
    SELECT id, cycle_id, kept FROM (
        SELECT r.id, r.cycle_id, (
            SELECT k.id FROM refinement_request k
            WHERE k.cycle_id = r.cycle_id AND k.customer_id = r.customer_id
              AND k.action = r.action AND k.{OPEN}
            ORDER BY CASE k.status WHEN 'accepted' THEN 0 ELSE 1 END, k.id DESC
            LIMIT 1) AS kept
        FROM refinement_request r WHERE r.{OPEN}) ranked
    WHERE id <> kept
    ORDER BY id
"""


def upgrade() -> None:
    # Keep one open request per customer and dimension: the accepted one (a
    # manager decided it), else the latest. The others expire with why, as a
    # decision the rep is shown and the audit keeps; nothing is deleted. There
    # are few duplicates, so they are expired by id.
    bind = op.get_bind()
    outranked = bind.execute(sa.text(KEPT)).all()
    if outranked:
        now = dt.datetime.now(dt.UTC)
        at = sa.bindparam("now", now, type_=sa.DateTime(timezone=True))
        by_cycle: dict[int, list[int]] = {}
        for request, cycle, _ in outranked:
            by_cycle.setdefault(cycle, []).append(request)
        bind.execute(
            sa.text(
                "UPDATE refinement_request SET status = 'expired', rule = 'policy.duplicate', "
                "message = :message, decided_by = 'migration', decided_at = :now, "
                "version = version + 1 WHERE id = :id"
            ).bindparams(at),
            [
                {
                    "id": request,
                    "message": f"expired: request {kept} is open for the same customer and "
                    "dimension (an accepted request is kept before a pending one, then the "
                    "latest)",
                }
                for request, _, kept in outranked
            ],
        )
        for cycle, requests in by_cycle.items():
            bind.execute(
                sa.text(
                    "INSERT INTO audit_event (at, actor, action, subject, details) "
                    "VALUES (:now, 'migration', 'refinement.expire', :subject, :details)"
                ).bindparams(at),
                {
                    "subject": f"cycle:{cycle}",
                    "details": json.dumps(
                        {
                            "expired": len(requests),
                            "requests": requests,
                            "message": "duplicate open requests (migration 0510)",
                        }
                    ),
                },
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
