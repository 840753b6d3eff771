"""Columnar I/O with the store: Arrow tables in and out, through ADBC.

A universe of millions never passes through Python objects row by row: loads
stage Arrow batches into a temporary table and merge them with one SQL
statement; cycles read their inputs as Arrow and write assignments the same
way. ADBC (Arrow Database Connectivity) moves the columns natively, for SQLite
through its C API and for PostgreSQL through COPY.

Statements here are plain SQL that both engines accept (``INSERT ... SELECT
... ON CONFLICT``); values are inlined with :func:`harmonia.sql.literal`, which only takes
numbers, text and NULL, all produced by harmonia itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

import pyarrow as pa

from harmonia.sql import literal
from harmonia.store import adbc
from harmonia.store.database import SQLITE_HANDLES, Database


class BulkConnection:
    """One ADBC connection and transaction on the store.

    Use as a context manager: the transaction commits when the block ends
    normally and rolls back on error.
    """

    def __init__(self, database: Database, *, write: bool = True):
        self.database = database
        self.dialect = database.dialect
        #: Whether this transaction may write (on SQLite: holds the write lock).
        self.writes = write
        self._connection = self._connect()
        # Why: ADBC handles have no finalizer, so a failure from here on (a locked
        # or read-only store, a file that is not a database) would leak the
        # connection and its files for the life of the process.
        try:
            self._cursor = self._connection.cursor()
            # Appends run on one background thread, so the caller checks the next
            # chunk (in DuckDB) while this one is written; every other statement
            # waits for them first, which keeps the order of writes.
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="harmonia-bulk")
            self._pending: list[Future[None]] = []
            #: Indexes dropped for the length of a bulk write, created again at the commit.
            self._deferred: list[str] = []
            if self.dialect == "sqlite":
                # Infer column types from the whole result, not the first 1024 rows,
                # so a column whose first values are NULL still reads as text.
                self._cursor.adbc_statement.set_options(
                    **{"adbc.sqlite.query.batch_rows": "1000000000"}
                )
                # A bulk job touches millions of index entries: give it a page cache
                # that holds them and keep temporary tables in memory. WAL makes
                # synchronous=NORMAL safe. The write lock is taken up front (BEGIN
                # IMMEDIATE) so ids allocated from MAX(id) cannot race another writer.
                for pragma in (
                    "busy_timeout = 60000",
                    "cache_size = -524288",
                    "temp_store = MEMORY",
                    "synchronous = NORMAL",
                ):
                    self._cursor.execute(f"PRAGMA {pragma}")
                self._cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            else:
                # Why: the cycle is one large query whose cost estimate trips
                # PostgreSQL's JIT, which then spends seconds compiling a plan
                # that runs in milliseconds.
                self._cursor.execute("SET jit = off")
        except BaseException:
            self._close()
            raise

    def _connect(self) -> Any:
        if self.dialect == "sqlite":
            SQLITE_HANDLES.opened(self.database.sqlite_path, "adbc")
            try:
                return adbc.connect("sqlite", str(self.database.sqlite_path))
            except Exception:
                SQLITE_HANDLES.closed(self.database.sqlite_path, "adbc")
                raise
        url = self.database.parsed.set(drivername="postgresql")
        return adbc.connect("postgresql", url.render_as_string(hide_password=False))

    def __enter__(self) -> BulkConnection:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._end(commit=kind is None)
        finally:
            self._close()

    def _close(self) -> None:
        """Close the connection (with its cursor) and count its SQLite handle closed."""
        try:
            self._connection.close()
        finally:
            if self.dialect == "sqlite":
                SQLITE_HANDLES.closed(self.database.sqlite_path, "adbc")

    def _end(self, *, commit: bool) -> None:
        """Wait for the background appends, then commit, or roll back if anything failed."""
        try:
            self.wait()
            if commit:
                for statement in self._deferred:
                    self._cursor.execute(statement)
        except BaseException:
            commit = False
            raise
        finally:
            self._writer.shutdown(wait=True)
            if self.dialect == "sqlite":
                self._cursor.execute("COMMIT" if commit else "ROLLBACK")
            elif commit:
                self._connection.commit()
            else:
                self._connection.rollback()

    def cancel(self) -> None:
        """Cancel the statement running now, from another thread (it then raises there)."""
        self._connection.adbc_cancel()

    def wait(self) -> None:
        """Block until the background appends are written (re-raising their errors)."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def execute(self, sql: str) -> int:
        """Run a statement; returns the number of rows it changed where known."""
        self.wait()
        self._cursor.execute(sql)
        return self._cursor.rowcount

    def read(self, sql: str) -> pa.Table:
        """A query's result as one Arrow table."""
        self.wait()
        self._cursor.execute(sql)
        return self._cursor.fetch_arrow_table()

    def stream(
        self, sql: str, *, batch_rows: int | None = None, schema: pa.Schema | None = None
    ) -> pa.RecordBatchReader:
        """A query's result as a stream of record batches (read before the next statement).

        ``batch_rows`` bounds the memory a large result takes on SQLite, where
        the driver infers types from a batch's values (a column of NULLs only
        reads as integers, and a text after it fails the stream): give it with
        ``schema``, the result's Arrow types, unless its columns are never NULL.
        The stream then has ``schema``'s columns, taken from the query's by name
        and cast to its types: integers, booleans, floats, decimals, strings,
        binaries, and dates and timestamps stored as ISO text. A typed ``sql`` is
        read as a subquery: it must not end in a ``--`` comment or a ``;``.
        """
        self.wait()
        bounded = self.dialect == "sqlite" and batch_rows
        typed = bounded and schema is not None
        if typed:
            # Why: a first row of the schema's types makes the driver type the stream
            # right, whatever the first batch holds; it is dropped from the stream. The
            # query's columns are taken by name (qualified: SQLite reads an unknown
            # "name" alone as a string), in any order, and a missing one fails by name.
            named = ", ".join(f'query."{name}"' for name in schema.names)
            sql = f"SELECT {_typing_row(schema)} UNION ALL SELECT {named} FROM ({sql}) query"
        if bounded:
            self._cursor.adbc_statement.set_options(
                **{"adbc.sqlite.query.batch_rows": str(batch_rows)}
            )
        try:
            self._cursor.execute(sql)
        finally:
            if bounded:
                self._cursor.adbc_statement.set_options(
                    **{"adbc.sqlite.query.batch_rows": "1000000000"}
                )
        reader = self._cursor.fetch_record_batch()
        return _after_first_row(reader, schema) if typed else reader

    def scalar(self, sql: str) -> Any:
        self.wait()
        self._cursor.execute(sql)
        row = self._cursor.fetchone()
        return row[0] if row else None

    def exists(self, sql: str) -> bool:
        """Whether a query returns any row."""
        return self.scalar(f"SELECT EXISTS ({sql})") in (1, True)

    def stage(self, data: pa.Table, prefix: str = "stage", *, key: str | None = None) -> str:
        """Copy ``data`` into a new temporary table; returns its name.

        ``key``: a column to index, for statements that look rows up by it (a
        correlated subquery on an unindexed stage scans it once per row:
        quadratic).
        """
        name = f"harmonia_{prefix}_{uuid.uuid4().hex[:8]}"
        self.wait()
        self._cursor.adbc_ingest(name, data, mode="create", temporary=True)
        if key is not None:
            schema = "temp." if self.dialect == "sqlite" else ""
            self._cursor.execute(f"CREATE INDEX {schema}{name}_key ON {name} ({key})")
        return name

    def create_temporary(self, name: str, data: pa.Table | pa.RecordBatchReader) -> None:
        """``data`` as the temporary table ``name`` (replacing one of that name); a record
        batch reader is written as it is produced, never held whole."""
        self.wait()
        self._cursor.execute(f"DROP TABLE IF EXISTS temp.{name}")
        self._cursor.adbc_ingest(name, data, mode="create", temporary=True)

    def append(self, table: str, data: pa.Table | pa.RecordBatchReader) -> None:
        """Append ``data`` (columns named as ``table``'s) to a store table, in the background.

        A record batch reader is written as it is produced, never held whole.
        """
        if isinstance(data, pa.Table) and not data.num_rows:
            return
        if self.dialect == "postgresql":
            data = self._as_stored(table, data)
        self._pending.append(
            self._writer.submit(self._cursor.adbc_ingest, table, data, mode="append")
        )

    def _as_stored(
        self, table: str, data: pa.Table | pa.RecordBatchReader
    ) -> pa.Table | pa.RecordBatchReader:
        """Cast columns to the table's own types: PostgreSQL's binary COPY takes no others."""
        types = self._column_types(table)
        schema = pa.schema(
            [(field.name, types.get(field.name, field.type)) for field in data.schema]
        )
        if schema == data.schema:
            return data
        if isinstance(data, pa.Table):
            return data.cast(schema)
        return pa.RecordBatchReader.from_batches(schema, (batch.cast(schema) for batch in data))

    _POSTGRES_TYPES = {
        "integer": pa.int32(),
        "bigint": pa.int64(),
        "smallint": pa.int16(),
        "double precision": pa.float64(),
        "real": pa.float32(),
        "boolean": pa.bool_(),
        "text": pa.string(),
        "character varying": pa.string(),
    }

    def _column_types(self, table: str) -> dict[str, pa.DataType]:
        cache = self.__dict__.setdefault("_types", {})
        if table not in cache:
            self.wait()
            self._cursor.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                f"WHERE table_name = {literal(table)} AND table_schema = current_schema()"
            )
            cache[table] = {
                name: self._POSTGRES_TYPES[kind]
                for name, kind in self._cursor.fetchall()
                if kind in self._POSTGRES_TYPES
            }
        return cache[table]

    def defer_indexes(self, *tables: str) -> None:
        """Drop the secondary indexes of ``tables`` until this transaction commits.

        Why: rows appended in bulk to an empty SQLite table cost an index
        entry each, inserted in random order; one ``CREATE INDEX`` at the end
        sorts them once (1M identifiers: 2.97 s -> 2.03 s CPU, the index
        included). The drop is part of the transaction: a rollback keeps the
        indexes. Only on SQLite, and only worth it for tables the transaction
        fills (statements reading them by those indexes meanwhile scan).
        """
        if self.dialect != "sqlite":
            return
        names = ", ".join(literal(table) for table in tables)
        indexes = self.read(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
            f"AND tbl_name IN ({names}) AND sql IS NOT NULL ORDER BY name"
        )
        for index in indexes.to_pylist():
            self.execute(f'DROP INDEX "{index["name"]}"')
            self._deferred.append(index["sql"])

    def lock(self, *tables: str) -> None:
        """Serialize writers that allocate ids in ``tables`` for this transaction."""
        if self.dialect == "postgresql":
            for table in tables:
                self.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")

    def next_id(self, table: str) -> int:
        """The first id above every id in ``table`` (call after :meth:`lock`)."""
        return int(self.scalar(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}"))

    def analyze(self, *tables: str) -> None:
        """Refresh the planner's statistics after a bulk change.

        Why: PostgreSQL plans from statistics; right after a bulk load they
        still describe the empty table, and a join planned for one row runs
        as a nested loop over millions.
        """
        if self.dialect == "postgresql":
            for table in tables:
                self.execute(f"ANALYZE {table}")

    def sync_sequence(self, table: str) -> None:
        """After inserting explicit ids, move PostgreSQL's sequence past them."""
        if self.dialect == "postgresql":
            self.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )


def _typing_row(schema: pa.Schema) -> str:
    """A row of the SQLite values the driver reads as ``schema``'s types, or as types
    cast to them (a boolean is an integer there, a decimal a real, a date or a
    timestamp ISO text), named as its columns."""
    return ", ".join(f'{_typing_value(field)} AS "{field.name}"' for field in schema)


def _typing_value(field: pa.Field) -> str:
    kind = field.type
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        return "0"
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "0.0"
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return "X''"
    textual = (
        pa.types.is_string,
        pa.types.is_large_string,
        pa.types.is_date,
        pa.types.is_timestamp,
    )
    if any(is_kind(kind) for is_kind in textual):
        return "''"
    raise TypeError(f"no SQLite value types a stream's column {field.name} as {kind}")


def _after_first_row(reader: pa.RecordBatchReader, schema: pa.Schema) -> pa.RecordBatchReader:
    """``reader``'s stream without its first row (SQLite gives a UNION ALL's rows in
    order), cast to ``schema``."""

    def batches() -> Iterator[pa.RecordBatch]:
        rows = iter(reader)
        first = next(rows, None)
        if first is not None:
            yield first.slice(1).cast(schema)
        for batch in rows:
            yield batch.cast(schema)

    return pa.RecordBatchReader.from_batches(schema, batches())
