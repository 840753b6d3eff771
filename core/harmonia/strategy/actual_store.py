"""Actuals the store holds: the metrics of delivered contacts and sales.

Actual activity and sales are metrics (see
:data:`~harmonia.definitions.strategy.ACTUAL_CONTACT_METRICS` and
:data:`~harmonia.definitions.strategy.ACTUAL_SALES_METRIC`), loaded with
``harmonia load`` like any other: the loader quarantines rows of unknown
customers and periods that cannot be data, and every load is a batch. A plan
is compared with those of its therapy areas whose period lies within the
plan's, for the customers it plans in each area (a merged customer's under
their survivor, as a cycle reads metrics); metrics of other customers are
simply not this plan's.

This module turns them into the tables :func:`~harmonia.strategy.actuals.compare`
takes, so stored actuals and files are compared in the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

from harmonia.definitions.strategy import ACTUAL_CONTACT_METRICS, ACTUAL_SALES_METRIC
from harmonia.sql import literal, text_list
from harmonia.strategy.universe import resolve_merged

if TYPE_CHECKING:
    from harmonia.store.database import Database
    from harmonia.strategy.universe import PlannedCycle


def stored_actuals(
    database: Database, cycles: Sequence[PlannedCycle], goals: pa.Table
) -> tuple[pa.Table, pa.Table]:
    """``(activity, sales)`` of the plan's customers in its period, from the stored metrics.

    Activity has one row per customer, therapy area, channel and metric period
    (dated the period's first day); sales one row per customer, area and period.
    The area keeps a customer's two plans (two areas) apart.
    """
    from harmonia.compute import duckdb_connection
    from harmonia.store.bulk import BulkConnection
    from harmonia.store.facts import facts_of

    period = cycles[0].spec.period
    areas = text_list([c.spec.therapy_area for c in cycles])
    names = text_list([*ACTUAL_CONTACT_METRICS.values(), ACTUAL_SALES_METRIC])
    with BulkConnection(database, write=False) as bulk:
        metrics = facts_of(database).read(
            bulk,
            "SELECT customer_id, therapy_area, metric, period, first_month, value FROM metric "
            f"WHERE therapy_area IN ({areas}) AND metric IN ({names}) "
            f"AND first_month >= {period.first_month} AND last_month <= {period.last_month}",
        )
    # Loaded under a merged id, they count for the survivor the plan holds.
    metrics = resolve_merged(database, metrics, ("therapy_area", "metric", "period"))
    channels = " ".join(
        f"WHEN {literal(metric)} THEN {literal(channel)}"
        for channel, metric in ACTUAL_CONTACT_METRICS.items()
    )
    connection = duckdb_connection()
    try:
        connection.register("stored_metrics", metrics)
        connection.register("plan_goals", goals.select(["customer_id", "therapy_area"]))
        # Typed whatever the store returned (an empty SQLite read has no types).
        connection.execute(
            "CREATE TEMP TABLE planned_metrics AS SELECT CAST(m.customer_id AS BIGINT) AS "
            "customer_id, CAST(m.therapy_area AS VARCHAR) AS therapy_area, "
            "CAST(m.metric AS VARCHAR) AS metric, CAST(m.period AS VARCHAR) AS "
            "period, CAST(m.first_month AS BIGINT) AS first_month, CAST(m.value AS DOUBLE) AS "
            "value FROM stored_metrics m WHERE EXISTS (SELECT 1 FROM plan_goals g "
            "WHERE g.customer_id = CAST(m.customer_id AS BIGINT) "
            "AND CAST(g.therapy_area AS VARCHAR) = CAST(m.therapy_area AS VARCHAR))"
        )
        activity = connection.sql(
            f"SELECT customer_id, therapy_area, CASE metric {channels} END AS channel, "
            "strftime(make_date(CAST(first_month // 12 AS INTEGER), "
            "CAST(first_month % 12 + 1 AS INTEGER), 1), '%Y-%m-%d') AS date, "
            "CAST(round(value) AS BIGINT) AS contacts "
            f"FROM planned_metrics WHERE metric <> {literal(ACTUAL_SALES_METRIC)} "
            "ORDER BY customer_id, first_month, channel"
        ).to_arrow_table()
        sales = connection.sql(
            "SELECT customer_id, therapy_area, CAST(NULL AS VARCHAR) AS territory, period, value "
            f"FROM planned_metrics WHERE metric = {literal(ACTUAL_SALES_METRIC)} "
            "ORDER BY customer_id, first_month"
        ).to_arrow_table()
    finally:
        connection.close()
    return activity, sales


def with_stored(
    database: Database,
    cycles: Sequence[PlannedCycle],
    goals: pa.Table,
    activity: pa.Table | None,
    sales: pa.Table | None,
) -> tuple[pa.Table, pa.Table]:
    """``activity`` and ``sales`` as given (read from files), the stored actuals for
    either that is None."""
    if activity is not None and sales is not None:
        return activity, sales
    stored = stored_actuals(database, cycles, goals)
    return (stored[0] if activity is None else activity, stored[1] if sales is None else sales)
