"""``harmonia demo``: a whole market's cycle on a synthetic universe, in a minute."""

from __future__ import annotations

import os
from pathlib import Path

import click

from harmonia.cli import app
from harmonia.cli.load import summary_table
from harmonia.cli.render import stages, stdout, table
from harmonia.errors import NotFoundError


@click.command()
@click.option(
    "--workdir",
    "-w",
    type=click.Path(path_type=Path),
    default=Path("harmonia-demo"),
    show_default=True,
    help="Folder for the generated inputs, the outputs and the database.",
)
@click.option(
    "--customers",
    "-n",
    type=click.IntRange(min=10),
    default=50_000,
    show_default=True,
    help="How many customers the synthetic market has.",
)
@click.option("--country", "-c", default="FR", show_default=True, help="The market.")
@click.option(
    "--therapy-area", "-t", default="oncology", show_default=True, help="The therapy area."
)
@click.option("--period", "-p", default="2027-H1", show_default=True, help="The cycle's period.")
@click.option(
    "--seed", type=int, default=42, show_default=True, help="Seed of the synthetic universe."
)
@click.option(
    "--error-rate",
    type=click.FloatRange(0, 0.5),
    default=0.001,
    show_default=True,
    help="Share of deliberately bad rows, to show the quarantine at work.",
)
def demo(
    workdir: Path,
    customers: int,
    country: str,
    therapy_area: str,
    period: str,
    seed: int,
    error_rate: float,
) -> None:
    """Generate a market, load it, run two cycles and write the target list.

    The files land in WORKDIR/inputs (the canonical CSV formats, in the
    market's conventions) and WORKDIR/out; the database is WORKDIR/harmonia.db
    unless --database or HARMONIA_DATABASE_URL names another (PostgreSQL too).
    The previous half-year's cycle runs first, so the second shows customers
    pulled through where nothing changed.
    """
    from harmonia.engine.cycle import run_cycle
    from harmonia.engine.spec import actor
    from harmonia.files import write_csv
    from harmonia.ingest import Loader, plan_files
    from harmonia.periods import Period

    context = app()
    chose_database = None
    if context.database_url is None and "HARMONIA_DATABASE_URL" not in os.environ:
        workdir.mkdir(parents=True, exist_ok=True)
        chose_database = context.database_url = str(workdir / "harmonia.db")
    installed = context.catalog
    source = installed.data_sources.get("synthetic") or _missing(
        "the synthetic data source", "harmonia-synthetic"
    )
    loader = Loader(context.database, installed, country=country.upper(), actor=actor())
    profile = loader.profile
    inputs, outputs = workdir / "inputs", workdir / "out"
    with stages("demo") as stage:
        stage(f"generating {customers:,} customers")
        request = loader.request(
            {
                "customers": str(customers),
                "seed": str(seed),
                "therapy_area": therapy_area,
                "period": period,
                "error_rate": str(error_rate),
            }
        )
        files = write_csv(
            source.read(request),
            inputs,
            delimiter=profile.csv.delimiter,
            decimal=profile.csv.decimal,
        )
        loaded = []
        for file_source, path in plan_files(installed.data_sources.values(), files.values()):
            loader.on_stage = lambda step, name=path.name: stage(f"loading {name}: {step}")
            loaded.extend(loader.run(file_source, {"path": str(path)}))
        cycles = []
        for cycle_period in (str(Period.parse(period).shifted(-1)), period):
            cycles.append(
                run_cycle(
                    context.database,
                    installed,
                    country=country,
                    therapy_area=therapy_area,
                    period=cycle_period,
                    directory=outputs,
                    actor=actor(),
                    on_stage=lambda step, p=cycle_period: stage(f"cycle {p}: {step}"),
                )
            )
    stdout.print(
        f"[bold]harmonia demo[/]: {country.upper()} {therapy_area}, database "
        f"{context.database.display_url}"
    )
    stdout.print(summary_table(loaded, "loaded"))
    last = cycles[-1]
    rows = [
        (
            r["segment"],
            r["strategy"],
            r["customers"],
            r["pulled_through"],
            r["contacts"] if r["target"] else "not targeted",
            r["cost"],
        )
        for r in last.summary
    ]
    stdout.print(
        table(
            f"cycle {last.cycle.id} ({last.cycle.period}, previous cycle {cycles[0].cycle.id})",
            ["segment", "strategy", "customers", "pulled through", "contacts", "cost"],
            rows,
        )
    )
    for written in last.written:
        stdout.print(f"{written.output} -> {written.location}")
    prefix = "harmonia" if chose_database is None else f"harmonia --database {chose_database}"
    stdout.print(
        f"[dim]{sum(c.seconds for c in cycles):.1f} s for two cycles of {last.cycle.customers:,} "
        "customers.[/]\nNext:\n"
        f"  {prefix} explain --cycle {last.cycle.id} --customer C0000001\n"
        f"  {prefix} cycle diff {cycles[0].cycle.id} {last.cycle.id}\n"
        f"  {prefix} quarantine list"
    )


def _missing(what: str, distribution: str):
    raise NotFoundError(
        f"the demo needs {what}", fix=f"pip install {distribution} (see the README)"
    )
