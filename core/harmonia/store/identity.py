"""Who a customer id names now: the one resolver of merged ids, and who may be profiled.

A merge keeps both harmonia ids: the merged one redirects to the survivor
(``customer_redirect``, kept flat so one lookup is enough) and its facts stay
where they were loaded, so an unmerge restores both exactly. Everything
that reads customers or their facts by id goes through the functions here,
so cycles, explanations, refinements and reports resolve a merged id the
same way. The SQL is store-neutral (SQLite, PostgreSQL, DuckDB).

Customers who objected to profiling (``objection``) and merged ids are not
part of any cycle's population: they get no segment and so appear in no
output.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import text
from sqlmodel import Session

#: SQL condition on a customer table's ``id``: a customer a cycle may profile
#: (not merged into another, no objection).
PROFILED = (
    "{id} NOT IN (SELECT merged_id FROM customer_redirect) "
    "AND {id} NOT IN (SELECT customer_id FROM objection)"
)


def profiled(id_column: str = "id") -> str:
    """SQL: ``id_column`` names a customer a cycle may segment (see :data:`PROFILED`)."""
    return PROFILED.format(id=id_column)


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
    duplicate = ""
    if key:
        same = " AND ".join(f"own.{column} = fact.{column}" for column in key)
        duplicate = (
            f" WHERE redirect.survivor_id IS NULL OR NOT EXISTS (SELECT 1 FROM {table} own "
            f"WHERE own.customer_id = redirect.survivor_id AND {same})"
        )
    # The CAST keeps the column typed: SQLite gives an expression's column no
    # type affinity, and then cannot join an index on it with an INTEGER id
    # (each lookup scanned the whole table: quadratic, 11 s at 10k customers).
    return (
        f"(SELECT CAST(COALESCE(redirect.survivor_id, fact.customer_id) AS BIGINT) AS customer_id, "
        f"{kept} "
        f"FROM {table} fact LEFT JOIN customer_redirect redirect "
        f"ON redirect.merged_id = fact.customer_id{duplicate})"
    )


def forget_profiling(ids: str) -> list[str]:
    """SQL: delete stored cycle results (assignments, plan goals) of the customers ``ids``
    selects (survivors), and of every id merged into them."""
    every = f"({ids}) OR customer_id IN (SELECT merged_id FROM customer_redirect WHERE survivor_id IN ({ids}))"
    return [
        f"DELETE FROM {table} WHERE customer_id IN {every}" for table in ("assignment", "plan_goal")
    ]


def record_objections(ids: str, source: str) -> list[str]:
    """SQL: record objections of the customers ``ids`` selects (resolved to survivors), from
    ``source``, and forget their profiling. Customers already objecting keep their entry."""
    from harmonia.sql import literal

    resolved = f"SELECT DISTINCT {survivor('picked.id')} AS id FROM ({ids}) picked"
    return [
        "INSERT INTO objection (customer_id, source, actor, at) "
        f"SELECT id, {literal(source)}, '', CURRENT_TIMESTAMP FROM ({resolved}) r "
        "WHERE id NOT IN (SELECT customer_id FROM objection)",
        *forget_profiling(resolved),
    ]


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


def objected(session: Session, ids: Iterable[int]) -> set[int]:
    """The ids (resolved) whose customer objected to profiling."""
    resolved = resolve(session, ids)
    if not resolved:
        return set()
    survivors = ", ".join(str(i) for i in sorted(set(resolved.values())))
    rows = session.connection().execute(
        text(f"SELECT customer_id FROM objection WHERE customer_id IN ({survivors})")
    )
    blocked = {row[0] for row in rows}
    return {i for i, s in resolved.items() if s in blocked}
