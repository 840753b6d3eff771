"""The audit trail (``app.audit``): who did what, when, to which subject.

Every load, cycle run, lifecycle move, publication, refinement decision,
merge and privacy request writes an audit event; this reads them back, newest
first, filtered the way people ask ("what did anna do", "what happened to
cycle 3", "every publication since Monday").
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import attrs

from harmonia.errors import ConfigError

if TYPE_CHECKING:
    from harmonia.app.core import Harmonia


@attrs.frozen
class AuditEntry:
    """One event: when, who, what (``cycle.publish``), to what (``cycle:3``), details."""

    id: int
    at: dt.datetime
    actor: str
    action: str
    subject: str
    details: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "at": self.at.isoformat()}


class Audit:
    """``app.audit``: the audit trail, read back."""

    def __init__(self, app: Harmonia) -> None:
        self.app = app

    def events(
        self,
        *,
        action: str | None = None,
        subject: str | None = None,
        actor: str | None = None,
        since: str | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """Events newest first. ``action`` matches a whole action or its family
        (``cycle`` finds ``cycle.run`` and ``cycle.publish``); ``subject`` a subject
        exactly (``cycle:3``) or every subject of a kind (``cycle``); ``since`` is an
        ISO date or time."""
        from sqlmodel import or_, select

        from harmonia.store.models import AuditEvent

        query = select(AuditEvent).order_by(AuditEvent.id.desc())  # type: ignore[union-attr]
        if action:
            query = query.where(
                or_(AuditEvent.action == action, AuditEvent.action.startswith(f"{action}."))  # type: ignore[attr-defined]
            )
        if subject:
            query = query.where(
                or_(AuditEvent.subject == subject, AuditEvent.subject.startswith(f"{subject}:"))  # type: ignore[attr-defined]
            )
        if actor:
            query = query.where(AuditEvent.actor == actor)
        if since:
            query = query.where(AuditEvent.at >= _moment(since))
        if limit:
            query = query.limit(limit)
        with self.app.existing_database.session() as session:
            rows = session.exec(query).all()
        return [
            AuditEntry(
                id=row.id or 0,
                at=row.at,
                actor=row.actor,
                action=row.action,
                subject=row.subject,
                details=_details(row.details),
            )
            for row in rows
        ]


def _moment(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"--since {text!r} is not a date or a time",
            fix="write it as 2027-03-01 or 2027-03-01T14:30",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _details(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {"text": text}
    return value if isinstance(value, dict) else {"value": value}
