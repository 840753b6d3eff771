"""Refinement requests in the store: submitting, deciding, expiring, history.

A batch of requests (one from the command line, thousands from workbooks) is
checked against the policy in one query (:mod:`harmonia.refinement.policy`)
and stored whole: accepted, rejected (with the rule and message) or pending;
nothing is dropped. Every later change to a request is a conditional update
on its status, so two managers deciding the same request at once cannot both
win: the second is told who decided first, and nothing of theirs is applied.
Each request keeps its old and new value; each decision is an audit event.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import pyarrow as pa
from sqlalchemy import select, update

from harmonia import lifecycle
from harmonia.compute import duckdb_connection
from harmonia.definitions import RefinementPolicy
from harmonia.errors import ConfigError, NotFoundError
from harmonia.refinement.policy import INCOMING, CallCapacity, Context, evaluate
from harmonia.refinement.snapshot import customer_values_sql, planned_calls_sql
from harmonia.sql import literal, quote
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import Database
from harmonia.store.models import AuditEvent, Cycle, CycleTransition, RefinementRequest

#: Who may act on which territory: a rep on theirs, a manager on every one below them
#: (units are their country's: a code names a unit within a country).
AUTHORITY_SQL = """
WITH RECURSIVE below(person, role, manager, country, code, depth) AS (
    SELECT person, role, manager, country, unit, 0 FROM people
    UNION ALL
    SELECT b.person, b.role, b.manager, b.country, t.code, b.depth + 1
    FROM below b JOIN units t ON t.country = b.country AND t.parent = b.code
    WHERE b.depth < 16
)
SELECT DISTINCT b.person, b.role, b.manager, b.code AS territory
FROM below b JOIN units t ON t.country = b.country AND t.code = b.code
    AND t.level = 'territory'
"""


def _typed(duck: Any, name: str, table: pa.Table, types: dict[str, str]) -> None:
    """``table`` as the DuckDB table ``name`` with these column types (SQLite is typed
    by value: an empty column reads back as anything)."""
    duck.register("incoming_store", table)
    columns = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in types.items())
    duck.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {columns} FROM incoming_store")
    duck.unregister("incoming_store")


def load_authority(bulk: BulkConnection, duck: Any, country: str | None = None) -> None:
    """The DuckDB table ``authority`` (person, role, manager, territory) from the roster
    (of ``country`` only, when given: a cycle's territories are its market's)."""
    text = "VARCHAR"
    where = f" WHERE country = {literal(country)}" if country else ""
    _typed(
        duck,
        "people",
        bulk.read(f"SELECT person, role, country, unit, manager FROM roster{where}"),
        {"person": text, "role": text, "country": text, "unit": text, "manager": text},
    )
    _typed(
        duck,
        "units",
        bulk.read("SELECT country, code, level, parent FROM territory"),
        {"country": text, "code": text, "level": text, "parent": text},
    )
    duck.execute(f"CREATE OR REPLACE TEMP TABLE authority AS {AUTHORITY_SQL}")


def opened_at(database: Database, cycle_id: int, snapshot: dict | None = None) -> dt.datetime:
    """When the cycle's feedback opened: as its snapshot says (a re-run that took
    over the requests of an earlier cycle keeps that cycle's window), else its
    move to ``feedback``."""
    if snapshot and snapshot.get("feedback_opened_at"):
        return dt.datetime.fromisoformat(snapshot["feedback_opened_at"])
    with database.session() as session:
        moved = session.execute(
            select(CycleTransition.at)
            .where(CycleTransition.cycle_id == cycle_id, CycleTransition.to_status == "feedback")
            .order_by(CycleTransition.id.desc())  # type: ignore[union-attr]
        ).first()
    if moved is None:
        raise ConfigError(
            f"cycle {cycle_id} never opened feedback", fix="harmonia cycle open-feedback"
        )
    at = moved[0]
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def check_open(cycle: Cycle) -> None:
    """Requests are taken while feedback is open only."""
    if cycle.status != lifecycle.FEEDBACK:
        raise ConfigError(
            f"cycle {cycle.id} is {cycle.status}: reps ask for changes while its feedback is open",
            fix="open it (harmonia cycle open-feedback)"
            if cycle.status == lifecycle.DRAFT
            else "nothing can be asked for any more; a newer cycle takes new requests",
        )


def submit(
    database: Database,
    cycle: Cycle,
    policy: RefinementPolicy,
    orders: dict[str, Sequence[str]],
    requests: pa.Table,
    *,
    now: dt.datetime | None = None,
    targeted: Sequence[str] = (),
    goals: Mapping[str, int] | None = None,
    capacity: CallCapacity | None = None,
) -> pa.Table:
    """Check and store a batch of requests; returns each with its id and decision.

    ``requests`` has the columns of :data:`INCOMING` (``_row`` numbers them in
    their file). Whatever the outcome, every request is stored. ``targeted``
    are the segments the cycle's plan targets (a customer's ``target`` value),
    ``goals`` the face-to-face calls the plan gives each segment (a customer's
    ``goal``) and ``capacity`` the calls each territory can make.

    Checking and storing are one transaction that holds the requests' write
    lock, so two submits at once are checked one after the other (the second
    sees the first's requests: a duplicate, the share used). The store's unique
    index on open requests backs this up against any other writer.
    """
    check_open(cycle)
    assert cycle.id is not None
    now = now or dt.datetime.now(dt.UTC)
    for name in ("refusal_rule", "refusal_message"):
        if name not in requests.column_names:
            requests = requests.append_column(name, pa.nulls(requests.num_rows, pa.string()))
    incoming = requests.select(INCOMING.names).cast(INCOMING)
    cycle_id = int(cycle.id)
    context = Context(
        policy,
        orders,
        opened_at(database, cycle_id, json.loads(cycle.snapshot)),
        now,
        capacity,
    )
    duck = duckdb_connection()
    try:
        with BulkConnection(database) as bulk:
            bulk.lock("refinement_request")
            _check_status(bulk, cycle)
            _read_context(
                bulk,
                duck,
                cycle_id,
                cycle.country,
                incoming,
                targeted,
                goals or {},
            )
            checked = evaluate(duck, incoming, context)
            return _store(bulk, duck, cycle_id, checked, now)
    except Exception as error:
        if not _open_request_clash(error):
            raise
        raise ConfigError(
            "another request for the same customer and dimension was stored while this "
            f"batch was checked (cycle {cycle_id}): nothing of this batch was stored",
            fix="submit it again: the request already made is then named",
        ) from None
    finally:
        duck.close()


def _check_status(bulk: BulkConnection, cycle: Cycle) -> None:
    """The cycle is still in feedback now that the lock is held (it may have moved
    since it was read)."""
    status = bulk.scalar(f"SELECT status FROM cycle WHERE id = {int(cycle.id or 0)}")
    check_open(cycle.model_copy(update={"status": status}))


def _open_request_clash(error: Exception) -> bool:
    """Whether ``error`` is the store refusing a second open request (the unique index)."""
    text = str(error)
    return "ux_refinement_request_open" in text or (
        "UNIQUE constraint failed: refinement_request" in text
    )


def _read_context(
    bulk: BulkConnection,
    duck: Any,
    cycle_id: int,
    country: str,
    incoming: pa.Table,
    targeted: Sequence[str] = (),
    goals: Mapping[str, int] | None = None,
) -> None:
    """The DuckDB tables :func:`evaluate` checks a batch against (see ``Context``).

    A customer's ``previous`` territory (the one an account kept returns to) is the
    one frozen with the snapshot when feedback opened (:func:`freeze_scope`).
    """
    goals = goals or {}
    load_authority(bulk, duck, country)
    known = {row[0] for row in duck.sql("SELECT DISTINCT person FROM people").fetchall()}
    strangers = sorted(set(incoming.column("requester").to_pylist()) - known)
    if strangers:
        raise NotFoundError(
            f"{', '.join(strangers)} not in the roster of {country}",
            where=f"cycle {cycle_id}",
            fix="load the roster (harmonia load roster.csv) or check the person's id",
        )
    ids = bulk.stage(
        pa.table({"customer_id": incoming.column("customer_id").unique()}), "requested"
    )
    text = "VARCHAR"
    requested = f"SELECT customer_id FROM {ids}"
    # Checked against the customer as the proposal shows it (accepted requests in): a
    # pending request of the same dimension is then named as the duplicate it is.
    values = customer_values_sql(
        cycle_id,
        targeted,
        goals,
        statuses=("accepted",),
        customers=f"s.customer_id IN ({requested})",
    )
    _typed(
        duck,
        "scope",
        bulk.read(
            f"""
            SELECT v.customer_id, v.territory, v.segment, v.needs, v.tier,
                v.target, v.goal, p.previous
            FROM ({values}) v
            JOIN refinement_scope p ON p.cycle_id = {cycle_id} AND p.customer_id = v.customer_id
            """
        ),
        {
            "customer_id": "BIGINT",
            "territory": text,
            "segment": text,
            "needs": text,
            "tier": text,
            "target": text,
            "goal": "BIGINT",
            "previous": text,
        },
    )
    _read_planned(bulk, duck, cycle_id, incoming, goals, targeted)
    _typed(
        duck,
        "sizes",
        bulk.read(
            "SELECT territory, COUNT(*) AS customers FROM refinement_scope "
            f"WHERE cycle_id = {cycle_id} GROUP BY territory"
        ),
        {"territory": text, "customers": "BIGINT"},
    )
    _typed(
        duck,
        "open_requests",
        bulk.read(
            "SELECT id, customer_id, action, territory, status FROM refinement_request "
            f"WHERE cycle_id = {cycle_id} AND status IN ('pending', 'accepted')"
        ),
        {
            "id": "BIGINT",
            "customer_id": "BIGINT",
            "action": text,
            "territory": text,
            "status": text,
        },
    )


def _read_planned(
    bulk: BulkConnection,
    duck: Any,
    cycle_id: int,
    incoming: pa.Table,
    goals: Mapping[str, int],
    targeted: Sequence[str],
) -> None:
    """The DuckDB table ``planned`` (territory, calls): the face-to-face calls planned
    for each territory a goal of the batch is on, as refinement has them so far (open
    requests in: a goal, a segment moved, a target added or removed, an account
    accepted). Counted in the store, over those territories only."""
    import pyarrow.compute as pc

    asked = incoming.filter(pc.equal(incoming.column("action"), "goal")).select(["customer_id"])
    territories: list[str] = []
    if asked.num_rows:
        duck.register("asked_goals", asked)
        territories = [
            row[0]
            for row in duck.sql(
                "SELECT DISTINCT s.territory FROM scope s JOIN asked_goals g "
                "ON g.customer_id = s.customer_id"
            ).fetchall()
        ]
        duck.unregister("asked_goals")
    rows = bulk.read(planned_calls_sql(cycle_id, goals, territories, targeted))
    _typed(duck, "planned", rows, {"territory": "VARCHAR", "calls": "BIGINT"})


def stored_time(dialect: str, at: dt.datetime) -> str:
    """SQL for a moment as the store keeps it (SQLite: SQLAlchemy's text form)."""
    at = at.astimezone(dt.UTC)
    if dialect == "sqlite":
        return quote(at.strftime("%Y-%m-%d %H:%M:%S.%f"))
    return f"CAST({quote(at.isoformat())} AS TIMESTAMP WITH TIME ZONE)"


def _store(
    bulk: BulkConnection, duck: Any, cycle_id: int, checked: pa.Table, now: dt.datetime
) -> pa.Table:
    """Append the checked batch to the store in one bulk write (COPY on PostgreSQL),
    ids allocated under the lock; returns ``checked`` with each request's id."""
    first = bulk.next_id("refinement_request")
    checked = checked.append_column("_position", pa.array(range(checked.num_rows), pa.int64()))
    duck.register("checked", checked)
    at = stored_time(bulk.dialect, now).replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ")
    decided = "status <> 'pending'"
    rows = duck.sql(
        f"""
        SELECT {first - 1} + _position + 1 AS id, {cycle_id} AS cycle_id, customer_id,
            COALESCE(territory, '') AS territory, requester, COALESCE(action, '') AS action,
            old_value, new_value, COALESCE(reason, '') AS reason,
            COALESCE(comment, '') AS comment, status, rule, message,
            CASE WHEN {decided} THEN (CASE WHEN rule = 'own change' THEN requester
                ELSE 'policy' END) END AS decided_by,
            CASE WHEN {decided} THEN {at} END AS decided_at,
            '' AS decision_comment, CAST(NULL AS BIGINT) AS carried_from,
            {at} AS created_at, 1 AS version
        FROM checked ORDER BY _position
        """
    ).to_arrow_table()
    duck.unregister("checked")
    bulk.append("refinement_request", rows)
    bulk.wait()
    bulk.sync_sequence("refinement_request")
    statuses = rows.column("status").to_pylist()
    counts = {status: statuses.count(status) for status in sorted(set(statuses))}
    actors = ", ".join(sorted(set(rows.column("requester").to_pylist())))
    details = json.dumps({"requests": rows.num_rows, **counts})
    bulk.execute(
        "INSERT INTO audit_event (at, actor, action, subject, details) VALUES "
        f"({stored_time(bulk.dialect, now)}, {literal(actors)}, 'refinement.request', "
        f"{literal(f'cycle:{cycle_id}')}, {literal(details)})"
    )
    return checked.drop_columns(["_position"]).append_column("id", rows.column("id"))


@attrs.frozen
class Decided:
    """Requests a manager decided, as they now are."""

    requests: tuple[RefinementRequest, ...]


def decide(
    database: Database,
    cycle: Cycle,
    ids: Sequence[int],
    *,
    decision: str,
    actor: str,
    comment: str = "",
    amended_value: str | None = None,
    orders: dict[str, Sequence[str]] | None = None,
) -> list[RefinementRequest]:
    """A manager accepts, rejects or amends pending requests (all of them or none).

    The manager must be above each request's territory; each request must still
    be pending (a request another manager decided meanwhile is named with who
    decided it, and nothing is applied).
    """
    if decision not in ("accept", "reject", "amend"):
        raise ConfigError(f"{decision!r} is not a decision", fix="accept, reject or amend")
    if cycle.status not in (lifecycle.FEEDBACK, lifecycle.REVIEW):
        raise ConfigError(
            f"cycle {cycle.id} is {cycle.status}: managers decide during feedback and review",
            fix="a published or approved cycle's requests are final",
        )
    ids = sorted(set(int(i) for i in ids))
    if not ids:
        raise ConfigError("no request to decide", fix="name request ids (see the queue)")
    with database.session() as session:
        requests = (
            session.execute(
                select(RefinementRequest).where(
                    RefinementRequest.id.in_(ids),  # type: ignore[union-attr]
                    RefinementRequest.cycle_id == cycle.id,
                )
            )
            .scalars()
            .all()
        )
    missing = sorted(set(ids) - {r.id for r in requests})
    if missing:
        raise NotFoundError(
            f"no request {', '.join(map(str, missing))} in cycle {cycle.id}",
            fix="see harmonia refinement queue",
        )
    _check_manager(database, actor, requests, cycle.country)
    if decision == "amend":
        _check_amendment(requests, amended_value, orders or {})
    now = dt.datetime.now(dt.UTC)
    status = "rejected" if decision == "reject" else "accepted"
    with database.session() as session:
        values: dict[str, Any] = {
            "status": status,
            "rule": "manager",
            "decided_by": actor,
            "decided_at": now,
            "decision_comment": comment,
            "version": RefinementRequest.version + 1,
            "message": f"{status} by {actor}" + (f": {comment}" if comment else ""),
        }
        if decision == "amend":
            values["new_value"] = amended_value
            values["message"] = f"amended by {actor} to {amended_value}" + (
                f": {comment}" if comment else ""
            )
        changed = session.execute(
            update(RefinementRequest)
            .where(
                RefinementRequest.id.in_(ids),  # type: ignore[union-attr]
                RefinementRequest.status == "pending",
            )
            .values(**values)
        ).rowcount
        if changed != len(ids):
            session.rollback()
            decided = (
                session.execute(
                    select(RefinementRequest).where(
                        RefinementRequest.id.in_(ids),  # type: ignore[union-attr]
                        RefinementRequest.status != "pending",
                    )
                )
                .scalars()
                .all()
            )
            already = "; ".join(
                f"request {r.id} is {r.status} (by {r.decided_by or 'the policy'})" for r in decided
            )
            raise ConfigError(
                f"not decided: {already or 'some requests changed meanwhile'}",
                fix="decide only pending requests (harmonia refinement queue); nothing was applied",
            )
        session.add(
            AuditEvent(
                at=now,
                actor=actor,
                action=f"refinement.{decision}",
                subject=f"cycle:{cycle.id}",
                details=json.dumps(
                    {
                        "requests": [
                            {
                                "id": r.id,
                                "customer_id": r.customer_id,
                                "action": r.action,
                                "old_value": r.old_value,
                                "asked": r.new_value,
                                "new_value": amended_value if decision == "amend" else r.new_value,
                            }
                            for r in requests
                        ],
                        "comment": comment,
                    }
                ),
            )
        )
        session.commit()
        return list(
            session.execute(
                select(RefinementRequest).where(RefinementRequest.id.in_(ids))  # type: ignore[union-attr]
            )
            .scalars()
            .all()
        )


def _check_manager(
    database: Database, actor: str, requests: Sequence[RefinementRequest], country: str
) -> None:
    duck = duckdb_connection()
    try:
        with BulkConnection(database) as bulk:
            load_authority(bulk, duck, country)
        territories = {
            row[0]
            for row in duck.sql(
                "SELECT territory FROM authority WHERE role = 'manager' AND person = ?",
                params=[actor],
            ).fetchall()
        }
    finally:
        duck.close()
    if not territories:
        raise ConfigError(
            f"{actor} is not a manager in the roster: only a manager decides requests",
            fix="ask the rep's manager, or load the roster",
        )
    outside = [r for r in requests if r.territory not in territories]
    if outside:
        listed = ", ".join(f"{r.id} ({r.territory})" for r in outside)
        raise ConfigError(
            f"{actor} is not the manager of the territories of request {listed}",
            fix="the manager of the rep's district or region decides; nothing was applied",
        )


def _check_amendment(
    requests: Sequence[RefinementRequest], value: str | None, orders: dict[str, Sequence[str]]
) -> None:
    if value is None:
        raise ConfigError("an amendment needs the value the manager decides", fix="give --value")
    wrong = [r for r in requests if value not in orders.get(r.action, ())]
    if wrong:
        r = wrong[0]
        raise ConfigError(
            f"{value!r} is not a {r.action} ({', '.join(orders.get(r.action, ()))})",
            where=f"request {r.id}",
            fix="amend to one of the dimension's segments",
        )


def expire_pending(
    database: Database,
    cycle_id: int,
    *,
    actor: str,
    message: str,
    statuses: Sequence[str] = ("pending",),
) -> int:
    """Expire every request of the cycle still pending (or in ``statuses``), with
    ``message``; returns how many.

    An expiry is a decision the rep is shown, never a silent drop.
    """
    now = dt.datetime.now(dt.UTC)
    with database.session() as session:
        count = session.execute(
            update(RefinementRequest)
            .where(RefinementRequest.cycle_id == cycle_id, RefinementRequest.status.in_(statuses))
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


def requests_of(
    database: Database,
    *,
    cycle_id: int | None = None,
    customer_id: int | None = None,
    statuses: Sequence[str] = (),
    territories: Sequence[str] | None = None,
) -> list[RefinementRequest]:
    """Stored requests, oldest first, filtered."""
    query = select(RefinementRequest).order_by(RefinementRequest.id)
    if cycle_id is not None:
        query = query.where(RefinementRequest.cycle_id == cycle_id)
    if customer_id is not None:
        query = query.where(RefinementRequest.customer_id == customer_id)
    if statuses:
        query = query.where(RefinementRequest.status.in_(statuses))  # type: ignore[attr-defined]
    if territories is not None:
        query = query.where(RefinementRequest.territory.in_(territories))  # type: ignore[attr-defined]
    with database.session() as session:
        return list(session.execute(query).scalars().all())


def managed_territories(database: Database, person: str) -> list[str]:
    """The territories a person may act on (a rep's own; every one below a manager)."""
    duck = duckdb_connection()
    try:
        with BulkConnection(database) as bulk:
            load_authority(bulk, duck)
        return [
            row[0]
            for row in duck.sql(
                "SELECT territory FROM authority WHERE person = ? ORDER BY territory",
                params=[person],
            ).fetchall()
        ]
    finally:
        duck.close()


def _token_hash(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(database: Database, person: str) -> str:
    """A new token for ``person`` (only its SHA-256 is stored)."""
    import secrets

    from harmonia.store.models import RosterEntry

    token = secrets.token_urlsafe(24)
    with database.session() as session:
        entry = session.get(RosterEntry, person)
        if entry is None:
            raise NotFoundError(f"{person} is not in the roster", fix="load the roster first")
        entry.token_hash = _token_hash(token)
        session.add(entry)
        session.add(AuditEvent(actor=person, action="refinement.token", subject=f"person:{person}"))
        session.commit()
    return token


def person_of_token(database: Database, token: str) -> str | None:
    """The person whose token this is, or None."""
    from harmonia.store.models import RosterEntry

    if not token:
        return None
    with database.session() as session:
        found = session.execute(
            select(RosterEntry.person).where(RosterEntry.token_hash == _token_hash(token))
        ).first()
    return found[0] if found else None
