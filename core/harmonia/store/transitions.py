"""Moving a cycle through its lifecycle (:mod:`harmonia.lifecycle`), recorded.

Every move is one transaction: the cycle's status changes only if it is still
what the mover saw (so two people closing feedback at once cannot both win),
and a :class:`CycleTransition` and an audit event say who moved it, when and why.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import update

from harmonia import lifecycle
from harmonia.errors import ConfigError, NotFoundError
from harmonia.store.database import Database
from harmonia.store.models import AuditEvent, Cycle, CycleTransition


def move_cycle(
    database: Database,
    cycle_id: int,
    target: str,
    *,
    actor: str,
    note: str = "",
    field_refinement: bool | None = None,
    expected: str | None = None,
) -> Cycle:
    """Move a cycle to ``target``; returns the cycle as it now is.

    ``field_refinement`` (whether the market opted in) checks the move against
    the lifecycle; None skips that check, for the engine's own moves
    (``running`` to ``draft`` or ``failed``) and the store's sweep of dead runs.
    ``expected`` is the state the caller saw (default: the stored one).
    """
    with database.session() as session:
        cycle = session.get(Cycle, cycle_id)
        if cycle is None:
            raise NotFoundError(f"no cycle {cycle_id}", fix="see `harmonia cycle list`")
        current = expected or cycle.status
        if field_refinement is not None:
            lifecycle.check_move(current, target, field_refinement=field_refinement, cycle=cycle_id)
        now = dt.datetime.now(dt.UTC)
        changed = session.execute(
            update(Cycle).where(Cycle.id == cycle_id, Cycle.status == current).values(status=target)
        ).rowcount
        if changed != 1:
            raise ConfigError(
                f"cycle {cycle_id} is no longer {current}: someone else moved it meanwhile",
                fix="look at it again (`harmonia cycle show`) and retry if still needed",
            )
        session.add(
            CycleTransition(
                cycle_id=cycle_id,
                from_status=current,
                to_status=target,
                actor=actor,
                at=now,
                note=note,
            )
        )
        session.add(
            AuditEvent(
                at=now,
                actor=actor,
                action=f"cycle.{target}",
                subject=f"cycle:{cycle_id}",
                details=json.dumps({"from": current, "to": target, "note": note}),
            )
        )
        session.commit()
        session.expire_all()
        moved = session.get(Cycle, cycle_id)
        assert moved is not None
        return moved


def transitions(database: Database, cycle_id: int) -> list[CycleTransition]:
    """A cycle's moves, oldest first."""
    from sqlmodel import select

    with database.session() as session:
        return list(
            session.exec(
                select(CycleTransition)
                .where(CycleTransition.cycle_id == cycle_id)
                .order_by(CycleTransition.id)
            ).all()
        )
