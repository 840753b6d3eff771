"""Golden records: one value per attribute for a merged customer, and where it came from.

A merge keeps each source's record as loaded; the golden record picks, per
attribute, one value among the records of the person by the country's
survivorship rules (:class:`~harmonia.definitions.Survivorship`, pack data):
``source_priority`` (the most trusted system that has one), ``most_recent``
(the latest load) or ``most_frequent`` (the value most records agree on).
A blank never wins over a value, and every rule breaks ties by recency.
Each golden value keeps the system and the load batch it came from.

One SQL statement over the store computes every golden record of a country
(or of some survivors): no customer passes through Python. A customer
never merged has no golden record: its own record is it.
"""

from __future__ import annotations

from collections.abc import Sequence

from harmonia.definitions import Survivorship
from harmonia.definitions.country import GOLDEN_ATTRIBUTES
from harmonia.sql import literal
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import Database


def golden_sql(survivorship: Survivorship, scope: str) -> str:
    """``INSERT`` the golden values of the survivors ``scope`` selects (SQL over survivor_id)."""
    candidates = "\nUNION ALL\n".join(
        f"SELECT m.golden_id, {literal(attribute)} AS attribute, "
        f"CAST(c.{attribute} AS VARCHAR(400)) AS value, c.batch_id "
        f"FROM members m JOIN customer c ON c.id = m.member_id "
        f"WHERE c.{attribute} IS NOT NULL AND c.{attribute} <> ''"
        for attribute in GOLDEN_ATTRIBUTES
    )
    priority = " ".join(
        f"WHEN {literal(system)} THEN {rank}"
        for rank, system in enumerate(survivorship.source_priority)
    )
    priority_key = (
        f"CASE b.system {priority} ELSE {len(survivorship.source_priority)} END"
        if priority
        else "0"
    )
    rules = " ".join(
        f"WHEN {literal(a)} THEN {literal(survivorship.rule(a))}" for a in GOLDEN_ATTRIBUTES
    )
    return f"""
        WITH survivors AS (
            SELECT DISTINCT survivor_id FROM customer_redirect WHERE survivor_id IN ({scope})
        ), members AS (
            SELECT survivor_id AS golden_id, merged_id AS member_id FROM customer_redirect
            WHERE survivor_id IN (SELECT survivor_id FROM survivors)
            UNION ALL
            SELECT survivor_id, survivor_id FROM survivors
        ), candidates AS (
            {candidates}
        ), scored AS (
            SELECT k.golden_id, k.attribute, k.value, k.batch_id, b.system,
                CASE k.attribute {rules} END AS rule,
                {priority_key} AS priority,
                COUNT(*) OVER (PARTITION BY k.golden_id, k.attribute, k.value) AS frequency
            FROM candidates k JOIN load_batch b ON b.id = k.batch_id
        ), ranked AS (
            SELECT s.*, ROW_NUMBER() OVER (
                PARTITION BY s.golden_id, s.attribute ORDER BY
                    CASE WHEN s.rule = 'source_priority' THEN s.priority ELSE 0 END,
                    CASE WHEN s.rule = 'most_frequent' THEN -s.frequency ELSE 0 END,
                    s.batch_id DESC, s.value) AS rn
            FROM scored s
        )
        INSERT INTO golden_value (customer_id, attribute, value, system, batch_id, rule)
        SELECT golden_id, attribute, value, system, batch_id, rule FROM ranked WHERE rn = 1
    """


def compute(
    database: Database,
    survivorship: Survivorship,
    *,
    country: str | None = None,
    customer_ids: Sequence[int] = (),
) -> int:
    """Recompute the golden records of a country, or of some customers; returns values written.

    Customers in ``customer_ids`` that are no longer survivors (unmerged)
    lose their golden record.
    """
    if country is not None:
        scope = f"SELECT id FROM customer WHERE country = {literal(country)}"
    else:
        scope = ", ".join(str(int(i)) for i in customer_ids) or "NULL"
    with BulkConnection(database) as bulk:
        bulk.execute(f"DELETE FROM golden_value WHERE customer_id IN ({scope})")
        bulk.execute(golden_sql(survivorship, scope))
        written = bulk.scalar(f"SELECT COUNT(*) FROM golden_value WHERE customer_id IN ({scope})")
        bulk.analyze("golden_value")
    return int(written)


def golden_record(database: Database, customer_id: int) -> list[dict[str, object]]:
    """A customer's golden values with their source and batch (empty: never merged)."""
    with BulkConnection(database, write=False) as bulk:
        return bulk.read(
            "SELECT g.attribute, g.value, g.system, g.batch_id, g.rule, b.location "
            "FROM golden_value g JOIN load_batch b ON b.id = g.batch_id "
            f"WHERE g.customer_id = {int(customer_id)} ORDER BY g.attribute"
        ).to_pylist()
