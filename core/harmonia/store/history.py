"""Customer attributes as loaded, batch by batch: the one reader of their history.

A customers load records what each source record gave of each attribute
under its batch (:class:`~harmonia.store.models.CustomerAttributeHistory`);
the ``customer`` row holds only the latest values. Golden records rank the
records' values (:mod:`harmonia.master.golden`); a cycle re-run on an input
snapshot reads its customers' attributes as that snapshot's batches left
them (:func:`changed_since`). Both read the history here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

from harmonia.definitions.country import GOLDEN_ATTRIBUTES
from harmonia.sql import literal

if TYPE_CHECKING:
    from harmonia.store.bulk import BulkConnection

#: The load kind whose batches write customer attributes.
CUSTOMERS = "customers"


def records_history(
    bulk: BulkConnection, people: str, *, batches: Sequence[int] | None = None
) -> pa.Table:
    """The history rows of every source record of some people.

    ``people``: SQL giving ``golden_id, customer_id`` pairs (a person and each
    harmonia id of theirs); each row comes under its ``golden_id``, with its
    record's ``system``, ``source_id`` and ``batch_id``. ``batches`` keeps the
    rows of those load batches only (an input snapshot).
    """
    columns = ", ".join(f"h.{attribute}" for attribute in GOLDEN_ATTRIBUTES)
    in_batches = f"AND h.batch_id IN ({_id_list(batches)})" if batches is not None else ""
    return bulk.read(
        f"""
        WITH person AS ({people})
        SELECT p.golden_id, h.system, h.source_id, h.batch_id, {columns}
        FROM person p
        JOIN crosswalk x ON x.customer_id = p.customer_id
        JOIN customer_attribute_history h ON h.system = x.system AND h.source_id = x.source_id
        WHERE true {in_batches}
        """
    )


def of_system(bulk: BulkConnection, system: str) -> pa.Table:
    """The history rows of one system's source records: ``source_id``, ``batch_id``
    and the attributes."""
    columns = ", ".join(GOLDEN_ATTRIBUTES)
    return bulk.read(
        f"SELECT source_id, batch_id, {columns} FROM customer_attribute_history "
        f"WHERE system = {literal(system)}"
    )


def given_in_sql(batch_id: int) -> str:
    """SQL: the source records (``system``, ``source_id``) a load batch gave or changed
    a value of (a batch repeating a record's values gives none)."""
    return (
        f"SELECT system, source_id FROM customer_attribute_history WHERE batch_id = {int(batch_id)}"
    )


def latest_sql(history: str, key: str) -> str:
    """DuckDB SQL over ``history`` rows: per ``key``, each attribute's value given last
    (the latest batch giving one; a blank gives none), as the loader keeps it.

    Why two parts: most records have one row (their first load), whose values
    are the answer; only the others are aggregated. 1M records, 1% with a second
    row: 1.15 s -> 0.55 s CPU.
    """
    last = ", ".join(
        f"arg_max({a}, batch_id) FILTER (WHERE {a} IS NOT NULL AND {a} <> '') AS {a}"
        for a in GOLDEN_ATTRIBUTES
    )
    only = ", ".join(f"NULLIF({a}, '') AS {a}" for a in GOLDEN_ATTRIBUTES)
    return f"""
        WITH repeated AS (SELECT {key} FROM {history} GROUP BY {key} HAVING count(*) > 1)
        SELECT {key}, {only} FROM {history}
        WHERE {key} NOT IN (SELECT {key} FROM repeated)
        UNION ALL
        SELECT {key}, {last} FROM {history}
        WHERE {key} IN (SELECT {key} FROM repeated) GROUP BY {key}
    """


def changed_since(bulk: BulkConnection, batches: Sequence[int], country: str) -> pa.Table | None:
    """The customers of ``country`` a load after the snapshot ``batches`` changed or created.

    One row per such customer: ``id``, ``created_later`` (it did not exist
    then) and each attribute as of the snapshot (the value its source
    records gave last in the snapshot's batches). None when no customers
    load came after the snapshot: the ``customer`` rows are the snapshot's.

    A customer changed later whose records have no history in the snapshot
    (loaded before the history was kept, schema revision 0650) keeps its
    row: ``as_of`` is false for it.
    """
    from harmonia.compute import duckdb_connection

    snapshot = _id_list(batches)
    later = bulk.read(
        f"SELECT id FROM load_batch WHERE kind = {literal(CUSTOMERS)} AND status = 'loaded' "
        f"AND id NOT IN ({snapshot})"
    ).column("id")
    if not len(later):
        return None
    later_ids = _id_list(later.to_pylist())
    touched = (
        "SELECT id AS golden_id, id AS customer_id FROM customer "
        f"WHERE country = {literal(country)} "
        f"AND (batch_id IN ({later_ids}) OR first_batch_id IN ({later_ids}))"
    )
    customers = bulk.read(
        f"SELECT golden_id AS id, first_batch_id IN ({later_ids}) AS created_later "
        f"FROM ({touched}) t JOIN customer c ON c.id = t.golden_id"
    )
    if not customers.num_rows:
        return None
    history = records_history(bulk, touched, batches=batches)
    duck = duckdb_connection()
    try:
        duck.register("customers", customers)
        # Typed here: SQLite's reader infers types from values, and a column
        # without any is no text column (nor is any column of an empty read).
        typed = ", ".join(f"CAST(NULL AS VARCHAR) AS {a}" for a in GOLDEN_ATTRIBUTES)
        empty = f"SELECT 0::BIGINT AS golden_id, 0::BIGINT AS batch_id, {typed} LIMIT 0"
        if history.num_rows:
            duck.register("read", history)
            cast = ", ".join(f"CAST({a} AS VARCHAR) AS {a}" for a in GOLDEN_ATTRIBUTES)
            duck.execute(
                f"CREATE TEMP TABLE history AS SELECT golden_id::BIGINT AS golden_id, "
                f"batch_id::BIGINT AS batch_id, {cast} FROM read"
            )
        else:
            duck.execute(f"CREATE TEMP TABLE history AS {empty}")
        values = ", ".join(f"v.{a}" for a in GOLDEN_ATTRIBUTES)
        return duck.sql(
            f"""
            SELECT c.id::BIGINT AS id, c.created_later::BOOLEAN AS created_later,
                v.golden_id IS NOT NULL AS as_of, {values}
            FROM customers c
            LEFT JOIN ({latest_sql("history", "golden_id")}) v ON v.golden_id = c.id
            ORDER BY c.id
            """
        ).to_arrow_table()
    finally:
        duck.close()


def apply_sql(customers: str, changes: str, columns: Sequence[str]) -> list[str]:
    """DuckDB statements reading the ``customers`` table as of a snapshot, given the
    ``changes`` :func:`changed_since` found (only ``columns`` of theirs are set)."""
    assigned = ", ".join(
        f"{column} = {changes}.{column}" for column in columns if column in GOLDEN_ATTRIBUTES
    )
    return [
        f"DELETE FROM {customers} WHERE id IN (SELECT id FROM {changes} WHERE created_later)",
        *(
            [
                f"UPDATE {customers} SET {assigned} FROM {changes} "
                f"WHERE {customers}.id = {changes}.id AND {changes}.as_of"
            ]
            if assigned
            else []
        ),
    ]


def _id_list(ids: Sequence[int]) -> str:
    return ", ".join(str(int(i)) for i in ids) or "NULL"
