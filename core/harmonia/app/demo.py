"""The demo: several markets and therapy areas, each a whole cycle on a synthetic universe.

For each market and therapy area, generate a universe with the synthetic
pack's source, write it as canonical CSV in the market's conventions, load
it, and run two cycles (the previous half-year's first, so the second pulls
customers through where nothing changed). Each market and area is its own
source system (``synthetic-fr-oncology``), so its customers are its own.
The CLI renders the result; a notebook can use it as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from harmonia.errors import NotFoundError

if TYPE_CHECKING:
    from harmonia.app.core import Harmonia
    from harmonia.engine.cycle import CycleResult
    from harmonia.ingest import LoadResult

#: The markets and therapy areas the demo shows when they are installed.
MARKETS = ("FR", "DE", "US")
THERAPY_AREAS = ("oncology", "diabetes")


@attrs.frozen
class MarketRun:
    """One market and therapy area of the demo: its files, its load, its two cycles."""

    country: str
    therapy_area: str
    system: str
    inputs: dict[str, Path]
    loaded: list[LoadResult]
    cycles: list[CycleResult]


@attrs.frozen
class DemoResult:
    """What the demo did, per market and therapy area."""

    app: Harmonia
    runs: list[MarketRun]
    #: Whether the demo chose the database (WORKDIR/harmonia.db) itself.
    chose_database: bool
    #: Wall-clock seconds of the whole demo: generating, loading, cycles.
    seconds: float

    @property
    def loaded(self) -> list[LoadResult]:
        return [result for run in self.runs for result in run.loaded]

    @property
    def cycles(self) -> list[CycleResult]:
        return [cycle for run in self.runs for cycle in run.cycles]


def installed_choices(app: Harmonia) -> tuple[list[str], list[str]]:
    """The demo's default markets and therapy areas among those installed."""
    countries = [c for c in MARKETS if c in app.catalog.country_profiles]
    areas = [a for a in THERAPY_AREAS if a in app.catalog.therapy_areas()]
    return countries or sorted(app.catalog.country_profiles)[:1], areas or sorted(
        app.catalog.therapy_areas()
    )[:1]


def run_demo(
    app: Harmonia,
    workdir: Path,
    *,
    customers: int = 2_000,
    countries: Sequence[str] = (),
    therapy_areas: Sequence[str] = (),
    period: str = "2027-H1",
    seed: int = 42,
    error_rate: float = 0.001,
    on_stage: Callable[[str], None] | None = None,
) -> DemoResult:
    """Generate, load and run two cycles per market and area (default: those installed of
    FR, DE, US and oncology, diabetes); inputs in WORKDIR/inputs, outputs in WORKDIR/out.

    The database is WORKDIR/harmonia.db unless the user named one.
    """
    import time

    started = time.perf_counter()
    stage = on_stage or (lambda _: None)
    chose = not app.chose_database
    if chose:
        workdir.mkdir(parents=True, exist_ok=True)
        app = app.with_database(str(workdir / "harmonia.db"))
    if app.catalog.data_sources.get("synthetic") is None:
        raise NotFoundError(
            "the demo needs the synthetic data source", fix="pip install harmonia-synthetic"
        )
    default_countries, default_areas = installed_choices(app)
    runs = []
    index = 0
    for country in [c.upper() for c in countries] or default_countries:
        for therapy_area in [a.lower() for a in therapy_areas] or default_areas:
            runs.append(
                _market(
                    app,
                    workdir,
                    country,
                    therapy_area,
                    customers,
                    period,
                    seed + index,
                    error_rate,
                    stage,
                )
            )
            index += 1
    return DemoResult(app, runs, chose, time.perf_counter() - started)


def _market(
    app: Harmonia,
    workdir: Path,
    country: str,
    therapy_area: str,
    customers: int,
    period: str,
    seed: int,
    error_rate: float,
    stage: Callable[[str], None],
) -> MarketRun:
    from harmonia.files import write_csv
    from harmonia.periods import Period

    profile = app.catalog.country_profiles.get_or_fail(
        country, fix="install the country's pack, or choose another --country"
    )
    label = f"{country} {therapy_area}"
    system = f"synthetic-{country.lower()}-{therapy_area}"
    stage(f"{label}: generating {customers:,} customers")
    request = app.source_request(
        {
            "customers": str(customers),
            "seed": str(seed),
            "therapy_area": therapy_area,
            "period": period,
            "error_rate": str(error_rate),
        },
        country,
    )
    inputs = write_csv(
        app.catalog.data_sources["synthetic"].read(request),
        workdir / "inputs" / f"{country.lower()}-{therapy_area}",
        delimiter=profile.csv.delimiter,
        decimal=profile.csv.decimal,
    )
    loaded = app.loads.run(
        app.loads.plan(list(inputs.values())),
        country=country,
        system=system,
        progress=lambda done, what: stage(f"{label}: loading {what}") if what else None,
    )
    cycles = []
    for cycle_period in (str(Period.parse(period).shifted(-1)), period):
        if cycles:
            # Between the half-years a vendor revises some potentials: the second
            # cycle re-segments those customers, so `cycle diff` shows migrations.
            revised = _revised_potential(
                inputs["customers"],
                inputs["metrics"],
                inputs["metrics"].with_name("potential-revised.csv"),
                str(Period.parse(period).start.year - 1),
                profile.csv.delimiter,
                profile.csv.decimal,
            )
            loaded += app.loads.run(app.loads.plan([revised]), country=country, system=system)
        cycles.append(
            app.cycles.run(
                country=country,
                therapy_area=therapy_area,
                period=cycle_period,
                directory=workdir / "out",
                on_stage=lambda step, p=cycle_period: stage(f"{label}: cycle {p}: {step}"),
            )
        )
    return MarketRun(country, therapy_area, system, inputs, loaded, cycles)


def _revised_potential(
    customers: Path, metrics: Path, target: Path, year: str, delimiter: str, decimal: str
) -> Path:
    """A tenth of the customers' potential estimates for ``year``, revised: every other
    one of them up by 60%, the rest down by 40% (written in the market's conventions)."""
    from harmonia.compute import duckdb_connection
    from harmonia.files import write_table_csv
    from harmonia.sql import quote

    def source(path: Path) -> str:
        return f"read_csv({quote(str(path))}, all_varchar = true, header = true, delim = {quote(delimiter)})"

    number = (
        "CAST(replace(value, ',', '.') AS DOUBLE)" if decimal == "," else "CAST(value AS DOUBLE)"
    )
    connection = duckdb_connection()
    try:
        table = connection.sql(
            f"SELECT customer_id, therapy_area, metric, period, round({number} * CASE WHEN "
            "hash(customer_id) % 20 = 0 THEN 1.6 ELSE 0.6 END, 1) AS value "
            f"FROM {source(metrics)} WHERE metric = 'potential' AND period = {quote(year)} "
            f"AND hash(customer_id) % 10 = 0 AND TRY_{number} IS NOT NULL "
            f"AND customer_id IN (SELECT customer_id FROM {source(customers)}) ORDER BY customer_id"
        ).to_arrow_table()
    finally:
        connection.close()
    return write_table_csv(table, target, delimiter=delimiter, decimal=decimal)
