"""Writing canonical files: batches as the CSV files ``harmonia load`` reads, and any
Arrow table as CSV in a market's conventions.

Sources (the synthetic universe, a vendor connector) and the demo use this to
hand users files in their market's conventions: ``;`` and decimal commas for
European Excel, ``,`` and points elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harmonia.compute import scratch_connection
from harmonia.plugin.types import RECORD_KINDS, Batch
from harmonia.sql import identifier, quote

if TYPE_CHECKING:
    import pyarrow as pa


def write_csv(
    batches: Iterable[Batch],
    directory: Path,
    *,
    delimiter: str = ",",
    decimal: str = ".",
) -> dict[str, Path]:
    """Write batches as ``<kind>.csv`` files in ``directory``; returns the paths by kind.

    Columns come out in canonical order (see :data:`harmonia.RECORD_KINDS`),
    UTF-8 with a header. Batches of the same kind are appended to one file.
    """
    import pyarrow as pa

    directory.mkdir(parents=True, exist_ok=True)
    tables: dict[str, list[pa.Table]] = {}
    for batch in batches:
        tables.setdefault(batch.kind, []).append(batch.table)
    written: dict[str, Path] = {}
    for kind, parts in tables.items():
        columns = RECORD_KINDS[kind].column_names
        table = pa.concat_tables(
            [
                part.select([name for name in columns if name in part.column_names])
                for part in parts
            ],
            promote_options="permissive",
        )
        path = directory / f"{kind}.csv"
        write_table_csv(table, path, delimiter=delimiter, decimal=decimal)
        written[kind] = path
    return written


def write_table_csv(
    table: pa.Table, path: Path, *, delimiter: str = ",", decimal: str = "."
) -> Path:
    """Write any Arrow table as CSV with a header, in the market's conventions."""
    connection = scratch_connection()
    connection.register("output", table)
    try:
        select = ", ".join(_formatted(field, decimal) for field in table.schema) or "*"
        connection.execute(
            f"COPY (SELECT {select} FROM output) TO {quote(str(path))} "
            f"(HEADER, DELIMITER {quote(delimiter)})"
        )
    finally:
        connection.unregister("output")
    return path


def _formatted(field: pa.Field, decimal: str) -> str:
    """A column as written: floating-point numbers with the market's decimal mark."""
    import pyarrow as pa

    name = identifier(field.name)
    if decimal != "." and (pa.types.is_floating(field.type) or pa.types.is_decimal(field.type)):
        return f"replace(CAST({name} AS VARCHAR), '.', {quote(decimal)}) AS {name}"
    return name


#: The file formats :func:`write_table` writes, by suffix.
TABLE_SUFFIXES = (".csv", ".parquet")


def check_table_path(path: Path) -> None:
    """Refuse a path :func:`write_table` cannot write (before computing what goes in it)."""
    if path.suffix not in TABLE_SUFFIXES:
        from harmonia.errors import ConfigError

        raise ConfigError(
            f"cannot write {path.suffix or 'a file without suffix'}",
            where=str(path),
            fix="name the output .parquet or .csv",
        )


def write_table(table: pa.Table, path: Path, *, delimiter: str = ",", decimal: str = ".") -> Path:
    """Write an Arrow table as Parquet or CSV (in the market's conventions), by the suffix."""
    check_table_path(path)
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, path)
            return path
        return write_table_csv(table, path, delimiter=delimiter, decimal=decimal)
    except OSError as error:
        from harmonia.errors import PathError

        raise PathError.from_os_error(error) from None


def remove_rows(path: Path, match: Callable[[list[str]], str | None]) -> int | None:
    """Rewrite a CSV or Parquet file without the rows a condition matches; returns how many.

    ``match`` gets the file's column names and returns a DuckDB condition over
    them (CSV columns are text), or None when the file has no column it can
    test: then the file is left alone and the result is None. A file without
    a matching row is not touched. The new file replaces the old one whole
    (:func:`harmonia.store.facts.rewrite_without`: durably, under the folder's
    rewrite lock), in the same format and, for CSV, with the same delimiter.
    Used to erase a person from files already written.
    """
    from harmonia.store.facts import rewrite_without

    delimiter = ","
    if path.suffix == ".parquet":
        reader = f"read_parquet({quote(str(path))})"
    else:
        with path.open(encoding="utf-8-sig") as handle:
            header = handle.readline()
        delimiter = max((";", ",", "\t", "|"), key=header.count)
        reader = (
            f"read_csv({quote(str(path))}, delim={quote(delimiter)}, header=true, all_varchar=true)"
        )
    connection = scratch_connection()
    columns = [row[0] for row in connection.sql(f"DESCRIBE SELECT * FROM {reader}").fetchall()]
    condition = match(columns)
    if condition is None:
        return None

    def write(duck: Any, kept: str, temporary: Path) -> None:
        rows = duck.sql(kept).to_arrow_table()
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            pq.write_table(rows, temporary)
        else:
            write_table_csv(rows, temporary, delimiter=delimiter)

    return rewrite_without(path, reader, condition, write)
