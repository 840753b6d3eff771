"""Columnar I/O with the store: Arrow tables in and out, through ADBC.

A universe of millions never passes through Python objects row by row: loads
stage Arrow batches into a temporary table and merge them with one SQL
statement; cycles read their inputs as Arrow and write assignments the same
way. ADBC (Arrow Database Connectivity) moves the columns natively, for SQLite
through its C API and for PostgreSQL through COPY.

Statements here are plain SQL that both engines accept (``INSERT ... SELECT
... ON CONFLICT``); values are inlined with :func:`literal`, which only takes
numbers, text and NULL, all produced by harmonia itself.
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import TYPE_CHECKING, Any

from harmonia.store.database import SQLITE_HANDLES, Database

if TYPE_CHECKING:
    import pyarrow as pa


def literal(value: Any) -> str:
    """A SQL literal for a number, a text or None."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


class BulkConnection:
    """One ADBC connection and transaction on the store.

    Use as a context manager: the transaction commits when the block ends
    normally and rolls back on error.
    """

    def __init__(self, database: Database):
        self.database = database
        self.dialect = database.dialect
        self._connection = self._connect()
        self._cursor = self._connection.cursor()
        if self.dialect == "sqlite":
            # Infer column types from the whole result, not the first 1024 rows,
            # so a column whose first values are NULL still reads as text.
            self._cursor.adbc_statement.set_options(
                **{"adbc.sqlite.query.batch_rows": "1000000000"}
            )
            self._cursor.execute("PRAGMA busy_timeout = 60000")

    def _connect(self) -> Any:
        if self.dialect == "sqlite":
            import adbc_driver_sqlite.dbapi as adbc

            SQLITE_HANDLES.opened(self.database.sqlite_path, "adbc")
            try:
                return adbc.connect(str(self.database.sqlite_path))
            except Exception:
                SQLITE_HANDLES.closed(self.database.sqlite_path, "adbc")
                raise
        try:
            import adbc_driver_postgresql.dbapi as adbc
        except ImportError:
            from harmonia.errors import ConfigError

            raise ConfigError(
                "PostgreSQL support is not installed",
                fix="pip install 'harmonia[postgres]'",
            ) from None
        url = self.database.parsed.set(drivername="postgresql")
        return adbc.connect(url.render_as_string(hide_password=False))

    def __enter__(self) -> BulkConnection:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if kind is None:
                self._connection.commit()
            else:
                self._connection.rollback()
        finally:
            self._cursor.close()
            self._connection.close()
            if self.dialect == "sqlite":
                SQLITE_HANDLES.closed(self.database.sqlite_path, "adbc")

    def execute(self, sql: str) -> int:
        """Run a statement; returns the number of rows it changed where known."""
        self._cursor.execute(sql)
        return self._cursor.rowcount

    def read(self, sql: str) -> pa.Table:
        """A query's result as one Arrow table."""
        self._cursor.execute(sql)
        return self._cursor.fetch_arrow_table()

    def scalar(self, sql: str) -> Any:
        self._cursor.execute(sql)
        row = self._cursor.fetchone()
        return row[0] if row else None

    def stage(self, data: pa.Table, prefix: str = "stage") -> str:
        """Copy ``data`` into a new temporary table; returns its name."""
        name = f"harmonia_{prefix}_{uuid.uuid4().hex[:8]}"
        self._cursor.adbc_ingest(name, data, mode="create", temporary=True)
        return name

    def append(self, table: str, data: pa.Table) -> None:
        """Append ``data`` (whose columns match ``table``'s) to a store table."""
        if data.num_rows:
            self._cursor.adbc_ingest(table, data, mode="append")

    def lock(self, *tables: str) -> None:
        """Serialize writers that allocate ids in ``tables`` for this transaction."""
        if self.dialect == "postgresql":
            for table in tables:
                self.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")

    def next_id(self, table: str) -> int:
        """The first id above every id in ``table`` (call after :meth:`lock`)."""
        return int(self.scalar(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}"))

    def sync_sequence(self, table: str) -> None:
        """After inserting explicit ids, move PostgreSQL's sequence past them."""
        if self.dialect == "postgresql":
            self.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
