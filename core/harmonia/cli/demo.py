"""``harmonia demo``: a whole market's cycle on a synthetic universe, in a minute."""

from __future__ import annotations

from pathlib import Path

import click

from harmonia.cli import app
from harmonia.cli.load import summary_table
from harmonia.cli.render import stages, stdout, table


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
    with stages("demo") as stage:
        result = app().demo(
            workdir,
            customers=customers,
            country=country,
            therapy_area=therapy_area,
            period=period,
            seed=seed,
            error_rate=error_rate,
            on_stage=stage,
        )
    first, last = result.cycles
    stdout.print(
        f"[bold]harmonia demo[/]: {country.upper()} {therapy_area}, database "
        f"{result.app.database.display_url}"
    )
    stdout.print(summary_table(result.loaded, "loaded"))
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
            f"cycle {last.cycle.id} ({last.cycle.period}, previous cycle {first.cycle.id})",
            ["segment", "strategy", "customers", "pulled through", "contacts", "cost"],
            rows,
        )
    )
    for written in last.written:
        stdout.print(f"{written.output} -> {written.location}")
    prefix = (
        f"harmonia --database {result.app.database_url}" if result.chose_database else "harmonia"
    )
    stdout.print(
        f"[dim]{result.seconds:.1f} s for two cycles of {last.cycle.customers:,} "
        "customers.[/]\nNext:\n"
        f"  {prefix} explain --cycle {last.cycle.id} --customer C0000001\n"
        f"  {prefix} cycle diff {first.cycle.id} {last.cycle.id}\n"
        f"  {prefix} quarantine list"
    )
