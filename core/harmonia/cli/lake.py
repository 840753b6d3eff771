"""``harmonia lake``: the store's customers and facts as Parquet for Spark."""

from __future__ import annotations

from pathlib import Path

import click

from harmonia.cli import app, echo_json
from harmonia.cli.lazy import LazyGroup
from harmonia.cli.render import stages, stdout, table


@click.group(cls=LazyGroup)
def lake() -> None:
    """Move a market's data to a lake, where `cycle run --engine spark` reads it."""


@lake.command("export")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
@click.option("--country", "-c", help="Only this market's customers and their facts.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows per table as JSON.")
def export(folder: Path | None, country: str | None, as_json: bool) -> None:
    """Write customers, metrics, responses, answers, identifiers and the crosswalk as
    Parquet, one folder per table, in the layout the Spark engine reads.

    FOLDER defaults to [spark] lake in harmonia.toml, else ./lake. A table already
    there is replaced once its new copy is complete. Copy the folder to your
    cluster's storage (or export straight to a mounted one) and point [spark]
    lake at it.

    \b
    harmonia lake export lake --country FR
    """
    with stages("lake export") as stage:
        where, written = app().lake.export(
            folder, country=country, on_table=lambda name, rows: stage(f"{name}: {rows:,} rows")
        )
    if as_json:
        echo_json({"lake": str(where), "tables": written})
        return
    stdout.print(table(f"lake {where}", ["table", "rows"], list(written.items())))
