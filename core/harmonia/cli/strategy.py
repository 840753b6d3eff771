"""``harmonia strategy``: opportunity indices, call plans within capacity, curve fitting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from harmonia.cli import app, echo_json
from harmonia.cli.render import escape, stages, stderr, stdout, table


@click.group()
def strategy() -> None:
    """Portfolio and segment strategy over cycles whose run completed (draft to published).

    \b
    harmonia strategy indices 3                  # opportunity indices per segment
    harmonia strategy plan 3 --capacity reps.csv # call plans within capacity, pro forma
    harmonia strategy fit history.csv            # calibrate a response curve
    """


def _measures(potential: str, sales: str, activity: str) -> Any:
    from harmonia.strategy.universe import Measures

    return Measures(potential=potential, sales=sales, activity=activity)


measure_options = [
    click.option(
        "--potential", default="potential", show_default=True, help="Metric of potential."
    ),
    click.option("--sales", default="trx", show_default=True, help="Metric of current sales."),
    click.option(
        "--activity", default="calls", show_default=True, help="Metric of calls customers got."
    ),
]


def _with_measures(command: Any) -> Any:
    for option in reversed(measure_options):
        command = option(command)
    return command


@strategy.command("indices")
@click.argument("cycle_ids", nargs=-1, required=True, type=int, metavar="CYCLE...")
@click.option("--by-territory", is_flag=True, help="Per territory and segment.")
@_with_measures
@click.option("--json", "as_json", is_flag=True, help="Print both tables as JSON.")
def indices(cycle_ids, by_territory, potential, sales, activity, as_json) -> None:
    """Opportunity indices per segment: shares of customers, potential, sales, calls.

    The potential index is the segment's share of potential over its share of
    customers x 100 (above 100: its customers are worth more than average);
    the development index its share of sales over its share of potential x 100
    (below 100: it sells less than its potential would have it).
    """
    result = app().strategy.indices(cycle_ids, _measures(potential, sales, activity))
    if as_json:
        echo_json(
            {
                "cycles": [c.id for c in result.cycles],
                "segments": result.segments.to_pylist(),
                "territories": result.territories.to_pylist(),
            }
        )
        return
    rows = (result.territories if by_territory else result.segments).to_pylist()
    keys = ["therapy_area", *(["territory"] if by_territory else []), "segment"]
    columns = [
        "customers",
        "share_customers",
        "share_potential",
        "share_sales",
        "potential_index",
        "sales_index",
        "development_index",
        "activity_to_potential",
    ]
    headers = [
        "area",
        *(["territory"] if by_territory else []),
        "segment",
        "customers",
        "% customers",
        "% potential",
        "% sales",
        "potential idx",
        "sales idx",
        "development idx",
        "calls/potential idx",
    ]
    stdout.print(
        table(
            "opportunity indices (shares in %, indices: 100 = average)",
            headers,
            [
                (*(escape(str(row[k])) for k in keys), *(_rounded(row[c]) for c in columns))
                for row in rows
            ],
        )
    )


def _rounded(value: Any) -> Any:
    return round(value, 1) if isinstance(value, float) else value


@strategy.command("plan")
@click.argument("cycle_ids", nargs=-1, type=int, metavar="[CYCLE...]")
@click.option("--country", "-c", help="Instead of cycles: the market whose usable cycles to plan.")
@click.option(
    "--therapy-area",
    "-t",
    "areas",
    multiple=True,
    help="With --country and --period: a therapy area (repeatable).",
)
@click.option("--period", "-p", help="With --country: the period, e.g. 2027-H1.")
@click.option(
    "--capacity",
    "capacity_file",
    type=click.Path(path_type=Path),
    help="CSV or XLSX with columns territory and reps (default: the reps the loaded "
    "roster places on each territory, else the country's reps_per_territory).",
)
@click.option(
    "--budget",
    "budgets",
    multiple=True,
    metavar="CHANNEL=AMOUNT",
    help="A budget for the period on a channel the field force does not limit "
    "(repeatable), e.g. email=20000.",
)
@click.option("--dry-run", is_flag=True, help="Compute and show the plan without saving it.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan's figures as JSON.")
def plan(cycle_ids, country, areas, period, capacity_file, budgets, dry_run, as_json) -> None:
    """Call plans within capacity for cycles whose run completed, and their pro forma.

    Give one cycle per therapy area of a market and period: their customers
    share one field force. Or name the market, areas and period: each area's
    usable cycle is planned (the published one, else the latest draft or cycle
    in refinement). Contacts on channels with a response curve are allocated
    by greedy marginal profit within each territory's calls and each channel's
    budget; other channels keep the cycle's fixed plan.

    \b
    harmonia strategy plan 3 --capacity reps.csv --budget email=20000
    harmonia strategy plan 3 4 --json           # oncology and diabetes together
    harmonia strategy plan -c FR -t oncology -t diabetes -p 2027-H1
    """
    if bool(cycle_ids) == bool(country or areas or period):
        raise click.UsageError("give cycle ids, or --country, --therapy-area and --period")
    if not cycle_ids:
        if not (country and areas and period):
            raise click.UsageError("--country, --therapy-area and --period go together")
        cycle_ids = app().strategy.usable_cycles(country, areas, period)
    with stages("strategy plan") as stage:
        result = app().strategy.plan(
            cycle_ids,
            capacity_file=capacity_file,
            budgets=budgets,
            save=not dry_run,
            on_stage=stage,
        )
    for message in result.plan.shortfalls[:10]:
        stderr.print(f"[yellow]warning:[/] {escape(message)}")
    if len(result.plan.shortfalls) > 10:
        stderr.print(f"[yellow]warning:[/] and {len(result.plan.shortfalls) - 10} more territories")
    if as_json:
        echo_json(plan_json(result))
        return
    render_pro_forma(result.pro_forma)
    render_capacity(result.plan.territories.to_pylist())
    for message in result.notes:  # (in --json: "provisional")
        stderr.print(f"[yellow]note:[/] {escape(message)}")
    stdout.print(f"[dim]method: {result.plan.method}[/]")
    saved = f"plan {result.plan_id} saved" if result.plan_id else "not saved (--dry-run)"
    stdout.print(f"[dim]{saved}; {result.seconds:.1f} s[/]")


def plan_json(result: Any) -> dict[str, Any]:
    """A plan's figures for scripts."""
    return {
        "plan": result.plan_id,
        "cycles": [c.id for c in result.cycles],
        "method": result.plan.method,
        "capacity": {
            "source": result.capacity.field_force.source,
            "budgets": dict(result.capacity.budgets),
        },
        "pro_forma": result.pro_forma.as_json(),
        "territories": result.plan.territories.to_pylist(),
        "budgets": [
            {k: v / 100 if k != "channel" else v for k, v in row.items()}
            for row in result.plan.budgets.to_pylist()
        ],
        "shortfalls": list(result.plan.shortfalls),
        "provisional": [c.id for c in result.cycles if c.provisional],
        "seconds": round(result.seconds, 3),
    }


def render_pro_forma(forma: Any, title: str = "pro forma") -> None:
    rows = forma.as_json()
    shown = [
        (
            escape(f"{row['therapy_area'] or ''} {row['segment']}".strip()),
            *_money_row(row, forma.channels),
        )
        for row in rows["segments"]
    ]
    shown.append(("[bold]portfolio[/]", *_money_row(rows["portfolio"], forma.channels)))
    calls = "face_to_face" in forma.channels
    headers = [
        "segment",
        "customers",
        *(["calls"] if calls else []),
        "contacts",
        "cost",
        "revenue",
        "gross margin",
        "profit",
        "ROI",
        *(["revenue/call"] if calls else []),
    ]
    stdout.print(table(title, headers, shown))


def _money_row(row: dict[str, Any], channels: tuple[str, ...]) -> tuple[Any, ...]:
    calls = "face_to_face" in channels
    roi = row["roi"]
    return (
        row["customers"],
        *([row["face_to_face"]] if calls else []),
        row["contacts"],
        round(row["cost"]),
        round(row["revenue"]),
        round(row["gross_margin"]),
        round(row["profit"]),
        "-" if roi is None else f"{roi:.2f}",
        *(
            [None if row["revenue_per_call"] is None else round(row["revenue_per_call"])]
            if calls
            else []
        ),
    )


def render_capacity(territories: list[dict[str, Any]]) -> None:
    capacity = sum(t["calls_capacity"] for t in territories)
    planned = sum(t["calls_planned"] for t in territories)
    unmet = sum(t["calls_unmet"] for t in territories)
    full = sum(1 for t in territories if t["calls_unmet"] > 0)
    share = f"{100 * planned / capacity:.0f}%" if capacity else "-"
    stdout.print(
        f"calls: {planned:,} planned of {capacity:,} ({share}) in {len(territories):,} "
        f"territories; {full:,} full, leaving {unmet:,} calls worth making unplanned"
    )
    busiest = sorted(territories, key=lambda t: -t["calls_unmet"])[:5]
    if busiest and busiest[0]["calls_unmet"] > 0:
        stdout.print(
            table(
                "territories with the most unmet demand",
                ["territory", "reps", "capacity", "planned", "unmet"],
                [
                    (
                        escape(t["territory"]),
                        t["reps"],
                        t["calls_capacity"],
                        t["calls_planned"],
                        t["calls_unmet"],
                    )
                    for t in busiest
                    if t["calls_unmet"] > 0
                ],
            )
        )


@strategy.command("fit")
@click.argument("history", type=click.Path(path_type=Path))
@click.option(
    "--family", type=click.Choice(["adbudg", "exponential"]), default="adbudg", show_default=True
)
@click.option(
    "--revenue-per-unit", type=float, default=0.0, help="Revenue of one unit of response."
)
@click.option("--json", "as_json", is_flag=True, help="Print the fits as JSON.")
def fit(history: Path, family: str, revenue_per_unit: float, as_json: bool) -> None:
    """Calibrate a response curve from history (needs scipy: harmonia[fit]).

    HISTORY is a CSV or Parquet file with one row per customer and year:
    contacts, response (prescriptions, units ...) and optionally segment
    (one curve per segment). Prints each curve with its fit quality and the
    line to paste into a strategy's channel.
    """
    fits = app().strategy.fit(history, family=family, revenue_per_unit=revenue_per_unit)
    if as_json:
        echo_json([f.as_json() for f in fits])
        return
    stdout.print(
        table(
            f"{family} curves fitted to {history}",
            ["segment", "points", "minimum", "maximum", "shape", "half-saturation", "R²", "RMSE"],
            [
                (
                    escape(f.segment or "(all)"),
                    f.points,
                    f.curve.minimum,
                    f.curve.maximum,
                    f.curve.shape,
                    f.curve.half_saturation,
                    round(f.r_squared, 3),
                    f.rmse,
                )
                for f in fits
            ],
        )
    )
    for f in fits:
        stdout.print(f"{escape(f.segment or '(all)')}: {escape(f.toml())}")


@strategy.command("actuals")
@click.argument("plan_id", type=int, metavar="PLAN")
@click.option(
    "--activity",
    "activity_file",
    type=click.Path(path_type=Path),
    help="Actual activity: customer_id, channel, date, contacts.",
)
@click.option(
    "--sales",
    "sales_file",
    type=click.Path(path_type=Path),
    help="Actual sales: customer_id or territory, period, value.",
)
@click.option(
    "--system",
    default="csv",
    show_default=True,
    help="The source system whose customer ids the files use.",
)
@click.option("--json", "as_json", is_flag=True, help="Print every table as JSON.")
def actuals(plan_id, activity_file, sales_file, system, as_json) -> None:
    """Actual activity and sales against a saved plan: attainment, variance, response.

    The actuals are the metrics the store holds for the plan's customers in
    its period (calls and <channel>_contacts delivered, revenue), loaded with
    `harmonia load` like any metric; a file given replaces the stored actuals
    of its kind. Rows of a file that cannot be compared (unknown customers,
    dates or periods outside the plan's period, unknown channels) are listed
    with their reasons.

    \b
    harmonia strategy actuals 1                 # the actuals loaded as metrics
    harmonia strategy actuals 1 --activity calls.csv --sales sales.csv
    """
    result = app().strategy.actuals(
        plan_id, activity_file=activity_file, sales_file=sales_file, system=system
    )
    if as_json:
        echo_json(
            {
                "plan": plan_id,
                "segments": result.segments.to_pylist(),
                "territories": result.territories.to_pylist(),
                "response": result.response.to_pylist(),
                "rejected": result.rejected.to_pylist(),
            }
        )
        return
    columns = (
        "planned_calls",
        "actual_calls",
        "call_attainment",
        "planned_revenue",
        "actual_sales",
        "variance",
    )
    stdout.print(
        table(
            f"plan {plan_id}: actuals against plan",
            [
                "segment",
                "planned calls",
                "actual calls",
                "attainment %",
                "planned revenue",
                "actual sales",
                "variance",
            ],
            [
                (escape(f"{r['therapy_area']} {r['segment']}"), *(_rounded(r[c]) for c in columns))
                for r in result.segments.to_pylist()
            ],
        )
    )
    for row in result.rejected.to_pylist()[:20]:
        stderr.print(
            f"[yellow]rejected:[/] {row['kind']} row {row['row_number']}: {escape('; '.join(row['reasons']))}"
        )
    if result.rejected.num_rows > 20:
        stderr.print(f"[yellow]rejected:[/] and {result.rejected.num_rows - 20} more rows")
