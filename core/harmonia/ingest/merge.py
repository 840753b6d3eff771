"""Merging checked rows into the store, a chunk at a time: what every kind's merger shares.

Each kind's merger lives in the kind's module (see :mod:`harmonia.ingest.kind`).
Resolution happens in DuckDB, next to the rows: the loader reads the
crosswalk (and what else a kind needs) from the store once, resolves source
ids to harmonia ids, finds which rows are new and which change stored facts,
and then

* appends new facts to the store directly (ADBC, sorted by key), the fast
  path every first load takes;
* stages only the rows that change existing facts and upserts them with one
  SQL statement, so loading the same rows twice changes nothing.

Each merger counts the rows it merged: new to the store, changing what it
held (updated), or changing nothing (unchanged: the same file loaded again).
Rows the store must refuse (a metric for a customer this system never
loaded, an identifier that belongs to someone else) come back as
``(_row, reason)`` for the quarantine. A merger lives for one load batch, in
one store transaction, and keeps what earlier chunks added in DuckDB so that
later chunks see it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from harmonia.sql import literal
from harmonia.store.bulk import BulkConnection

if TYPE_CHECKING:
    import duckdb

    from harmonia.ingest.checks import CheckContext

Rejections = list[tuple[int, str]]


class Merger:
    """Merges the valid rows of one kind; one instance per load batch."""

    def __init__(
        self,
        bulk: BulkConnection,
        duck: duckdb.DuckDBPyConnection,
        *,
        system: str,
        batch_id: int,
        since: int | None = None,
    ):
        self.bulk = bulk
        self.duck = duck
        self.system = system
        self.batch_id = batch_id
        #: The first batch of this load (a source may yield several of a kind):
        #: batches before it are what earlier loads stored.
        self.since = batch_id if since is None else since
        self.new = 0  # rows that added facts to the store
        self.updated = 0  # rows that changed facts it held
        self.unchanged = 0  # rows whose facts it held already
        self._load_crosswalk()

    def unchanged_sql(self, raw: str, context: CheckContext) -> str | None:
        """SQL: the rows of the chunk ``raw`` that the store holds exactly as they are,
        to pass over unchecked and unmerged (counted unchanged), with ``_row`` and
        the kind's key columns as the check gives them, so that the load's repeats
        are still found. None (this kind): every row is checked and merged."""
        return None

    def merge(self, valid: str) -> Rejections:
        """Merge the rows of the DuckDB table ``valid``; returns the store's refusals."""
        raise NotImplementedError

    def resolving(self, check: str) -> str:
        """SQL: the rows of the chunk's check ``check`` with the columns this merger
        adds in the same pass (none here; a metric's harmonia id, see
        :meth:`_resolving_ids`), so that the chunk is read and stored once."""
        return check

    def finish(self) -> None:
        """After the last chunk: let the database catch up (sequences, statistics)."""

    # -- shared steps ----------------------------------------------------------------

    def _load_crosswalk(self) -> None:
        """This system's (source id -> harmonia id), kept current across chunks."""
        table = self.bulk.read(
            f"SELECT source_id, customer_id FROM crosswalk WHERE system = {literal(self.system)}"
        )
        self._into_duck("xwalk", table, "source_id VARCHAR, customer_id BIGINT")

    def _into_duck(self, name: str, table: pa.Table, columns: str) -> None:
        self.duck.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({columns})")
        if table.num_rows:
            self.duck.register("incoming", table)
            self.duck.execute(f"INSERT INTO {name} SELECT * FROM incoming")
            self.duck.unregister("incoming")

    def _arrow(self, sql: str) -> pa.Table:
        return self.duck.sql(sql).to_arrow_table()

    def _unknown_customers(self, resolved: str) -> Rejections:
        rows = self.duck.sql(
            f"SELECT DISTINCT _row, customer_id FROM {resolved} WHERE harmonia_id IS NULL ORDER BY _row"
        ).fetchall()
        return [
            (
                row,
                f"customer_id '{source_id}' is not a customer of system {self.system}: "
                "load it in a customers file first",
            )
            for row, source_id in rows
        ]

    def _resolving_ids(self, check: str) -> str:
        """SQL: the rows of ``check`` with ``harmonia_id``, the crosswalk's id of their
        ``customer_id`` (NULL: not a customer of this system).

        The crosswalk is narrowed to the chunk's ids first (``raw``, cleaned as
        the check cleans them), so that the join hashes those, not a whole side.
        """
        return _with_harmonia_ids(f"({check})", "SELECT harmonia_text(customer_id) FROM raw")

    def _resolve(self, valid: str, into: str) -> None:
        # The crosswalk narrowed to the chunk's ids first, so that the join hashes
        # those (a seventh of a 1M crosswalk for a chunk of metrics), not a whole
        # side: a quarter less CPU for the same rows.
        self.duck.execute(
            f"CREATE OR REPLACE TEMP TABLE {into} AS "
            + _with_harmonia_ids(valid, f"SELECT DISTINCT customer_id FROM {valid}")
        )


def _with_harmonia_ids(rows: str, wanted: str) -> str:
    """SQL: ``rows`` (a table or a parenthesised query) with ``harmonia_id``, the
    crosswalk's id of their ``customer_id`` (NULL: not a customer of this system),
    the crosswalk narrowed first to the source ids ``wanted`` selects."""
    return (
        "WITH ids AS (SELECT source_id, customer_id FROM xwalk "
        f"WHERE source_id IN ({wanted})) "
        "SELECT v.*, ids.customer_id AS harmonia_id "
        f"FROM {rows} v LEFT JOIN ids ON ids.source_id = v.customer_id"
    )
