"""``harmonia report``: one self-contained HTML report of a cycle."""

from __future__ import annotations

from pathlib import Path

import click

from harmonia.cli import app
from harmonia.cli.render import stages, stdout


@click.command()
@click.argument("cycle_id", type=int, metavar="CYCLE")
@click.option(
    "--out",
    "path",
    type=click.Path(path_type=Path),
    help="The HTML file [default: the workspace's output folder, else ./out, report-cycle-N.html].",
)
@click.option("--plan", "plan_id", type=int, help="Show a saved plan (its capacity and budgets).")
@click.option(
    "--capacity",
    "capacity_file",
    type=click.Path(path_type=Path),
    help="Capacity file (territory, reps) for the plan shown, without --plan.",
)
@click.option(
    "--budget", "budgets", multiple=True, metavar="CHANNEL=AMOUNT", help="Budgets, without --plan."
)
@click.option(
    "--scenario", "variants_file", type=click.Path(path_type=Path), help="Scenario variants (TOML)."
)
@click.option(
    "--reps", multiple=True, metavar="CHANGE", help="A scenario variant: reps +2, -1, +10%."
)
@click.option(
    "--strategy-variant",
    "strategy_variants",
    multiple=True,
    metavar="NAME",
    help="A scenario variant.",
)
@click.option(
    "--activity",
    "activity_file",
    type=click.Path(path_type=Path),
    help="Actual activity (CSV or Parquet).",
)
@click.option(
    "--sales", "sales_file", type=click.Path(path_type=Path), help="Actual sales (CSV or Parquet)."
)
@click.option(
    "--system",
    default="csv",
    show_default=True,
    help="The source system whose customer ids the actuals use.",
)
def report(
    cycle_id,
    path,
    plan_id,
    capacity_file,
    budgets,
    variants_file,
    reps,
    strategy_variants,
    activity_file,
    sales_file,
    system,
) -> None:
    """Write a cycle's report: one HTML file that opens offline in any browser.

    Segment sizes, the migration matrix against the previous cycle,
    opportunity indices, the pro forma (table and chart), capacity by
    territory, scenarios and actuals against plan.

    \b
    harmonia report 3 --capacity reps.csv --reps +1 --strategy-variant digital-first
    harmonia report 3 --plan 2 --activity calls.csv --sales sales.csv
    """
    if plan_id is not None and (capacity_file or budgets):
        raise click.UsageError(
            "--plan shows a saved plan with its own capacity: drop --capacity/--budget"
        )
    context = app()
    target = path or Path(context.workspace.output or "out") / f"report-cycle-{cycle_id}.html"
    strategy = context.strategy
    with stages(f"report of cycle {cycle_id}"):
        written = strategy.report(
            cycle_id,
            target,
            plan_id=plan_id,
            capacity_file=capacity_file,
            budgets=budgets,
            variants=strategy.variants(variants_file, reps, strategy_variants),
            activity_file=activity_file,
            sales_file=sales_file,
            system=system,
        )
    stdout.print(f"report -> {written}")
