"""``harmonia load``: bring data into the harmonized database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import click

from harmonia.cli import app, echo_json
from harmonia.cli.render import counting, escape, stdout, table
from harmonia.errors import ConfigError, Interrupted

if TYPE_CHECKING:
    from rich.table import Table


def _options(pairs: tuple[str, ...]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(
                f"--option {pair!r} is not KEY=VALUE", fix="write e.g. --option customers=1000"
            )
        options[key.strip()] = value
    return options


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--country", "-c", help="The market these records belong to (checks and conventions)."
)
@click.option(
    "--source",
    "-s",
    "source_name",
    help="Load through this installed data source instead of files.",
)
@click.option(
    "--option", "-o", "pairs", multiple=True, metavar="KEY=VALUE", help="An option for the source."
)
@click.option("--system", help="The system whose ids the records use (default: the source's name).")
@click.option(
    "--kind",
    type=click.Choice(
        ["customers", "metrics", "responses", "territories", "roster", "alignment", "affiliations"]
    ),
    help="Skip header detection.",
)
@click.option(
    "--decimal", type=click.Choice([".", ","]), help="Decimal mark (default: the country's)."
)
@click.option("--delimiter", help="CSV delimiter (default: the country's, else sniffed).")
@click.option(
    "--encoding",
    help="CSV text encoding, e.g. cp1252 for Excel's plain CSV (default: the country's, "
    "else utf-8).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def load(
    paths: tuple[Path, ...],
    country: str | None,
    source_name: str | None,
    pairs: tuple[str, ...],
    system: str | None,
    kind: str | None,
    decimal: str | None,
    delimiter: str | None,
    encoding: str | None,
    as_json: bool,
) -> None:
    """Load canonical files (customers, metrics, responses) or a source's records.

    \b
    harmonia load data/ --country FR
    harmonia load customers.csv metrics.csv --system crm
    harmonia load --source synthetic --option customers=1000 --country FR
    harmonia load list [--country FR] [--kind metrics] [--json]

    Every row is stored or quarantined with its reasons; loading the same
    rows again changes nothing. See rejected rows with `harmonia quarantine list`.
    """
    given = _options(pairs)  # what the user set; the command fills in more below
    options = dict(given)
    if kind:
        options["kind"] = kind
    if encoding:
        options["encoding"] = encoding
    if delimiter:
        delimiter = "\t" if delimiter in ("tab", "\\t") else delimiter
        if len(delimiter) != 1:
            raise click.BadParameter(
                f"{delimiter!r} is not a single character (write tab for a tab)",
                param_hint="--delimiter",
            )
        options["delimiter"] = delimiter
    if not paths and not source_name:
        raise click.UsageError("give files or folders to load, or --source NAME")
    if paths == (Path("list"),) and not paths[0].exists() and not source_name:
        _list_batches(country, kind, as_json)
        return
    try:
        loads = app().loads
        jobs = loads.plan(paths, source=source_name, options=options, given=given)
    except KeyboardInterrupt:
        named = ", ".join(str(path) for path in paths) or source_name
        raise Interrupted(f"interrupted before loading: nothing from {named} was stored") from None
    with counting("loading", len(jobs)) as advance:
        results = loads.run(jobs, country=country, system=system, decimal=decimal, progress=advance)
    if as_json:
        echo_json([attrs.asdict(result) for result in results])
        return
    _render(results)


def _list_batches(country: str | None, kind: str | None, as_json: bool) -> None:
    """``harmonia load list``: the load batches, newest first, and what each brought."""
    batches = app().loads.batches(country=country, kind=kind)
    if as_json:
        echo_json([batch.model_dump(exclude={"owner"}) for batch in batches])
        return
    if not batches:
        stdout.print("No loads yet: `harmonia load FILES --country XX`.")
        return
    rows = [
        (
            b.id,
            _file_and_kind(b.location, b.kind),
            b.country or "-",
            b.status,
            b.rows_read,
            b.rows_loaded,
            b.rows_quarantined,
            b.started_at.strftime("%Y-%m-%d %H:%M"),
            b.actor,
        )
        for b in batches
    ]
    columns = ["batch", "file", "country", "status", "read", "loaded", "quarantined"]
    stdout.print(table(None, [*columns, "started", "by"], rows))


def _file_and_kind(location: str, kind: str) -> str:
    """The file's name, and what it held unless the name says (customers.csv)."""
    path = Path(location)
    return path.name if path.stem.lower() == kind else f"{path.name} ({kind})"


def summary_table(results: list, title: str | None = None) -> Table:
    """One row per loaded file: what became of its rows.

    A file loaded again shows as unchanged: nothing in the store moved.
    """
    columns = ["batch", "file", "read", "new", "updated", "unchanged", "quarantined"]
    rows = [
        (
            r.batch_id,
            _file_and_kind(r.location, r.kind),
            r.rows_read,
            r.rows_new,
            r.rows_updated,
            r.rows_unchanged,
            r.rows_quarantined,
        )
        for r in results
    ]
    return table(title, columns, rows, pad_edge=False)  # fits 80 columns


def _ignored(result) -> str:
    """One line about the columns a file held that its kind does not read (a wide
    export can hold thousands: the first few are named, the rest counted)."""
    names = result.ignored_columns
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5:,} more" if len(names) > 5 else "")
    count = f"{len(names):,} column{'s' if len(names) != 1 else ''}"
    return f"{Path(result.location).name}: ignored {count} ({shown}); --json lists them all"


def _render(results: list) -> None:
    stdout.print(summary_table(results))
    for result in results:
        if result.skipped:
            # Same content as the batch shown, nothing since that could change
            # its outcome: nothing was read or written.
            stdout.print(
                f"[dim]{Path(result.location).name}: same as batch {result.batch_id}, skipped"
            )
        if result.ignored_columns:
            stdout.print(f"[yellow]{escape(_ignored(result))}", soft_wrap=True)
        for warning in result.warnings:
            stdout.print(f"[yellow]{escape(Path(result.location).name)}: {escape(warning)}")
        for reason, count in result.reasons:
            stdout.print(f"  [red]{count:>7,}[/] x {reason}  [dim](batch {result.batch_id})")
    if any(result.rows_quarantined for result in results):
        stdout.print(
            "See every rejected row: [bold]harmonia quarantine list[/] (fix and load again)."
        )
