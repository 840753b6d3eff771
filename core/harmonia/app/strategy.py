"""Portfolio strategy over cycles whose run completed: the application's operations.

Click-free, like every area of :class:`~harmonia.app.Harmonia`: each method
takes what a user gives (cycle ids, file paths, ``CHANNEL=AMOUNT`` budgets,
variant shortcuts) and returns results; the computation lives in
:mod:`harmonia.strategy` and :mod:`harmonia.report`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harmonia.app.core import Harmonia


class Strategy:
    """Opportunity indices, call plans, scenarios, actuals, curve fitting, reports."""

    def __init__(self, app: Harmonia) -> None:
        self.app = app

    def indices(self, cycle_ids: Sequence[int], measures: Any = None) -> Any:
        from harmonia.strategy.operations import opportunity_indices
        from harmonia.strategy.universe import Measures

        return opportunity_indices(
            self.app.existing_database, self.app.catalog, cycle_ids, measures or Measures()
        )

    def usable_cycles(self, country: str, areas: Sequence[str], period: str) -> list[int]:
        """Each area's usable cycle of the market and period: the published one, else the
        latest whose run completed."""
        from harmonia.errors import NotFoundError
        from harmonia.strategy.universe import usable_cycle

        database = self.app.existing_database
        found = []
        for area in dict.fromkeys(areas):
            cycle = usable_cycle(database, country.upper(), area, period)
            if cycle is None or cycle.id is None:
                raise NotFoundError(
                    f"no {area} cycle of {country.upper()} {period} can be planned: none "
                    "ran to completion (draft to published)",
                    fix=f"run it: harmonia cycle run -c {country.upper()} -t {area} -p {period}",
                )
            found.append(cycle.id)
        return found

    def plan(
        self,
        cycle_ids: Sequence[int],
        *,
        capacity_file: Path | None = None,
        budgets: Sequence[str] = (),
        save: bool = True,
        on_stage: Callable[[str], None] | None = None,
    ) -> Any:
        from harmonia.strategy.capacity import parse_budgets
        from harmonia.strategy.operations import plan_cycles

        return plan_cycles(
            self.app.existing_database,
            self.app.catalog,
            cycle_ids,
            capacity_file=capacity_file,
            budgets=parse_budgets(budgets),
            save=save,
            actor=self.app.actor,
            on_stage=on_stage,
        )

    def variants(
        self,
        variants_file: Path | None = None,
        reps: Sequence[str] = (),
        strategy_variants: Sequence[str] = (),
        response_scales: Sequence[float] = (),
    ) -> list[Any]:
        """The variants of a scenario file and of the command line's shortcuts."""
        from harmonia.strategy.scenario import load_variants, quick_variants

        return [
            *(load_variants(variants_file) if variants_file else []),
            *quick_variants(reps, strategy_variants, response_scales),
        ]

    def scenario(
        self,
        cycle_ids: Sequence[int],
        variants: Sequence[Any],
        *,
        capacity_file: Path | None = None,
        budgets: Sequence[str] = (),
        on_stage: Callable[[str], None] | None = None,
    ) -> Any:
        from harmonia.strategy.capacity import Capacity, parse_budgets
        from harmonia.strategy.operations import field_force
        from harmonia.strategy.scenario import run_scenario
        from harmonia.strategy.universe import planned_cycles

        database = self.app.existing_database
        cycles = planned_cycles(database, self.app.catalog, cycle_ids)
        capacity = Capacity(field_force(database, cycles, capacity_file), parse_budgets(budgets))
        return run_scenario(
            database, self.app.catalog, cycle_ids, variants, capacity, on_stage=on_stage
        )

    def read_actuals(self, path: Path | None, kind: str, system: str) -> Any:
        from harmonia.strategy.actual_files import read_actuals

        return (
            None if path is None else read_actuals(self.app.existing_database, path, kind, system)
        )

    def actuals(
        self,
        plan_id: int,
        *,
        activity_file: Path | None = None,
        sales_file: Path | None = None,
        system: str = "csv",
    ) -> Any:
        """A saved plan against its actuals: the stored ones (metrics), each kind replaced
        by a file where one is given."""
        from harmonia.errors import NotFoundError
        from harmonia.strategy.actual_store import with_stored
        from harmonia.strategy.operations import compare_actuals, saved_plan

        saved = saved_plan(self.app.existing_database, self.app.catalog, plan_id)
        activity, sales = with_stored(
            self.app.existing_database,
            saved.cycles,
            saved.goals,
            self.read_actuals(activity_file, "activity", system),
            self.read_actuals(sales_file, "sales", system),
        )
        if not activity.num_rows and not sales.num_rows:
            from harmonia.definitions.strategy import ACTUAL_CONTACT_METRICS, ACTUAL_SALES_METRIC

            metrics = ", ".join(sorted({*ACTUAL_CONTACT_METRICS.values(), ACTUAL_SALES_METRIC}))
            raise NotFoundError(
                f"no actuals for plan {plan_id}: the store holds none of the metrics {metrics} "
                f"for its customers in {saved.cycles[0].spec.period}",
                fix="load them (harmonia load metrics.csv: customer_id, therapy_area, metric, "
                "period, value), or give --activity and --sales files",
            )
        return compare_actuals(saved.goals, saved.cycles[0].spec.period, activity, sales)

    def fit(self, history: Path, *, family: str = "adbudg", revenue_per_unit: float = 0.0) -> Any:
        from harmonia.strategy.fit import fit_segments, read_history

        contacts, observed, segments = read_history(history)
        return fit_segments(
            contacts, observed, segments, family=family, revenue_per_unit=revenue_per_unit
        )

    def report(
        self,
        cycle_id: int,
        path: Path,
        *,
        plan_id: int | None = None,
        capacity_file: Path | None = None,
        budgets: Sequence[str] = (),
        variants: Sequence[Any] = (),
        activity_file: Path | None = None,
        sales_file: Path | None = None,
        system: str = "csv",
    ) -> Path:
        """Write the cycle's HTML report to ``path``."""
        from harmonia.errors import ConfigError

        try:
            from harmonia.report.context import ReportContext
            from harmonia.report.render import write_report
        except ImportError:
            raise ConfigError(
                "reports need jinja2 and plotly", fix="pip install 'harmonia[report]'"
            ) from None
        from harmonia.strategy.capacity import parse_budgets

        context = ReportContext(
            self.app.existing_database,
            self.app.catalog,
            cycle_id,
            plan_id=plan_id,
            capacity_file=capacity_file,
            budgets=parse_budgets(budgets),
            variants=variants,
            activity=self.read_actuals(activity_file, "activity", system),
            sales=self.read_actuals(sales_file, "sales", system),
        )
        return write_report(context, path)
