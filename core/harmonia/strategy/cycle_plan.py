"""A cycle's own call plan within capacity, for markets that choose it.

By default (``call_plan = "fixed"`` in the country profile) a cycle plans
each strategy's yearly frequencies, the same for every customer of a segment.
A market that chooses ``call_plan = "capacity"`` has the cycle plan its
contacts as ``harmonia strategy plan`` does: greedy marginal allocation under
the response curves within each territory's reps (the roster, else the
country's ``reps_per_territory``), customers placed by the alignment of the
cycle's period. The engine hands the planner the outputs it computed with
the fixed plan; :func:`plan_cycle_outputs` replaces their contacts, cost and
expected revenue with the plan's, per customer (target list) and per segment
(summary), and hands the engine the saving of the plan (once the outputs
are written), so actuals can later be compared with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pyarrow as pa

from harmonia.definitions.strategy import CHANNELS
from harmonia.strategy.capacity import Capacity
from harmonia.strategy.operations import field_force, save_plan
from harmonia.strategy.plan import make_plan
from harmonia.strategy.proforma import pro_forma
from harmonia.strategy.universe import PlannedCycle, open_universe

if TYPE_CHECKING:
    from harmonia.engine.backends import CycleOutputs
    from harmonia.engine.spec import CycleSpec
    from harmonia.store.database import Database
    from harmonia.store.models import Cycle


def plan_cycle_outputs(
    database: Database, spec: CycleSpec, cycle: Cycle, outputs: CycleOutputs
) -> CycleOutputs:
    """``outputs`` with the contacts planned within capacity (an engine ``CallPlanner``)."""
    cycles = [PlannedCycle(cycle, spec)]
    capacity = Capacity(field_force(database, cycles, None))
    connection = open_universe(database, cycles)
    try:
        plan = make_plan(connection, cycles, capacity)
        forma = pro_forma(connection, plan)
        target_list = _replanned_targets(connection, outputs.target_list, plan.goals)
        summary = _replanned_summary(connection, outputs.summary, plan.goals)
    finally:
        connection.close()
    return attrs.evolve(
        outputs,
        target_list=target_list,
        summary=summary,
        call_plan={
            "method": plan.method,
            "capacity": capacity.field_force.source,
            "shortfalls": list(plan.shortfalls),
        },
        # Saved by the engine once the outputs are written (none for a failed write).
        save_plan=lambda: save_plan(database, cycles, capacity, plan, forma, cycle.actor),
    )


def _in_order(table: pa.Table) -> pa.Table:
    """``table`` with its row positions, so a join keeps the engine's order."""
    return table.append_column("harmonia_position", pa.array(np.arange(table.num_rows)))


def _replanned_targets(connection: Any, targets: pa.Table, goals: pa.Table) -> pa.Table:
    """The target list with each customer's planned contacts and their cost."""
    channels = [c for c in targets.column_names if c in goals.column_names and c in CHANNELS]
    replaced = ", ".join(
        [
            *(f"CAST(COALESCE(g.{c}, 0) AS BIGINT) AS {c}" for c in channels),
            "CAST(COALESCE(g.contacts, 0) AS BIGINT) AS contacts",
            "CAST(COALESCE(g.cost, 0) / 100.0 AS DOUBLE) AS cost",
        ]
    )
    connection.register("fixed_targets", _in_order(targets))
    connection.register("planned_goals", goals)
    try:
        return connection.sql(
            f"SELECT t.* EXCLUDE (harmonia_position) REPLACE ({replaced}) "
            "FROM fixed_targets t LEFT JOIN planned_goals g ON g.customer_id = t.harmonia_id "
            "ORDER BY t.harmonia_position"
        ).to_arrow_table()
    finally:
        connection.unregister("fixed_targets")
        connection.unregister("planned_goals")


def _replanned_summary(connection: Any, summary: pa.Table, goals: pa.Table) -> pa.Table:
    """Each segment's planned contacts, cost and expected revenue."""
    connection.register("fixed_summary", _in_order(summary))
    connection.register("planned_goals", goals)
    try:
        return connection.sql(
            """
            SELECT s.* EXCLUDE (harmonia_position) REPLACE (
                CAST(COALESCE(g.contacts, 0) AS BIGINT) AS contacts,
                CAST(COALESCE(g.cost, 0) / 100.0 AS DOUBLE) AS cost,
                CAST(COALESCE(g.revenue, 0) / 100.0 AS DOUBLE) AS expected_revenue)
            FROM fixed_summary s
            LEFT JOIN (
                SELECT CAST(segment AS VARCHAR) AS segment, SUM(contacts) AS contacts,
                    SUM(cost) AS cost, SUM(revenue) AS revenue
                FROM planned_goals GROUP BY 1
            ) g ON g.segment = s.segment
            ORDER BY s.harmonia_position
            """
        ).to_arrow_table()
    finally:
        connection.unregister("fixed_summary")
        connection.unregister("planned_goals")
