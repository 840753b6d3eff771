"""Actuals against the pro forma: what the field delivered and what it sold.

Two inputs, as Arrow tables keyed by harmonia customer ids (the loader maps
source ids through the crosswalk):

* **activity**: ``customer_id, channel, date, contacts`` (contacts delivered);
* **sales**: ``customer_id`` *or* ``territory``, ``period``, ``value`` (revenue
  in the pro forma's currency, for a customer or a whole territory).

Either may name the ``therapy_area`` of each row (stored actuals do): a
customer planned in two areas then has each area's actuals compared with
that area's plan. A row without one is compared with its customer's only
plan; for a customer planned in several areas it is rejected (it would count
for each), so every actual counts once and the rows add up.

Rows that cannot be compared with the plan are not dropped: each comes back
with its reasons (a customer the plan does not hold, a date or period
outside the plan's period, an unknown channel or territory, a value that is
not a number of 0 or more), for the quarantine.

Compared per segment and per territory: planned and delivered contacts
(attainment), planned revenue and actual sales (variance), and the response
actually observed: across the customers of a segment, the slope of their
sales on the face-to-face calls they got (revenue per extra call) and how
much of the variation calls explain (R²), next to the plan's revenue per call;
empty where the customers with sales all got the same number of calls.
"""

from __future__ import annotations

from typing import Any

import attrs
import pyarrow as pa

from harmonia.definitions.strategy import CHANNELS
from harmonia.periods import Period
from harmonia.sql import literal

ACTIVITY_COLUMNS = ("customer_id", "channel", "date", "contacts")
SALES_COLUMNS = ("customer_id", "territory", "period", "value")


@attrs.frozen
class Actuals:
    """Attainment and variance per segment and territory, observed response, rejects."""

    segments: pa.Table
    territories: pa.Table
    response: pa.Table
    #: Rows that could not be compared: the input row's number, kind and reasons.
    rejected: pa.Table


def compare(
    connection: Any, goals: pa.Table, period: Period, activity: pa.Table, sales: pa.Table
) -> Actuals:
    """Compare actual ``activity`` and ``sales`` with a plan's ``goals`` for ``period``."""
    connection.register("actual_goals", goals)
    connection.register("actual_activity_in", _with_optional(activity))
    connection.register("actual_sales_in", _with_optional(sales))
    try:
        connection.execute(_checked_sql(period))
        return Actuals(
            connection.sql(_by_sql(["therapy_area", "segment"], goals)).to_arrow_table(),
            connection.sql(_by_sql(["territory"], goals)).to_arrow_table(),
            connection.sql(_response_sql(goals)).to_arrow_table(),
            connection.sql(
                "SELECT kind, row_number, reasons FROM actual_rejects ORDER BY kind, row_number"
            ).to_arrow_table(),
        )
    finally:
        for name in ("actual_goals", "actual_activity_in", "actual_sales_in"):
            connection.unregister(name)


def _with_optional(table: pa.Table) -> pa.Table:
    """``table`` with the optional columns it lacks, empty: ``source_id`` (a file's
    customer id) and ``therapy_area`` (which of a customer's plans a row is for)."""
    for column in ("source_id", "therapy_area"):
        if column not in table.column_names:
            table = table.append_column(column, pa.nulls(table.num_rows, pa.string()))
    return table


def _checked_sql(period: Period) -> str:
    first = period.start.isoformat()
    after = period.end.isoformat()  # the first day after the period
    channels = ", ".join(literal(c) for c in CHANNELS)
    # Sales periods are checked in SQL by their month range: a sales period
    # is inside the plan's when its months are.
    return f"""
    CREATE OR REPLACE TEMP TABLE planned_areas AS
    SELECT customer_id, list(DISTINCT CAST(therapy_area AS VARCHAR)
        ORDER BY CAST(therapy_area AS VARCHAR)) AS areas
    FROM actual_goals GROUP BY customer_id;

    CREATE OR REPLACE TEMP TABLE actual_activity_checked AS
    SELECT a.*,
        list_filter([
            {_customer_reasons("a")},
            CASE WHEN a.channel IS NULL OR a.channel NOT IN ({channels})
                THEN 'channel ' || COALESCE(a.channel, '(none)') || ' is not one of {", ".join(CHANNELS)}' END,
            CASE WHEN TRY_CAST(a.date AS DATE) IS NULL THEN 'date ' || COALESCE(a.date, '(none)') || ' is not a date (YYYY-MM-DD)'
                WHEN CAST(a.date AS DATE) < DATE '{first}' OR CAST(a.date AS DATE) >= DATE '{after}'
                THEN 'date ' || a.date || ' is outside the plan''s period {period}' END,
            CASE WHEN a.contacts IS NULL OR a.contacts < 0 THEN 'contacts must be a number of 0 or more' END
        ], lambda x: x IS NOT NULL) AS reasons
    -- Rows are numbered as the input has them (a file's line), before any join.
    FROM (SELECT ROW_NUMBER() OVER () + 1 AS row_number, * FROM actual_activity_in) a
    LEFT JOIN planned_areas g ON g.customer_id = a.customer_id;

    CREATE OR REPLACE TEMP TABLE actual_sales_checked AS
    SELECT s.*,
        list_filter([
            CASE WHEN s.customer_id IS NULL AND s.source_id IS NULL AND s.territory IS NULL
                THEN 'give a customer or a territory' END,
            {_customer_reasons("s", optional=True)},
            CASE WHEN s.customer_id IS NULL AND s.source_id IS NULL AND s.territory IS NOT NULL
                AND t.territory IS NULL
                THEN 'territory ' || s.territory || ' is not in the plan' END,
            CASE WHEN s.period_first IS NULL THEN 'period ' || COALESCE(s.period, '(none)') || ' is not a period (2027, 2027-H1, 2027-Q3, 2027-05)'
                WHEN s.period_first < {period.first_month} OR s.period_last > {period.last_month}
                THEN 'period ' || s.period || ' is outside the plan''s period {period}' END,
            CASE WHEN s.value IS NULL OR s.value < 0 THEN 'value must be a number of 0 or more' END
        ], lambda x: x IS NOT NULL) AS reasons
    FROM (SELECT *, {_period_months("period", "first")} AS period_first,
            {_period_months("period", "last")} AS period_last,
            ROW_NUMBER() OVER () + 1 AS row_number FROM actual_sales_in) s
    LEFT JOIN planned_areas g ON g.customer_id = s.customer_id
    LEFT JOIN (SELECT DISTINCT territory FROM actual_goals) t ON t.territory = s.territory;

    CREATE OR REPLACE TEMP TABLE actual_rejects AS
    SELECT 'activity' AS kind, row_number, reasons FROM actual_activity_checked WHERE len(reasons) > 0
    UNION ALL
    SELECT 'sales', row_number, reasons FROM actual_sales_checked WHERE len(reasons) > 0;

    CREATE OR REPLACE TEMP TABLE actual_customers AS
    SELECT g.*, COALESCE(a.calls, 0) AS actual_calls, COALESCE(a.contacts, 0) AS actual_contacts,
        s.sales AS actual_sales
    FROM actual_goals g
    LEFT JOIN (
        SELECT g.customer_id, CAST(g.therapy_area AS VARCHAR) AS therapy_area,
            SUM(CASE WHEN a.channel = 'face_to_face' THEN a.contacts ELSE 0 END) AS calls,
            SUM(a.contacts) AS contacts
        FROM actual_goals g JOIN actual_activity_checked a ON {_same_plan("a")}
        WHERE len(a.reasons) = 0 GROUP BY 1, 2
    ) a ON a.customer_id = g.customer_id AND a.therapy_area = CAST(g.therapy_area AS VARCHAR)
    LEFT JOIN (
        SELECT g.customer_id, CAST(g.therapy_area AS VARCHAR) AS therapy_area,
            SUM(s.value) AS sales
        FROM actual_goals g JOIN actual_sales_checked s ON {_same_plan("s")}
        WHERE len(s.reasons) = 0 GROUP BY 1, 2
    ) s ON s.customer_id = g.customer_id AND s.therapy_area = CAST(g.therapy_area AS VARCHAR);
    """


def _same_plan(alias: str) -> str:
    """SQL: an actual row belongs to a plan row: same customer, and same therapy area
    where the row names one (stored actuals do; a file's rows count for every area of
    their customer)."""
    return (
        f"{alias}.customer_id = g.customer_id AND ({alias}.therapy_area IS NULL "
        f"OR {alias}.therapy_area = CAST(g.therapy_area AS VARCHAR))"
    )


def _customer_reasons(alias: str, *, optional: bool = False) -> str:
    """SQL list items: the row's customer is missing, unknown, or not in the plan.

    A row names its customer by harmonia id (``customer_id``) or, read from a
    file, by the source's id (``source_id``) that the crosswalk may not know.
    """
    source = f"{alias}.source_id"
    missing = (
        "NULL"
        if optional
        else (f"CASE WHEN {alias}.customer_id IS NULL AND {source} IS NULL THEN 'no customer' END")
    )
    return f"""{missing},
            CASE WHEN {alias}.customer_id IS NULL AND {source} IS NOT NULL
                THEN 'customer ' || {source} || ' is not a known customer' END,
            CASE WHEN {alias}.customer_id IS NOT NULL AND g.customer_id IS NULL
                THEN 'customer ' || COALESCE({source}, CAST({alias}.customer_id AS VARCHAR))
                    || ' is not in the plan' END,
            CASE WHEN g.customer_id IS NOT NULL AND {alias}.therapy_area IS NULL
                AND len(g.areas) > 1
                THEN 'customer ' || COALESCE({source}, CAST({alias}.customer_id AS VARCHAR))
                    || ' is planned in ' || array_to_string(g.areas, ' and ')
                    || ': give the row its therapy_area (it would count for both)' END,
            CASE WHEN g.customer_id IS NOT NULL AND {alias}.therapy_area IS NOT NULL
                AND NOT list_contains(g.areas, {alias}.therapy_area)
                THEN 'customer ' || COALESCE({source}, CAST({alias}.customer_id AS VARCHAR))
                    || ' is not planned in ' || {alias}.therapy_area END"""


def _period_months(column: str, end: str) -> str:
    """SQL: the first or last month ordinal of a period text, NULL if it is not one.

    Mirrors :mod:`harmonia.periods` (ordinal = year x 12 + month - 1).
    """
    year = f"TRY_CAST(substr({column}, 1, 4) AS INTEGER)"
    rest = f"substr({column}, 6)"
    first = (
        f"CASE WHEN regexp_full_match({column}, '\\d{{4}}') THEN {year} * 12 "
        f"WHEN regexp_full_match({column}, '\\d{{4}}-H[12]') THEN {year} * 12 + (TRY_CAST(substr({rest}, 2) AS INTEGER) - 1) * 6 "
        f"WHEN regexp_full_match({column}, '\\d{{4}}-Q[1-4]') THEN {year} * 12 + (TRY_CAST(substr({rest}, 2) AS INTEGER) - 1) * 3 "
        f"WHEN regexp_full_match({column}, '\\d{{4}}-(0[1-9]|1[0-2])') THEN {year} * 12 + TRY_CAST({rest} AS INTEGER) - 1 END"
    )
    if end == "first":
        return f"({first})"
    months = (
        f"CASE WHEN regexp_full_match({column}, '\\d{{4}}') THEN 12 "
        f"WHEN regexp_full_match({column}, '\\d{{4}}-H[12]') THEN 6 "
        f"WHEN regexp_full_match({column}, '\\d{{4}}-Q[1-4]') THEN 3 ELSE 1 END"
    )
    return f"(({first}) + ({months}) - 1)"


def _by_sql(keys: list[str], goals: pa.Table) -> str:
    group = ", ".join(keys)
    planned_calls = "SUM(face_to_face)" if "face_to_face" in goals.column_names else "0"
    territory_sales = ""
    if keys == ["territory"]:
        territory_sales = """
        LEFT JOIN (SELECT territory, SUM(value) AS sales FROM actual_sales_checked
            WHERE len(reasons) = 0 AND customer_id IS NULL GROUP BY territory) ts
            ON ts.territory = c.territory"""
    sales = "COALESCE(c.sales, 0) + COALESCE(ts.sales, 0)" if territory_sales else "c.sales"
    order = "ORDER BY c.therapy_area, MIN(c.rank)" if "segment" in keys else "ORDER BY c.territory"
    grouping = ", ".join(f"c.{k}" for k in keys) + (", ts.sales" if territory_sales else "")
    return f"""
    WITH c AS (
        SELECT {group}, MIN(segment_rank) AS rank, COUNT(*) AS customers,
            {planned_calls} AS planned_calls, SUM(contacts) AS planned_contacts,
            SUM(actual_calls) AS actual_calls, SUM(actual_contacts) AS actual_contacts,
            SUM(revenue) / 100.0 AS planned_revenue, SUM(actual_sales) AS sales
        FROM actual_customers GROUP BY {group}
    )
    SELECT {", ".join(f"CAST(c.{k} AS VARCHAR) AS {k}" for k in keys)},
        CAST(MIN(c.customers) AS BIGINT) AS customers,
        CAST(MIN(c.planned_calls) AS BIGINT) AS planned_calls,
        CAST(MIN(c.actual_calls) AS BIGINT) AS actual_calls,
        100.0 * MIN(c.actual_calls) / NULLIF(MIN(c.planned_calls), 0) AS call_attainment,
        CAST(MIN(c.planned_contacts) AS BIGINT) AS planned_contacts,
        CAST(MIN(c.actual_contacts) AS BIGINT) AS actual_contacts,
        100.0 * MIN(c.actual_contacts) / NULLIF(MIN(c.planned_contacts), 0) AS contact_attainment,
        MIN(c.planned_revenue) AS planned_revenue,
        MIN({sales}) AS actual_sales,
        MIN({sales}) - MIN(c.planned_revenue) AS variance,
        100.0 * (MIN({sales}) - MIN(c.planned_revenue)) / NULLIF(MIN(c.planned_revenue), 0)
            AS variance_percent
    FROM c{territory_sales}
    GROUP BY {grouping}
    {order}
    """


def _response_sql(goals: pa.Table) -> str:
    calls = "face_to_face" if "face_to_face" in goals.column_names else "NULL"
    return f"""
    SELECT CAST(therapy_area AS VARCHAR) AS therapy_area, CAST(segment AS VARCHAR) AS segment,
        CAST(COUNT(actual_sales) AS BIGINT) AS customers_with_sales,
        AVG(actual_calls) AS mean_calls,
        CASE WHEN REGR_SXX(actual_sales, actual_calls) > 0
            THEN REGR_SLOPE(actual_sales, actual_calls) END AS observed_revenue_per_call,
        CASE WHEN REGR_SXX(actual_sales, actual_calls) > 0
            THEN REGR_R2(actual_sales, actual_calls) END AS r_squared,
        SUM(revenue) / 100.0 / NULLIF(SUM({calls}), 0) AS planned_revenue_per_call
    FROM actual_customers
    GROUP BY therapy_area, segment
    ORDER BY therapy_area, MIN(segment_rank)
    """
