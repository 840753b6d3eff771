"""``harmonia customer``: one customer, outside any cycle."""

from __future__ import annotations

import click

from harmonia.cli import app, echo_json
from harmonia.cli.lazy import LazyGroup
from harmonia.cli.render import escape, stdout, table


@click.group(cls=LazyGroup)
def customer() -> None:
    """Look up customers: their ids, identifiers and latest segments."""


@customer.command("show")
@click.argument("customer_id")
@click.option(
    "--system", help="Whose id CUSTOMER_ID is (a source system, or 'harmonia'), when two share it."
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def show(customer_id: str, system: str | None, as_json: bool) -> None:
    """One customer: the record, every id systems know them by, national identifiers,
    and the latest segments in each therapy area.

    \b
    harmonia customer show C00042
    harmonia customer show 10000016          (a national identifier)
    harmonia customer show 17 --system harmonia
    """
    details = app().customers.show(customer_id, system=system)
    if as_json:
        echo_json(details.to_json())
        return
    record = details.record
    name = " ".join(filter(None, (record["first_name"], record["last_name"]))) or "-"
    merged = f" (merged from {details.merged_from})" if details.merged_from else ""
    stdout.print(
        f"[bold]customer {record['id']}[/]{merged}: {escape(name)}, {record['type']}, "
        f"{escape(record['specialty'] or '-')}, {record['country']}"
    )
    place = ", ".join(escape(str(record[key])) for key in ("postal_code", "city") if record[key])
    stdout.print(f"  {place or '-'}; territory {escape(record['territory'] or '-')}")
    ids = [(system, source_id) for system, source_id in details.ids]
    ids += [(f"{scheme} (identifier)", value) for scheme, value in details.identifiers]
    stdout.print(table("ids", ["system", "id"], ids))
    if details.values:
        rows = [
            (v["attribute"], escape(str(v["value"])), v["system"], v["batch_id"], v["rule"])
            for v in details.values
        ]
        title = "golden values" if details.values[0]["rule"] != "latest" else "values"
        stdout.print(table(title, ["attribute", "value", "source", "batch", "rule"], rows))
    if not details.segments:
        stdout.print("No completed cycle has segmented this customer yet.")
        return
    rows = [
        (
            row["therapy_area"],
            row["cycle"],
            row["period"],
            row["status"],
            row["segment"],
            row["needs"],
            row["tier"],
            row["final_segment"],
            row["origin"],
        )
        for row in details.segments
    ]
    columns = ["area", "cycle", "period", "status", "segment", "needs", "tier", "final"]
    stdout.print(table("latest segments", [*columns, "origin"], rows))
