"""``harmonia cycle``: run, list, show, compare segmentation cycles."""

from __future__ import annotations

from pathlib import Path

import click

from harmonia.cli import app, app_of_run, echo_json
from harmonia.cli.lazy import LazyGroup
from harmonia.cli.render import stages, stdout, table
from harmonia.errors import ConfigError


@click.group(cls=LazyGroup)
def cycle() -> None:
    """Segmentation cycles: one country x one therapy area x one period."""


def _sinks(specs: tuple[str, ...]) -> list | None:
    """``--sink NAME[:KEY=VALUE,...]`` as sink choices (None: the default ones)."""
    from harmonia.app.cycles import SinkChoice

    choices = []
    for spec in specs:
        name, _, raw = spec.partition(":")
        options = {}
        for pair in filter(None, raw.split(",")):
            key, sep, value = pair.partition("=")
            if not sep:
                raise ConfigError(f"sink option {pair!r} is not KEY=VALUE", where=f"--sink {spec}")
            options[key] = value
        choices.append(SinkChoice(name, options=options))
    return choices or None


@cycle.command("run")
@click.option("--country", "-c", required=True, help="Country code, e.g. FR.")
@click.option("--therapy-area", "-t", required=True, help="Therapy area, e.g. oncology.")
@click.option(
    "--period", "-p", help="2027, 2027-H1, 2027-Q3 or 2027-05 (default: the current half-year)."
)
@click.option(
    "--engine",
    "-e",
    type=click.Choice(["duckdb", "database", "spark"]),
    help="Where rules run: embedded DuckDB, inside the database, or in Apache Spark on "
    "the lake of [spark] in harmonia.toml (default: duckdb on SQLite, database on PostgreSQL).",
)
@click.option(
    "--sink",
    "sinks",
    multiple=True,
    metavar="NAME[:KEY=VALUE,...]",
    help="Where outputs go (repeatable; default csv).",
)
@click.option(
    "--output",
    "outputs",
    multiple=True,
    type=click.Choice(["target_list", "segment_summary", "assignments"]),
    help="What to write (repeatable; default target_list and segment_summary).",
)
@click.option(
    "--out",
    "directory",
    type=click.Path(path_type=Path),
    help="Folder for file outputs [default: the workspace's output, else ./out].",
)
@click.option(
    "--as-of",
    metavar="cycle:N|batch:N",
    help=(
        "Read the metrics and questionnaire answers as cycle N read them (its input "
        "snapshot), or as loaded up to batch N. Customers are read as they are now; so are "
        "answers loaded before the upgrade to schema revision 0700, for a snapshot taken "
        "before it (a warning says so)."
    ),
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def run(country, therapy_area, period, engine, sinks, outputs, directory, as_of, as_json) -> None:
    """Run a cycle: score, segment, pull through, plan, publish.

    \b
    harmonia cycle run --country FR --therapy-area oncology --period 2027-H1
    harmonia cycle run -c FR -t oncology -p 2027-H1 --as-of cycle:3
    """
    with stages(f"cycle {country.upper()} {therapy_area}") as stage:
        result = app().cycles.run(
            country=country,
            therapy_area=therapy_area,
            period=period,
            engine=engine,
            sinks=_sinks(sinks),
            outputs=outputs,
            directory=directory,
            on_stage=stage,
            as_of=as_of,
        )
    app_of_run().warn(result.warnings)
    if as_json:
        echo_json(
            {
                "cycle": result.cycle.model_dump(exclude={"snapshot", "summary"}),
                "summary": result.summary,
                "input_coverage": [row.to_json() for row in result.input_coverage],
                "warnings": result.warnings,
                "profile_coverage": result.coverage,
                "written": [
                    {"sink": w.sink, "output": w.output, "location": w.location}
                    for w in result.written
                ],
                "seconds": round(result.seconds, 3),
            }
        )
        return
    _render_cycle_header(result.cycle)
    _render_input_coverage(result.input_coverage)
    _render_summary(result.summary, result.cycle.customers)
    from harmonia.cli.questionnaire import render_coverage

    render_coverage(result.coverage)
    for written in result.written:
        stdout.print(f"{written.output} -> {written.location}")
    stdout.print(f"[dim]{result.cycle.customers:,} customers in {result.seconds:.1f} s[/]")


def _render_input_coverage(rows: list) -> None:
    """Per feature, how much of the market its input covered (peer groups: in warnings)."""
    shown = [
        (row.feature, row.input, row.covered, f"{100 * row.share:.0f}%")
        for row in rows
        if row.peer_group is None
    ]
    if shown:
        customers = rows[0].customers
        stdout.print(
            table(
                f"input coverage of {customers:,} customers",
                ["feature", "input", "customers with it", "share"],
                shown,
            )
        )


def _render_cycle_header(record) -> None:
    previous = f", previous cycle {record.previous_cycle_id}" if record.previous_cycle_id else ""
    stdout.print(
        f"[bold]cycle {record.id}[/]: {record.country} {record.therapy_area} {record.period}, "
        f"rule set {record.rule_set} v{record.rule_set_version}, engine {record.engine}{previous}, "
        f"{record.status}"
    )


def _render_summary(summary: list[dict], total: int) -> None:
    rows = [
        (
            row["segment"],
            row["strategy"],
            row["customers"],
            f"{100 * row['customers'] / total:.1f}%" if total else "-",
            row["pulled_through"],
            row["contacts"] if row["target"] else "not targeted",
            row["cost"],
        )
        for row in summary
    ]
    stdout.print(
        table(
            None,
            ["segment", "strategy", "customers", "share", "pulled through", "contacts", "cost"],
            rows,
        )
    )


@cycle.command("list")
@click.option("--country", "-c", help="Only this country.")
@click.option("--therapy-area", "-t", help="Only this therapy area.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def list_cycles(country: str | None, therapy_area: str | None, as_json: bool) -> None:
    """List cycles, newest first."""
    cycles = app().cycles.list(country=country, therapy_area=therapy_area)
    if as_json:
        echo_json([c.model_dump(exclude={"snapshot", "summary"}) for c in cycles])
        return
    rows = [
        (
            c.id,
            c.country,
            c.therapy_area,
            c.period,
            c.status,
            c.engine,
            c.customers,
            c.started_at.strftime("%Y-%m-%d %H:%M"),
            c.actor,
        )
        for c in cycles
    ]
    if not rows:
        stdout.print("No cycles yet: `harmonia cycle run --country XX --therapy-area NAME`.")
        return
    stdout.print(
        table(
            None,
            ["id", "country", "area", "period", "status", "engine", "customers", "started", "by"],
            rows,
        )
    )


@cycle.command("show")
@click.argument("cycle_id", type=int)
@click.option(
    "--json", "as_json", is_flag=True, help="Print as JSON, with the configuration snapshot."
)
def show(cycle_id: int, as_json: bool) -> None:
    """Show a cycle: its configuration, packs and segment summary."""
    details = app().cycles.show(cycle_id)
    if as_json:
        echo_json(details.to_json())
        return
    record, snapshot = details.cycle, details.snapshot
    _render_cycle_header(record)
    country = snapshot.get("country", {})
    stdout.print(
        f"process {country.get('process_mode')}, field refinement {country.get('field_refinement')}, "
        f"pull-through {'on' if country.get('pull_through', {}).get('enabled') else 'off'}"
        f" (threshold {country.get('pull_through', {}).get('threshold')})"
    )
    packs = ", ".join(
        f"{name} {version}" for name, version in sorted(snapshot.get("packs", {}).items())
    )
    stdout.print(f"packs: {packs}")
    stdout.print(f"input snapshot: load batches {_ranges(details.inputs) or '(none recorded)'}")
    if details.segments:
        _render_summary(details.segments, record.customers)
    from harmonia.cli.questionnaire import render_coverage

    render_coverage(details.coverage)


def _ranges(numbers: list[int]) -> str:
    """1, 2, 3, 5 -> "1-3, 5"."""
    spans: list[list[int]] = []
    for number in sorted(numbers):
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


@cycle.command("diff")
@click.argument("before", type=int)
@click.argument("after", type=int)
@click.option(
    "--dimension",
    "-d",
    type=click.Choice(["segment", "needs", "tier"]),
    default="segment",
    show_default=True,
    help="Which result to compare: the final segment, the needs segment or the tier.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print as JSON: the chosen matrix, and every dimension's under 'dimensions'.",
)
def diff(before: int, after: int, dimension: str, as_json: bool) -> None:
    """Migration matrix: how customers moved between the segments of two cycles.

    \b
    harmonia cycle diff 1 2               # final segments
    harmonia cycle diff 1 2 -d tier       # priority tiers
    """
    cycles = app().cycles
    matrix = cycles.diff(before, after, dimension)
    declared = cycles.dimensions(before, after)
    if as_json:
        echo_json(
            matrix
            | {
                "dimensions": {
                    name: matrix if name == dimension else cycles.diff(before, after, name)
                    for name in declared
                }
            }
        )
        return
    segments_after = matrix["after_segments"]
    rows = [
        (segment, *[matrix["counts"].get(segment, {}).get(other, 0) for other in segments_after])
        for segment in matrix["before_segments"]
    ]
    label = {"segment": "segments", "needs": "needs segments", "tier": "tiers"}[dimension]
    stdout.print(
        table(
            f"{label}: cycle {before} (rows) -> cycle {after} (columns)",
            ["", *segments_after],
            rows,
        )
    )
    stdout.print(
        f"{matrix['stayed']:,} stayed, {matrix['moved']:,} moved, "
        f"{matrix['entered']:,} new in {after}, {matrix['left']:,} gone since {before}"
    )
    others = [name for name in declared if name != dimension]
    if others:
        stdout.print(f"[dim]also: --dimension {' or '.join(others)}[/]")


@cycle.command("sql")
@click.option("--country", "-c", required=True, help="Country code, e.g. FR.")
@click.option("--therapy-area", "-t", required=True, help="Therapy area, e.g. oncology.")
@click.option("--period", "-p", help="The cycle's period (default: the current half-year).")
@click.option(
    "--dialect",
    default="duckdb",
    show_default=True,
    help="Any sqlglot dialect: duckdb, sqlite, postgres, trino, spark, snowflake, bigquery ...",
)
def sql(country: str, therapy_area: str, period: str | None, dialect: str) -> None:
    """Print the cycle's segmentation as SQL, to run inside another engine.

    The query reads tables named like the harmonized store's (customer,
    metric, response, answer, customer_redirect, objection, golden_value) and returns one
    row per customer with its segments, the rules that fired and their inputs.
    """
    click.echo(
        app().cycles.sql(country=country, therapy_area=therapy_area, period=period, dialect=dialect)
    )


# -- the lifecycle: draft -> feedback -> review -> approved -> published ------------------


def _render_moved(moved, as_json: bool) -> None:
    if as_json:
        echo_json(moved.to_json())
        return
    stdout.print(f"[bold]cycle {moved.cycle.id}[/]: {moved.previous} -> {moved.cycle.status}")
    for name, count in moved.counts.items():
        stdout.print(f"{name.replace('_', ' ')}: {count:,}")
    for written in moved.written:
        stdout.print(f"{written.output} -> {written.location}")
    for other in moved.superseded:
        stdout.print(f"cycle {other} is superseded")


_note = click.option("--note", default="", help="Why, for the record (kept with the move).")
_as_json = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


@cycle.command("open-feedback")
@click.argument("cycle_id", type=int)
@_note
@_as_json
def open_feedback(cycle_id: int, note: str, as_json: bool) -> None:
    """Freeze a draft cycle and open it to reps' refinement requests.

    The cycle's assignments and each customer's territory (from the alignment of
    its period) are frozen: later loads and re-runs do not change what reps see.
    Only markets that opted in to field refinement have feedback.
    """
    _render_moved(app().refinement.open_feedback(cycle_id, note), as_json)


@cycle.command("close-feedback")
@click.argument("cycle_id", type=int)
@_note
@_as_json
def close_feedback(cycle_id: int, note: str, as_json: bool) -> None:
    """Stop taking requests; pending ones wait for their manager's review."""
    _render_moved(app().refinement.close_feedback(cycle_id, note), as_json)


@cycle.command("approve")
@click.argument("cycle_id", type=int)
@_note
@_as_json
def approve(cycle_id: int, note: str, as_json: bool) -> None:
    """Close the review: requests no manager decided expire, with the reason shown to reps."""
    _render_moved(app().refinement.approve(cycle_id, note), as_json)


@cycle.command("publish")
@click.argument("cycle_id", type=int)
@click.option(
    "--sink",
    "sinks",
    multiple=True,
    metavar="NAME[:KEY=VALUE,...]",
    help="Where outputs go (repeatable; default: the workspace's, else csv).",
)
@click.option(
    "--output",
    "outputs",
    multiple=True,
    type=click.Choice(["target_list", "segment_summary", "assignments"]),
    help="What to write (repeatable; default target_list and segment_summary).",
)
@click.option(
    "--out",
    "directory",
    type=click.Path(path_type=Path),
    help="Folder for file outputs [default: the workspace's output, else ./out].",
)
@_note
@_as_json
def publish(cycle_id, sinks, outputs, directory, note, as_json) -> None:
    """Publish a cycle: accepted requests applied, final outputs written.

    An approved cycle (field-involved markets) or a draft (markets that opted out
    of field refinement). The next cycle's pull-through starts from it; other
    cycles of the same scope are superseded.
    """
    moved = app().refinement.publish(
        cycle_id, sinks=_sinks(sinks), outputs=outputs, directory=directory, note=note
    )
    _render_moved(moved, as_json)


@cycle.command("history")
@click.argument("cycle_id", type=int)
@_as_json
def cycle_history(cycle_id: int, as_json: bool) -> None:
    """A cycle's lifecycle moves: from, to, who, when, why."""
    moves = app().refinement.transitions(cycle_id)
    if as_json:
        echo_json([move.model_dump() for move in moves])
        return
    rows = [
        (m.at.strftime("%Y-%m-%d %H:%M:%S"), m.from_status, m.to_status, m.actor, m.note)
        for m in moves
    ]
    stdout.print(table(f"cycle {cycle_id}", ["when", "from", "to", "by", "note"], rows))


@cycle.command("carry-over")
@click.argument("old_cycle", type=int)
@click.argument("new_cycle", type=int)
@click.option(
    "--dry-run", is_flag=True, help="Only show what the re-run changes for open requests."
)
@_as_json
def carry_over(old_cycle: int, new_cycle: int, dry_run: bool, as_json: bool) -> None:
    """Hand a round of feedback over to a re-run (a new draft of the same scope).

    Each open request is carried over, or expires in the old cycle with why (the
    customer is gone or moved, or the re-run changed what it started from); the
    old cycle is superseded. With --dry-run: what the re-run would change for the
    customers with open requests, and nothing else.
    """
    report = app().refinement.carry_over(old_cycle, new_cycle, dry_run=dry_run)
    if as_json:
        echo_json(
            {
                "old": old_cycle,
                "new": new_cycle,
                "dry_run": dry_run,
                **{"requests": report.requests},
            }
        )
        return
    rows = [
        (
            r["id"],
            r["customer_id"],
            r["action"],
            f"{r['old_value']} -> {r['new_value']}",
            r["rerun_value"] or "-",
            r["outcome"],
            r["why"],
        )
        for r in report.requests
    ]
    title = f"open requests of cycle {old_cycle} in the re-run {new_cycle}"
    stdout.print(
        table(title, ["id", "customer", "change", "asked", "re-run", "outcome", "why"], rows)
    )
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(report.counts().items()))
    stdout.print(("would be: " if dry_run else "") + (counts or "no open requests"))


@cycle.command("cancel")
@click.argument("cycle_id", type=int)
@click.option("--reason", default="", help="Why, for the cycle's history.")
@_as_json
def cancel(cycle_id: int, reason: str, as_json: bool) -> None:
    """Stop a running cycle: its process ends, the cycle is marked failed (with who and
    why, in `harmonia cycle history`) and what it stored is removed.

    \b
    harmonia cycle cancel 7 --reason "wrong period"
    """
    record = app().cycles.cancel(cycle_id, reason=reason)
    if as_json:
        echo_json(record.model_dump(exclude={"snapshot", "summary"}))
        return
    stdout.print(f"cycle {record.id} cancelled: {record.status}; run it again when ready")
