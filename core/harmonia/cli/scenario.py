"""``harmonia scenario``: compare what-if variants of a plan, publishing nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from harmonia.cli import app, echo_json
from harmonia.cli.render import escape, stages, stdout, table


@click.command()
@click.argument("cycle_ids", nargs=-1, required=True, type=int, metavar="CYCLE...")
@click.option(
    "--file",
    "variants_file",
    type=click.Path(path_type=Path),
    help="A TOML file of [[variants]] (rule conditions, strategy variant, reps, capacity, "
    "budgets, response_scale).",
)
@click.option(
    "--reps", multiple=True, metavar="CHANGE", help="A variant with reps changed: +2, -1, +10%."
)
@click.option(
    "--strategy-variant",
    "strategy_variants",
    multiple=True,
    metavar="NAME",
    help="A variant with another strategy variant, e.g. digital-first.",
)
@click.option(
    "--response-scale",
    "response_scales",
    multiple=True,
    type=float,
    metavar="X",
    help="A variant with every response curve's lift scaled (within the catalogue's bounds).",
)
@click.option(
    "--capacity",
    "capacity_file",
    type=click.Path(path_type=Path),
    help="The base plan's capacity file (territory, reps).",
)
@click.option(
    "--budget", "budgets", multiple=True, metavar="CHANNEL=AMOUNT", help="The base plan's budgets."
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print every variant and its differences as JSON."
)
def scenario(
    cycle_ids,
    variants_file,
    reps,
    strategy_variants,
    response_scales,
    capacity_file,
    budgets,
    as_json,
) -> None:
    """Compare variants of a plan side by side: segment sizes, capacity use, pro forma.

    Nothing is published or stored: a variant that changes a rule segments
    the cycle again in memory.

    \b
    harmonia scenario 3 --reps +2 --reps -10% --strategy-variant digital-first
    harmonia scenario 3 --file what-if.toml --capacity reps.csv --json
    """
    strategy = app().strategy
    variants = strategy.variants(variants_file, reps, strategy_variants, response_scales)
    if not variants:
        raise click.UsageError(
            "give variants: --file, --reps, --strategy-variant or --response-scale"
        )
    with stages("scenario") as stage:
        result = strategy.scenario(
            cycle_ids, variants, capacity_file=capacity_file, budgets=budgets, on_stage=stage
        )
    data = result.as_json()
    if as_json:
        echo_json(data)
        return
    render_scenario(data)


def render_scenario(data: dict[str, Any]) -> None:
    outcomes = [data["base"], *data["variants"]]
    names = [escape(o["name"]) for o in outcomes]
    segments = list(dict.fromkeys(s for o in outcomes for s in o["segments"]))
    rows: list[tuple[Any, ...]] = [
        (escape(segment), *(o["segments"].get(segment, 0) for o in outcomes))
        for segment in segments
    ]
    for key, label in (
        ("calls_planned", "calls planned"),
        ("calls_unmet", "calls unmet"),
        ("contacts", "contacts"),
        ("cost", "cost"),
        ("revenue", "revenue"),
        ("profit", "profit"),
    ):
        rows.append((label, *(round(o[key]) for o in outcomes)))
    rows.append(
        (
            "capacity used",
            *(f"{100 * o['capacity_used']:.1f}%" if o["capacity_used"] else "-" for o in outcomes),
        )
    )
    rows.append(("ROI", *("-" if o["roi"] is None else f"{o['roi']:.2f}" for o in outcomes)))
    stdout.print(table("scenario (customers per segment, then the plan)", ["", *names], rows))
    deltas = [
        (
            escape(v["name"]),
            *(round(v["difference"][k]) for k in ("calls_planned", "cost", "revenue", "profit")),
        )
        for v in data["variants"]
    ]
    stdout.print(
        table("difference from the base", ["variant", "calls", "cost", "revenue", "profit"], deltas)
    )
