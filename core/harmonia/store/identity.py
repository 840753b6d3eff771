"""Who a customer id names now: the one resolver of merged ids, and who may be profiled.

A merge keeps both harmonia ids: the merged one redirects to the survivor
(``customer_redirect``, kept flat so one lookup is enough) and its facts stay
where they were loaded, so an unmerge restores both exactly. Everything
that reads customers or their facts by id goes through the functions here,
so cycles, explanations, refinements and reports resolve a merged id the
same way. The SQL is store-neutral (SQLite, PostgreSQL, DuckDB).

Customers who objected to profiling (``objection``) and merged ids are not
part of any cycle's population: they get no segment and so appear in no
output. An objection stays on the id it was recorded for, and a customer
objects when any id of theirs does (their own, or one merged into them): a
merge needs to move nothing, and an unmerge leaves each id with exactly the
objections it had. An objection made while merged is recorded for every id
of the person (:func:`person_ids`), so it outlives an unmerge on both sides.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import text
from sqlmodel import Session

#: SQL: the customers (survivors) who object, through any of their ids.
OBJECTING = (
    "SELECT COALESCE(objecting.survivor_id, objection.customer_id) AS id FROM objection "
    "LEFT JOIN customer_redirect objecting ON objecting.merged_id = objection.customer_id"
)

#: SQL: the ids a cycle may not profile (merged into another, or objecting), as ``id``.
UNPROFILED = f"SELECT merged_id AS id FROM customer_redirect UNION ALL {OBJECTING}"

#: SQL condition on a customer table's ``id``: a customer a cycle may profile
#: (not merged into another, no objection by any of their ids).
PROFILED = f"{{id}} NOT IN ({UNPROFILED})"


def profiled(id_column: str = "id") -> str:
    """SQL: ``id_column`` names a customer a cycle may segment (see :data:`PROFILED`)."""
    return PROFILED.format(id=id_column)


def profiled_rows(rows: str, id_column: str = "id") -> str:
    """SQL: the rows of the query ``rows`` whose ``id_column`` a cycle may profile, as an
    anti-join (the same rows as filtering them with :func:`profiled`).

    Why: DuckDB estimates a ``NOT IN`` filter to keep a fifth of the rows, so a
    cycle's population of 1M looked like 40k, and DuckDB built its hash tables
    over the population's wide rows instead of over the features joined to it
    (1M customers: the segmentation step ~10% slower). It estimates this
    anti-join at the population's size.
    """
    return (
        f"SELECT kept.* FROM ({rows}) kept LEFT JOIN ({UNPROFILED}) unprofiled "
        f"ON unprofiled.id = kept.{id_column} WHERE unprofiled.id IS NULL"
    )


def survivor(id_column: str) -> str:
    """SQL: the customer ``id_column`` names now (itself unless it was merged)."""
    return (
        f"COALESCE((SELECT redirect.survivor_id FROM customer_redirect redirect "
        f"WHERE redirect.merged_id = {id_column}), {id_column})"
    )


def resolved_facts(table: str, columns: Sequence[str], key: Sequence[str] = ()) -> str:
    """SQL: ``table`` with ``customer_id`` resolved to the survivor, as a parenthesised query.

    ``columns`` are the other columns to keep. With ``key`` (the fact's key
    besides the customer), a merged customer's fact that the survivor also
    holds under the same key is left out: the survivor's own value wins, and
    nothing counts twice.
    """
    kept = ", ".join(f"fact.{column}" for column in columns)
    # Two parts, so that only a merged id's facts (few) are looked up again:
    # a redirect join over every fact with the survivor check in its WHERE
    # made DuckDB hash the whole fact table once per reading (1M customers:
    # 1.5 s of CPU, as much as the rest of the segmentation). The CASTs keep
    # the column typed: SQLite gives an expression's column no type affinity,
    # and then cannot join an index on it with an INTEGER id (each lookup
    # scanned the whole table: quadratic, 11 s at 10k customers).
    own = (
        f"SELECT CAST(fact.customer_id AS BIGINT) AS customer_id, {kept} FROM {table} fact "
        "WHERE NOT EXISTS (SELECT 1 FROM customer_redirect redirect "
        "WHERE redirect.merged_id = fact.customer_id)"
    )
    merged = (
        f"SELECT CAST(redirect.survivor_id AS BIGINT) AS customer_id, {kept} FROM {table} fact "
        "JOIN customer_redirect redirect ON redirect.merged_id = fact.customer_id"
    )
    if key:
        same = " AND ".join(f"own.{column} = fact.{column}" for column in key)
        merged += (
            f" WHERE NOT EXISTS (SELECT 1 FROM {table} own "
            f"WHERE own.customer_id = redirect.survivor_id AND {same})"
        )
    return f"({own} UNION ALL {merged})"


def forget_profiling(ids: str) -> list[str]:
    """SQL: delete stored cycle results (assignments, plan goals) of the customers ``ids``
    selects (survivors), and of every id merged into them. The first statement records
    those with assignments as still to leave the inputs files (run all in one
    transaction, then :func:`harmonia.store.assignments.finish_erasures`)."""
    from harmonia.store.assignments import erasure_pending_sql

    every = f"({ids}) OR customer_id IN (SELECT merged_id FROM customer_redirect WHERE survivor_id IN ({ids}))"
    return [
        erasure_pending_sql(
            f"SELECT customer_id AS id FROM assignment WHERE customer_id IN {every}"
        ),
        *(
            f"DELETE FROM {table} WHERE customer_id IN {every}"
            for table in ("assignment", "plan_goal")
        ),
    ]


def record_objections(ids: str, source: str) -> list[str]:
    """SQL: record objections of the customers ``ids`` selects, from ``source``, for every
    id of each (see :func:`person_ids`), and forget their profiling. Ids already objecting
    keep their entry."""
    from harmonia.sql import literal

    resolved = f"SELECT DISTINCT {survivor('picked.id')} AS id FROM ({ids}) picked"
    every = (
        f"SELECT id FROM ({resolved}) r UNION "
        f"SELECT merged_id FROM customer_redirect WHERE survivor_id IN (SELECT id FROM ({resolved}) s)"
    )
    return [
        "INSERT INTO objection (customer_id, source, actor, at) "
        f"SELECT id, {literal(source)}, '', CURRENT_TIMESTAMP FROM ({every}) e "
        "WHERE id NOT IN (SELECT customer_id FROM objection)",
        *forget_profiling(resolved),
    ]


def person_ids(session: Session, survivors: Iterable[int]) -> dict[int, list[int]]:
    """Each survivor and every id of that person: itself and the ids merged into it."""
    wanted = sorted(set(survivors))
    found: dict[int, list[int]] = {s: [s] for s in wanted}
    if wanted:
        rows = session.connection().execute(
            text(
                "SELECT survivor_id, merged_id FROM customer_redirect "
                f"WHERE survivor_id IN ({', '.join(str(int(i)) for i in wanted)}) "
                "ORDER BY merged_id"
            )
        )
        for survivor_id, merged_id in rows:
            found[survivor_id].append(merged_id)
    return found


def resolve(session: Session, ids: Iterable[int]) -> dict[int, int]:
    """Each id and the customer it names now (a merged id maps to its survivor)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    found = dict(
        session.connection()
        .execute(
            text(
                "SELECT merged_id, survivor_id FROM customer_redirect "
                f"WHERE merged_id IN ({', '.join(str(int(i)) for i in wanted)})"
            )
        )
        .all()
    )
    return {i: found.get(i, i) for i in wanted}
