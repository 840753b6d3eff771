"""Refinement requests in the store: decisions, expiry, history.

Every change to a request is a conditional update (its status and version as
the decider saw them), so two managers deciding the same request at once
cannot both win: the second is told who decided first. Every decision is
also an audit event with the old and new value.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import update

from harmonia.store.database import Database
from harmonia.store.models import AuditEvent, RefinementRequest


def expire_pending(database: Database, cycle_id: int, *, actor: str, message: str) -> int:
    """Expire every request of the cycle still pending, with ``message``; returns how many.

    An expiry is a decision the rep is shown, never a silent drop.
    """
    now = dt.datetime.now(dt.UTC)
    with database.session() as session:
        count = session.execute(
            update(RefinementRequest)
            .where(RefinementRequest.cycle_id == cycle_id, RefinementRequest.status == "pending")
            .values(
                status="expired",
                rule="expiry",
                message=message,
                decided_by=actor,
                decided_at=now,
                version=RefinementRequest.version + 1,
            )
        ).rowcount
        if count:
            session.add(
                AuditEvent(
                    at=now,
                    actor=actor,
                    action="refinement.expire",
                    subject=f"cycle:{cycle_id}",
                    details=json.dumps({"expired": count, "message": message}),
                )
            )
        session.commit()
    return int(count)
