"""ADBC connections through the driver manager's own API, without its DB-API module.

Why: ``adbc_driver_manager.dbapi`` imports ``pyarrow.dataset``, and that imports
pandas: about 0.25 s of CPU (0.8 s on a busy machine) in every command that
opens a bulk connection (a cycle run, a load), for nothing harmonia uses.
The store needs little of DB-API: run a statement, read its result as Arrow,
ingest Arrow into a table, commit. :class:`Connection` and :class:`Cursor` are
that much, named as the DB-API's so that :mod:`harmonia.store.bulk` reads the
same; errors are the driver manager's (``adbc_driver_manager.Error`` and its
DB-API subclasses), as through the DB-API module.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any

import adbc_driver_manager as adbc
import pyarrow as pa

from harmonia.errors import ConfigError

try:
    # Runs a blocking call so that Ctrl-C asks the driver to cancel it (the DB-API
    # module's way). PostgreSQL's driver cancels; SQLite's cannot, so there the
    # statement runs to its end and the driver's NotSupportedError carries the
    # Ctrl-C as its cause.
    from adbc_driver_manager._lib import _blocking_call
except ImportError:  # pragma: no cover - a driver manager without it: Ctrl-C waits

    def _blocking_call(
        func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], cancel: Any
    ) -> Any:
        return func(*args, **kwargs)


def _interruptible(func: Callable[[], Any], cancel: Callable[[], None]) -> Any:
    """``func()``, where a Ctrl-C during it raises KeyboardInterrupt, whatever the
    driver made of the cancel (so the CLI exits 130 "interrupted", not a traceback)."""
    try:
        return _blocking_call(func, (), {}, cancel)
    except adbc.Error as error:
        if isinstance(error.__cause__, KeyboardInterrupt):
            raise KeyboardInterrupt from error
        raise


def connect(dialect: str, uri: str) -> Connection:
    """A connection to the SQLite file or PostgreSQL server ``uri``.

    SQLite's runs in autocommit mode (harmonia issues BEGIN and COMMIT itself,
    after the PRAGMAs SQLite refuses inside a transaction); PostgreSQL's in a
    transaction that :meth:`Connection.commit` ends.
    """
    if dialect == "sqlite":
        import adbc_driver_sqlite as driver
    else:
        try:
            import adbc_driver_postgresql as driver  # type: ignore[no-redef]
        except ImportError:
            raise ConfigError(
                "PostgreSQL support is not installed", fix="pip install 'harmonia[postgres]'"
            ) from None
    database = driver.connect(uri)
    try:
        connection = adbc.AdbcConnection(database)
    except BaseException:
        database.close()
        raise
    if dialect != "sqlite":
        connection.set_autocommit(False)
    return Connection(database, connection)


class Connection:
    """One ADBC connection (and the database handle it was opened from)."""

    def __init__(self, database: adbc.AdbcDatabase, connection: adbc.AdbcConnection):
        self._database = database
        self._connection = connection
        self._cursors: list[Cursor] = []

    def cursor(self) -> Cursor:
        cursor = Cursor(self._connection)
        self._cursors.append(cursor)
        return cursor

    def commit(self) -> None:
        self._connection.commit()

    def rollback(self) -> None:
        self._connection.rollback()

    def adbc_cancel(self) -> None:
        """Cancel the statement running now (from another thread)."""
        self._connection.cancel()

    def close(self) -> None:
        """Close the cursors, then the connection and its database handle."""
        # Each handle in its own finally: a cursor that fails to close must not
        # leave the connection open, whose close error would mask the first one.
        try:
            try:
                for cursor in self._cursors:
                    cursor.close()
            finally:
                self._connection.close()
        finally:
            self._database.close()


class Cursor:
    """One ADBC statement: the last statement's result is read before the next one runs."""

    def __init__(self, connection: adbc.AdbcConnection):
        self.adbc_statement = adbc.AdbcStatement(connection)
        #: Rows the last statement changed, or -1 where the driver does not know.
        self.rowcount = -1
        self._result: adbc.ArrowArrayStreamHandle | pa.RecordBatchReader | None = None
        self._closed = False

    def execute(self, sql: str) -> None:
        self._release()
        statement = self.adbc_statement
        statement.set_sql_query(sql)
        handle, self.rowcount = _interruptible(statement.execute_query, statement.cancel)
        self._result = handle

    def fetch_record_batch(self) -> pa.RecordBatchReader:
        """The last statement's result as a stream (consumed once)."""
        if not isinstance(self._result, adbc.ArrowArrayStreamHandle):
            raise adbc.ProgrammingError(
                "no result to fetch: execute a query first, and fetch its result once",
                status_code=adbc.AdbcStatusCode.INVALID_STATE,
            )
        self._result = pa.RecordBatchReader._import_from_c(self._result.address)
        return self._result

    def fetch_arrow_table(self) -> pa.Table:
        reader = self.fetch_record_batch()
        return _interruptible(reader.read_all, self.adbc_statement.cancel)

    def fetchall(self) -> list[tuple[Any, ...]]:
        """The last statement's rows as tuples (for small results)."""
        table = self.fetch_arrow_table()
        return list(zip(*(column.to_pylist() for column in table.columns), strict=True))

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self.fetchall()
        return rows[0] if rows else None

    def adbc_ingest(
        self,
        table: str,
        data: pa.Table | pa.RecordBatchReader,
        *,
        mode: str = "create",
        temporary: bool = False,
    ) -> int:
        """Write ``data`` into ``table`` (``mode`` "create" or "append"); returns the rows
        written where the driver counts them."""
        self._release()
        statement = self.adbc_statement
        modes = {"create": adbc.INGEST_OPTION_MODE_CREATE, "append": adbc.INGEST_OPTION_MODE_APPEND}
        statement.set_options(
            **{adbc.INGEST_OPTION_TARGET_TABLE: table, adbc.INGEST_OPTION_MODE: modes[mode]}
        )
        temporary_option = adbc.StatementOptions.INGEST_TEMPORARY.value
        if temporary:
            statement.set_options(**{temporary_option: "true"})
        else:  # cleared: the statement may have created a temporary table before
            with suppress(adbc.NotSupportedError):
                statement.set_options(**{temporary_option: "false"})
        statement.bind_stream(data)
        return _interruptible(statement.execute_update, statement.cancel)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._release()
            self.adbc_statement.close()

    def _release(self) -> None:
        """Let go of the last result (an unread stream holds SQLite's statement open)."""
        result, self._result = self._result, None
        if isinstance(result, adbc.ArrowArrayStreamHandle):
            result.release()
        elif result is not None:
            result.close()
