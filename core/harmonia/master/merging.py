"""Merge two customers into one, and undo it exactly.

A merge writes no customer data: the merged id redirects to the survivor
(``customer_redirect``), every source id stays in the crosswalk where it
was, and each customer's record and facts stay as loaded (the survivor's
golden record is chosen from them). So an unmerge deletes the redirect and
puts back what the merge re-pointed: both customers are exactly as before.
Objections stay on the ids they were recorded for; a customer objects when
any id of theirs does (:mod:`harmonia.store.identity`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import attrs
from sqlalchemy import text
from sqlmodel import Session, select

from harmonia.errors import ConfigError, NotFoundError
from harmonia.sql import literal
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import Database
from harmonia.store.models import (
    AuditEvent,
    Customer,
    CustomerMerge,
    CustomerRedirect,
    Identifier,
    MatchPair,
)


@attrs.frozen
class MergeResult:
    merge_id: int
    survivor_id: int
    merged_id: int
    redirected: tuple[int, ...]  # ids that pointed at the merged one and now at the survivor

    def to_json(self) -> dict[str, object]:
        return attrs.asdict(self)


def merge(
    database: Database,
    survivor_id: int,
    merged_id: int,
    *,
    actor: str,
    reason: str = "",
    pair_id: int | None = None,
) -> MergeResult:
    """Make ``merged_id`` redirect to ``survivor_id``; refuses what would corrupt identity."""
    with database.session() as session:
        result = merge_in(session, survivor_id, merged_id, actor=actor, reason=reason)
        if pair_id is not None:
            _mark_pair(session, pair_id, result.merge_id, actor)
        session.commit()
        return result


def merge_in(
    session: Session, survivor_id: int, merged_id: int, *, actor: str, reason: str = ""
) -> MergeResult:
    """:func:`merge` inside the caller's transaction."""
    survivor, merged = _customer(session, survivor_id), _customer(session, merged_id)
    if survivor_id == merged_id:
        raise ConfigError(f"customer {merged_id} cannot be merged into itself")
    for customer, role in ((merged, "merged"), (survivor, "survivor")):
        redirect = session.get(CustomerRedirect, customer.id)
        if redirect is not None:
            raise ConfigError(
                f"customer {customer.id} was already merged into {redirect.survivor_id} "
                f"(merge {redirect.merge_id})",
                fix=f"use {redirect.survivor_id} as the {role}, or unmerge "
                f"{customer.id} first (`harmonia master unmerge {customer.id}`)",
            )
    if survivor.country != merged.country:
        raise ConfigError(
            f"customers {survivor_id} ({survivor.country}) and {merged_id} ({merged.country}) "
            "are in different countries: a customer belongs to one market",
            fix="check the ids; reject the pair if a match proposed it",
        )
    _refuse_conflicting_identifiers(session, survivor_id, merged_id)
    repointed = [
        r.merged_id
        for r in session.exec(
            select(CustomerRedirect).where(CustomerRedirect.survivor_id == merged_id)
        )
    ]
    record = CustomerMerge(
        survivor_id=survivor_id,
        merged_id=merged_id,
        reason=reason,
        actor=actor,
        undo=json.dumps({"repointed": repointed}),
    )
    session.add(record)
    session.flush()
    session.connection().execute(
        text("UPDATE customer_redirect SET survivor_id = :survivor WHERE survivor_id = :merged"),
        {"survivor": survivor_id, "merged": merged_id},
    )
    session.add(CustomerRedirect(merged_id=merged_id, survivor_id=survivor_id, merge_id=record.id))
    session.add(
        AuditEvent(
            actor=actor,
            action="master.merge",
            subject=f"customer {merged_id} -> {survivor_id}",
            details=json.dumps({"merge_id": record.id, "reason": reason}),
        )
    )
    session.flush()
    return MergeResult(record.id, survivor_id, merged_id, tuple(repointed))


def unmerge(database: Database, merged_id: int, *, actor: str) -> MergeResult:
    """Undo the merge of ``merged_id``: both customers are again what they were."""
    with database.session() as session:
        record = session.exec(
            select(CustomerMerge)
            .where(CustomerMerge.merged_id == merged_id, CustomerMerge.undone_at.is_(None))
            .order_by(CustomerMerge.id.desc())
        ).first()
        if record is None:
            _customer(session, merged_id)
            raise NotFoundError(
                f"customer {merged_id} is not merged into another",
                fix="`harmonia master history ID` shows a customer's merges; unmerge names "
                "the merged id, not the survivor",
            )
        later = session.exec(
            select(CustomerMerge).where(
                CustomerMerge.merged_id == record.survivor_id,
                CustomerMerge.undone_at.is_(None),
                CustomerMerge.id > record.id,
            )
        ).first()
        if later is not None:
            raise ConfigError(
                f"customer {record.survivor_id}, which {merged_id} was merged into, was itself "
                f"merged into {later.survivor_id} afterwards (merge {later.id})",
                fix=f"unmerge {record.survivor_id} first, then {merged_id}",
            )
        undo = json.loads(record.undo)
        connection = session.connection()
        connection.execute(
            text("DELETE FROM customer_redirect WHERE merged_id = :merged"), {"merged": merged_id}
        )
        for repointed in undo["repointed"]:
            connection.execute(
                text("UPDATE customer_redirect SET survivor_id = :merged WHERE merged_id = :id"),
                {"merged": merged_id, "id": repointed},
            )
        if undo.get("moved_objection"):  # merges before objections stayed on their ids
            connection.execute(
                text("UPDATE objection SET customer_id = :merged WHERE customer_id = :survivor"),
                {"merged": merged_id, "survivor": record.survivor_id},
            )
        record.undone_at = dt.datetime.now(dt.UTC)
        record.undone_by = actor
        session.add(record)
        for pair in session.exec(select(MatchPair).where(MatchPair.merge_id == record.id)):
            pair.status, pair.decided_by, pair.decided_at = "rejected", actor, record.undone_at
            session.add(pair)
        session.add(
            AuditEvent(
                actor=actor,
                action="master.unmerge",
                subject=f"customer {merged_id} <- {record.survivor_id}",
                details=json.dumps({"merge_id": record.id}),
            )
        )
        session.commit()
        return MergeResult(record.id, record.survivor_id, merged_id, tuple(undo["repointed"]))


def history(database: Database, customer_id: int) -> list[CustomerMerge]:
    """Every merge (and unmerge) a customer took part in, oldest first."""
    with database.session() as session:
        _customer(session, customer_id)
        return list(
            session.exec(
                select(CustomerMerge)
                .where(
                    (CustomerMerge.survivor_id == customer_id)
                    | (CustomerMerge.merged_id == customer_id)
                )
                .order_by(CustomerMerge.id)
            )
        )


def _customer(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(
            f"there is no customer with harmonia id {customer_id}",
            fix="harmonia ids are the numbers in target lists and `harmonia explain`",
        )
    return customer


def _refuse_conflicting_identifiers(session: Session, survivor_id: int, merged_id: int) -> None:
    """Two values of one national scheme are two people, whatever the names say."""
    # Every id of each one's person: identifiers stay on the ids merged into them.
    person = {survivor_id: survivor_id, merged_id: merged_id}
    for redirect in session.exec(
        select(CustomerRedirect).where(CustomerRedirect.survivor_id.in_([survivor_id, merged_id]))
    ):
        person[redirect.merged_id] = redirect.survivor_id
    ids: dict[int, dict[str, str]] = {survivor_id: {}, merged_id: {}}
    for identifier in session.exec(
        select(Identifier).where(Identifier.customer_id.in_(list(person)))
    ):
        ids[person[identifier.customer_id]][identifier.scheme] = identifier.value
    clashes = [
        f"{scheme} {ids[survivor_id][scheme]} vs {ids[merged_id][scheme]}"
        for scheme in sorted(set(ids[survivor_id]) & set(ids[merged_id]))
        if ids[survivor_id][scheme] != ids[merged_id][scheme]
    ]
    if clashes:
        raise ConfigError(
            f"customers {survivor_id} and {merged_id} have different national identifiers "
            f"({'; '.join(clashes)}): they are two people, or one source is wrong",
            fix="correct the identifier at its source and load again, or reject the pair",
        )


def _mark_pair(session: Session, pair_id: int, merge_id: int, actor: str) -> None:
    pair = session.get(MatchPair, pair_id)
    if pair is not None:
        pair.status, pair.merge_id = "merged", merge_id
        pair.decided_by, pair.decided_at = actor, dt.datetime.now(dt.UTC)
        session.add(pair)


# --- many merges at once: the accepted pairs of a country -----------------------------------


def merge_pairs(database: Database, *, country: str, actor: str) -> int:
    """Merge every accepted pair of ``country``, a connected group at a time.

    Each group of customers linked by accepted pairs becomes its lowest
    (oldest) harmonia id. A group holding two values of one identifier
    scheme is not merged: its pairs go back to the review queue. Everything
    is computed in DuckDB and written in bulk; returns the merges made.
    """
    from harmonia.compute import duckdb_connection

    duck = duckdb_connection()
    with BulkConnection(database) as bulk:
        bulk.lock("customer_merge")
        where = f"p.status = 'accepted' AND p.country = {literal(country)}"
        pairs = bulk.read(f"SELECT p.id, p.left_id, p.right_id FROM match_pair p WHERE {where}")
        if not pairs.num_rows:
            return 0
        _into(duck, "pairs", pairs)
        _groups(duck)
        _person_identifiers(
            duck,
            bulk,
            f"SELECT left_id FROM match_pair p WHERE {where} "
            f"UNION SELECT right_id FROM match_pair p WHERE {where}",
        )
        _into(duck, "redirects", bulk.read("SELECT merged_id, survivor_id FROM customer_redirect"))
        first = bulk.next_id("customer_merge")
        duck.execute(
            f"""
            CREATE TABLE torn AS  -- groups with two values of one scheme: two people at least
            SELECT DISTINCT g.survivor_id FROM groups g JOIN identifiers i USING (customer_id)
            GROUP BY g.survivor_id, i.scheme HAVING COUNT(DISTINCT i.value) > 1;
            CREATE TABLE merges AS
            SELECT {first - 1} + row_number() OVER (ORDER BY customer_id) AS id,
                survivor_id, customer_id AS merged_id, NULL::BIGINT AS pair_id,
                'accepted match' AS reason
            FROM groups WHERE customer_id <> survivor_id
              AND survivor_id NOT IN (SELECT survivor_id FROM torn)
              AND customer_id NOT IN (SELECT merged_id FROM redirects)
              AND survivor_id NOT IN (SELECT merged_id FROM redirects);
            """
        )
        merged, plan = _write_merges(bulk, duck, actor)
        if not merged:
            bulk.execute(
                f"UPDATE match_pair SET status = 'review' WHERE status = 'accepted' "
                f"AND country = {literal(country)}"
            )
            return 0
        # A pair is settled by the merge of its right (higher) id, or of its left.
        bulk.execute(
            f"""
            UPDATE match_pair SET status = 'merged', decided_by = {literal(actor)},
                decided_at = CURRENT_TIMESTAMP,
                merge_id = COALESCE(
                    (SELECT p.id FROM {plan} p WHERE p.merged_id = match_pair.right_id),
                    (SELECT p.id FROM {plan} p WHERE p.merged_id = match_pair.left_id))
            WHERE status = 'accepted' AND country = {literal(country)}
              AND (right_id IN (SELECT merged_id FROM {plan})
                   OR left_id IN (SELECT merged_id FROM {plan}))
            """
        )
        bulk.execute(
            f"UPDATE match_pair SET status = 'review' WHERE status = 'accepted' "
            f"AND country = {literal(country)}"
        )
        bulk.execute(
            "INSERT INTO audit_event (at, actor, action, subject, details) VALUES "
            f"(CURRENT_TIMESTAMP, {literal(actor)}, 'master.merge', "
            f"{literal(f'{merged} accepted pairs of {country}')}, "
            f"{literal(json.dumps({'merges': merged, 'first_merge_id': first}))})"
        )
        bulk.sync_sequence("customer_merge")
        bulk.analyze("customer_redirect", "match_pair")
        return merged


def merge_accepted(
    bulk: BulkConnection, pair_ids: Sequence[int], *, actor: str
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Merge the review pairs a steward accepted, together, in ``bulk``'s transaction.

    Each side of a pair stands for its person now (an id merged earlier, for
    its survivor). The customers the pairs link become one each, under the
    group's lowest (oldest) id: a chain A-B, B-C accepted together is one
    person. Each group is checked whole (one country, one value per
    identifier scheme over every id of its persons), so a chain cannot join
    two people that no single pair does. Any problem refuses every pair, each
    named (:class:`~harmonia.errors.ConfigError`). Computed in DuckDB and
    written in bulk, as :func:`merge_pairs`. Returns (merge ids, survivors).
    """
    from harmonia.compute import duckdb_connection

    if not pair_ids:
        return (), ()
    duck = duckdb_connection()
    bulk.lock("customer_merge")
    listed = ", ".join(str(int(p)) for p in pair_ids)
    _into(duck, "redirects", bulk.read("SELECT merged_id, survivor_id FROM customer_redirect"))
    _into(
        duck,
        "accepted",
        bulk.read(f"SELECT id, left_id, right_id FROM match_pair WHERE id IN ({listed})"),
    )
    duck.execute(
        """
        CREATE OR REPLACE TABLE pairs AS
        SELECT p.id, p.left_id AS asked_left, p.right_id AS asked_right,
            COALESCE(CAST(l.survivor_id AS BIGINT), p.left_id) AS left_id,
            COALESCE(CAST(r.survivor_id AS BIGINT), p.right_id) AS right_id
        FROM accepted p
        LEFT JOIN redirects l ON l.merged_id = p.left_id
        LEFT JOIN redirects r ON r.merged_id = p.right_id;
        CREATE OR REPLACE TABLE persons AS
        SELECT left_id AS id FROM pairs UNION SELECT right_id FROM pairs;
        """
    )
    problems = [
        f"pair {pair}: customers {left} and {right} are already one (merged into {survivor}): "
        "reject the pair"
        for pair, left, right, survivor in duck.sql(
            "SELECT id, asked_left, asked_right, left_id FROM pairs "
            "WHERE left_id = right_id ORDER BY id"
        ).fetchall()
    ]
    _groups(duck)
    persons = bulk.stage(duck.sql("SELECT id FROM persons").to_arrow_table(), "persons", key="id")
    _person_identifiers(duck, bulk, f"SELECT id FROM {persons}")
    _into(
        duck,
        "countries",
        bulk.read(f"SELECT id, country FROM customer WHERE id IN (SELECT id FROM {persons})"),
    )
    pairs_of = (
        "(SELECT string_agg(CAST(p.id AS VARCHAR), ', ' ORDER BY p.id) FROM pairs p "
        "JOIN groups pg ON pg.customer_id = p.left_id WHERE pg.survivor_id = g.survivor_id)"
    )
    problems += [
        row[0]
        for row in duck.sql(
            f"""
            SELECT 'pairs ' || {pairs_of} || ' would make one person of customers '
                || string_agg(DISTINCT CAST(g.customer_id AS VARCHAR), ', ') || ' with two '
                || i.scheme || ' identifiers (' || min(i.value) || ' and ' || max(i.value)
                || '): reject the pair that joins two people'
            FROM groups g JOIN identifiers i USING (customer_id)
            GROUP BY g.survivor_id, i.scheme HAVING COUNT(DISTINCT i.value) > 1
            UNION ALL
            SELECT 'pairs ' || {pairs_of} || ' join customers of '
                || string_agg(DISTINCT c.country, ' and ' ORDER BY c.country)
                || ': a customer belongs to one market'
            FROM groups g JOIN countries c ON c.id = g.customer_id
            GROUP BY g.survivor_id HAVING COUNT(DISTINCT c.country) > 1
            ORDER BY 1
            """
        ).fetchall()
    ]
    if problems:
        raise ConfigError(
            "; ".join(problems) + "; nothing was decided",
            fix="reject the pairs named (or unmerge first), then decide the others again",
        )
    first = bulk.next_id("customer_merge")
    duck.execute(
        f"""
        CREATE OR REPLACE TABLE merges AS
        WITH sides AS (
            SELECT id, left_id AS person FROM pairs UNION ALL SELECT id, right_id FROM pairs
        ), first_pair AS (SELECT person, min(id) AS pair_id FROM sides GROUP BY person)
        SELECT {first - 1} + row_number() OVER (ORDER BY g.customer_id) AS id,
            g.survivor_id, g.customer_id AS merged_id, f.pair_id,
            'review pair ' || f.pair_id AS reason
        FROM groups g JOIN first_pair f ON f.person = g.customer_id
        WHERE g.customer_id <> g.survivor_id
        """
    )
    _write_merges(bulk, duck, actor)
    audit = bulk.stage(
        duck.sql(
            "SELECT 'customer ' || merged_id || ' -> ' || survivor_id AS subject, "
            "CAST(to_json({'merge_id': id, 'reason': reason}) AS VARCHAR) AS details "
            "FROM merges ORDER BY id"
        ).to_arrow_table(),
        "audit",
    )
    bulk.execute(
        "INSERT INTO audit_event (at, actor, action, subject, details) "
        f"SELECT CURRENT_TIMESTAMP, {literal(actor)}, 'master.merge', subject, details "
        f"FROM {audit}"
    )
    # A pair is settled by the merge of its right side's person, or of its left's.
    settled = bulk.stage(
        duck.sql(
            "SELECT p.id AS pair_id, COALESCE(r.id, l.id) AS merge_id FROM pairs p "
            "LEFT JOIN merges r ON r.merged_id = p.right_id "
            "LEFT JOIN merges l ON l.merged_id = p.left_id"
        ).to_arrow_table(),
        "settled",
        key="pair_id",
    )
    bulk.execute(
        f"""
        UPDATE match_pair SET status = 'merged', decided_by = {literal(actor)},
            decided_at = CURRENT_TIMESTAMP,
            merge_id = (SELECT s.merge_id FROM {settled} s WHERE s.pair_id = match_pair.id)
        WHERE id IN (SELECT pair_id FROM {settled})
        """
    )
    bulk.sync_sequence("customer_merge")
    bulk.analyze("customer_redirect", "match_pair")
    merges = duck.sql("SELECT id FROM merges ORDER BY id").fetchall()
    survivors = duck.sql("SELECT DISTINCT survivor_id FROM merges ORDER BY 1").fetchall()
    return tuple(m for (m,) in merges), tuple(s for (s,) in survivors)


def _write_merges(bulk: BulkConnection, duck: Any, actor: str) -> tuple[int, str]:
    """Write the merges planned in DuckDB's ``merges`` (id, survivor_id, merged_id,
    pair_id, reason), ``redirects`` holding the store's redirects before them.

    Each merge's record keeps what an unmerge restores (the ids that pointed at
    the merged one); ids redirected to a merged customer follow it to its
    survivor, and the merged customer redirects there. Returns the merges
    written and the name of the staged plan (indexed by ``merged_id``).
    """
    records = duck.sql(
        f"""
        SELECT m.id, m.survivor_id, m.merged_id, m.pair_id, m.reason,
            CAST(to_json({{'repointed': COALESCE((SELECT list(r.merged_id ORDER BY r.merged_id)
                FROM redirects r WHERE r.survivor_id = m.merged_id), [])}})
                AS VARCHAR) AS undo,
            {literal(actor)} AS actor, now() AS at
        FROM merges m ORDER BY m.id
        """
    ).to_arrow_table()
    if not records.num_rows:
        return 0, ""
    bulk.append("customer_merge", records)
    bulk.wait()
    plan = bulk.stage(
        duck.sql("SELECT id, survivor_id, merged_id FROM merges").to_arrow_table(),
        "merges",
        key="merged_id",
    )
    bulk.execute(
        f"UPDATE customer_redirect SET survivor_id = (SELECT p.survivor_id FROM {plan} p "
        f"WHERE p.merged_id = customer_redirect.survivor_id) "
        f"WHERE survivor_id IN (SELECT merged_id FROM {plan})"
    )
    bulk.execute(
        "INSERT INTO customer_redirect (merged_id, survivor_id, merge_id) "
        f"SELECT merged_id, survivor_id, id FROM {plan}"
    )
    return records.num_rows, plan


def _into(duck: Any, name: str, table: Any) -> None:
    duck.register("incoming", table)
    duck.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM incoming")
    duck.unregister("incoming")


def _person_identifiers(duck: Any, bulk: BulkConnection, persons: str) -> None:
    """DuckDB table ``identifiers``: every identifier of the persons whose ids
    ``persons`` selects, under the person's id (identifiers stay on a merged id)."""
    _into(
        duck,
        "identifiers",
        bulk.read(
            "SELECT COALESCE(r.survivor_id, i.customer_id) AS customer_id, i.scheme, i.value "
            "FROM identifier i LEFT JOIN customer_redirect r ON r.merged_id = i.customer_id "
            f"WHERE COALESCE(r.survivor_id, i.customer_id) IN ({persons})"
        ),
    )


def _groups(duck: Any) -> None:
    """``groups(customer_id, survivor_id)``: connected components of ``pairs``, lowest id wins.

    Label propagation in SQL: each round every customer takes the lowest
    label among its neighbours; a chain of n links settles in at most n rounds
    and real groups (two or three records of one person) in two or three.
    """
    duck.execute(
        """
        CREATE OR REPLACE TABLE edges AS
        SELECT left_id AS a, right_id AS b FROM pairs UNION SELECT right_id, left_id FROM pairs;
        CREATE OR REPLACE TABLE groups AS
        SELECT a AS customer_id, LEAST(a, MIN(b)) AS survivor_id FROM edges GROUP BY a;
        """
    )
    while True:
        duck.execute(
            """
            CREATE OR REPLACE TABLE next_groups AS
            SELECT g.customer_id, LEAST(g.survivor_id, MIN(n.survivor_id)) AS survivor_id
            FROM groups g JOIN edges e ON e.a = g.customer_id
            JOIN groups n ON n.customer_id = e.b
            GROUP BY g.customer_id, g.survivor_id
            """
        )
        moved = duck.sql(
            "SELECT COUNT(*) FROM next_groups n JOIN groups g USING (customer_id) "
            "WHERE n.survivor_id <> g.survivor_id"
        ).fetchall()[0][0]
        duck.execute("CREATE OR REPLACE TABLE groups AS SELECT * FROM next_groups")
        if not moved:
            return
