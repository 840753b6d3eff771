"""What the field force's three kinds share: a load's country, and rows that replace.

The field force loads like any data, each kind in its module:
:mod:`~harmonia.ingest.territories` (units: territories, districts,
regions), :mod:`~harmonia.ingest.roster` (people) and
:mod:`~harmonia.ingest.alignment` (customers on territories per period), with
every rejected row quarantined with its reasons.

The checks are SQL over the whole batch (DuckDB); the field force is small
(thousands of units and people) and is read whole to check parents and loops,
while an alignment of millions of customers is resolved in one join. A row
replaces the stored row with its key (:class:`ReplacingMerger`, which
:mod:`~harmonia.ingest.affiliations` uses too).
"""

from __future__ import annotations

from harmonia.ingest.checks import CheckContext
from harmonia.ingest.merge import Merger, Rejections
from harmonia.sql import quote

LEVELS = ("territory", "district", "region")

#: Columns of the field force's tables that hold integers (the rest is text).
INTEGERS = ("customer_id", "first_month", "last_month")


def country_column(context: CheckContext) -> str:
    """A row's country, else the load's (``--country``)."""
    given = quote(context.country) if context.country else "NULL"
    return f"COALESCE(upper(harmonia_text(country)), {given})"


def country_reasons(context: CheckContext) -> list[str]:
    """The reasons a row's country is refused: none at all, or not the load's."""
    checks = [
        "CASE WHEN country IS NULL THEN 'country is empty: give a country column "
        "or load with --country' END"
    ]
    if context.country:
        checks.append(
            f"CASE WHEN country <> {quote(context.country)} THEN 'country ''' || country || "
            f"''' is not the country of this load ({context.country})' END"
        )
    return checks


class ReplacingMerger(Merger):
    """Rows replace the stored row with the same key; counts new, updated, unchanged."""

    table = ""
    key: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    #: The columns that hold integers (the rest is text).
    integers: tuple[str, ...] = INTEGERS

    def _replace(self, rows: str) -> None:
        """Write the DuckDB relation ``rows`` (the table's columns) over the stored rows."""
        key = ", ".join(self.key)
        columns = ", ".join(self.columns)
        types = {c: "BIGINT" if c in self.integers else "VARCHAR" for c in self.columns}
        self._read_stored(
            "stored_rows", f"SELECT {columns} FROM {self.table} {self._stored_where(rows)}", types
        )
        compare = " AND ".join(f"s.{c} IS NOT DISTINCT FROM r.{c}" for c in self.columns)
        same_key = " AND ".join(f"s.{c} = r.{c}" for c in self.key)
        counts = self.duck.sql(
            f"""
            SELECT
                count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM stored_rows s WHERE {same_key})),
                count(*) FILTER (WHERE EXISTS (SELECT 1 FROM stored_rows s WHERE {compare}))
            FROM ({rows}) r
            """
        ).fetchall()[0]
        total = self.duck.sql(f"SELECT count(*) FROM ({rows})").fetchall()[0][0]
        self.new += int(counts[0])
        self.unchanged += int(counts[1])
        self.updated += int(total) - int(counts[0]) - int(counts[1])
        incoming = self.duck.sql(
            f"SELECT {columns}, CAST({self.batch_id} AS BIGINT) AS batch_id FROM ({rows})"
        ).to_arrow_table()
        if not incoming.num_rows:
            return
        stage = self.bulk.stage(incoming, self.table)
        updates = ", ".join(
            f"{c} = excluded.{c}" for c in (*self.columns, "batch_id") if c not in self.key
        )
        self.bulk.execute(
            f"INSERT INTO {self.table} ({columns}, batch_id) SELECT {columns}, batch_id "
            f"FROM {stage} WHERE true ON CONFLICT ({key}) DO UPDATE SET {updates}"
        )

    def _read_stored(self, name: str, sql: str, types: dict[str, str]) -> None:
        """A store query as the DuckDB table ``name`` with the given column types.

        Why the types: SQLite is typed by value, so an empty table reads back as
        anything.
        """
        self.duck.register("incoming_store", self.bulk.read(sql))
        columns = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in types.items())
        self.duck.execute(
            f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {columns} FROM incoming_store"
        )
        self.duck.unregister("incoming_store")

    def _stored_where(self, rows: str) -> str:
        """Which stored rows the relation ``rows`` may replace (default: all)."""
        return ""

    def _rejections(self, sql: str) -> Rejections:
        return [(int(row), str(reason)) for row, reason in self.duck.sql(sql).fetchall()]
