"""Writing canonical files: batches as the CSV files ``harmonia load`` reads, and any
Arrow table as CSV in a market's conventions.

Sources (the synthetic universe, a vendor connector) and the demo use this to
hand users files in their market's conventions: ``;`` and decimal commas for
European Excel, ``,`` and points elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from harmonia.compute import duckdb_connection
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
    connection = duckdb_connection()
    try:
        connection.register("output", table)
        select = ", ".join(_formatted(field, decimal) for field in table.schema) or "*"
        connection.execute(
            f"COPY (SELECT {select} FROM output) TO {quote(str(path))} "
            f"(HEADER, DELIMITER {quote(delimiter)})"
        )
    finally:
        connection.close()
    return path


def _formatted(field: pa.Field, decimal: str) -> str:
    """A column as written: floating-point numbers with the market's decimal mark."""
    import pyarrow as pa

    name = identifier(field.name)
    if decimal != "." and (pa.types.is_floating(field.type) or pa.types.is_decimal(field.type)):
        return f"replace(CAST({name} AS VARCHAR), '.', {quote(decimal)}) AS {name}"
    return name
