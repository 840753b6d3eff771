"""The field force as the store holds it, for the areas that read it.

The loader writes the field force (territories, roster, alignment: see
:mod:`harmonia.ingest.fieldforce`); planning and refinement read it through
these functions rather than each writing its own SQL over the tables:

* :func:`reps_per_territory`: how many reps the roster places on each of a
  country's territories (a territory nobody is placed on has 0: a vacancy);
* :func:`aligned_territory_sql`: each customer's territory in a period, from
  the alignment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harmonia.periods import Period
from harmonia.sql import literal

if TYPE_CHECKING:
    from harmonia.store.database import Database


def reps_per_territory(database: Database, country: str) -> dict[str, float]:
    """Reps per territory of ``country`` from the roster; empty when it has no roster.

    Every territory of the country's field force is listed, with 0 reps where
    the roster places nobody (a vacant territory plans no calls). The roster
    is the field force as it is now: it keeps no history per period.
    """
    from harmonia.store.bulk import BulkConnection

    with BulkConnection(database, write=False) as bulk:
        rows = bulk.read(
            f"""
            SELECT t.code AS territory, COUNT(r.person) AS reps
            FROM territory t
            LEFT JOIN roster r ON r.unit = t.code AND r.country = t.country AND r.role = 'rep'
            WHERE t.level = 'territory' AND t.country = {literal(country)}
            GROUP BY t.code
            """
        ).to_pylist()
    if not any(row["reps"] for row in rows):
        return {}
    return {str(row["territory"]): float(row["reps"]) for row in rows}


def aligned_territory_sql(period: Period) -> str:
    """SQL over the store: ``customer_id, territory`` from the alignment of ``period``.

    Where several aligned periods overlap ``period`` (a year's alignment and a
    quarter's), the latest starting one wins; a customer the alignment does not
    place has no row (callers fall back to the customer's own territory).
    """
    return f"""
    SELECT customer_id, territory FROM (
        SELECT customer_id, territory, ROW_NUMBER() OVER (
            PARTITION BY customer_id ORDER BY first_month DESC, period) AS rn
        FROM alignment
        WHERE first_month <= {period.last_month} AND last_month >= {period.first_month}
    ) aligned WHERE rn = 1
    """
