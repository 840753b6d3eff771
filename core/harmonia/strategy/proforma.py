"""The pro forma: customers, contacts, cost, revenue, margin and profit of a plan.

Per segment (of each therapy area), per territory and for the portfolio.
Every amount is summed from whole cents, so segment rows and territory rows
each add up exactly to the portfolio. The fixed field cost (reps x the
country's ``rep_cost``) is a territory's; it is shared among the segments
that use the territory's calls in proportion to their calls, by largest
remainder to the cent (a territory planned no calls keeps it on a row of its
own, ``(idle field force)``).

* cost = contacts x each channel's cost per contact + fixed field cost;
* gross margin = revenue x the country's ``gross_margin``;
* profit = gross margin - cost; ROI = profit / cost;
* revenue per call = revenue / face-to-face calls.
"""

from __future__ import annotations

from typing import Any

import attrs
import pyarrow as pa

from harmonia.strategy.plan import CallPlan

IDLE = "(idle field force)"
MONEY = ("contact_cost", "fixed_cost", "cost", "revenue", "gross_margin", "profit")


@attrs.frozen
class ProForma:
    """The pro forma of one plan: per segment, per territory and the portfolio (one row)."""

    segments: pa.Table
    territories: pa.Table
    portfolio: pa.Table
    channels: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "segments": _plain(self.segments),
            "territories": _plain(self.territories),
            "portfolio": _plain(self.portfolio)[0],
        }


def _plain(table: pa.Table) -> list[dict[str, Any]]:
    """Rows with amounts as numbers (DECIMAL becomes float: JSON has no decimals)."""
    from decimal import Decimal

    return [
        {key: float(value) if isinstance(value, Decimal) else value for key, value in row.items()}
        for row in table.to_pylist()
    ]


def pro_forma(connection: Any, plan: CallPlan) -> ProForma:
    """Aggregate ``plan`` in DuckDB (``connection``)."""
    connection.register("plan_goals", plan.goals)
    connection.register("plan_territories", plan.territories)
    try:
        connection.execute(_fixed_costs_sql(plan.channels))
        segments = connection.sql(
            _rows_sql(plan.channels, ["therapy_area", "segment"], "segment_order")
        ).to_arrow_table()
        territories = connection.sql(
            _rows_sql(plan.channels, ["territory"], "territory")
        ).to_arrow_table()
        portfolio = connection.sql(_rows_sql(plan.channels, [], "")).to_arrow_table()
    finally:
        connection.unregister("plan_goals")
        connection.unregister("plan_territories")
    return ProForma(segments, territories, portfolio, plan.channels)


def _fixed_costs_sql(channels: tuple[str, ...]) -> str:
    calls = "face_to_face" if "face_to_face" in channels else "0"
    return f"""
    CREATE OR REPLACE TEMP TABLE plan_fixed AS
    WITH calls AS (
        SELECT territory, therapy_area, segment, SUM({calls}) AS calls
        FROM plan_goals GROUP BY territory, therapy_area, segment
        HAVING SUM({calls}) > 0
    ),
    shared AS (
        SELECT c.*, t.fixed_cost, SUM(c.calls) OVER (PARTITION BY c.territory) AS total
        FROM calls c JOIN plan_territories t ON t.territory = c.territory
    ),
    based AS (
        SELECT *, (fixed_cost * calls) // total AS base, (fixed_cost * calls) % total AS rest
        FROM shared
    ),
    ranked AS (
        SELECT *, fixed_cost - SUM(base) OVER (PARTITION BY territory) AS leftover,
            ROW_NUMBER() OVER (PARTITION BY territory ORDER BY rest DESC, therapy_area, segment)
                AS position
        FROM based
    )
    SELECT territory, CAST(therapy_area AS VARCHAR) AS therapy_area,
        CAST(segment AS VARCHAR) AS segment,
        CAST(base + CASE WHEN position <= leftover THEN 1 ELSE 0 END AS BIGINT) AS fixed_cost
    FROM ranked
    UNION ALL
    SELECT territory, NULL, '{IDLE}', fixed_cost FROM plan_territories t
    WHERE fixed_cost > 0 AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.territory = t.territory)
    """


def _rows_sql(channels: tuple[str, ...], keys: list[str], order: str) -> str:
    """Pro forma rows grouped by ``keys`` (none: the portfolio)."""
    contact_sums = "".join(f"CAST(SUM({c}) AS BIGINT) AS {c}, " for c in channels)
    key_select = ", ".join(f"CAST({k} AS VARCHAR) AS {k}" for k in keys)
    group = f"GROUP BY {', '.join(keys)}" if keys else ""
    on = " AND ".join(f"f.{k} IS NOT DISTINCT FROM g.{k}" for k in keys) or "TRUE"
    outer_keys = ", ".join(f"COALESCE(g.{k}, f.{k}) AS {k}" for k in keys)
    calls = "g.face_to_face" if "face_to_face" in channels else "NULL"
    channel_columns = "".join(f"COALESCE(g.{c}, 0) AS {c}, " for c in channels)

    def money(cents: str) -> str:
        return f"CAST(CAST({cents} AS BIGINT) * 0.01 AS DECIMAL(18, 2))"

    ordering = {
        "segment_order": "ORDER BY therapy_area NULLS LAST, g.segment_rank NULLS LAST, segment",
        "territory": "ORDER BY territory",
        "": "",
    }[order]
    rank_select = ", MIN(segment_rank) AS segment_rank" if order == "segment_order" else ""
    fixed_keys = ", ".join(keys)
    fixed_group = f"GROUP BY {fixed_keys}" if keys else ""
    return f"""
    WITH g AS (
        SELECT {key_select + ", " if keys else ""}COUNT(*) AS customers, {contact_sums}
            CAST(SUM(contacts) AS BIGINT) AS contacts, SUM(cost) AS contact_cost,
            SUM(revenue) AS revenue, SUM(gross_margin) AS gross_margin{rank_select}
        FROM plan_goals {group}
    ),
    f AS (SELECT {fixed_keys + ", " if keys else ""}SUM(fixed_cost) AS fixed_cost FROM plan_fixed {fixed_group})
    SELECT {outer_keys + ", " if keys else ""}CAST(COALESCE(g.customers, 0) AS BIGINT) AS customers,
        {channel_columns}COALESCE(g.contacts, 0) AS contacts,
        {money("COALESCE(g.contact_cost, 0)")} AS contact_cost,
        {money("COALESCE(f.fixed_cost, 0)")} AS fixed_cost,
        {money("COALESCE(g.contact_cost, 0) + COALESCE(f.fixed_cost, 0)")} AS cost,
        {money("COALESCE(g.revenue, 0)")} AS revenue,
        {money("COALESCE(g.gross_margin, 0)")} AS gross_margin,
        {money("COALESCE(g.gross_margin, 0) - COALESCE(g.contact_cost, 0) - COALESCE(f.fixed_cost, 0)")}
            AS profit,
        CAST((COALESCE(g.gross_margin, 0) - COALESCE(g.contact_cost, 0) - COALESCE(f.fixed_cost, 0))
            / NULLIF(COALESCE(g.contact_cost, 0) + COALESCE(f.fixed_cost, 0), 0) AS DOUBLE) AS roi,
        CAST(g.revenue / 100.0 / NULLIF({calls}, 0) AS DOUBLE) AS revenue_per_call
    FROM g FULL OUTER JOIN f ON {on}
    {ordering}
    """
