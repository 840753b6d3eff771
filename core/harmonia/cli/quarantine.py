"""``harmonia quarantine``: the rows that were rejected, and why."""

from __future__ import annotations

import json
from pathlib import Path

import click

from harmonia.cli import app, echo_json
from harmonia.cli.lazy import LazyGroup
from harmonia.cli.render import stdout, table


@click.group(cls=LazyGroup)
def quarantine() -> None:
    """Rows rejected at load, kept whole with every reason."""


def _rows(batch: int | None, kind: str | None, include_resolved: bool, limit: int | None) -> list:
    from sqlmodel import select

    from harmonia.store.models import Quarantine

    with app().existing_database.session() as session:
        query = select(Quarantine).order_by(Quarantine.batch_id, Quarantine.row_number)
        if batch is not None:
            query = query.where(Quarantine.batch_id == batch)
        if kind:
            query = query.where(Quarantine.kind == kind)
        if not include_resolved:
            query = query.where(Quarantine.resolved_batch_id.is_(None))
        if limit:
            query = query.limit(limit)
        return list(session.exec(query).all())


_filters = [
    click.option("--batch", "-b", type=int, help="Only this load batch."),
    click.option("--kind", type=click.Choice(["customers", "metrics", "responses"])),
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
    rows = _rows(batch, kind, include_resolved, limit or None)
    if as_json:
        echo_json(
            [
                {
                    "id": row.id,
                    "batch": row.batch_id,
                    "kind": row.kind,
                    "location": row.location,
                    "row": row.row_number,
                    "record": json.loads(row.record),
                    "reasons": json.loads(row.reasons),
                    "resolved_by_batch": row.resolved_batch_id,
                }
                for row in rows
            ]
        )
        return
    if not rows:
        stdout.print("No rejected rows." if not include_resolved else "No quarantined rows.")
        return
    shown = [
        (
            row.batch_id,
            f"{Path(row.location).name}:{row.row_number}",
            row.kind,
            "\n".join(json.loads(row.reasons)),
            _compact(json.loads(row.record)),
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
def export(batch: int | None, kind: str | None, include_resolved: bool, directory: Path) -> None:
    """Write rejected rows as canonical CSV, to fix and load again.

    Each row keeps its quarantine_id: when the fixed file loads, the rows
    that now pass mark their quarantine entries resolved.
    """
    import pyarrow as pa

    from harmonia.files import write_table_csv
    from harmonia.plugin.types import RECORD_KINDS

    by_kind: dict[str, list] = {}
    for row in _rows(batch, kind, include_resolved, None):
        by_kind.setdefault(row.kind, []).append(row)
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in by_kind.items():
        columns = RECORD_KINDS[name].column_names
        records = [json.loads(row.record) for row in rows]
        data = {"quarantine_id": [row.id for row in rows]}
        data |= {column: [record.get(column) for record in records] for column in columns}
        data["reasons"] = ["; ".join(json.loads(row.reasons)) for row in rows]
        path = write_table_csv(pa.table(data), directory / f"{name}.csv")
        stdout.print(f"{len(rows):,} {name} rows -> {path}")
    if not by_kind:
        stdout.print("No rejected rows.")


def _compact(record: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in record.items() if value not in (None, ""))
