"""``harmonia privacy``: objections to profiling, erasure, pseudonymised exports."""

from __future__ import annotations

from pathlib import Path

import click

from harmonia.cli import app, echo_json
from harmonia.cli.lazy import LazyGroup
from harmonia.cli.render import stdout, table

_ids = click.argument("customer_ids", nargs=-1, type=int, required=True, metavar="ID...")
_json = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


@click.group(cls=LazyGroup)
def privacy() -> None:
    """GDPR: objections to profiling (Art. 21), erasure (Art. 17), pseudonymised exports.

    A customer who objects gets no segment in any cycle and appears in no
    target list, workbook, sink, report or export.
    """


@privacy.command("object")
@_ids
@click.option("--source", default="command", show_default=True, help="Who reported the objection.")
@_json
def object_(customer_ids: tuple[int, ...], source: str, as_json: bool) -> None:
    """Record that customers (harmonia ids) object to profiling; their stored results go."""
    result = app().privacy.object(customer_ids, source=source)
    if as_json:
        echo_json(result.to_json())
        return
    if result.added:
        stdout.print(f"Objection recorded for {_list(result.added)}.")
    if result.already:
        stdout.print(f"Already objecting: {_list(result.already)}.")


@privacy.command("withdraw")
@_ids
def withdraw(customer_ids: tuple[int, ...]) -> None:
    """Lift objections: the customers are profiled again from the next cycle."""
    lifted = app().privacy.withdraw(customer_ids)
    stdout.print(f"Objection lifted for {_list(lifted)}." if lifted else "No objection to lift.")


@privacy.command("objections")
@_json
def list_objections(as_json: bool) -> None:
    """List the customers who object to profiling."""
    rows = app().privacy.objections()
    if as_json:
        echo_json([o.model_dump() for o in rows])
        return
    if not rows:
        stdout.print("No objections.")
        return
    shown = [(o.customer_id, o.source, o.actor, o.at) for o in rows]
    stdout.print(table(None, ["customer", "source", "by", "at"], shown))


@privacy.command("erase")
@click.argument("customer_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_json
def erase(customer_id: int, yes: bool, as_json: bool) -> None:
    """Erase a person's data everywhere harmonia can reach; an audit entry without it remains.

    The report counts the rows removed or emptied in each table. "customer_version
    (earlier states emptied)" counts the record's states a load replaced (what --as-of
    replays): 0 for a person whose record never changed since its first load.
    """
    if not yes:
        click.confirm(f"Erase customer {customer_id} and every id merged into it?", abort=True)
    result = app().privacy.erase(customer_id)
    if as_json:
        echo_json(result.to_json())
        if result.failed:
            raise click.exceptions.Exit(1)
        return
    stdout.print(f"Erased customer {_list(result.customers)}.")
    stdout.print(table(None, ["table", "rows"], sorted(result.removed.items())))
    for location in result.files_cleaned:
        stdout.print(f"Removed from {location}")
    if result.unreachable:
        stdout.print("[bold]Not reachable from here, erase there:[/bold]")
        for location in result.unreachable:
            stdout.print(f"  {location}")
    if result.failed:
        stdout.print("[bold red]Could not rewrite (the audit entry records it):[/bold red]")
        for problem in result.failed:
            stdout.print(f"  {problem}")
        raise click.exceptions.Exit(1)


@privacy.command("rotate-key")
def rotate_key() -> None:
    """A new key for the suppression list of erased people (the old ones stay to check
    the entries hashed under them; a keyed hash cannot be re-keyed)."""
    path = app().privacy.rotate_key()
    stdout.print(f"The suppression list has a new key, first in {path}; back the file up.")


@privacy.command("export")
@click.argument("cycle_id", type=int)
@click.option(
    "--key-file",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The secret key (32+ bytes); the same key gives the same pseudonyms.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Where to write: .parquet or .csv.",
)
def export(cycle_id: int, key_file: Path, output: Path) -> None:
    """Write a cycle's segmentation for analytics vendors: keyed hashes, no personal data."""
    rows = app().privacy.export(cycle_id, key_file, output)
    stdout.print(f"Wrote {rows} pseudonymised rows to {output}.")


def _list(ids: tuple[int, ...] | list[int]) -> str:
    return ", ".join(map(str, ids))
