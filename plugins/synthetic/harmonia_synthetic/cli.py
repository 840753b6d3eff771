"""``harmonia synthetic write``: a synthetic universe as canonical CSV files.

Files are written chunk by chunk through :func:`harmonia.files.write_csv`
into a scratch directory and appended to the final files, so memory stays
bounded by one chunk even for 10M customers. numpy and pyarrow load inside
the command, never at CLI start.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

import harmonia
from harmonia import Batch, CountryProfile, HarmoniaError, SourceRequest
from harmonia_synthetic import reference

if TYPE_CHECKING:
    from harmonia_synthetic.universe import Universe


@click.group(name="synthetic")
def synthetic() -> None:
    """Synthetic customer universes for demos, tests and benchmarks.

    A universe is realistic (specialty mix, heavy-tailed potential, valid
    national identifiers, questionnaire answers that follow potential) and
    deterministic: the same seed and options give byte-identical files.
    """


@synthetic.command(name="write")
@click.option(
    "--customers",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="How many customers to generate: about 95% HCPs and 5% HCOs.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=42,
    show_default=True,
    help="Random seed. The same seed and options give byte-identical files.",
)
@click.option(
    "--country",
    default="FR",
    show_default=True,
    help="ISO 3166 code of the market. Names, cities, territories, identifier schemes and "
    "the file conventions follow it.",
)
@click.option(
    "--therapy-area",
    default="oncology",
    show_default=True,
    help="Therapy area: sets the specialty mix, the metrics' therapy area and which "
    "installed questionnaire is answered.",
)
@click.option(
    "--period",
    default="2027-H1",
    show_default=True,
    help="Cycle period the data leads up to: potential for the year before it, trx for the "
    "last 8 quarters, calls for the last 4, responses dated in the 18 months before it starts.",
)
@click.option(
    "--coverage",
    type=click.FloatRange(0, 1),
    default=0.3,
    show_default=True,
    help="Share of HCPs who answered the questionnaire. Responses need a questionnaire for "
    "the therapy area among the installed packs.",
)
@click.option(
    "--error-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of rows spoiled on purpose to exercise quarantine: wrong check digits, "
    "unknown countries, impossible periods, non-numbers, unknown customers, answers "
    "not offered. Nothing marks them.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for customers.csv, metrics.csv and responses.csv; created if needed, "
    "files of the same name replaced.",
)
@click.option(
    "--delimiter",
    default=None,
    help="Field delimiter. Default: the country profile's if installed, else ';' where "
    "numbers use decimal commas (FR, DE, ES, IT, NL, BE, AT, PT ...) and ',' elsewhere.",
)
@click.option(
    "--decimal",
    type=click.Choice([".", ","]),
    default=None,
    help="Decimal mark of numbers. Default: the country profile's if installed, else ',' "
    "for decimal-comma countries and '.' elsewhere.",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=250_000,
    show_default=True,
    help="Customers generated at a time. Lower it to use less memory; it never changes the data.",
)
def write(
    customers: int,
    seed: int,
    country: str,
    therapy_area: str,
    period: str,
    coverage: float,
    error_rate: float,
    out: Path,
    delimiter: str | None,
    decimal: str | None,
    chunk_size: int,
) -> None:
    """Write a synthetic universe as canonical CSV files, ready for `harmonia load`.

    Example: harmonia synthetic write --customers 100000 --country FR --out data/
    """
    from harmonia_synthetic.generator import chunks

    options = {
        "customers": str(customers),
        "seed": str(seed),
        "therapy_area": therapy_area,
        "period": period,
        "coverage": str(coverage),
        "error_rate": str(error_rate),
        "chunk_size": str(chunk_size),
    }
    country = country.strip().upper()
    request, universe = _plan(options, country)
    delimiter, decimal = _conventions(country, request.profile, delimiter, decimal)
    questionnaire = universe.questionnaire
    decimal_items = (
        [i.id for i in questionnaire.items if i.type == "decimal"] if questionnaire else []
    )
    with _progress(universe) as advance:
        chunked = chunks(universe, chunk_size)
        written = write_files(chunked, out, delimiter, decimal, advance, decimal_items)
    click.echo(_summary(written, out, universe))


def write_files(
    chunked: Iterable[list[Batch]],
    directory: Path,
    delimiter: str,
    decimal: str,
    advance: Callable[[int], None] = lambda customers: None,
    decimal_items: Collection[str] = (),
) -> dict[str, tuple[Path, int]]:
    """Write chunks of batches as ``<kind>.csv``; returns each file and its row count.

    ``decimal_items`` are the questionnaire's decimal items, whose answers take
    the market's decimal mark like metric values do.
    """
    from harmonia.files import write_csv

    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, tuple[Path, int]] = {}
    with tempfile.TemporaryDirectory(prefix=".synthetic-", dir=directory) as scratch:
        for batches in chunked:
            parts = write_csv(
                [_for_file(batch, decimal, decimal_items) for batch in batches],
                Path(scratch),
                delimiter=delimiter,
                decimal=decimal,
            )
            for batch in batches:
                target, rows = written.get(batch.kind, (directory / parts[batch.kind].name, 0))
                _append(parts[batch.kind], target, header=batch.kind not in written)
                written[batch.kind] = (target, rows + batch.table.num_rows)
                if batch.kind == "customers":
                    advance(batch.table.num_rows)
    return written


def _plan(options: Mapping[str, str], country: str) -> tuple[SourceRequest, Universe]:
    """The request the installed packs answer, and the universe it describes."""
    from harmonia_synthetic.source import generate_arguments
    from harmonia_synthetic.universe import Universe

    try:
        request = _source_request(options, country)
        arguments = generate_arguments(request)
        arguments.pop("chunk_size")
        return request, Universe.build(**arguments)
    except (HarmoniaError, ValueError) as error:
        raise click.UsageError(str(error)) from None


def _source_request(options: Mapping[str, str], country: str) -> SourceRequest:
    """What the installed packs offer for this load (questionnaires, schemes, profile)."""
    # harmonia.source_request arrives with the CLI; until then, a bare request.
    factory = getattr(harmonia, "source_request", None)
    if factory is None:
        return SourceRequest(options=dict(options), country=country)
    return factory(options, country)


def _conventions(
    country: str, profile: CountryProfile | None, delimiter: str | None, decimal: str | None
) -> tuple[str, str]:
    """Delimiter and decimal mark: the flags, else the profile's, else the country's habit."""
    if profile is not None:
        usual_delimiter, usual_decimal = profile.csv.delimiter, profile.csv.decimal
    else:
        usual_delimiter, usual_decimal = reference.csv_conventions(country)
    decimal = decimal or usual_decimal
    if delimiter is None:
        # `--decimal ,` alone in a ','-delimited market moves the delimiter out of the way.
        delimiter = usual_delimiter if usual_delimiter != decimal else ";"
    if len(delimiter) != 1:
        raise click.BadParameter(
            f"{delimiter!r} is not a single character", param_hint="--delimiter"
        )
    if delimiter == decimal:
        raise click.BadParameter(
            f"the delimiter and the decimal mark are both {decimal!r}; choose different ones",
            param_hint="--delimiter",
        )
    return delimiter, decimal


def _for_file(batch: Batch, decimal: str, decimal_items: Collection[str]) -> Batch:
    """Numbers as the market writes them: ``3`` and ``1234,57`` (not ``3,0``), also in answers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = batch.table
    if batch.kind == "metrics":
        value = table["value"]
        text = value if pa.types.is_string(value.type) else pc.cast(value, pa.string())
        if decimal != ".":
            text = pc.replace_substring(text, ".", decimal)
        table = table.set_column(table.schema.get_field_index("value"), "value", text)
    elif batch.kind == "responses" and decimal != "." and decimal_items:
        answer = table["answer"]
        numeric = pc.is_in(table["question"], value_set=pa.array(list(decimal_items), pa.string()))
        market = pc.if_else(numeric, pc.replace_substring(answer, ".", decimal), answer)
        table = table.set_column(table.schema.get_field_index("answer"), "answer", market)
    return Batch(batch.kind, table, batch.location)


def _append(part: Path, target: Path, *, header: bool) -> None:
    """Move the first part into place; append later parts without their header line."""
    if header:
        os.replace(part, target)
        return
    with part.open("rb") as source, target.open("ab") as destination:
        source.readline()
        shutil.copyfileobj(source, destination)


@contextmanager
def _progress(universe: Universe) -> Iterator[Callable[[int], None]]:
    """A progress bar over customers on stderr, gone when done; yields ``advance(n)``."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn())
    bar = Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True), transient=True)
    with bar:
        task = bar.add_task("generating customers", total=universe.customers)
        yield lambda customers: bar.advance(task, customers)


def _summary(written: Mapping[str, tuple[Path, int]], out: Path, universe: Universe) -> str:
    """The final line: each file written with its row count."""
    files = ", ".join(f"{path.name} ({rows:,} rows)" for path, rows in written.values())
    line = f"wrote {files} to {out}"
    if "responses" not in written:
        line += f"; no responses.csv: no questionnaire for {universe.therapy_area}"
        if getattr(harmonia, "source_request", None) is None:
            line += " (this harmonia cannot tell the command which packs are installed)"
        else:
            line += " is installed"
    return line
