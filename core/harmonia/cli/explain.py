"""``harmonia explain``: why a customer got its segment."""

from __future__ import annotations

import click

from harmonia.cli import app, echo_json
from harmonia.cli.render import format_value, stdout, table
from harmonia.definitions import NO_SEGMENT

VERDICT = {True: "[green]match[/]", False: "no", None: "[yellow]unknown (NULL)[/]"}


@click.command()
@click.option(
    "--cycle", "cycle_id", type=int, required=True, help="The cycle id (see `harmonia cycle list`)."
)
@click.option("--customer", required=True, help="Harmonia id, or a source system's customer id.")
@click.option(
    "--system",
    metavar="NAME",
    help="Whose id --customer is: a source system (e.g. csv) or 'harmonia'. "
    "Needed only when the id names two customers.",
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def explain(cycle_id: int, customer: str, system: str | None, as_json: bool) -> None:
    """Show the customer's feature values and each rule tried, per dimension.

    Example: harmonia explain --cycle 3 --customer C00042
    """
    from harmonia.app.cycles import DIMENSION_LABELS

    result = app().cycles.explain(cycle_id, customer, system=system)
    if as_json:
        echo_json(result.to_json())
        return
    person = result.customer
    name = " ".join(filter(None, [person.first_name, person.last_name])) or "-"
    ids = ", ".join(f"{s} {v}" for s, v in result.identifiers + result.source_ids)
    stdout.print(
        f"[bold]customer {person.id}[/] {name} ({person.type}, {person.specialty or '-'}, "
        f"{person.territory or '-'}) {ids}"
    )
    inputs = [
        # A default stands in for a value the customer does not have: say so.
        (
            name,
            f"{format_value(value)} [yellow](missing: default)[/]"
            if name in result.defaulted
            else value,
        )
        for name, value in result.inputs.items()
    ]
    stdout.print(table("inputs", ["feature", "value"], inputs))
    for trace in result.traces:
        label = DIMENSION_LABELS.get(trace.dimension, trace.dimension)
        rows = [
            (
                rule.id,
                rule.when,
                rule.segment,
                VERDICT[rule.result],
                "\n".join(
                    f"{leaf.sql} -> {format_value(leaf.result)}  "
                    f"[dim]({', '.join(f'{k}={v!r}' for k, v in leaf.values.items())})[/]"
                    for leaf in rule.leaves
                ),
            )
            for rule in trace.rules
        ]
        how = "fallback" if trace.fallback else "rule " + trace.rule_id
        title = f"{label}: {segment_text(trace.segment)} ({how})"
        stdout.print(table(title, ["rule", "when", label, "verdict", "why"], rows, show_lines=True))
    check = result.pull_through
    if check is not None and check.comparisons:
        rows = [
            (
                c.input,
                format_value(c.before),
                format_value(c.now),
                c.test,
                "[green]unchanged[/]" if c.unchanged else "[yellow]changed[/]",
            )
            for c in check.comparisons
        ]
        title = f"pull-through: compared with cycle {check.previous_cycle}"
        stdout.print(table(title, ["input", "before", "now", "test", "result"], rows))
    final = result.assignment
    if final.origin == "pulled-through":
        stdout.print(
            f"[bold]final segment {segment_text(final.final_segment)}[/]: pulled through from cycle "
            f"{result.cycle.previous_cycle_id}, every input compared above unchanged; "
            f"the rules alone give {final.segment}."
        )
    else:
        reason = f"; {check.outcome}" if check is not None and check.enabled else ""
        stdout.print(
            f"[bold]final segment {segment_text(final.final_segment)}[/] (from the rules){reason}"
        )


def segment_text(segment: str | None) -> str:
    """A segment as people read it: ``no_segment`` says the customer is not segmented."""
    return f"{NO_SEGMENT} (not segmented)" if segment == NO_SEGMENT else str(segment)
