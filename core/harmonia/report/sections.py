"""The report's built-in sections, in the order they appear.

A :class:`Section` is a name (its anchor), a title and a function from the
report's context to an HTML fragment (``None`` when it has nothing to show:
the section then says so with its ``empty`` text). Charts come from
:mod:`harmonia.report.charts`, tables from :mod:`harmonia.report.tables`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
from markupsafe import Markup

from harmonia.report import charts
from harmonia.report.context import ReportContext
from harmonia.report.tables import table


@attrs.frozen
class Section:
    """One part of a report."""

    name: str
    title: str
    build: Callable[[ReportContext], Markup | None]
    empty: str = "Nothing to show."


def _join(*parts: Markup | str) -> Markup:
    return Markup("").join(parts)


def _note(text: str) -> Markup:
    return Markup('<p class="note">{}</p>').format(text)


# --- segment sizes ---------------------------------------------------------------


def segment_sizes(context: ReportContext) -> Markup | None:
    rows = context.summary
    if not rows:
        return None
    total = sum(row["customers"] for row in rows) or 1
    shown = [
        (
            row["segment"],
            row["strategy"],
            row["customers"],
            f"{100 * row['customers'] / total:.1f}%",
            row["pulled_through"],
            row["contacts"] if row["target"] else "not targeted",
        )
        for row in rows
    ]
    chart = charts.bars(
        [row["segment"] for row in rows], {"customers": [row["customers"] for row in rows]}
    )
    return _join(
        chart,
        table(["segment", "strategy", "customers", "share", "pulled through", "contacts"], shown),
    )


# --- migration -------------------------------------------------------------------


def migration(context: ReportContext) -> Markup | None:
    matrix = context.migration
    if matrix is None:
        return None
    before, after = matrix["before_segments"], matrix["after_segments"]
    values = [[matrix["counts"].get(b, {}).get(a, 0) for a in after] for b in before]
    chart = charts.heatmap(
        before,
        after,
        values,
        title=f"cycle {context.cycle.previous_cycle_id} (rows) to cycle {context.cycle_id} (columns)",
    )
    return _join(
        chart,
        table(["", *after], [(b, *row) for b, row in zip(before, values, strict=True)]),
        _note(
            f"{matrix['stayed']:,} stayed, {matrix['moved']:,} moved, "
            f"{matrix['entered']:,} new, {matrix['left']:,} gone."
        ),
    )


# --- across markets ----------------------------------------------------------------


def markets(context: ReportContext) -> Markup | None:
    comparison = context.markets
    if comparison is None:
        return None
    segments = list(comparison.segments)
    countries = [row.country for row in comparison.markets]
    chart = charts.bars(
        countries,
        {s: [round(100 * row.shares[s], 1) for row in comparison.markets] for s in segments},
        title="share of each market's customers by final segment (%)",
        stacked=True,
    )
    rows = [
        (
            row.country + (" (this cycle)" if row.cycle_id == context.cycle_id else ""),
            row.cycle_id,
            row.customers,
            *(f"{100 * row.shares[s]:.1f}%" for s in segments),
            "-" if row.distance is None else f"{row.distance:.3f}",
            "departs" if row.departs else "",
        )
        for row in comparison.markets
    ]
    departing = comparison.departing
    verdict = (
        f"{', '.join(departing)} depart{'s' if len(departing) == 1 else ''} from the rest"
        if departing
        else "No market departs from the rest"
    )
    return _join(
        chart,
        table(["market", "cycle", "customers", *segments, "distance", ""], rows),
        _note(
            f"{verdict}: distance above {comparison.threshold:g}. Distance: "
            f"{comparison.statistic}. Each market's latest {comparison.therapy_area} cycle "
            f"of {comparison.period}."
        ),
    )


# --- opportunity -------------------------------------------------------------------


def opportunity(context: ReportContext) -> Markup | None:
    rows = context.indices.segments.to_pylist()
    if not rows:
        return None
    labels = [f"{r['therapy_area']} {r['segment']}" for r in rows]
    chart = charts.bars(
        labels,
        {
            "potential index": [r["potential_index"] or 0 for r in rows],
            "sales index": [r["sales_index"] or 0 for r in rows],
            "development index": [r["development_index"] or 0 for r in rows],
        },
        title="indices (100 = the average customer)",
    )
    columns = (
        "customers",
        "share_customers",
        "share_potential",
        "share_sales",
        "potential_index",
        "sales_index",
        "development_index",
        "activity_to_potential",
    )
    shown = [(label, *(r[c] for c in columns)) for label, r in zip(labels, rows, strict=True)]
    headers = [
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
    return _join(
        chart,
        table(headers, shown),
        _note(
            "Potential index: share of potential / share of customers x 100. Development "
            "index: share of sales / share of potential x 100 (below 100: room to grow)."
        ),
    )


# --- pro forma -----------------------------------------------------------------------


def _money(value: Any) -> float:
    return float(value) if isinstance(value, Decimal) else value or 0.0


def pro_forma(context: ReportContext) -> Markup:
    forma = context.plan.pro_forma
    data = forma.as_json()
    rows = data["segments"]
    labels = [f"{r['therapy_area'] or ''} {r['segment']}".strip() for r in rows]
    chart = charts.bars(
        labels,
        {
            "revenue": [_money(r["revenue"]) for r in rows],
            "cost": [_money(r["cost"]) for r in rows],
            "profit": [_money(r["profit"]) for r in rows],
        },
        title="revenue, cost and profit per segment",
    )
    columns = ("customers", "contacts", "cost", "revenue", "gross_margin", "profit")

    def shown(label: str, row: dict[str, Any]) -> tuple[Any, ...]:
        roi = row["roi"]
        return (label, *(row[c] for c in columns), None if roi is None else round(roi, 2))

    body = [shown(label, row) for label, row in zip(labels, rows, strict=True)]
    body.append(shown("portfolio", data["portfolio"]))
    capacity = context.capacity
    return _join(
        chart,
        table(["segment", *[c.replace("_", " ") for c in columns], "ROI"], body, total=True),
        _note(
            f"Planned by {context.plan.plan.method}. Field force: {capacity.field_force.source}"
            + (
                "; budgets: " + ", ".join(f"{k} {v:,.0f}" for k, v in capacity.budgets.items())
                if capacity.budgets
                else ""
            )
            + ". Every row adds up exactly to the portfolio."
        ),
        *(_note(message) for message in context.plan.notes),
    )


# --- capacity ---------------------------------------------------------------------------


def capacity(context: ReportContext) -> Markup:
    territories = context.plan.plan.territories.to_pylist()
    used = [
        100 * t["calls_planned"] / t["calls_capacity"] for t in territories if t["calls_capacity"]
    ]
    chart = charts.histogram(
        used, title="calls planned as a share of capacity", x_title="% of capacity"
    )
    busiest = sorted(territories, key=lambda t: (-t["calls_unmet"], t["territory"]))[:15]
    shown = [
        (
            t["territory"],
            t["reps"],
            t["calls_capacity"],
            t["calls_planned"],
            t["calls_unmet"],
            t["minimum_calls_short"],
        )
        for t in busiest
    ]
    notes = [_note(message) for message in context.plan.plan.shortfalls[:10]]
    total = sum(t["calls_capacity"] for t in territories)
    planned = sum(t["calls_planned"] for t in territories)
    return _join(
        chart,
        _note(
            f"{planned:,} calls planned of {total:,} in {len(territories):,} territories; "
            "the territories with the most demand left unplanned:"
        ),
        table(["territory", "reps", "capacity", "planned", "unmet", "minimum short"], shown),
        *notes,
    )


# --- scenarios ---------------------------------------------------------------------------


def scenarios(context: ReportContext) -> Markup | None:
    result = context.scenario
    if result is None:
        return None
    data = result.as_json()
    outcomes = [data["base"], *data["variants"]]
    names = [o["name"] for o in outcomes]
    chart = charts.bars(
        names,
        {
            "revenue": [o["revenue"] for o in outcomes],
            "cost": [o["cost"] for o in outcomes],
            "profit": [o["profit"] for o in outcomes],
        },
        title="pro forma of each variant",
    )
    segments = list(dict.fromkeys(s for o in outcomes for s in o["segments"]))
    rows: list[tuple[Any, ...]] = [
        (segment, *(o["segments"].get(segment, 0) for o in outcomes)) for segment in segments
    ]
    for key in ("calls_planned", "calls_unmet", "cost", "revenue", "profit"):
        rows.append((key.replace("_", " "), *(o[key] for o in outcomes)))
    return _join(chart, table(["", *names], rows))


# --- actuals -----------------------------------------------------------------------------


def actuals(context: ReportContext) -> Markup | None:
    result = context.actuals
    if result is None:
        return None
    segments = result.segments.to_pylist()
    labels = [f"{r['therapy_area']} {r['segment']}" for r in segments]
    chart = charts.bars(
        labels,
        {
            "planned revenue": [r["planned_revenue"] or 0 for r in segments],
            "actual sales": [r["actual_sales"] or 0 for r in segments],
        },
        title="planned revenue and actual sales per segment",
    )
    columns = (
        "planned_calls",
        "actual_calls",
        "call_attainment",
        "planned_revenue",
        "actual_sales",
        "variance",
        "variance_percent",
    )
    headers = ["segment", *(c.replace("_", " ") for c in columns)]
    response = result.response.to_pylist()
    parts: list[Markup | str] = [
        chart,
        table(
            headers,
            [(label, *(r[c] for c in columns)) for label, r in zip(labels, segments, strict=True)],
        ),
        table(
            ["segment", "mean calls", "observed revenue/call", "R²", "planned revenue/call"],
            [
                (
                    f"{r['therapy_area']} {r['segment']}",
                    r["mean_calls"],
                    r["observed_revenue_per_call"],
                    r["r_squared"],
                    r["planned_revenue_per_call"],
                )
                for r in response
            ],
        ),
    ]
    if result.rejected.num_rows:
        parts.append(
            _note(
                f"{result.rejected.num_rows:,} rows of actuals could not be compared with the plan:"
            )
        )
        parts.append(
            table(
                ["input", "row", "reasons"],
                [
                    (r["kind"], r["row_number"], "; ".join(r["reasons"]))
                    for r in result.rejected.to_pylist()[:50]
                ],
            )
        )
    return _join(*parts)


# --- customer master ---------------------------------------------------------------


def customer_master(context: ReportContext) -> Markup | None:
    """Data quality of the cycle's country: completeness and validity per source,
    duplicates found and merged, conflicts between sources."""
    from harmonia.definitions.country import GOLDEN_ATTRIBUTES
    from harmonia.master.quality import quality

    report = quality(context.database, context.cycle.country)
    if not report.sources:
        return None
    shown = ("identifier", *GOLDEN_ATTRIBUTES)
    parts: list[Markup | str] = [
        _note("Share of each source's customer records with the attribute filled."),
        table(
            ["source", "records", *shown, "quarantined", "invalid identifier"],
            [
                (
                    r["system"],
                    r["records"],
                    *(f"{100 * r[a]:.0f}%" for a in shown),
                    r["quarantined"],
                    r["invalid_identifier"],
                )
                for r in report.sources
            ],
        ),
    ]
    for d in report.duplicates:
        parts.append(
            _note(
                f"Duplicates: {d['customers_merged']} customers merged into another, "
                f"{d['pairs_merged']} matched pairs merged, {d['to_review']} waiting for "
                f"review, {d['rejected']} rejected."
            )
        )
    if report.conflicts:
        parts.append(
            table(
                ["attribute", "merged customers", "sources disagree"],
                [
                    (c["attribute"], c["merged_customers"], c["conflicting"])
                    for c in report.conflicts
                ],
            )
        )
    return _join(*parts)


SECTIONS: tuple[Section, ...] = (
    Section("segments", "Segment sizes", segment_sizes, "The cycle recorded no segment summary."),
    Section(
        "migration",
        "Migration since the previous cycle",
        migration,
        "This is the first cycle of its market and area: nothing to compare with.",
    ),
    Section(
        "markets",
        "Across markets",
        markets,
        "No other market has a cycle of this therapy area and period: "
        "`harmonia markets run -t AREA -p PERIOD` runs them all.",
    ),
    Section("opportunity", "Opportunity indices", opportunity),
    Section("pro-forma", "Pro forma", pro_forma),
    Section("capacity", "Capacity by territory", capacity),
    Section(
        "scenarios",
        "Scenarios",
        scenarios,
        "No scenarios were run: `harmonia report CYCLE --scenario what-if.toml` "
        "(or --reps +1 / --strategy-variant NAME) adds them.",
    ),
    Section(
        "actuals",
        "Actuals against plan",
        actuals,
        "No actuals: load them as metrics (calls, <channel>_contacts, revenue) or give "
        "`harmonia report CYCLE --activity activity.csv --sales sales.csv`.",
    ),
    Section("customer-master", "Customer master data quality", customer_master),
)
