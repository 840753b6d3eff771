"""A completed cycle as the strategy sees it: its spec, customers and measures.

The spec comes from the cycle's own snapshot (the rule set, strategies and
country profile it ran with), so a plan made next month still plans the
cycle that was run. The data (assignments, territories and the metrics that
size the opportunity) are read from the store in bulk into DuckDB, where
every later step works on them as tables.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs
import pyarrow as pa

from harmonia import lifecycle
from harmonia.definitions import CountryProfile, EngagementStrategy, RuleSet, structure
from harmonia.engine.spec import CycleSpec
from harmonia.errors import ConfigError, NotFoundError
from harmonia.periods import Period
from harmonia.questionnaires import Questionnaire
from harmonia.sql import literal

if TYPE_CHECKING:
    from harmonia.plugin.catalog import Catalog as Plugins
    from harmonia.store.database import Database
    from harmonia.store.models import Cycle


@attrs.frozen
class Measures:
    """Which stored metrics size the opportunity.

    ``potential`` is taken from the latest period ending by the cycle's end;
    ``sales`` and ``activity`` (calls made) are summed over the cycle's period.
    """

    potential: str = "potential"
    sales: str = "trx"
    activity: str = "calls"


@attrs.frozen
class PlannedCycle:
    """A completed cycle and the spec it ran with."""

    cycle: Cycle
    spec: CycleSpec

    @property
    def provisional(self) -> bool:
        """Whether its segments may still change: not yet published."""
        return self.cycle.status != lifecycle.PUBLISHED

    @property
    def id(self) -> int:
        assert self.cycle.id is not None
        return self.cycle.id


def planned_cycles(
    database: Database,
    plugins: Plugins,
    cycle_ids: Sequence[int],
    *,
    questionnaires: bool = False,
    superseded: bool = False,
) -> list[PlannedCycle]:
    """The completed cycles to plan together: one market and period, one per therapy area.

    A cycle is planned from the moment its run completed (``draft``): before
    it is published its segments may still change in field refinement, which
    :attr:`PlannedCycle.provisional` says. A failed cycle has no result and a
    superseded one was replaced: both are refused, naming what to plan instead.
    ``superseded`` admits superseded cycles too, to read a plan saved before
    they were replaced (their result stays stored).

    Their specs hold the questionnaires only when asked (to segment a cycle
    again): planning does not score, and structuring them takes time.
    """
    from harmonia.engine.cycle import get_cycle

    cycles = [get_cycle(database, cycle_id) for cycle_id in dict.fromkeys(cycle_ids)]
    for cycle in cycles:
        if cycle.status in lifecycle.COMPLETED:
            continue
        if cycle.status == lifecycle.SUPERSEDED and superseded:
            continue
        _refuse(database, cycle)
    markets = {(c.country, c.period) for c in cycles}
    areas = [c.therapy_area for c in cycles]
    if len(markets) > 1 or len(set(areas)) < len(areas):
        raise ConfigError(
            "cycles planned together share one field force: they must be of one country "
            "and period, one per therapy area; got "
            + ", ".join(f"{c.id} ({c.country} {c.therapy_area} {c.period})" for c in cycles),
            fix="name one cycle per therapy area of the same country and period",
        )
    return [PlannedCycle(cycle, cycle_spec(cycle, plugins, questionnaires)) for cycle in cycles]


def usable_cycle(database: Database, country: str, therapy_area: str, period: str) -> Cycle | None:
    """The cycle a plan of the scope should use: the published one, else the latest whose
    run completed (a draft or a cycle in refinement), else None."""
    from sqlmodel import select

    from harmonia.store.models import Cycle as CycleRecord

    with database.session() as session:
        cycles = session.exec(
            select(CycleRecord).where(
                CycleRecord.country == country,
                CycleRecord.therapy_area == therapy_area,
                CycleRecord.period == period,
                CycleRecord.status.in_(lifecycle.COMPLETED),  # type: ignore[attr-defined]
            )
        ).all()
    return max(cycles, key=lambda c: (c.status == lifecycle.PUBLISHED, c.id or 0), default=None)


def _refuse(database: Database, cycle: Cycle) -> None:
    """A cycle that cannot be planned: say why, and which cycle to plan instead."""
    scope = f"{cycle.country} {cycle.therapy_area} {cycle.period}"
    instead = usable_cycle(database, cycle.country, cycle.therapy_area, cycle.period)
    if instead is not None and instead.id != cycle.id:
        fix = f"plan cycle {instead.id} ({instead.status}), the usable cycle of {scope}"
    else:
        fix = f"run the cycle again (harmonia cycle run -c {cycle.country} -t "
        fix += f"{cycle.therapy_area} -p {cycle.period}) and plan the new one"
    why = {
        lifecycle.SUPERSEDED: "a newer cycle of its scope replaced it",
        lifecycle.FAILED: "its run failed, so it has no result",
        lifecycle.RUNNING: "its run has not finished",
    }.get(cycle.status, "it has no usable result")
    raise ConfigError(
        f"cycle {cycle.id} is {cycle.status}: {why}; only a cycle whose run completed "
        f"({', '.join(lifecycle.COMPLETED)}) can be planned",
        where=f"cycle {cycle.id} ({scope})",
        fix=fix,
    )


def cycle_spec(cycle: Cycle, plugins: Plugins, questionnaires: bool = True) -> CycleSpec:
    """The spec a cycle ran with, rebuilt from its snapshot.

    Parameters are those the cycle resolved; one it did not know yet (a cycle
    run before the parameter existed) takes today's catalogue default.
    """
    snapshot = json.loads(cycle.snapshot)
    where = f"cycle {cycle.id} snapshot"
    if "rule_set" not in snapshot:
        raise NotFoundError(f"cycle {cycle.id} has no configuration snapshot", where=where)
    country = structure(snapshot["country"], CountryProfile, where=where)
    # The parameters the cycle resolved (the catalogue's defaults of its day included).
    parameters = {**snapshot.get("parameters", {}), **country.parameters}
    return CycleSpec(
        country=attrs.evolve(country, parameters=parameters),
        therapy_area=snapshot["therapy_area"],
        period=Period.parse(snapshot["period"]),
        rule_set=structure(snapshot["rule_set"], RuleSet, where=where),
        questionnaires={
            qid: [structure(version, Questionnaire, where=where) for version in versions]
            for qid, versions in snapshot.get("questionnaires", {}).items()
        }
        if questionnaires
        else {},
        strategies={
            segment: structure(data, EngagementStrategy, where=where)
            for segment, data in snapshot.get("strategies", {}).items()
        },
        catalogue=plugins.option_catalogue,
        packs=snapshot.get("packs", {}),
    )


def stored_assignments(database: Database, cycles: Sequence[PlannedCycle]) -> pa.Table:
    """The cycles' assignments with each customer's territory: cycle_id, therapy_area,
    customer_id, territory, segment (the final segment).

    A customer's territory is the alignment's for the cycles' period, else the
    one their customer record carries (as field refinement freezes it).
    """
    from harmonia.store.bulk import BulkConnection
    from harmonia.store.fieldforce import aligned_territory_sql

    ids = ", ".join(str(c.id) for c in cycles)
    areas = " ".join(f"WHEN {c.id} THEN {literal(c.spec.therapy_area)}" for c in cycles)
    aligned = aligned_territory_sql(cycles[0].spec.period)
    with BulkConnection(database, write=False) as bulk:
        return bulk.read(
            f"SELECT a.cycle_id, CASE a.cycle_id {areas} END AS therapy_area, a.customer_id, "
            "COALESCE(al.territory, c.territory) AS territory, a.final_segment AS segment "
            f"FROM assignment a JOIN customer c ON c.id = a.customer_id "
            f"LEFT JOIN ({aligned}) al ON al.customer_id = a.customer_id "
            f"WHERE a.cycle_id IN ({ids})"
        )


def stored_measures(
    database: Database, cycles: Sequence[PlannedCycle], measures: Measures = Measures()
) -> pa.Table:
    """The metric rows the measures read, for the cycles' areas, up to each cycle's end."""
    from harmonia.store.bulk import BulkConnection
    from harmonia.store.facts import facts_of

    with BulkConnection(database, write=False) as bulk:
        metrics = facts_of(database).read(bulk, _metrics_sql(cycles, measures))
    return resolve_merged(
        database, metrics, ("therapy_area", "metric", "first_month", "last_month")
    )


def resolve_merged(database: Database, facts: pa.Table, key: Sequence[str]) -> pa.Table:
    """``facts`` (rows with a ``customer_id``) as the cycle reads them: a merged
    customer's rows count under their survivor, except where the survivor holds a
    row of the same ``key`` (:func:`harmonia.store.identity.resolved_facts`)."""
    from harmonia.compute import duckdb_connection
    from harmonia.store.bulk import BulkConnection
    from harmonia.store.identity import resolved_facts

    with BulkConnection(database, write=False) as bulk:
        redirects = bulk.read("SELECT merged_id, survivor_id FROM customer_redirect")
    if not redirects.num_rows or not facts.num_rows:
        return facts
    connection = duckdb_connection()
    try:
        connection.register("facts_in", facts)
        connection.register("customer_redirect", redirects)
        columns = [c for c in facts.column_names if c != "customer_id"]
        return connection.sql(
            f"SELECT * FROM {resolved_facts('facts_in', columns, key)}"
        ).to_arrow_table()
    finally:
        connection.close()


def build_units(
    connection: Any,
    cycles: Sequence[PlannedCycle],
    assignments: pa.Table,
    metrics: pa.Table,
    measures: Measures = Measures(),
) -> None:
    """Create ``plan_units`` (and ``plan_windows``) in DuckDB: one row per customer and
    cycle (therapy area).

    Columns: cycle_id, therapy_area, customer_id, territory, segment,
    potential, sales, activity and ``weight`` (potential relative to the
    segment's average in its area; 1 without potential).
    """
    register_windows(connection, cycles)
    connection.register("incoming_assignments", assignments)
    connection.register("incoming_metrics", metrics)
    try:
        connection.execute(_units_sql(measures))
    finally:
        connection.unregister("incoming_assignments")
        connection.unregister("incoming_metrics")


def _metrics_sql(cycles: Sequence[PlannedCycle], measures: Measures) -> str:
    """The potential up to each cycle's end, sales and activity within its period only."""
    summed = ", ".join(literal(n) for n in (measures.sales, measures.activity))
    windows = " OR ".join(
        f"(therapy_area = {literal(c.spec.therapy_area)} AND last_month <= {c.spec.period.last_month} "
        f"AND (metric = {literal(measures.potential)} OR (metric IN ({summed}) "
        f"AND first_month >= {c.spec.period.first_month})))"
        for c in cycles
    )
    return (
        "SELECT therapy_area, metric, customer_id, first_month, last_month, value FROM metric "
        f"WHERE {windows}"
    )


def _units_sql(measures: Measures) -> str:
    # Sales and activity are summed over each area's own period (plan_windows).
    return f"""
    CREATE OR REPLACE TABLE plan_units AS
    WITH latest AS (
        SELECT therapy_area, customer_id, value FROM (
            SELECT therapy_area, customer_id, value, ROW_NUMBER() OVER (
                PARTITION BY therapy_area, customer_id
                ORDER BY last_month DESC, first_month ASC) AS rn
            FROM incoming_metrics WHERE metric = {literal(measures.potential)}) x
        WHERE rn = 1
    ),
    summed AS (
        SELECT m.therapy_area, m.customer_id,
            SUM(CASE WHEN m.metric = {literal(measures.sales)} THEN m.value END) AS sales,
            SUM(CASE WHEN m.metric = {literal(measures.activity)} THEN m.value END) AS activity
        FROM incoming_metrics m JOIN plan_windows w ON w.therapy_area = m.therapy_area
        WHERE m.first_month >= w.first_month AND m.last_month <= w.last_month
        GROUP BY m.therapy_area, m.customer_id
    )
    SELECT a.cycle_id, a.therapy_area, CAST(a.customer_id AS BIGINT) AS customer_id,
        COALESCE(a.territory, '(none)') AS territory, a.segment,
        l.value AS potential, COALESCE(s.sales, 0) AS sales, COALESCE(s.activity, 0) AS activity,
        COALESCE(l.value / NULLIF(AVG(l.value) OVER (PARTITION BY a.therapy_area, a.segment), 0), 1.0)
            AS weight
    FROM incoming_assignments a
    LEFT JOIN latest l ON l.therapy_area = a.therapy_area AND l.customer_id = a.customer_id
    LEFT JOIN summed s ON s.therapy_area = a.therapy_area AND s.customer_id = a.customer_id
    ORDER BY a.therapy_area, a.customer_id
    """


def register_windows(connection: Any, cycles: Sequence[PlannedCycle]) -> None:
    """``plan_windows``: each area's period as month ordinals."""
    rows = " UNION ALL ".join(
        f"SELECT {literal(c.spec.therapy_area)} AS therapy_area, "
        f"{c.spec.period.first_month} AS first_month, {c.spec.period.last_month} AS last_month"
        for c in cycles
    )
    connection.execute(f"CREATE OR REPLACE TABLE plan_windows AS {rows}")


def open_universe(
    database: Database, cycles: Sequence[PlannedCycle], measures: Measures = Measures()
) -> Any:
    """A DuckDB connection holding ``plan_units`` for ``cycles``, read from the store."""
    from harmonia.compute import duckdb_connection

    connection = duckdb_connection()
    build_units(
        connection,
        cycles,
        stored_assignments(database, cycles),
        stored_measures(database, cycles, measures),
        measures,
    )
    return connection
