"""The strategy's operations over the store, click-free: what the CLI (and later
``harmonia.app``) calls.

Each opens a DuckDB connection holding the cycles' universe
(:func:`~harmonia.strategy.universe.open_universe`), computes, and returns
results as Arrow tables and records.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pyarrow as pa

from harmonia.definitions.strategy import CHANNELS
from harmonia.strategy.actuals import Actuals, compare
from harmonia.strategy.capacity import Capacity, FieldForce, read_field_force
from harmonia.strategy.opportunity import opportunity
from harmonia.strategy.plan import CallPlan, make_plan
from harmonia.strategy.proforma import ProForma, pro_forma
from harmonia.strategy.universe import Measures, PlannedCycle, open_universe, planned_cycles

if TYPE_CHECKING:
    from harmonia.plugin.catalog import Catalog as Plugins
    from harmonia.store.database import Database

Stage = Callable[[str], None]


@attrs.frozen
class Indices:
    """Opportunity indices of cycles: per segment and per territory x segment."""

    cycles: list[PlannedCycle]
    segments: pa.Table
    territories: pa.Table


def opportunity_indices(
    database: Database,
    plugins: Plugins,
    cycle_ids: Sequence[int],
    measures: Measures = Measures(),
) -> Indices:
    cycles = planned_cycles(database, plugins, cycle_ids)
    connection = open_universe(database, cycles, measures)
    try:
        return Indices(
            cycles,
            opportunity(connection, cycles, by_territory=False),
            opportunity(connection, cycles, by_territory=True),
        )
    finally:
        connection.close()


@attrs.frozen
class PlanResult:
    """A plan, its pro forma, and where it was saved."""

    cycles: list[PlannedCycle]
    capacity: Capacity
    plan: CallPlan
    pro_forma: ProForma
    seconds: float
    plan_id: int | None = None

    @property
    def notes(self) -> list[str]:
        """What to know before acting on the plan: cycles not yet published."""
        return [
            f"cycle {c.id} is {c.cycle.status}, not yet published: its segments may still "
            "change in field refinement; plan it again once it is published"
            for c in self.cycles
            if c.provisional
        ]


def field_force(
    database: Database, cycles: Sequence[PlannedCycle], path: Path | None
) -> FieldForce:
    """Reps per territory: from ``path`` if given, else the stored roster's reps on the
    country's territories; a territory neither lists takes the country's
    ``reps_per_territory``."""
    from harmonia.store.fieldforce import reps_per_territory

    default = cycles[0].spec.parameter("reps_per_territory")
    if path is not None:
        return read_field_force(path, default)
    country = cycles[0].spec.country.code
    roster = reps_per_territory(database, country)
    if roster:
        reps = sum(roster.values())
        source = f"the roster of {country} ({reps:g} reps on {len(roster)} territories)"
        return FieldForce(roster, default, source=source)
    return FieldForce({}, default)


def plan_cycles(
    database: Database,
    plugins: Plugins,
    cycle_ids: Sequence[int],
    *,
    capacity_file: Path | None = None,
    budgets: dict[str, float] | None = None,
    capacity: Capacity | None = None,
    save: bool = True,
    actor: str = "",
    on_stage: Stage | None = None,
) -> PlanResult:
    """Plan the cycles' customers within capacity; save the plan unless ``save`` is false.

    The capacity is ``capacity``, or the field force of ``capacity_file`` (default:
    the country's reps per territory) with ``budgets``.
    """
    stage = on_stage or (lambda _: None)
    started = time.perf_counter()
    stage("reading the cycles")
    cycles = planned_cycles(database, plugins, cycle_ids)
    if capacity is None:
        capacity = Capacity(field_force(database, cycles, capacity_file), budgets or {})
    connection = open_universe(database, cycles)
    try:
        stage("allocating contacts")
        plan = make_plan(connection, cycles, capacity)
        stage("pro forma")
        forma = pro_forma(connection, plan)
    finally:
        connection.close()
    plan_id = None
    if save:
        stage("saving the plan")
        plan_id = save_plan(database, cycles, capacity, plan, forma, actor)
    return PlanResult(cycles, capacity, plan, forma, time.perf_counter() - started, plan_id)


def save_plan(
    database: Database,
    cycles: Sequence[PlannedCycle],
    capacity: Capacity,
    plan: CallPlan,
    forma: ProForma,
    actor: str,
) -> int:
    """Record the plan and its goals, both or neither; returns its id."""
    from harmonia.store.bulk import BulkConnection
    from harmonia.store.models import StrategyPlan

    spec = cycles[0].spec
    with database.session() as session:
        record = StrategyPlan(
            country=spec.country.code,
            period=str(spec.period),
            cycle_ids=" ".join(str(c.id) for c in cycles),
            method=plan.method,
            capacity=json.dumps(
                {
                    "source": capacity.field_force.source,
                    "default_reps": capacity.field_force.default,
                    "reps": dict(capacity.field_force.reps),
                    "budgets": dict(capacity.budgets),
                }
            ),
            pro_forma=json.dumps(forma.as_json(), default=str),
            actor=actor,
        )
        session.add(record)
        session.commit()
        session.refresh(record)
    assert record.id is not None
    goals = plan.goals
    count = goals.num_rows
    columns: dict[str, Any] = {
        "plan_id": np.full(count, record.id, dtype=np.int64),
        "cycle_id": goals["cycle_id"],
        "customer_id": goals["customer_id"],
    }
    for channel in CHANNELS:
        columns[channel] = (
            goals[channel] if channel in goals.column_names else np.zeros(count, dtype=np.int64)
        )
    columns["cost"] = goals["cost"]
    columns["revenue"] = goals["revenue"]
    try:
        with BulkConnection(database) as bulk:
            bulk.append("plan_goal", pa.table(columns))
    except BaseException:
        # The goals' transaction rolled back: no plan without its goals either.
        with database.session() as session:
            orphan = session.get(StrategyPlan, record.id)
            if orphan is not None:
                session.delete(orphan)
                session.commit()
        raise
    return record.id


@attrs.frozen
class SavedPlan:
    """A plan as saved: its record, the cycles it planned and its goals (cents)."""

    record: Any
    cycles: list[PlannedCycle]
    goals: pa.Table


def saved_plan(database: Database, plugins: Plugins, plan_id: int) -> SavedPlan:
    """A saved plan's goals, with each customer's segment and territory."""
    from harmonia.compute import duckdb_connection
    from harmonia.errors import NotFoundError
    from harmonia.sql import literal
    from harmonia.store.bulk import BulkConnection
    from harmonia.store.models import StrategyPlan
    from harmonia.strategy.opportunity import segment_order

    with database.session() as session:
        record = session.get(StrategyPlan, plan_id)
    if record is None:
        raise NotFoundError(
            f"no plan {plan_id}",
            fix="plans are saved by `harmonia strategy plan` (without --dry-run)",
        )
    # A plan stays readable after its cycles were superseded: their results are kept.
    cycles = planned_cycles(
        database, plugins, [int(i) for i in record.cycle_ids.split()], superseded=True
    )
    areas = " ".join(f"WHEN {c.id} THEN {literal(c.spec.therapy_area)}" for c in cycles)
    channels = ", ".join(f"g.{channel}" for channel in CHANNELS)
    with BulkConnection(database, write=False) as bulk:
        stored = bulk.read(
            f"SELECT g.cycle_id, CASE g.cycle_id {areas} END AS therapy_area, g.customer_id, "
            "COALESCE(c.territory, '(none)') AS territory, a.final_segment AS segment, "
            f"{channels}, g.cost, g.revenue FROM plan_goal g "
            "JOIN assignment a ON a.cycle_id = g.cycle_id AND a.customer_id = g.customer_id "
            f"JOIN customer c ON c.id = g.customer_id WHERE g.plan_id = {int(plan_id)}"
        )
    connection = duckdb_connection()
    try:
        connection.register("stored_goals", stored)
        goals = connection.sql(
            f"WITH ranks AS ({segment_order(cycles)}) "
            "SELECT s.*, CAST(r.segment_rank AS BIGINT) AS segment_rank, "
            f"CAST({' + '.join(CHANNELS)} AS BIGINT) AS contacts "
            "FROM stored_goals s LEFT JOIN ranks r USING (therapy_area, segment)"
        ).to_arrow_table()
    finally:
        connection.close()
    return SavedPlan(record, cycles, goals)


def compare_actuals(
    goals: pa.Table, period: Any, activity: pa.Table | None, sales: pa.Table | None
) -> Actuals:
    """Actual activity and sales (harmonia customer ids) against a plan's goals."""
    from harmonia.compute import duckdb_connection

    empty_activity = pa.table(
        {
            "customer_id": pa.array([], pa.int64()),
            "channel": pa.array([], pa.string()),
            "date": pa.array([], pa.string()),
            "contacts": pa.array([], pa.int64()),
        }
    )
    empty_sales = pa.table(
        {
            "customer_id": pa.array([], pa.int64()),
            "territory": pa.array([], pa.string()),
            "period": pa.array([], pa.string()),
            "value": pa.array([], pa.float64()),
        }
    )
    connection = duckdb_connection()
    try:
        return compare(
            connection,
            goals,
            period,
            activity if activity is not None else empty_activity,
            sales if sales is not None else empty_sales,
        )
    finally:
        connection.close()
