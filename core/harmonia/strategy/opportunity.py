"""Opportunity indices: how segments compare in customers, potential, sales and activity.

For each segment (of each therapy area), and each segment within each
territory, the shares it holds of the whole (area, or area x territory):

* ``share_customers``, ``share_potential``, ``share_sales``, ``share_activity``
  in percent;
* ``potential_index`` = share of potential / share of customers x 100: above
  100, the segment's customers are worth more than the average customer;
* ``sales_index`` and ``activity_index`` likewise for current sales and for
  the calls customers already get;
* ``development_index`` = share of sales / share of potential x 100: below
  100, the segment sells less than its potential would have it (room to grow);
* ``activity_to_potential`` = share of activity / share of potential x 100:
  above 100, the segment gets more calls than its potential earns.

One query in DuckDB over ``plan_units`` (see :mod:`harmonia.strategy.universe`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from harmonia.sql import literal
from harmonia.strategy.universe import PlannedCycle

INDEX_COLUMNS = (
    "share_customers",
    "share_potential",
    "share_sales",
    "share_activity",
    "potential_index",
    "sales_index",
    "activity_index",
    "development_index",
    "activity_to_potential",
)


def segment_order(cycles: Sequence[PlannedCycle]) -> str:
    """SQL rows (therapy_area, segment, segment_rank) in each rule set's order of priority."""
    rows = [
        f"SELECT {literal(c.spec.therapy_area)} AS therapy_area, {literal(segment)} AS segment, "
        f"{rank} AS segment_rank"
        for c in cycles
        for rank, segment in enumerate(c.spec.rule_set.segment.outcomes, start=1)
    ]
    return " UNION ALL ".join(rows)


def opportunity(connection: Any, cycles: Sequence[PlannedCycle], *, by_territory: bool) -> pa.Table:
    """The indices per segment, or per territory and segment (``by_territory``)."""
    scope = ["therapy_area", "territory"] if by_territory else ["therapy_area"]
    keys = ", ".join(f"u.{k}" for k in scope)
    joined = " AND ".join(f"t.{k} = g.{k}" for k in scope)

    def share(column: str) -> str:
        return f"100.0 * g.{column} / NULLIF(t.{column}, 0)"

    def index(numerator: str, denominator: str) -> str:
        return f"100.0 * ({share(numerator)}) / NULLIF({share(denominator)}, 0)"

    territory = "g.territory, " if by_territory else ""
    return connection.sql(
        f"""
        WITH ranks AS ({segment_order(cycles)}),
        grouped AS (
            SELECT {keys}, u.segment, COUNT(*) AS customers, SUM(u.potential) AS potential,
                SUM(u.sales) AS sales, SUM(u.activity) AS activity
            FROM plan_units u GROUP BY {keys}, u.segment
        ),
        totals AS (
            SELECT {", ".join(scope)}, SUM(customers) AS customers, SUM(potential) AS potential,
                SUM(sales) AS sales, SUM(activity) AS activity
            FROM grouped GROUP BY {", ".join(scope)}
        )
        SELECT g.therapy_area, {territory}g.segment, CAST(g.customers AS BIGINT) AS customers,
            COALESCE(g.potential, 0) AS potential, g.sales, g.activity,
            {share("customers")} AS share_customers,
            {share("potential")} AS share_potential,
            {share("sales")} AS share_sales,
            {share("activity")} AS share_activity,
            {index("potential", "customers")} AS potential_index,
            {index("sales", "customers")} AS sales_index,
            {index("activity", "customers")} AS activity_index,
            {index("sales", "potential")} AS development_index,
            {index("activity", "potential")} AS activity_to_potential
        FROM grouped g JOIN totals t ON {joined}
        LEFT JOIN ranks r ON r.therapy_area = g.therapy_area AND r.segment = g.segment
        ORDER BY g.therapy_area, {territory}r.segment_rank NULLS LAST, g.segment
        """
    ).to_arrow_table()
