"""Reading canonical files (CSV, Parquet) into batches.

CSV is read by DuckDB as text: ``,`` or ``;`` (sniffed, or given), UTF-8
with or without a byte-order mark, header names normalized (``Customer ID``
becomes ``customer_id``). Lines DuckDB cannot split into the header's columns
are not lost: they come back as rejected lines and are quarantined with
DuckDB's reason. Each batch carries ``_row``, the row's line number in the
file (the header is line 1, as in a spreadsheet).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from harmonia.errors import InputError
from harmonia.records import RECORD_KINDS, Batch

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa


@attrs.frozen
class RejectedLine:
    """A line of a text file that could not be split into the header's columns."""

    line: int
    text: str
    reason: str


@attrs.frozen
class FileBatch(Batch):
    """A batch read from a file, with the lines that could not be read at all."""

    rejected_lines: tuple[RejectedLine, ...] = ()
    ignored_columns: tuple[str, ...] = ()
    delimiter: str | None = None


def normalize_header(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower().lstrip("\ufeff")).strip("_")


def detect_kind(columns: list[str], location: str, kind: str | None = None) -> str:
    """The record kind whose required columns the header has."""
    if kind is not None:
        if kind not in RECORD_KINDS:
            raise InputError(
                f"{kind!r} is not a record kind",
                where=location,
                fix=f"use one of {sorted(RECORD_KINDS)}",
            )
        missing = [name for name in RECORD_KINDS[kind].required if name not in columns]
        if missing:
            raise InputError(
                f"a {kind} file needs the columns {', '.join(missing)}; the header has {', '.join(columns)}",
                where=location,
                fix="rename the columns (see the README's input formats)",
            )
        return kind
    matches = [name for name, spec in RECORD_KINDS.items() if set(spec.required) <= set(columns)]
    if len(matches) == 1:
        return matches[0]
    expected = "; ".join(
        f"{name}: {', '.join(spec.required)}" for name, spec in RECORD_KINDS.items()
    )
    raise InputError(
        f"cannot tell what this file holds from its header ({', '.join(columns) or 'empty'})",
        where=location,
        fix=f"give the required columns of one kind ({expected}), or name it with --kind",
    )


def read_csv(
    path: Path,
    *,
    delimiter: str | None = None,
    kind: str | None = None,
    encoding: str = "utf-8",
) -> Iterator[FileBatch]:
    """Read a canonical CSV file as one batch of text columns."""
    import duckdb

    location = str(path)
    if not path.is_file():
        raise InputError("no such file", where=location, fix="check the path")
    connection = duckdb.connect()
    try:
        options = ["all_varchar = true", "header = true", "store_rejects = true"]
        if delimiter:
            options.append(f"delim = '{_escape(delimiter)}'")
        if encoding.lower().replace("-", "") not in ("utf8",):
            options.append(f"encoding = '{_escape(encoding)}'")
        source = f"read_csv('{_escape(location)}', {', '.join(options)})"
        try:
            relation = connection.sql(f"SELECT * FROM {source}")
            columns = [normalize_header(name) for name in relation.columns]
        except duckdb.Error as error:
            raise InputError(
                f"cannot read this file as CSV: {_first_line(error)}",
                where=location,
                fix="save it as CSV (UTF-8) with a header row",
            ) from None
        table = _fetch(connection, source, relation.columns)
        rejected = _rejected_lines(connection)
        if delimiter is None:
            delimiter = connection.sql(
                f"SELECT Delimiter FROM sniff_csv('{_escape(location)}')"
            ).fetchall()[0][0]
    finally:
        connection.close()
    yield attrs.evolve(_batch(table, columns, location, kind, rejected), delimiter=delimiter)


def read_parquet(path: Path, *, kind: str | None = None) -> Iterator[FileBatch]:
    """Read a canonical Parquet file as one batch (columns cast to text)."""
    import duckdb

    location = str(path)
    if not path.is_file():
        raise InputError("no such file", where=location, fix="check the path")
    connection = duckdb.connect()
    try:
        source = f"read_parquet('{_escape(location)}')"
        try:
            names = connection.sql(f"SELECT * FROM {source}").columns
        except duckdb.Error as error:
            raise InputError(
                f"cannot read this file as Parquet: {_first_line(error)}", where=location
            ) from None
        table = _fetch(connection, source, names)
    finally:
        connection.close()
    yield _batch(table, [normalize_header(name) for name in names], location, kind, ())


def _fetch(connection: duckdb.DuckDBPyConnection, source: str, names: list[str]) -> pa.Table:
    """All columns as text, renamed to canonical names, with line numbers."""
    select = ", ".join(
        f'CAST("{_ident(name)}" AS VARCHAR) AS "{normalize_header(name)}"' for name in names
    )
    return connection.sql(
        f"SELECT {select}, CAST(row_number() OVER () AS BIGINT) AS _row FROM {source}"
    ).to_arrow_table()


def _rejected_lines(connection: duckdb.DuckDBPyConnection) -> tuple[RejectedLine, ...]:
    rows = connection.sql(
        "SELECT line, csv_line, error_message FROM reject_errors ORDER BY line"
    ).fetchall()
    return tuple(RejectedLine(int(line), text or "", reason) for line, text, reason in rows)


def _batch(
    table: pa.Table,
    columns: list[str],
    location: str,
    kind: str | None,
    rejected: tuple[RejectedLine, ...],
) -> FileBatch:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = detect_kind(columns, location, kind)
    spec = RECORD_KINDS[kind]
    # Data row k is on line k + 1, plus one for every rejected line before it.
    rows = table.column("_row")
    if rejected:
        shifts = sorted(line.line - index for index, line in enumerate(rejected, start=1))
        import bisect

        rows = pa.array(
            [k + 1 + bisect.bisect_right(shifts, k) for k in rows.to_pylist()], pa.int64()
        )
    else:
        rows = pc.add(rows, 1)
    arrays = {
        name: table.column(name) if name in columns else pa.nulls(table.num_rows, pa.string())
        for name in spec.column_names
    }
    arrays["_row"] = rows
    ignored = tuple(name for name in columns if name not in spec.column_names)
    return FileBatch(
        kind, pa.table(arrays), location, rejected_lines=rejected, ignored_columns=ignored
    )


def _escape(text: str) -> str:
    return text.replace("'", "''")


def _ident(name: str) -> str:
    return name.replace('"', '""')


def _first_line(error: Exception) -> str:
    return str(error).strip().split("\n")[0]


KIND_ORDER = ("customers", "metrics", "responses")


def peek_kind(path: Path) -> str | None:
    """The kind of a canonical file from its header alone (None when unclear)."""
    import csv

    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            columns = [normalize_header(name) for name in pq.read_schema(path).names]
        else:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                header = handle.readline()
            delimiter = ";" if header.count(";") > header.count(",") else ","
            columns = [
                normalize_header(name) for name in next(csv.reader([header], delimiter=delimiter))
            ]
        return detect_kind(columns, str(path))
    except (InputError, OSError, StopIteration, ValueError):
        return None
