"""``harmonia markets``: one therapy area in every market, compared."""

from __future__ import annotations

from pathlib import Path

import click

from harmonia.cli import app, echo_json
from harmonia.cli.lazy import LazyGroup
from harmonia.cli.render import stages, stdout, table

_THRESHOLD = click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    help="Jensen-Shannon distance above which a market departs from the rest [default: 0.1].",
)


@click.group(cls=LazyGroup)
def markets() -> None:
    """The global view: a therapy area's cycle in every market, distributions compared."""


@markets.command("run")
@click.option("--therapy-area", "-t", required=True, help="Therapy area, e.g. diabetes.")
@click.option("--period", "-p", help="The cycles' period (default: the current half-year).")
@click.option("--country", "-c", "countries", multiple=True,
              help="Only these markets (repeatable; default: every installed one).")  # fmt: skip
@_THRESHOLD
@click.option("--out", "directory", type=click.Path(path_type=Path),
              help="Folder for the cycles' file outputs [default: the workspace's, else ./out].")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def run(therapy_area, period, countries, threshold, directory, as_json) -> None:
    """Run a therapy area's cycle in every installed market, then compare them.

    Markets without customers in the store are skipped, as is a market whose
    cycle cannot run (with the reason); the others still run.

    \b
    harmonia markets run -t diabetes -p 2027-H1
    """
    with stages(f"{therapy_area} in every market") as stage:
        result = app().markets.run(
            therapy_area=therapy_area,
            period=period,
            countries=countries,
            threshold=threshold,
            directory=directory,
            on_stage=stage,
        )
    if as_json:
        echo_json(
            {
                "cycles": [
                    {
                        "country": r.cycle.country,
                        "cycle": r.cycle.id,
                        "customers": r.cycle.customers,
                    }
                    for r in result.cycles
                ],
                "skipped": result.skipped,
                "comparison": result.comparison.to_json() if result.comparison else None,
            }
        )
        return
    for country, reason in result.skipped.items():
        stdout.print(f"[yellow]{country} skipped:[/] {reason}")
    if result.comparison is None:
        stdout.print("No market could run a cycle: load customers first (harmonia load).")
        return
    _render(result.comparison)


@markets.command("compare")
@click.option("--therapy-area", "-t", required=True, help="Therapy area, e.g. diabetes.")
@click.option("--period", "-p", required=True, help="The cycles' period, e.g. 2027-H1.")
@_THRESHOLD
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare(therapy_area, period, threshold, as_json) -> None:
    """Compare the latest cycles of a therapy area and period across markets.

    \b
    harmonia markets compare -t diabetes -p 2027-H1 --json
    """
    comparison = app().markets.compare(
        therapy_area=therapy_area, period=period, threshold=threshold
    )
    if as_json:
        echo_json(comparison.to_json())
    else:
        _render(comparison)


def _render(comparison) -> None:
    segments = list(comparison.segments)
    rows = [
        (
            row.country,
            row.cycle_id,
            row.customers,
            *(f"{100 * row.shares[s]:.1f}%" for s in segments),
            "-" if row.distance is None else f"{row.distance:.3f}",
            "[red]departs[/]" if row.departs else "",
        )
        for row in comparison.markets
    ]
    title = f"{comparison.therapy_area} {comparison.period}: segment shares by market"
    headers = ["market", "cycle", "customers", *segments, "distance", ""]
    stdout.print(table(title, headers, rows))
    departing = comparison.departing
    verdict = (
        f"[red]{', '.join(departing)} depart{'s' if len(departing) == 1 else ''} from the rest[/]"
        if departing
        else "No market departs from the rest"
    )
    stdout.print(
        f"{verdict} (distance above {comparison.threshold:g}).\n"
        f"[dim]distance: {comparison.statistic}.[/]"
    )
