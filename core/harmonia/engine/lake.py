"""The lake: a store's customers and facts as Parquet, in the layout the Spark engine reads.

One folder per table, ``<lake>/<table>/part-00000.parquet``, typed as a cycle
reads the store (:func:`harmonia.engine.backends.input_schema`), so Spark,
DuckDB or any Parquet reader finds the same columns and types as harmonia's
own engines. Rows stream from the store through Arrow in batches, never one
by one through Python; each table is written beside its final place and
moved there when complete, so a failed export leaves the previous one whole.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harmonia.engine.backends import input_schema
from harmonia.errors import PathError
from harmonia.sql import quote
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import Database
from harmonia.store.facts import FACT_TABLES, facts_of

#: The store's tables a cycle reads, in the order they are written.
LAKE_TABLES = (
    "customer",
    "metric",
    "response",
    "answer",
    "identifier",
    "crosswalk",
    "customer_redirect",  # merged customers and their survivors (harmonia.store.identity)
    "objection",  # who may not be profiled
    "golden_value",  # persons' golden values, read over their rows (harmonia.store.golden_values)
)

#: Rows per Parquet row group: Spark splits its reading tasks by row group.
ROW_GROUP = 500_000


def table_path(lake: str | Path, table: str) -> str:
    """Where the lake keeps ``table`` (a folder, or a URL such as ``s3a://bucket/lake/table``)."""
    return f"{str(lake).rstrip('/')}/{table}"


def export(
    database: Database,
    folder: Path,
    *,
    country: str | None = None,
    on_table: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Write the store's tables to ``folder`` as the lake; returns the rows per table.

    ``country`` limits the export to one market's customers and their facts.
    A table already in ``folder`` is replaced once its new copy is complete.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PathError.from_os_error(error) from None
    written = {}
    for table in LAKE_TABLES:
        rows = _export_table(database, folder, table, _slice(table, country), country)
        written[table] = rows
        if on_table:
            on_table(table, rows)
    return written


def _slice(table: str, country: str | None) -> str:
    columns = ", ".join(input_schema(table).names)
    if country is None:
        return f"SELECT {columns} FROM {table}"
    customers = f"SELECT id FROM customer WHERE country = {quote(country.upper())}"
    where = {
        "customer": f"country = {quote(country.upper())}",
        "answer": f"response_id IN (SELECT id FROM response WHERE customer_id IN ({customers}))",
        "customer_redirect": f"merged_id IN ({customers})",
    }.get(table, f"customer_id IN ({customers})")
    return f"SELECT {columns} FROM {table} WHERE {where}"


def _batches(bulk: BulkConnection, table: str, sql: str, country: str | None) -> Any:
    """The rows of ``sql``, from the store or, for facts it keeps as Parquet, from there."""
    facts = facts_of(bulk.database)
    if not (facts.external and table in FACT_TABLES):
        # Customers have NULL columns: SQLite's driver must see them whole to type them.
        return bulk.stream(sql, batch_rows=None if table == "customer" else ROW_GROUP)
    columns = ", ".join(input_schema(table).names)
    if country is None:
        return facts.read(bulk, f"SELECT {columns} FROM {table}").to_batches(ROW_GROUP)
    # An answer is the market's by its response's customer.
    of = "(SELECT a.*, r.customer_id FROM answer a JOIN response r ON r.id = a.response_id)"
    customers = f"SELECT id FROM customer WHERE country = {quote(country.upper())}"
    return facts.read(
        bulk,
        f"SELECT {columns} FROM {of if table == 'answer' else table} "
        "WHERE customer_id IN (SELECT id FROM market)",
        tables={"market": customers},
    ).to_batches(ROW_GROUP)


def _export_table(
    database: Database, folder: Path, table: str, sql: str, country: str | None
) -> int:
    import pyarrow.parquet as pq

    schema = input_schema(table)
    final = folder / table
    partial = folder / f".{table}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    rows = 0
    try:
        partial.mkdir()
        with (
            BulkConnection(database, write=False) as bulk,
            pq.ParquetWriter(partial / "part-00000.parquet", schema) as writer,
        ):
            for batch in _batches(bulk, table, sql, country):
                writer.write_batch(batch.select(schema.names).cast(schema), ROW_GROUP)
                rows += batch.num_rows
        shutil.rmtree(final, ignore_errors=True)
        partial.rename(final)
    except OSError as error:
        raise PathError.from_os_error(error) from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return rows
