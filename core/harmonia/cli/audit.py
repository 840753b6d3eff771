"""``harmonia audit``: the audit trail, newest first."""

from __future__ import annotations

import json

import click

from harmonia.cli import app, echo_json
from harmonia.cli.render import escape, stdout, table


@click.command()
@click.option("--action", "-a", help="An action (cycle.publish) or a family of them (cycle).")
@click.option("--subject", "-s", help="A subject (cycle:3) or every one of a kind (cycle).")
@click.option("--actor", help="Only what this person (or recovery, a pack) did.")
@click.option("--since", metavar="DATE", help="From this date or time on (2027-03-01).")
@click.option(
    "--limit", "-n", type=int, default=50, show_default=True, help="At most this many (0: all)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the events as JSON.")
def audit(
    action: str | None,
    subject: str | None,
    actor: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """The audit trail: who did what, when, to which subject.

    \b
    harmonia audit
    harmonia audit --subject cycle:3
    harmonia audit --action load --since 2027-03-01 --json
    """
    events = app().audit.events(
        action=action, subject=subject, actor=actor, since=since, limit=limit or None
    )
    if as_json:
        echo_json([event.to_json() for event in events])
        return
    if not events:
        stdout.print("No audit events match.")
        return
    rows = [
        (
            event.id,
            event.at.strftime("%Y-%m-%d %H:%M:%S"),
            escape(event.actor),
            event.action,
            escape(event.subject),
            escape(json.dumps(event.details, ensure_ascii=False, default=str)),
        )
        for event in events
    ]
    stdout.print(table(None, ["id", "when", "by", "action", "subject", "details"], rows))
