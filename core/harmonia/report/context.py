"""What a report shows, computed on first use: the cycle, its plan, scenarios, actuals."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from harmonia.errors import NotFoundError

if TYPE_CHECKING:
    import pyarrow as pa

    from harmonia.plugin.catalog import Catalog as Plugins
    from harmonia.store.database import Database
    from harmonia.store.models import Cycle
    from harmonia.strategy.scenario import Variant


@attrs.define
class ReportContext:
    """The inputs of a report and everything derived from them, each computed once.

    The plan is made again, unsaved, with the capacity of the saved plan
    ``plan_id`` (or of ``capacity_file`` and ``budgets``, or the country's
    defaults), so a report never changes the store.
    """

    database: Database
    plugins: Plugins
    cycle_id: int
    plan_id: int | None = None
    capacity_file: Path | None = None
    budgets: dict[str, float] = attrs.Factory(dict)
    variants: Sequence[Variant] = ()
    activity: pa.Table | None = None
    sales: pa.Table | None = None

    @cached_property
    def cycle(self) -> Cycle:
        from harmonia.engine.cycle import get_cycle

        return get_cycle(self.database, self.cycle_id)

    @cached_property
    def title(self) -> str:
        c = self.cycle
        return f"{c.country} {c.therapy_area} {c.period}, cycle {c.id}"

    @cached_property
    def summary(self) -> list[dict[str, Any]]:
        summary = json.loads(self.cycle.summary or "{}")
        return summary.get("segments", []) if isinstance(summary, dict) else summary

    @cached_property
    def migration(self) -> dict[str, Any] | None:
        from harmonia.engine.compare import migration

        previous = self.cycle.previous_cycle_id
        return (
            None
            if previous is None
            else migration(self.database, previous, self.cycle_id, "segment")
        )

    @cached_property
    def markets(self) -> Any:
        """This cycle against the latest cycle of its therapy area and period in every
        other market (None when no other market has one)."""
        from harmonia.engine.markets import compare_markets, latest_cycles

        cycle = self.cycle
        others = [
            other
            for other in latest_cycles(self.database, cycle.therapy_area, cycle.period)
            if other.country != cycle.country
        ]
        if not others:
            return None
        chosen = sorted([*others, cycle], key=lambda c: c.country)
        return compare_markets(self.database, cycle.therapy_area, cycle.period, cycles=chosen)

    @cached_property
    def cycle_ids(self) -> list[int]:
        if self.saved_plan is None:
            return [self.cycle_id]
        return [int(i) for i in self.saved_plan.cycle_ids.split()]

    @cached_property
    def saved_plan(self) -> Any:
        if self.plan_id is None:
            return None
        from harmonia.store.models import StrategyPlan

        with self.database.session() as session:
            record = session.get(StrategyPlan, self.plan_id)
        if record is None:
            raise NotFoundError(f"no plan {self.plan_id}", fix="see `harmonia strategy plan`")
        if str(self.cycle_id) not in record.cycle_ids.split():
            raise NotFoundError(
                f"plan {self.plan_id} plans cycles {record.cycle_ids}, not cycle {self.cycle_id}",
                fix="name a plan of this cycle, or leave --plan out",
            )
        return record

    @cached_property
    def indices(self) -> Any:
        from harmonia.strategy.operations import opportunity_indices

        return opportunity_indices(self.database, self.plugins, self.cycle_ids)

    @cached_property
    def capacity(self) -> Any:
        from harmonia.strategy.capacity import Capacity, FieldForce
        from harmonia.strategy.operations import field_force
        from harmonia.strategy.universe import planned_cycles

        if self.saved_plan is not None:
            saved = json.loads(self.saved_plan.capacity)
            force = FieldForce(saved["reps"], saved["default_reps"], saved["source"])
            return Capacity(force, saved.get("budgets", {}))
        cycles = planned_cycles(self.database, self.plugins, self.cycle_ids)
        return Capacity(field_force(self.database, cycles, self.capacity_file), self.budgets)

    @cached_property
    def plan(self) -> Any:
        from harmonia.strategy.operations import plan_cycles

        return plan_cycles(
            self.database,
            self.plugins,
            self.cycle_ids,
            capacity=self.capacity,
            save=False,
        )

    @cached_property
    def scenario(self) -> Any:
        if not self.variants:
            return None
        from harmonia.strategy.scenario import run_scenario

        return run_scenario(
            self.database, self.plugins, self.cycle_ids, self.variants, self.capacity
        )

    @cached_property
    def actuals(self) -> Any:
        """The plan against the actuals of the files given, else those the store holds
        (None when there are none)."""
        from harmonia.strategy.actual_store import with_stored
        from harmonia.strategy.operations import compare_actuals, saved_plan

        # A saved plan is compared as it was saved; otherwise the plan shown.
        if self.plan_id is not None:
            saved = saved_plan(self.database, self.plugins, self.plan_id)
            cycles, goals = saved.cycles, saved.goals
        else:
            cycles, goals = self.plan.cycles, self.plan.plan.goals
        activity, sales = with_stored(self.database, cycles, goals, self.activity, self.sales)
        if not activity.num_rows and not sales.num_rows:
            return None
        return compare_actuals(goals, cycles[0].spec.period, activity, sales)
