"""Facts that arrive by the million, behind one interface: ``facts_of(database)``.

The records people work with one at a time stay sqlmodel tables; the facts
(metrics, questionnaire responses and their answers) are held where each kind
of store reads them fastest:

* **SQLite** (the embedded default): immutable Parquet files per load batch,
  ``<database>.facts/<table>/batch=<id>/part-<n>.parquet``, written by DuckDB's
  ``COPY`` and read by DuckDB in place. A batch is visible once its
  ``load_batch`` row is ``loaded``; that one SQLite transaction is the commit,
  so a reader sees a batch whole or not at all, and never waits for a writer.
  A batch holds only the rows it adds or changes; of the batches a reader
  sees, the newest row per key wins (for a table whose key has several rows,
  a response's answers, the newest batch's rows of that key).
* **PostgreSQL**: the facts are PostgreSQL tables, appended by COPY and
  upserted, as before.

Callers never name the layout. They write the rows of a DuckDB query
(:meth:`Facts.write`) and read with a ``SELECT`` written against the table's
own name (``SELECT ... FROM metric WHERE ...``): :meth:`Facts.read` returns
Arrow, :meth:`Facts.select_into` creates a DuckDB table. A reader may restrict
itself to a set of batches, a cycle's input snapshot, and so read the store
as it was.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from harmonia.errors import ConfigError
from harmonia.sql import literal

if TYPE_CHECKING:
    import pyarrow as pa

    from harmonia.store.bulk import BulkConnection
    from harmonia.store.database import Database


@attrs.frozen
class FactTable:
    """A kind of fact: its table, its key (the newest row per key wins), its columns."""

    name: str
    load_kind: str  # the load batches' kind that writes it
    key: tuple[str, ...]
    #: (name, DuckDB type), the key's first; a type of None: as the writer's query gives it.
    columns: tuple[tuple[str, str | None], ...]
    #: How a file's rows are sorted, so that a reader of one group (a therapy area)
    #: skips the other row groups: by the first of these text columns of few distinct
    #: values, the rows of each group of them together (see :func:`_sorted`). Empty:
    #: by the key.
    sort_groups: tuple[str, ...] = ()
    #: A key has several rows (a response's answers), which a batch replaces together.
    rows_per_key: bool = False
    #: Whether a file's rows are sorted (as above); a table read whole, never by a few
    #: keys, saves the sort.
    ordered: bool = True
    #: zstd's level (None: DuckDB's default, 3); 1 costs about half the CPU of 3.
    compression_level: int | None = None
    #: What writes its files, as a failed write's message names it.
    written_by: str = "load"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def no_rows(self) -> str:
        """DuckDB SQL of the table's columns, typed, without a row (a read of no files)."""
        untyped = [name for name, kind in self.columns if kind is None]
        if untyped:
            # Only the file's own schema types such a column: without a file, nothing does.
            raise ValueError(
                f"the {self.name} facts cannot be read without files: their column "
                f"{', '.join(untyped)} has no type (give it one in the FactTable)"
            )
        nulls = ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in self.columns)
        return f"SELECT {nulls} WHERE FALSE"


FACT_TABLES = {
    "metric": FactTable(
        name="metric",
        load_kind="metrics",
        key=("therapy_area", "metric", "customer_id", "period"),
        columns=(
            ("therapy_area", "VARCHAR"),
            ("metric", "VARCHAR"),
            ("customer_id", "BIGINT"),
            ("period", "VARCHAR"),
            ("first_month", "BIGINT"),
            ("last_month", "BIGINT"),
            ("value", "DOUBLE"),
            ("batch_id", "BIGINT"),
        ),
        sort_groups=("therapy_area", "metric"),
    ),
    # A response loaded again with other answers is written again, whole:
    # its row (same id) and all its answers, under the new batch.
    "response": FactTable(
        name="response",
        load_kind="responses",
        key=("id",),
        columns=(
            ("id", "BIGINT"),
            ("customer_id", "BIGINT"),
            ("questionnaire", "VARCHAR"),
            ("version", "VARCHAR"),
            ("respondent", "VARCHAR"),
            ("answered_at", "VARCHAR"),
            ("batch_id", "BIGINT"),
        ),
    ),
    "answer": FactTable(
        name="answer",
        load_kind="responses",
        key=("response_id",),
        columns=(("response_id", "BIGINT"), ("question", "VARCHAR"), ("value", "VARCHAR")),
        rows_per_key=True,
    ),
}

#: The ``source`` of the load batch an upgrade records when it moves a kind's rows
#: from tables into files (schema revision 0700, responses). That upgrade wrote each
#: row under the batch that last changed it, so a snapshot taken before it (all its
#: batches below this one) reads the moved rows as they are now: see
#: :meth:`ParquetFacts.snapshot`.
UPGRADE_SOURCE = "upgrade"

#: A schema of its own in DuckDB for the views over the files, so that a
#: caller's ``FROM metric`` reads them while it creates its own ``metric``.
VIEW_SCHEMA = "harmonia_facts"


def facts_of(database: Database) -> Facts:
    """The facts of ``database``: Parquet files beside a SQLite file, tables elsewhere."""
    if database.dialect == "sqlite" and database.sqlite_path and str(database.sqlite_path):
        return ParquetFacts(database)
    return TableFacts(database)


def facts_folder(sqlite_path: Path) -> Path:
    """Where the facts of the SQLite store at ``sqlite_path`` live."""
    return sqlite_path.with_name(sqlite_path.name + ".facts")


class Facts:
    """The interface: write a batch's rows, read the committed ones (or a snapshot's)."""

    #: Whether the facts live outside the database (an in-database query cannot see them).
    external = False

    def __init__(self, database: Database):
        self.database = database

    def write(
        self, bulk: BulkConnection, duck: Any, table: str, batch_id: int, sql: str, *, new: bool
    ) -> int:
        """Store the rows of the DuckDB query ``sql`` (the table's columns) for ``batch_id``.

        ``new`` rows add keys the store lacks; otherwise they replace stored
        rows with the same key. Returns the number of rows written.
        """
        raise NotImplementedError

    def read(
        self,
        bulk: BulkConnection,
        sql: str,
        *,
        batches: Sequence[int] | None = None,
        tables: Mapping[str, str] | None = None,
    ) -> pa.Table:
        """The result of ``sql``, a SELECT over fact tables by their names, as Arrow.

        ``tables`` names the other store tables ``sql`` joins, each with the
        query of the rows it needs (run in the database).
        """
        raise NotImplementedError

    def next_id(self, bulk: BulkConnection, table: str) -> int:
        """The first id above every one ``table`` ever gave, erased rows' too (writers of
        it are serialized): see :class:`harmonia.store.models.FactIdMark`."""
        raise NotImplementedError

    def mark_ids(self, bulk: BulkConnection, table: str, last_id: int) -> None:
        """Record that ``table`` gave ids up to ``last_id``, in the transaction of ``bulk``
        (the batch's commit): erasing the rows never lowers the next id."""
        bulk.execute(
            "INSERT INTO fact_id_mark (fact_table, last_id) VALUES "
            f"({literal(table)}, {int(last_id)}) ON CONFLICT (fact_table) DO UPDATE SET "
            "last_id = CASE WHEN excluded.last_id > fact_id_mark.last_id "
            "THEN excluded.last_id ELSE fact_id_mark.last_id END"
        )

    @staticmethod
    def _marked(bulk: BulkConnection, table: str) -> int:
        """The highest id ``table`` gave, as marked (0: none marked)."""
        return int(
            bulk.scalar(
                "SELECT COALESCE(MAX(last_id), 0) FROM fact_id_mark "
                f"WHERE fact_table = {literal(table)}"
            )
        )

    def select_into(
        self,
        bulk: BulkConnection,
        duck: Any,
        target: str,
        sql: str,
        *,
        batches: Sequence[int] | None = None,
    ) -> None:
        """``CREATE TABLE target AS sql`` in DuckDB, ``sql`` reading fact tables by name."""
        duck.register("harmonia_incoming", self.read(bulk, sql, batches=batches))
        try:
            duck.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM harmonia_incoming")
        finally:
            duck.unregister("harmonia_incoming")

    def read_as_now(self, batches: Sequence[int] | None) -> list[str]:
        """The fact tables a snapshot of ``batches`` reads as they are now, not as it was."""
        return []

    def files_written(self, load_kind: str, batch_id: int) -> dict[str, int]:
        """Files the batch wrote per fact table of its kind, recorded when it commits
        (none: this store does not keep facts as files)."""
        return {}

    def abandon(self, batch_ids: Iterable[int]) -> None:
        """Remove what these batches (not committed, their writers gone) left behind."""

    def sweep(
        self, committed: Iterable[int], running: Iterable[int], known_up_to: int
    ) -> list[int]:
        """Remove files of batches up to ``known_up_to`` neither committed nor running.

        Returns their ids. A batch above ``known_up_to`` may have opened since
        the catalogue was read: its files are left alone.
        """
        return []


class TableFacts(Facts):
    """Facts as tables of the database (PostgreSQL): COPY appends, upserts for changes."""

    def write(
        self, bulk: BulkConnection, duck: Any, table: str, batch_id: int, sql: str, *, new: bool
    ) -> int:
        rows = duck.sql(sql).to_arrow_table()
        if not rows.num_rows:
            return 0
        fact = FACT_TABLES[table]
        if new:
            bulk.append(table, rows)
            return rows.num_rows
        stage = bulk.stage(rows, table)
        columns = ", ".join(fact.column_names)
        if fact.rows_per_key:  # the key's rows go whole: the stored ones are replaced
            key = ", ".join(fact.key)
            bulk.execute(f"DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {stage})")
            bulk.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage}")
            return rows.num_rows
        updates = ", ".join(
            f"{name} = excluded.{name}" for name in fact.column_names if name not in fact.key
        )
        bulk.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage} WHERE true "
            f"ON CONFLICT ({', '.join(fact.key)}) DO UPDATE SET {updates}"
        )
        return rows.num_rows

    def read(
        self,
        bulk: BulkConnection,
        sql: str,
        *,
        batches: Sequence[int] | None = None,
        tables: Mapping[str, str] | None = None,
    ) -> pa.Table:
        if batches is not None:
            raise ConfigError(
                "this store keeps facts as tables, updated in place: it cannot be read as of "
                "an earlier batch",
                where=self.database.display_url,
                fix="run the cycle on the current data (without --as-of)",
            )
        return bulk.read(sql)  # the other tables are the database's own

    def next_id(self, bulk: BulkConnection, table: str) -> int:
        bulk.lock(table)
        return max(bulk.next_id(table), self._marked(bulk, table) + 1)


class ParquetFacts(Facts):
    """Facts as immutable Parquet files per load batch beside the SQLite file."""

    external = True

    def __init__(self, database: Database):
        super().__init__(database)
        assert database.sqlite_path is not None
        self.root = facts_folder(database.sqlite_path)

    # -- writing -------------------------------------------------------------------------

    def batch_folder(self, table: str, batch_id: int) -> Path:
        return batch_folder(self.root, table, batch_id)

    def write(
        self, bulk: BulkConnection, duck: Any, table: str, batch_id: int, sql: str, *, new: bool
    ) -> int:
        return write_batch_file(duck, self.batch_folder(table, batch_id), table, sql)

    # -- reading -------------------------------------------------------------------------

    def files_written(self, load_kind: str, batch_id: int) -> dict[str, int]:
        return {
            fact.name: len(self._parts(fact.name, batch_id))
            for fact in FACT_TABLES.values()
            if fact.load_kind == load_kind
        }

    def _parts(self, table: str, batch_id: int) -> list[Path]:
        return sorted(self.batch_folder(table, batch_id).glob("part-*.parquet"))

    def files(
        self, table: str, batches: Iterable[int], expected: dict[int, int | None] | None = None
    ) -> list[Path]:
        """The files of ``batches`` for ``table``, oldest batch first.

        With ``expected`` (files per batch, as recorded at its commit), a batch
        whose files are not all there, or not only its own, is an error; so is
        one whose files were already missing when the store was upgraded
        (count unknown) and are still not there.
        """
        found = []
        wrong = []
        lost = []
        for batch in sorted(set(batches)):
            parts = self._parts(table, batch)
            if expected is not None and batch in expected:
                if expected[batch] is None:
                    if not parts:
                        lost.append(batch)
                elif len(parts) != expected[batch]:
                    wrong.append((batch, expected[batch], len(parts)))
            found.extend(parts)
        if lost:
            raise self._lost_before_upgrade(table, lost)
        if wrong:
            raise self._not_as_committed(table, wrong)
        return found

    def _lost_before_upgrade(self, table: str, lost: list[int]) -> ConfigError:
        more = f" (and {len(lost) - 1} other batch(es))" if len(lost) > 1 else ""
        return ConfigError(
            f"the {table} files of load batch {lost[0]}{more} were missing when the store was "
            "upgraded (schema revision 0610): its rows are not in this store",
            where=str(self.batch_folder(table, lost[0])),
            fix=f"restore the folder {self.root.name} from a backup taken before the upgrade, "
            "or load the data again into a new store",
        )

    def _not_as_committed(self, table: str, wrong: list[tuple[int, int, int]]) -> ConfigError:
        batch, expected, found = wrong[0]
        folder = self.batch_folder(table, batch)
        more = f" (and {len(wrong) - 1} other batch(es))" if len(wrong) > 1 else ""
        if not self.root.exists():
            return ConfigError(
                f"the facts folder of this store is missing: {len(wrong)} committed load "
                f"batch(es) of {table} facts keep their rows there",
                where=str(self.root),
                fix=f"a store is its database file and the folder {self.root.name} beside it: "
                "copy or restore that folder next to the file (from where the store came, or "
                "a backup), or load the data again into a new store",
            )
        return ConfigError(
            f"load batch {batch} committed {expected} {table} file(s), but {found} are "
            f"there{more}: a file is missing, or one was put there by hand",
            where=str(folder),
            fix="restore the folder from a backup (only harmonia writes in it), or load that "
            "batch's file again",
        )

    def expected_files(
        self, bulk: BulkConnection, table: str, batches: Sequence[int]
    ) -> dict[int, int | None]:
        """Files of ``table`` per batch, as recorded at its commit (batches without a
        record: not counted; None: missing when the store was upgraded)."""
        if not batches:
            return {}
        ids = ", ".join(str(int(batch)) for batch in sorted(set(batches)))
        rows = bulk.read(
            f"SELECT batch_id, files FROM fact_files WHERE batch_id IN ({ids}) "
            f"AND fact_table = {literal(table)}"
        ).to_pylist()
        return {
            int(row["batch_id"]): None if row["files"] is None else int(row["files"])
            for row in rows
        }

    def _recounted(
        self, bulk: BulkConnection, table: str, expected: dict[int, int | None]
    ) -> dict[int, int | None]:
        """``expected`` with the counts unknown since the 0610 upgrade taken from the disk
        once the facts folder is back (a file of one of those batches is there).

        Why: unknown is not lost. A batch may rightly have no file (a reload that
        changed nothing), so only the folder's return tells; while no file of those
        batches is there, they stay unknown and reading them is an error. A writing
        transaction records the counts (one UPDATE under its write lock), so the
        next reader finds them; a reading one only uses them.
        """
        unknown = sorted(batch for batch, count in expected.items() if count is None)
        counted = {batch: len(self._parts(table, batch)) for batch in unknown}
        if not any(counted.values()):
            return expected
        if bulk.writes:
            cases = " ".join(f"WHEN {batch} THEN {count}" for batch, count in counted.items())
            bulk.execute(
                f"UPDATE fact_files SET files = CASE batch_id {cases} END "
                f"WHERE fact_table = {literal(table)} AND files IS NULL "
                f"AND batch_id IN ({', '.join(map(str, unknown))})"
            )
        return {**expected, **counted}

    @staticmethod
    def relation(table: str, files: Sequence[Path]) -> str:
        """DuckDB SQL of the table's rows in ``files`` (of batches): the newest row per key."""
        fact = FACT_TABLES[table]
        if not files:
            return fact.no_rows()
        listed = ", ".join(_path_literal(path) for path in files)
        source = (
            f"SELECT {_typed(fact)}, batch AS committed_batch FROM read_parquet([{listed}], "
            "hive_partitioning = true, hive_types = {'batch': BIGINT})"
        )
        if len({path.parent for path in files}) == 1:  # one batch: no key repeats
            return f"SELECT {', '.join(fact.column_names)} FROM ({source})"
        if fact.rows_per_key:
            return (
                f"SELECT {', '.join(fact.column_names)} FROM ({source}) QUALIFY committed_batch "
                f"= max(committed_batch) OVER (PARTITION BY {', '.join(fact.key)})"
            )
        return (
            f"SELECT {', '.join(fact.column_names)} FROM ({source}) QUALIFY row_number() OVER "
            f"(PARTITION BY {', '.join(fact.key)} ORDER BY committed_batch DESC) = 1"
        )

    def committed(self, bulk: BulkConnection, table: str) -> list[int]:
        """The batches of ``table`` a reader sees now."""
        kind = FACT_TABLES[table].load_kind
        rows = bulk.read(
            f"SELECT id FROM load_batch WHERE status = 'loaded' AND kind = {literal(kind)} ORDER BY id"
        )
        return [int(value) for value in rows.column(0).to_pylist()]

    def upgraded_at(self, bulk: BulkConnection, table: str) -> int | None:
        """The batch the upgrade that moved ``table``'s rows into files recorded, if any."""
        kind = FACT_TABLES[table].load_kind
        found = (
            bulk.read(
                f"SELECT MAX(id) AS id FROM load_batch WHERE source = {literal(UPGRADE_SOURCE)} "
                f"AND kind = {literal(kind)} AND status = 'loaded'"
            )
            .column(0)[0]
            .as_py()
        )
        return None if found is None else int(found)

    def snapshot(self, bulk: BulkConnection, table: str, batches: Sequence[int]) -> list[int]:
        """The batches of ``table`` a snapshot reads: its own, except for one taken before
        the upgrade that moved the table's rows into files (see :data:`UPGRADE_SOURCE`):
        that one reads every moved batch, the rows as they are now, since the upgrade kept
        only the newest version of each row (under the batch that last changed it)."""
        boundary = self.upgraded_at(bulk, table)
        if boundary is None or max(batches, default=0) >= boundary:
            return list(batches)
        moved = [batch for batch in self.committed(bulk, table) if batch < boundary]
        if not set(moved) & set(batches):  # it read none of these rows: it still reads none
            return list(batches)
        return moved

    def read_as_now(self, batches: Sequence[int] | None) -> list[str]:
        """The fact tables a snapshot of ``batches`` reads as they are now (see :meth:`snapshot`)."""
        if batches is None:
            return []
        from harmonia.store.bulk import BulkConnection

        with BulkConnection(self.database, write=False) as bulk:
            return [
                table
                for table in FACT_TABLES
                if self.snapshot(bulk, table, batches) != list(batches)
            ]

    def visible_files(
        self, bulk: BulkConnection, table: str, batches: Sequence[int] | None = None
    ) -> list[Path]:
        """The files of ``table`` a reader sees now, or a snapshot of ``batches`` sees,
        checked against the counts their batches committed (see :meth:`files`)."""
        visible = (
            self.committed(bulk, table) if batches is None else self.snapshot(bulk, table, batches)
        )
        expected = self._recounted(bulk, table, self.expected_files(bulk, table, visible))
        return self.files(table, visible, expected)

    def attach(
        self,
        bulk: BulkConnection,
        duck: Any,
        *,
        batches: Sequence[int] | None = None,
        sql: str | None = None,
    ) -> None:
        """Views ``harmonia_facts.<table>`` in ``duck`` over the visible batches, of the
        tables ``sql`` names (all without it)."""
        duck.execute(f"CREATE SCHEMA IF NOT EXISTS {VIEW_SCHEMA}")
        named = set(re.findall(r"\w+", sql.lower())) if sql is not None else set(FACT_TABLES)
        for table in (table for table in FACT_TABLES if table in named):
            files = self.visible_files(bulk, table, batches)
            _check_columns(duck, table, files)
            duck.execute(
                f"CREATE OR REPLACE VIEW {VIEW_SCHEMA}.{table} AS {self.relation(table, files)}"
            )

    def select_into(
        self,
        bulk: BulkConnection,
        duck: Any,
        target: str,
        sql: str,
        *,
        batches: Sequence[int] | None = None,
    ) -> None:
        self._checked(lambda: self.attach(bulk, duck, batches=batches, sql=sql))
        # The caller's `FROM metric` finds the view first; its own table goes to main.
        duck.execute(f"SET search_path = '{VIEW_SCHEMA},main'")
        try:
            self._checked(lambda: duck.execute(f"CREATE OR REPLACE TABLE main.{target} AS {sql}"))
        finally:
            duck.execute("RESET search_path")

    def read(
        self,
        bulk: BulkConnection,
        sql: str,
        *,
        batches: Sequence[int] | None = None,
        tables: Mapping[str, str] | None = None,
    ) -> pa.Table:
        from harmonia.compute import duckdb_connection

        duck = duckdb_connection()
        try:
            for name, query in (tables or {}).items():
                duck.register(name, bulk.read(query))
            self.select_into(bulk, duck, "harmonia_result", sql, batches=batches)
            return duck.sql("SELECT * FROM main.harmonia_result").to_arrow_table()
        finally:
            duck.close()

    def next_id(self, bulk: BulkConnection, table: str) -> int:
        # The caller holds the load lock: no other writer gives ids meanwhile.
        found = self.read(bulk, f"SELECT COALESCE(MAX(id), 0) + 1 AS next FROM {table}")
        return max(int(found.column(0)[0].as_py()), self._marked(bulk, table) + 1)

    def _checked(self, run: Any) -> Any:
        """A file that is not the Parquet harmonia wrote is a clear error, not a traceback."""
        try:
            return run()
        except ConfigError:
            raise
        except Exception as error:
            message = str(error)
            if not re.search(r"parquet|No files found|IO Error|magic bytes", message, re.I):
                raise
            raise ConfigError(
                f"the facts of this store cannot be read: {message.splitlines()[0]}",
                where=str(self.root),
                fix="a file in this folder is damaged or foreign: restore the folder from a "
                "backup, or load the affected data again",
            ) from None

    # -- cleaning up ---------------------------------------------------------------------

    def abandon(self, batch_ids: Iterable[int]) -> None:
        for table in FACT_TABLES:
            for batch in batch_ids:
                shutil.rmtree(self.batch_folder(table, batch), ignore_errors=True)

    def sweep(
        self, committed: Iterable[int], running: Iterable[int], known_up_to: int
    ) -> list[int]:
        keep = set(committed) | set(running)
        removed = set()
        for table in FACT_TABLES:
            for folder in (self.root / table).glob("batch=*"):
                batch = folder.name.removeprefix("batch=")
                if batch.isdigit() and int(batch) not in keep and int(batch) <= known_up_to:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed.add(int(batch))
        return sorted(removed)


def batch_folder(root: Path, table: str, batch_id: int) -> Path:
    """The folder of one batch's files of ``table`` under a store's facts folder ``root``."""
    return root / table / f"batch={int(batch_id)}"


def write_batch_file(duck: Any, folder: Path, table: str | FactTable, sql: str) -> int:
    """Write the rows of the DuckDB query ``sql`` as the next file in ``folder``; returns how many.

    ``table`` names a fact table, or is one kept elsewhere (a cycle's assignment
    inputs, :mod:`harmonia.store.assignments`). The query runs once: the file is
    written, and removed again if it holds no row.
    """
    fact = FACT_TABLES[table] if isinstance(table, str) else table
    try:
        created = _make_folders(folder)
        part = folder / f"part-{len(list(folder.glob('part-*.parquet'))) + 1:05d}.parquet"
        ((count,),) = duck.execute(
            f"COPY ({_sorted(fact, sql)}) TO {_path_literal(part)} ({parquet_options(fact)})"
        ).fetchall()
        if not count:
            part.unlink()
            # Only its own folder: a parent it created may hold another load's by now.
            if created[:1] == [folder]:
                folder.rmdir()
            return 0
        # On disk before the batch commits: a power cut after the commit must
        # not leave a committed batch whose file (or its name) was still cached.
        sync(part)
        for named in {folder, *(made.parent for made in created)}:  # where a new name is
            sync(named)
    except OSError as error:
        raise _cannot_write(folder.parent.parent, error, fact.written_by) from None
    except Exception as error:  # DuckDB's IOException: disk full, read-only folder
        if "IO Error" in str(error) or "IOException" in type(error).__name__:
            raise _cannot_write(folder.parent.parent, error, fact.written_by) from None
        raise
    return int(count)


def _sorted(fact: FactTable, sql: str) -> str:
    """DuckDB SQL: the rows of ``sql``, typed as ``fact``'s columns, in the order of its files.

    Rows of one group (a therapy area's metric) are contiguous, and the groups of
    one first column's value (an area) are contiguous too, in that value's order,
    so that a reader of one area skips the other areas' row groups (their min/max
    span no other area), and a reader of some of its metrics the others'. Why the
    area as text but the group as a hash: sorting by the group's text columns
    costs about twice as much as by integers, and a hash needs no join to a
    ranking of the groups; the area's text alone costs no more (1M metrics, 8
    areas x 6 metrics: about 0.8 s of CPU for the whole COPY either way), while
    hashing the area too would order areas by hash, so a row group at the border
    of two areas would span the areas alphabetically between them. Two groups
    of an area whose hashes collide would interleave, which costs a reader of
    one metric some skipping and changes no row. The key's further columns
    (customer, period) come in any order: nothing reads them in order, and
    sorting a group by customer too cost a third of the COPY's CPU for no faster
    read (1M benchmark, 7.5M metric rows in 7 files: COPY 4.67 s of CPU sorted by
    customer within the group, 3.16 s without; the cycle's read of its metrics
    0.46 s and 0.44 s; the files 19.5 and 22.8 MB).
    """
    rows = f"SELECT {_typed(fact)} FROM ({sql})"
    if not fact.ordered:
        return rows
    if not fact.sort_groups:
        return f"{rows} ORDER BY {', '.join(fact.key)}"
    first, groups = fact.sort_groups[0], ", ".join(fact.sort_groups)
    return f"{rows} ORDER BY {first}, hash({groups})"


def parquet_options(fact: FactTable) -> str:
    """DuckDB COPY options of ``fact``'s files: Parquet, zstd at its level."""
    level = fact.compression_level
    return "FORMAT parquet, COMPRESSION zstd" + (
        "" if level is None else f", COMPRESSION_LEVEL {int(level)}"
    )


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns the ones created."""
    missing = []
    for parent in (folder, *folder.parents):
        if parent.exists():
            break
        missing.append(parent)
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def sync(path: Path) -> None:
    """fsync a file, or a folder (so that the names in it are durable)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def replace_durably(temporary: Path, path: Path) -> None:
    """Put ``temporary`` in place of ``path`` so that a power cut leaves one or the
    other whole: its bytes reach the disk before the rename, the rename before we return."""
    sync(temporary)
    temporary.replace(path)
    sync(path.parent)  # the folder holds the name


#: The lock file of a folder whose files :func:`rewrite_without` rewrites.
REWRITE_LOCK = ".rewrite.lock"

#: Writes the rows of a DuckDB ``SELECT`` to a file: ``(connection, select, path)``.
RowsWriter = Callable[[Any, str, Path], None]


def rewrite_without(path: Path, reader: str, condition: str, write: RowsWriter) -> int:
    """Replace the file ``path`` whole, durably, by one without the rows matching the
    DuckDB ``condition``; returns how many went (none: the file and its folder are
    left untouched, so a folder we may only read is fine when nothing matches).

    ``reader`` is the DuckDB relation that reads the file; ``write`` writes the
    rows kept, in the file's format, to a temporary name beside it, which then
    replaces it (:func:`replace_durably`): a process killed at any moment leaves
    the old file or the new one. Erasures and objections rewrite files this way.

    Why the folder's lock, held from a second count to the rename: two rewrites
    of one file at once would each copy it as it was, and the second rename
    would bring back the rows the first removed. The first count, without the
    lock, only spares files without a matching row (rewrites only remove rows,
    so none can appear meanwhile). The lock file stays in the folder (an empty
    hidden file; loads and globs skip it): removing it would let a rewrite
    waiting on the old one and a new one on a fresh file run at once. The
    temporary name is this process's; one left by a process killed under the
    lock, or by a version that named it ``.rewriting`` alone, is removed here.
    """
    import fcntl

    from harmonia.compute import duckdb_connection

    temporary = path.with_name(f"{path.name}.rewriting-{os.getpid()}")
    found = f"SELECT COUNT(*) FROM {reader} WHERE {condition}"
    duck = duckdb_connection()
    try:
        ((removed,),) = duck.sql(found).fetchall()
        if not removed:
            return 0
        lock = _open_rewrite_lock(path.parent)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            for abandoned in (
                path.with_name(f"{path.name}.rewriting"),
                *path.parent.glob(f"{glob.escape(path.name)}.rewriting-*"),
            ):
                abandoned.unlink(missing_ok=True)
            try:
                ((removed,),) = duck.sql(found).fetchall()
                if not removed:
                    return 0
                kept = f"SELECT * FROM {reader} WHERE NOT COALESCE({condition}, false)"
                write(duck, kept, temporary)
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
            replace_durably(temporary, path)
        finally:
            os.close(lock)  # releases the flock
    finally:
        duck.close()
    return int(removed)


def _open_rewrite_lock(folder: Path) -> int:
    """A descriptor of ``folder``'s rewrite lock, created readable and writable by all.

    flock needs only a descriptor, not write access, so a lock file another OS
    user created in a shared folder is opened for reading (a team's export
    share: every user's erasure must get through). Writable where possible
    all the same: over NFS, flock is a POSIX lock, whose LOCK_EX wants one.
    """
    lock = folder / REWRITE_LOCK
    try:
        descriptor = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        os.fchmod(descriptor, 0o666)  # whatever the umask: another user must open it
        return descriptor
    except FileExistsError:
        pass
    try:
        return os.open(lock, os.O_RDWR)
    except PermissionError:
        return os.open(lock, os.O_RDONLY)


def _check_columns(duck: Any, table: str, files: Sequence[Path]) -> None:
    """Each file has the table's columns (read from the files' footers only)."""
    if not files:
        return
    listed = ", ".join(_path_literal(path) for path in files)
    found: dict[str, set[str]] = {str(path): set() for path in files}
    for name, column in duck.execute(
        f"SELECT file_name, name FROM parquet_schema([{listed}])"
    ).fetchall():
        found.setdefault(name, set()).add(column)
    wanted = set(FACT_TABLES[table].column_names)
    for name, columns in found.items():
        if missing := sorted(wanted - columns):
            raise ConfigError(
                f"this file is not one harmonia wrote for the {table} facts: it has no "
                f"column {', '.join(missing)}",
                where=name,
                fix="only harmonia writes in the facts folder: remove the file and restore "
                "the folder from a backup, or load that batch's data again",
            )


def _typed(fact: FactTable) -> str:
    return ", ".join(
        name if kind is None else f"CAST({name} AS {kind}) AS {name}" for name, kind in fact.columns
    )


def _path_literal(path: Path) -> str:
    """A path as the SQL text literal DuckDB reads it from."""
    return literal(str(path))


#: The system's reasons a write fails, as DuckDB and Python quote them.
_WRITE_REFUSED = re.compile(
    r"no space left on device|disk quota exceeded|file too large|permission denied|"
    r"read-only file system",
    re.IGNORECASE,
)


def _cannot_write(root: Path, error: BaseException, written_by: str) -> ConfigError:
    message = str(error)
    if isinstance(error, OSError) and error.strerror:
        reason = error.strerror
    elif found := _WRITE_REFUSED.search(message):
        reason = found.group(0)  # not DuckDB's whole message (offsets, JSON)
    else:
        reason = message.splitlines()[0]
    return ConfigError(
        f"cannot write the store's facts: {reason.lower()}; nothing of this {written_by} was kept",
        where=str(root),
        fix=f"free disk space, or make the folder writable, then run the {written_by} again",
    )


def copy_store(source: Path, target: Path) -> None:
    """Copy a SQLite store with its facts and its key (a store is the file, its facts
    folder and, once it erased someone, its suppression key file)."""
    from harmonia.store.database import Database
    from harmonia.store.suppression import key_path

    shutil.copyfile(source, target)
    if facts_folder(source).exists():
        shutil.copytree(facts_folder(source), facts_folder(target), dirs_exist_ok=True)
    key, copied = (key_path(Database(f"sqlite:///{path}")) for path in (source, target))
    if key.is_file() and key != copied:
        copied.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copy2(key, copied)
