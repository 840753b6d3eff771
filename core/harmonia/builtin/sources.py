"""Built-in data sources: canonical CSV and Parquet files.

They go through the same hook as any installed source; ``harmonia load
PATH`` picks one by the file's suffix.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from harmonia import RECORD_KINDS, Batch, DataSource, InputError, Option, SourceRequest, hookimpl

_FILE_OPTIONS = (
    Option("path", "the file to read", required=True),
    Option(
        "kind",
        "customers, metrics, responses, territories, roster, alignment or affiliations "
        "(default: recognized from the header)",
    ),
)


def _path(request: SourceRequest) -> Path:
    path = request.option("path")
    if not path:
        raise InputError(
            "no file given", fix="pass --option path=FILE, or give the file to `harmonia load`"
        )
    return Path(path)


def read_csv(request: SourceRequest) -> Iterator[Batch]:
    from harmonia.files import read_csv as read

    # The delimiter is read off the header unless given; the market's
    # conventions decide how numbers and dates are read, not how lines split.
    profile = request.profile
    # An --encoding given is taken at its word; the country's encoding comes
    # with its legacy fallback (Excel's plain 'CSV' of the market), if any.
    given = request.option("encoding")
    encoding = given or (profile.csv.encoding if profile else "utf-8")
    fallback = None if given or profile is None else profile.csv.fallback_encoding
    yield from read(
        _path(request),
        delimiter=request.option("delimiter"),
        kind=request.option("kind"),
        encoding=encoding,
        fallback_encoding=fallback,
    )


def read_parquet(request: SourceRequest) -> Iterator[Batch]:
    from harmonia.files import read_parquet as read

    yield from read(_path(request), kind=request.option("kind"))


@hookimpl
def harmonia_data_sources():
    return [
        DataSource(
            name="csv",
            description="Canonical CSV files: ',' or ';' delimited, UTF-8 with or without BOM, "
            "decimal commas where the market uses them.",
            kinds=set(RECORD_KINDS),
            family="local",
            read=read_csv,
            suffixes={".csv", ".txt"},
            options=(
                *_FILE_OPTIONS,
                Option("delimiter", "the delimiter (default: the one the header line uses)"),
                Option("encoding", "the text encoding (default: the country's, else utf-8)"),
            ),
        ),
        DataSource(
            name="parquet",
            description="Canonical Parquet files, columns named as in the CSV formats.",
            kinds=set(RECORD_KINDS),
            family="local",
            read=read_parquet,
            suffixes={".parquet"},
            options=_FILE_OPTIONS,
        ),
    ]
