"""The demo: a whole market's cycle on a synthetic universe, in a minute (``harmonia demo``).

Generate a market with the synthetic pack's source, write it as canonical
CSV in the market's conventions, load it, and run two cycles (the previous
half-year's first, so the second pulls customers through where nothing
changed). The CLI renders the result; a notebook can use it as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from harmonia.errors import NotFoundError

if TYPE_CHECKING:
    from harmonia.app.core import Harmonia
    from harmonia.engine.cycle import CycleResult
    from harmonia.ingest import LoadResult


@attrs.frozen
class DemoResult:
    """What the demo did: the files it wrote, what loaded, the two cycles."""

    app: Harmonia
    inputs: dict[str, Path]
    loaded: list[LoadResult]
    cycles: list[CycleResult]
    #: Whether the demo chose the database (WORKDIR/harmonia.db) itself.
    chose_database: bool

    @property
    def seconds(self) -> float:
        return sum(cycle.seconds for cycle in self.cycles)


def run_demo(
    app: Harmonia,
    workdir: Path,
    *,
    customers: int = 50_000,
    country: str = "FR",
    therapy_area: str = "oncology",
    period: str = "2027-H1",
    seed: int = 42,
    error_rate: float = 0.001,
    on_stage: Callable[[str], None] | None = None,
) -> DemoResult:
    """Generate, load and run two cycles; inputs in WORKDIR/inputs, outputs in WORKDIR/out.

    The database is WORKDIR/harmonia.db unless the user named one.
    """
    from harmonia.files import write_csv
    from harmonia.periods import Period

    stage = on_stage or (lambda _: None)
    chose = not app.chose_database
    if chose:
        workdir.mkdir(parents=True, exist_ok=True)
        app = app.with_database(str(workdir / "harmonia.db"))
    source = app.catalog.data_sources.get("synthetic")
    if source is None:
        raise NotFoundError(
            "the demo needs the synthetic data source", fix="pip install harmonia-synthetic"
        )
    country = country.upper()
    profile = app.catalog.country_profiles.get_or_fail(
        country, fix="install the country's pack, or choose another --country"
    )
    stage(f"generating {customers:,} customers")
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
        source.read(request),
        workdir / "inputs",
        delimiter=profile.csv.delimiter,
        decimal=profile.csv.decimal,
    )
    jobs = app.loads.plan(list(inputs.values()))
    loaded = app.loads.run(
        jobs,
        country=country,
        progress=lambda done, what: stage(f"loading {what}") if what else None,
    )
    cycles = [
        app.cycles.run(
            country=country,
            therapy_area=therapy_area,
            period=cycle_period,
            directory=workdir / "out",
            on_stage=lambda step, p=cycle_period: stage(f"cycle {p}: {step}"),
        )
        for cycle_period in (str(Period.parse(period).shifted(-1)), period)
    ]
    return DemoResult(app, inputs, loaded, cycles, chose)
