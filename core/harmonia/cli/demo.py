"""``harmonia demo``: several markets and therapy areas, each a whole cycle, in a minute."""

from __future__ import annotations

from pathlib import Path

import click

from harmonia.cli import app
from harmonia.cli.load import summary_table
from harmonia.cli.render import escape, stages, stdout, table


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
    default=2_000,
    show_default=True,
    help="How many customers each market has in each therapy area.",
)
@click.option(
    "--country",
    "-c",
    "countries",
    multiple=True,
    help="A market (repeatable) [default: FR, DE and US, those installed].",
)
@click.option(
    "--therapy-area",
    "-t",
    "therapy_areas",
    multiple=True,
    help="A therapy area (repeatable) [default: oncology and diabetes, those installed].",
)
@click.option("--period", "-p", default="2027-H1", show_default=True, help="The cycle's period.")
@click.option(
    "--seed", type=int, default=42, show_default=True, help="Seed of the synthetic universes."
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
    countries: tuple[str, ...],
    therapy_areas: tuple[str, ...],
    period: str,
    seed: int,
    error_rate: float,
) -> None:
    """Generate markets, load them, run two cycles in each and write the target lists.

    Each market and therapy area gets its own synthetic universe (source
    system synthetic-<country>-<area>). The files land in WORKDIR/inputs (the
    canonical CSV formats, in each market's conventions) and WORKDIR/out; the
    database is WORKDIR/harmonia.db unless --database or HARMONIA_DATABASE_URL
    names another (PostgreSQL too). The previous half-year's cycle runs first;
    then a tenth of the potential estimates are revised (potential-revised.csv),
    so the second cycle moves those customers and pulls the others through
    (`harmonia cycle diff` shows the migrations).
    """
    with stages("demo") as stage:
        result = app().demo(
            workdir,
            customers=customers,
            countries=countries,
            therapy_areas=therapy_areas,
            period=period,
            seed=seed,
            error_rate=error_rate,
            on_stage=stage,
        )
    markets = sorted({run.country for run in result.runs})
    areas = sorted({run.therapy_area for run in result.runs})
    stdout.print(
        f"[bold]harmonia demo[/]: {', '.join(markets)} x {', '.join(areas)}, database "
        f"{result.app.database.display_url}"
    )
    stdout.print(summary_table(result.loaded, "loaded"))
    rows = []
    for run in result.runs:
        first, last = run.cycles
        counts = {r["segment"]: r["customers"] for r in last.summary}
        top = max(counts, key=lambda segment: counts[segment]) if counts else "-"
        rows.append(
            (
                f"{run.country} {run.therapy_area}",
                f"{first.cycle.id}, {last.cycle.id}",
                last.cycle.customers,
                f"{top} ({counts.get(top, 0):,})",
                sum(r["pulled_through"] for r in last.summary),
                sum(r["customers"] for r in last.summary if r["target"]),
                f"{sum(r['cost'] for r in last.summary):,.0f}",
            )
        )
    stdout.print(
        table(
            f"cycles of {period} (each after its previous half-year)",
            [
                "market",
                "cycles",
                "customers",
                "largest segment",
                "pulled through",
                "targeted",
                "cost",
            ],
            rows,
        )
    )
    for run in result.runs:
        for written in run.cycles[-1].written:
            stdout.print(f"{written.output} -> {written.location}")
    prefix = (
        f"harmonia --database {result.app.database_url}" if result.chose_database else "harmonia"
    )
    example = result.runs[0]
    first, last = example.cycles
    stdout.print(
        f"[dim]{result.seconds:.1f} s for {len(result.runs)} markets and areas, "
        f"{len(result.cycles)} cycles.[/]\nNext:"
    )
    for hint in (
        f"explain --cycle {last.cycle.id} --customer C0000001 --system {example.system}",
        f"cycle diff {first.cycle.id} {last.cycle.id}",
        "cycle list",
        "quarantine list",
    ):
        # Whole lines however narrow the terminal: a command is copied, not read.
        stdout.print(f"  {escape(prefix)} {escape(hint)}", soft_wrap=True, highlight=False)
