"""``harmonia refinement``: reps' requests, managers' decisions, the queue, the history.

The cycle's lifecycle moves (open and close feedback, approve, publish) are
``harmonia cycle`` commands.
"""

from __future__ import annotations

from pathlib import Path

import click

from harmonia.cli import app, echo_json
from harmonia.cli.lazy import LazyGroup
from harmonia.cli.render import escape, stdout, table

_as_json = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
_person = click.option(
    "--as",
    "person",
    metavar="PERSON",
    help="Who acts, as the roster names them (default: HARMONIA_ACTOR, else your login).",
)

#: How a request's status is shown.
STYLES = {"accepted": "green", "rejected": "red", "pending": "yellow", "expired": "magenta"}


@click.group(cls=LazyGroup)
def refinement() -> None:
    """Field refinement: reps ask for changes within the policy, managers decide.

    \b
    harmonia cycle open-feedback 12
    harmonia refinement request 12 C0001 --segment grow --reason access --as rita
    harmonia refinement queue 12 --as dora
    harmonia refinement decide 12 7 8 --accept --as dora
    harmonia cycle close-feedback 12 && harmonia cycle approve 12 && harmonia cycle publish 12
    """


def _render_requests(rows: list[dict], title: str | None = None) -> None:
    shown = [
        (
            row["id"],
            row["customer_id"],
            row.get("territory") or "",
            row["action"],
            f"{row.get('old_value') or ''} -> {row.get('new_value') or ''}",
            row["reason"],
            row.get("requester", ""),
            f"[{STYLES.get(row['status'], 'white')}]{row['status']}[/]",
            escape(row["message"]),
        )
        for row in rows
    ]
    stdout.print(
        table(
            title,
            [
                "id",
                "customer",
                "territory",
                "change",
                "from -> to",
                "reason",
                "by",
                "status",
                "message",
            ],
            shown,
        )
    )


@refinement.command("request")
@click.argument("cycle_id", type=int)
@click.argument("customer")
@click.option("--segment", "segment", help="The segment to move the customer to.")
@click.option("--needs", "needs", help="The needs segment to move the customer to.")
@click.option("--tier", "tier", help="The tier to move the customer to.")
@click.option(
    "--target",
    "target",
    type=click.Choice(["yes", "no"]),
    help="Add the customer to the target list (yes) or remove it (no).",
)
@click.option(
    "--goal",
    "goal",
    type=click.IntRange(min=0),
    help="The face-to-face calls to plan for the customer this period (within capacity).",
)
@click.option(
    "--add", "add", metavar="TERRITORY", help="Add the account (of another territory) to yours."
)
@click.option(
    "--keep",
    "keep",
    metavar="TERRITORY",
    help="Keep on your territory an account this cycle's alignment moved away from it.",
)
@click.option("--reason", required=True, help="One of the policy's reasons (quote it).")
@click.option("--comment", default="", help="Anything the manager should know.")
@click.option("--system", help="The system whose id CUSTOMER is (default: any; or harmonia).")
@_person
@_as_json
def request(
    cycle_id,
    customer,
    segment,
    needs,
    tier,
    target,
    goal,
    add,
    keep,
    reason,
    comment,
    system,
    person,
    as_json,
):
    """Ask for one change of a customer of your territory.

    The policy decides at once when it can (its checks and auto rules, with the
    message you are shown); the rest waits for your manager.
    """
    chosen = [
        (name, value)
        for name, value in (
            ("segment", segment),
            ("needs", needs),
            ("tier", tier),
            ("target", target),
            ("goal", None if goal is None else str(goal)),
            ("add", add),
            ("keep", keep),
        )
        if value
    ]
    if len(chosen) != 1:
        raise click.UsageError(
            "give exactly one of --segment, --needs, --tier, --target, --goal, --add, --keep"
        )
    ((action, value),) = chosen
    submitted = app().refinement.request(
        cycle_id,
        customer,
        action=action,
        value=value,
        reason=reason,
        comment=comment,
        system=system,
        requester=person,
    )
    if as_json:
        echo_json(submitted.requests)
        return
    _render_requests(submitted.requests)


@refinement.command("decide")
@click.argument("cycle_id", type=int)
@click.argument("ids", type=int, nargs=-1, required=True)
@click.option("--accept", "decision", flag_value="accept", help="Accept the requests.")
@click.option("--reject", "decision", flag_value="reject", help="Reject the requests.")
@click.option("--amend", "value", metavar="VALUE", help="Accept with this value instead.")
@click.option("--comment", default="", help="Why (the rep sees it).")
@_person
@_as_json
def decide(cycle_id, ids, decision, value, comment, person, as_json):
    """Decide pending requests of your reps (one, or many at once: all or none)."""
    if value is not None:
        decision = "amend"
    if decision is None:
        raise click.UsageError("give --accept, --reject or --amend VALUE")
    decided = app().refinement.decide(
        cycle_id, ids, decision, comment=comment, value=value, manager=person
    )
    rows = [r.model_dump() for r in decided]
    if as_json:
        echo_json(rows)
        return
    _render_requests(rows)


@refinement.command("queue")
@click.argument("cycle_id", type=int)
@_person
@_as_json
def queue(cycle_id: int, person: str | None, as_json: bool) -> None:
    """What a manager has to decide, with each territory's share of changes used."""
    found = app().refinement.queue(cycle_id, person)
    if as_json:
        echo_json(found.to_json())
        return
    calls = any("calls_planned" in t for t in found.territories)
    stdout.print(
        table(
            f"territories of {found.manager}",
            ["territory", "customers", "changes", "share used", "allowed by the policy"]
            + (["calls planned", "capacity"] if calls else []),
            [
                (
                    t["territory"],
                    t["customers"],
                    t["changes"],
                    f"{t['share_used']:.0%}",
                    t["allowed"],
                    *((t["calls_planned"], t["capacity"]) if calls else ()),
                )
                for t in found.territories
            ],
        )
    )
    stdout.print(
        table(
            "requests by reason",
            ["reason", "status", "requests"],
            [(r["reason"], r["status"], r["requests"]) for r in found.by_reason],
        )
    )
    _render_requests([r.model_dump() for r in found.pending], "pending")


@refinement.command("list")
@click.argument("cycle_id", type=int)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["pending", "accepted", "rejected", "expired"]),
    help="Only these (repeatable).",
)
@_person
@_as_json
def list_requests(cycle_id, statuses, person, as_json) -> None:
    """A cycle's requests with their decisions (with --as, those of your territories)."""
    found = app().refinement.requests(cycle_id, statuses=statuses, person=person)
    rows = [r.model_dump() for r in found]
    if as_json:
        echo_json(rows)
        return
    _render_requests(rows)


@refinement.command("history")
@click.option("--customer", required=True, help="A harmonia id or a source system's id.")
@click.option("--system", help="The system whose id it is.")
@click.option(
    "--out", type=click.Path(path_type=Path), help="Also write the history to this CSV file."
)
@_as_json
def history(customer: str, system: str | None, out: Path | None, as_json: bool) -> None:
    """Every request about a customer, in every cycle: who asked, who decided, old and new."""
    rows = app().refinement.history(customer, system=system)
    if out is not None:
        app().refinement.export(rows, out)
    if as_json:
        echo_json(rows)
        return
    _render_requests(rows, f"customer {customer}")
    if out is not None:
        stdout.print(f"history -> {out}")


@refinement.command("export")
@click.argument("cycle_id", type=int)
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="The CSV file to write."
)
def export(cycle_id: int, out: Path) -> None:
    """Every request of a cycle with its decision, as CSV (the audit of the refinement)."""
    rows = [r.model_dump() for r in app().refinement.requests(cycle_id)]
    app().refinement.export(rows, out)
    stdout.print(f"{len(rows):,} requests -> {out}")


@refinement.command("token")
@click.argument("person")
def token(person: str) -> None:
    """Issue PERSON's sign-in token for the web page (shown once; the old one stops working)."""
    issued = app().refinement.issue_token(person)
    stdout.print(f"token of {person}: {issued}")
    stdout.print("[dim]give it to them privately; harmonia keeps only its hash[/]")


@refinement.command("analytics")
@click.argument("cycle_id", type=int)
@_as_json
def analytics(cycle_id: int, as_json: bool) -> None:
    """What the field asked for and what was decided: by reason, rule and territory."""
    figures = app().refinement.analytics(cycle_id)
    if as_json:
        echo_json(figures)
        return
    stdout.print(
        f"[bold]cycle {cycle_id}[/]: {figures['requests']:,} requests; "
        f"{figures['customers_changed']:,} of {figures['customers']:,} customers changed "
        f"({figures['share_of_universe_changed']:.2%}), "
        f"{figures['final_segments_from_refinement']:,} final segments from refinement"
    )
    if any(figures["accounts"].values()):
        stdout.print(
            f"{figures['accounts']['added']:,} accounts added, "
            f"{figures['accounts']['kept']:,} kept on their territory"
        )
    if figures["goals"]["accepted"]:
        stdout.print(
            f"{figures['goals']['accepted']:,} call goals changed: "
            f"{figures['goals']['calls_added']:+,} calls planned"
        )
    stdout.print(
        table(
            "by reason",
            ["change", "reason", "status", "requests"],
            [(r["action"], r["reason"], r["status"], r["requests"]) for r in figures["by_reason"]],
        )
    )
    stdout.print(
        table(
            "by rule",
            ["rule", "status", "requests"],
            [(r["rule"], r["status"], r["requests"]) for r in figures["by_rule"]],
        )
    )
    stdout.print(
        table(
            "by territory",
            ["territory", "customers", "asked", "changed", "share changed"],
            [
                (
                    t["territory"],
                    t["customers"],
                    t["customers_asked"],
                    t["customers_changed"],
                    f"{t['share_changed']:.0%}",
                )
                for t in figures["by_territory"]
            ],
        )
    )
