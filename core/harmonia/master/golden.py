"""Golden records: one value per attribute for a merged customer, and where it came from.

A merge keeps each source's record as loaded; the golden record picks, per
attribute, one value among the records of the person by the country's
survivorship rules (:class:`~harmonia.definitions.Survivorship`, pack data):
``source_priority`` (the most trusted system that has one), ``most_recent``
(the value given last) or ``most_frequent`` (the value most records agree on).
A blank never wins over a value, and every rule breaks ties by recency.
The candidates are the person's source records, each with its own last
value of the attribute and the batch that gave it
(:class:`~harmonia.store.models.CustomerAttributeHistory`): a golden value
names the system and batch its value came from, not the record's latest
load, and "most recent" is the value given last, by any source.

A person has a golden record when they have more than one source record,
whatever linked them: a merge (the survivor's), or a load that matched a
second system's record by its national identifier (one harmonia id, no
merge). A customer with one source record has none: its own record is it.

One SQL statement computes every golden record of a country (or of some
persons), in DuckDB over their attribute history read once from the store:
no customer passes through Python. A load recomputes the golden records of
the persons whose source records it gave or changed (:func:`refresh`), so
they never go stale; match, decide, merge and unmerge recompute theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

import pyarrow as pa

from harmonia.definitions import Survivorship
from harmonia.definitions.country import GOLDEN_ATTRIBUTES
from harmonia.sql import literal
from harmonia.store import history
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import Database
from harmonia.store.recovery import this_owner
from harmonia.store.writer import load_lock


def candidates_sql(table: str = "history") -> str:
    """DuckDB SQL over the history rows in ``table``: each source record's last value of
    each attribute (a blank is none) with the batch that gave it: ``golden_id, system,
    source_id, attribute, value, batch_id``."""
    return "\nUNION ALL\n".join(
        f"SELECT h.golden_id, h.system, h.source_id, {literal(attribute)} AS attribute, "
        f"arg_max(h.{attribute}, h.batch_id) AS value, max(h.batch_id) AS batch_id "
        f"FROM {table} h WHERE h.{attribute} IS NOT NULL AND h.{attribute} <> '' "
        "GROUP BY h.golden_id, h.system, h.source_id"
        for attribute in GOLDEN_ATTRIBUTES
    )


def golden_sql(survivorship: Survivorship, table: str = "history") -> str:
    """The golden values (DuckDB SQL over the history rows in ``table``, see :func:`compute`).

    It holds, per person (``golden_id``), the attribute history of
    every source record of their ids: a candidate is each record's last
    value of an attribute, with the batch that gave it.
    """
    candidates = candidates_sql(table)
    priority = " ".join(
        f"WHEN {literal(system)} THEN {rank}"
        for rank, system in enumerate(survivorship.source_priority)
    )
    priority_key = (
        f"CASE k.system {priority} ELSE {len(survivorship.source_priority)} END"
        if priority
        else "0"
    )
    rules = " ".join(
        f"WHEN {literal(a)} THEN {literal(survivorship.rule(a))}" for a in GOLDEN_ATTRIBUTES
    )
    return f"""
        WITH candidates AS (
            {candidates}
        ), scored AS (
            SELECT k.golden_id, k.attribute, k.value, k.batch_id, k.system, k.source_id,
                CASE k.attribute {rules} END AS rule,
                {priority_key} AS priority,
                COUNT(*) OVER (PARTITION BY k.golden_id, k.attribute, k.value) AS frequency
            FROM candidates k
        ), ranked AS (
            SELECT s.*, ROW_NUMBER() OVER (
                PARTITION BY s.golden_id, s.attribute ORDER BY
                    CASE WHEN s.rule = 'source_priority' THEN s.priority ELSE 0 END,
                    CASE WHEN s.rule = 'most_frequent' THEN -s.frequency ELSE 0 END,
                    s.batch_id DESC, s.value, s.system, s.source_id) AS rn
            FROM scored s
        )
        SELECT golden_id AS customer_id, attribute, value, system, batch_id, rule
        FROM ranked WHERE rn = 1 ORDER BY customer_id, attribute
    """


def golden_ids_sql(candidates: str) -> str:
    """SQL: the persons among ``candidates`` (SQL giving harmonia ids) that have a golden
    record, with their country: a merge's survivor, or a customer with more than one
    source record; never a merged id."""
    return f"""
        SELECT c.id, c.country FROM customer c
        WHERE c.id IN ({candidates})
          AND NOT EXISTS (SELECT 1 FROM customer_redirect m WHERE m.merged_id = c.id)
          AND (EXISTS (SELECT 1 FROM customer_redirect r WHERE r.survivor_id = c.id)
               OR (SELECT COUNT(*) FROM crosswalk x WHERE x.customer_id = c.id) > 1)
    """


def touched_sql(batch_id: int) -> str:
    """SQL: the persons (survivors' ids) whose source records a customers load batch gave
    or changed, among customers it did not create (one record each): records new to
    the crosswalk, and records whose attribute history it added to (a load repeating
    a record's values adds none)."""
    batch = int(batch_id)
    return f"""
        WITH records AS (
            SELECT customer_id FROM crosswalk WHERE batch_id = {batch}
            UNION
            SELECT x.customer_id FROM ({history.given_in_sql(batch)}) h
            JOIN crosswalk x ON x.system = h.system AND x.source_id = h.source_id
        )
        SELECT COALESCE(r.survivor_id, c.id) FROM records t
        JOIN customer c ON c.id = t.customer_id
        LEFT JOIN customer_redirect r ON r.merged_id = c.id
        WHERE c.first_batch_id < {batch}
    """


def compute(
    database: Database,
    survivorship: Survivorship,
    *,
    country: str | None = None,
    customer_ids: Sequence[int] = (),
) -> int:
    """Recompute the golden records of a country, or of some customers; returns values written.

    Customers in ``customer_ids`` that no longer have one (unmerged) lose their
    golden record. The attribute history of the persons' source records is
    read once and ranked in DuckDB (SQLite's window functions took 26 s for
    90k merged customers of 1M; DuckDB takes under one).
    """
    if country is not None:
        scope = f"SELECT id FROM customer WHERE country = {literal(country)}"
    else:
        scope = ", ".join(str(int(i)) for i in customer_ids) or "NULL"
    with _locked(database), BulkConnection(database) as bulk:
        bulk.execute(f"DELETE FROM golden_value WHERE customer_id IN ({scope})")
        return _write(bulk, bulk.read(golden_ids_sql(scope)), lambda _country: survivorship)


def refresh(database: Database, batch_id: int, survivorship: Callable[[str], Survivorship]) -> int:
    """Recompute the golden records of the persons a customers load batch touched (see
    :func:`touched_sql`), each by its country's ``survivorship(country)``; returns
    values written. A load touching no person with more than one source record
    only reads which records it touched. Clears the batch's ``golden_owed`` in the
    same commit (see :func:`owed`)."""
    with _locked(database), BulkConnection(database) as bulk:
        bulk.execute(f"UPDATE load_batch SET golden_owed = FALSE WHERE id = {int(batch_id)}")
        # Only customers older than the batch can be touched: a first load (it
        # created every customer it gave) skips reading its million records
        # again (2.2 s -> 0.1 s CPU at 1M).
        older = f"SELECT 1 FROM customer WHERE first_batch_id < {int(batch_id)} LIMIT 1"
        if not bulk.read(older).num_rows:
            return 0
        persons = bulk.read(golden_ids_sql(touched_sql(batch_id)))
        return _write(bulk, persons, survivorship, replace=True)


def owed(database: Database) -> list[int]:
    """The customers batches, oldest first, whose golden records were not refreshed (a
    refresh cut short: Ctrl-C, a crash, a full disk); the next load refreshes them."""
    with BulkConnection(database) as bulk:
        rows = bulk.read("SELECT id FROM load_batch WHERE golden_owed ORDER BY id")
    return [int(i) for i in rows.column("id").to_pylist()] if rows.num_rows else []


def _locked(database: Database) -> AbstractContextManager[None]:
    """The store's load lock, held while golden records are recomputed: an erasure
    (which takes it) then waits, and removes what the recompute wrote, instead of
    racing it (on PostgreSQL its DELETE would miss the rows the recompute inserts)."""
    return load_lock(database, owner=this_owner(), doing="recompute")


def _write(
    bulk: BulkConnection,
    persons: pa.Table,
    survivorship: Callable[[str], Survivorship],
    *,
    replace: bool = False,
) -> int:
    """Write the golden records of ``persons`` (id, country), each country's by its
    ``survivorship(country)`` (``replace``: in place of theirs); returns values written."""
    from harmonia.compute import duckdb_connection

    if not persons.num_rows:  # (an empty read from SQLite has no column types)
        return 0
    stage = bulk.stage(persons.select(["id"]), "golden", key="id")
    if replace:
        bulk.execute(f"DELETE FROM golden_value WHERE customer_id IN (SELECT id FROM {stage})")
    rows = persons_history(bulk, f"SELECT id FROM {stage}")
    if not rows.num_rows:
        return 0
    duck = duckdb_connection()
    duck.register("history", rows)
    duck.register("persons", persons)
    written = 0
    for country in sorted(set(persons.column("country").to_pylist())):
        duck.execute(
            "CREATE OR REPLACE TEMP TABLE country_history AS SELECT h.* FROM history h "
            f"JOIN persons p ON p.id = h.golden_id WHERE p.country = {literal(country)}"
        )
        golden = duck.sql(golden_sql(survivorship(country), "country_history")).to_arrow_table()
        bulk.append("golden_value", golden)
        written += golden.num_rows
    bulk.wait()
    bulk.analyze("golden_value")
    return written


def persons_history(bulk: BulkConnection, persons: str) -> pa.Table:
    """The attribute history of every source record of the persons (``persons``: SQL
    giving their ids, survivors' or customers'), each row under its ``golden_id``."""
    return history.records_history(
        bulk,
        f"""
        SELECT survivor_id AS golden_id, merged_id AS customer_id
        FROM customer_redirect WHERE survivor_id IN ({persons})
        UNION ALL
        SELECT id, id FROM customer WHERE id IN ({persons})
        """,
    )


def value_sources(database: Database, customer_id: int) -> list[dict[str, object]]:
    """Each attribute of a customer with the source and batch its value came from.

    A merged customer's golden values (with their rule); for a customer
    without a golden record, its record's values: the value given last by any
    of its source records (what the loader keeps), rule ``latest``.
    """
    from harmonia.compute import duckdb_connection

    golden = golden_record(database, customer_id)
    if golden:
        return golden
    with BulkConnection(database, write=False) as bulk:
        history = persons_history(bulk, str(int(customer_id)))
        if not history.num_rows:
            return []
        duck = duckdb_connection()
        duck.register("history", history)
        latest = duck.sql(
            f"SELECT attribute, value, system, batch_id, 'latest' AS rule "
            f"FROM ({golden_sql(Survivorship(default='most_recent'))}) ORDER BY attribute"
        ).to_arrow_table()
        duck.register("latest", latest)
        duck.register("batches", bulk.read("SELECT id, location FROM load_batch"))
        return (
            duck.sql(
                "SELECT l.*, b.location FROM latest l JOIN batches b ON b.id = l.batch_id "
                "ORDER BY l.attribute"
            )
            .to_arrow_table()
            .to_pylist()
        )


def golden_record(database: Database, customer_id: int) -> list[dict[str, object]]:
    """A customer's golden values with their source and batch (empty: never merged)."""
    with BulkConnection(database, write=False) as bulk:
        return bulk.read(
            "SELECT g.attribute, g.value, g.system, g.batch_id, g.rule, b.location "
            "FROM golden_value g JOIN load_batch b ON b.id = g.batch_id "
            f"WHERE g.customer_id = {int(customer_id)} ORDER BY g.attribute"
        ).to_pylist()
