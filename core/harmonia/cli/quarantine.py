"""``harmonia quarantine``: the rows that were rejected, and why."""

from __future__ import annotations

from pathlib import Path

import attrs
import click

from harmonia.cli import app, echo_json
from harmonia.cli.lazy import LazyGroup
from harmonia.cli.render import stdout, table


@click.group(cls=LazyGroup)
def quarantine() -> None:
    """Rows rejected at load, kept whole with every reason."""


_filters = [
    click.option("--batch", "-b", type=int, help="Only this load batch."),
    click.option(
        "--kind",
        type=click.Choice(
            [
                "customers",
                "metrics",
                "responses",
                "territories",
                "roster",
                "alignment",
                "affiliations",
            ]
        ),
    ),
    click.option(
        "--all", "include_resolved", is_flag=True, help="Include rows fixed by a later load."
    ),
]


def _with_filters(function):
    for option in reversed(_filters):
        function = option(function)
    return function


@quarantine.command("list")
@_with_filters
@click.option(
    "--limit",
    "-n",
    type=int,
    help="At most this many rows (default: 50 in the table, all with --json; 0: all).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def list_rows(
    batch: int | None, kind: str | None, include_resolved: bool, limit: int | None, as_json: bool
) -> None:
    """List rejected rows: where they came from, what they held, why they were rejected."""
    if limit is None:
        limit = 0 if as_json else 50  # scripts get everything unless they ask for less
    rows = app().loads.quarantined(
        batch=batch, kind=kind, include_resolved=include_resolved, limit=limit or None
    )
    if as_json:
        echo_json([attrs.asdict(row) for row in rows])
        return
    if not rows:
        stdout.print("No rejected rows." if not include_resolved else "No quarantined rows.")
        return
    shown = [
        (
            row.batch,
            f"{Path(row.location).name}:{row.row}",
            row.kind,
            "\n".join(row.reasons),
            _compact(row.record),
        )
        for row in rows
    ]
    stdout.print(
        table(None, ["batch", "where", "kind", "reasons", "record"], shown, show_lines=True)
    )
    if limit and len(rows) == limit:
        stdout.print(
            f"[dim]First {limit} rows; --limit 0 shows all, `quarantine export` writes them out."
        )


@quarantine.command("export")
@_with_filters
@click.option(
    "--out",
    "-o",
    "directory",
    type=click.Path(path_type=Path),
    default=Path("quarantine"),
    show_default=True,
    help="Folder for one CSV per kind.",
)
@click.option(
    "--country",
    "-c",
    help="Write in this market's CSV conventions (default: the market the rows were loaded for).",
)
def export(
    batch: int | None,
    kind: str | None,
    include_resolved: bool,
    directory: Path,
    country: str | None,
) -> None:
    """Write rejected rows as canonical CSV, to fix and load again.

    \b
    harmonia quarantine export --out fix/
    (fix the rows in fix/customers.csv ...)
    harmonia load fix/ --country FR

    Each row keeps its quarantine_id: when the fixed file loads, the rows
    that now pass mark their quarantine entries resolved, and rows still
    wrong stay quarantined once, with their new reasons. A line that could
    not be read keeps its text in original_line, its columns filled in from
    it from the left: check them, empty original_line, and load again.
    """
    exported = app().loads.export_quarantine(
        directory, batch=batch, kind=kind, include_resolved=include_resolved, country=country
    )
    for written in exported:
        stdout.print(f"{written.rows:,} {written.kind} rows -> {written.path}")
    if not exported:
        stdout.print("No rejected rows.")


def _compact(record: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in record.items() if value not in (None, ""))
