"""A cycle's stored assignments, behind one interface: where their ``inputs`` are.

Each assignment stores the feature values and raw inputs its rules read, as
JSON (``inputs``): most of a cycle's bytes (~460 of them per customer at 1M,
against ~60 for the rest of the row). They are written once, read per cycle
(explain, pull-through's previous cycle, the ``assignments`` output) and
never changed, so where the store keeps facts as files (the embedded SQLite
store, :func:`harmonia.store.facts.facts_of`) they are one Parquet file per
cycle, ``<database>.facts/assignment_input/cycle=<id>/part-00001.parquet``,
and the ``assignment`` row holds NULL. The rest of the row (the segments,
and what refinement changes one customer at a time) stays in the table.
PostgreSQL keeps ``inputs`` in its table: nothing changes there.

Commit: a run writes the file (synced) before its transaction stores the
rows, and readers start from the rows; so a cycle's inputs are visible with
its rows, whole. A run killed in between leaves a file of a cycle that
recovery marks failed; :func:`sweep` removes the files of failed and
unknown cycles. A cycle whose rows are there but not its file is an error
that says where the file was.

Objection: it deletes the objector's rows in a transaction the files cannot
join, so the same transaction records their ids (:func:`erasure_pending_sql`,
table ``assignment_input_erasure``); after the commit :func:`finish_erasures`
rewrites every file holding them and clears the record. A command killed in
between leaves the record, and the next command's recovery finishes it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harmonia.errors import ConfigError
from harmonia.sql import literal
from harmonia.store import feature_cache
from harmonia.store.facts import (
    FactTable,
    facts_folder,
    facts_of,
    parquet_options,
    rewrite_without,
    write_batch_file,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from harmonia.store.bulk import BulkConnection
    from harmonia.store.database import Database

#: The column kept apart, and the table of its files.
INPUTS = "inputs"
INPUTS_TABLE = FactTable(
    name="assignment_input",
    load_kind="cycle",  # no load batch writes it: a cycle does
    key=("customer_id",),
    # The inputs as one struct (a field per input, in the JSON's order), which a reader
    # turns into the JSON text (:func:`inputs_text`); older files, and those of engines
    # that hand over the text, hold the text itself. Why: columns compress where text
    # does not, and the text is built only where it is read (1M inputs, CPU at load 20:
    # 2.4-2.5 s to build and write the text, 1.2-1.3 s the struct; 29 MB against 14 MB).
    columns=(("customer_id", "BIGINT"), (INPUTS, None)),
    # Read whole (a cycle's, joined by customer) or for one customer (explain, where
    # reading the whole file costs a tenth of a second at 1M): neither needs the rows
    # in order. 1M inputs: zstd level 1 unsorted 0.9-1.0 s of CPU, level 3 sorted
    # 1.75-1.87 s; 39 MB against 35 MB.
    ordered=False,
    compression_level=1,
    written_by="cycle",
)


def inputs_apart(database: Database) -> bool:
    """Whether the store keeps assignment inputs as files (else in the ``assignment`` table)."""
    return facts_of(database).external


def inputs_root(database: Database) -> Path:
    assert database.sqlite_path is not None
    return facts_folder(database.sqlite_path) / INPUTS_TABLE.name


def inputs_folder(database: Database, cycle_id: int) -> Path:
    """The folder of cycle ``cycle_id``'s inputs file."""
    assert database.sqlite_path is not None
    return cycle_folder(facts_folder(database.sqlite_path), cycle_id)


def cycle_folder(root: Path, cycle_id: int) -> Path:
    """The folder of cycle ``cycle_id``'s inputs file under a store's facts folder ``root``."""
    return root / INPUTS_TABLE.name / f"cycle={int(cycle_id)}"


def stored_columns(database: Database, columns: Sequence[str]) -> tuple[str, ...]:
    """Of an assignment's ``columns``, those its table holds in this store."""
    if not inputs_apart(database):
        return tuple(columns)
    return tuple(column for column in columns if column != INPUTS)


def write_inputs(database: Database, duck: Any, cycle_id: int, sql: str) -> int:
    """Store the inputs of cycle ``cycle_id`` (``sql``: DuckDB rows of ``customer_id`` and
    ``inputs``, a struct whose ``to_json`` is the inputs' JSON, or that JSON's text) as
    its file, synced; before the transaction that stores its rows commits.
    Returns the rows written. Only where :func:`inputs_apart`."""
    folder = inputs_folder(database, cycle_id)
    shutil.rmtree(folder, ignore_errors=True)  # a run of this id that failed before
    return write_batch_file(duck, folder, INPUTS_TABLE, sql)


def _files(database: Database, cycle_id: int) -> list[Path]:
    return sorted(inputs_folder(database, cycle_id).glob("part-*.parquet"))


def inputs_sql(database: Database, cycle_id: int, *, as_text: bool = True) -> str:
    """DuckDB SQL reading cycle ``cycle_id``'s inputs file in place (``customer_id``,
    ``inputs`` as JSON text, or with ``as_text=False`` as the file keeps them: a struct
    or the text), for a reader joining it with its rows; only where :func:`inputs_apart`."""
    files = _files(database, cycle_id)
    if not files:
        raise _missing(database, cycle_id)
    listed = ", ".join(literal(str(path)) for path in files)
    inputs = inputs_text() if as_text else INPUTS
    return f"(SELECT customer_id, {inputs} AS {INPUTS} FROM read_parquet([{listed}]))"


def inputs_text(column: str = INPUTS) -> str:
    """DuckDB SQL: an inputs file's ``column`` as the inputs' JSON text, whether the file
    holds them as a struct or (older files) as the text itself."""
    return (
        f"CASE WHEN typeof({column}) = 'VARCHAR' THEN CAST({column} AS VARCHAR) "
        f"ELSE CAST(to_json({column}) AS VARCHAR) END"
    )


def read(
    bulk: BulkConnection,
    cycle_id: int,
    columns: Sequence[str],
    customers: Iterable[int] | None = None,
) -> pa.Table:
    """Cycle ``cycle_id``'s assignments (of ``customers``, else all): ``columns``, in
    customer order, ``inputs`` included wherever the store keeps it."""
    where = f"cycle_id = {int(cycle_id)}"
    if customers is not None:
        where += f" AND customer_id IN ({', '.join(str(int(c)) for c in customers) or 'NULL'})"
    held = stored_columns(bulk.database, columns)
    if held == tuple(columns):
        return bulk.read(
            f"SELECT {', '.join(columns)} FROM assignment WHERE {where} ORDER BY customer_id"
        )
    keyed = held if "customer_id" in held else ("customer_id", *held)
    rows = bulk.read(
        f"SELECT {', '.join(keyed)} FROM assignment WHERE {where} ORDER BY customer_id"
    )
    return with_inputs(bulk.database, cycle_id, rows).select(list(columns))


def every_assignment(bulk: BulkConnection) -> pa.Table:
    """Every stored assignment of every cycle, inputs included (for tests and tools that
    read the whole table; a cycle's readers use :func:`read`)."""
    rows = bulk.read("SELECT * FROM assignment ORDER BY cycle_id, customer_id")
    if not inputs_apart(bulk.database):
        return rows
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = rows.drop_columns([INPUTS])
    parts = []
    for cycle in sorted(set(rows.column("cycle_id").to_pylist())):
        mask = pc.equal(rows.column("cycle_id"), cycle)
        parts.append(with_inputs(bulk.database, cycle, rows.filter(mask)))
    if not parts:
        return rows.append_column(INPUTS, pa.array([], pa.string()))
    return pa.concat_tables(parts)


def inputs_of(database: Database, cycle_id: int, customer_id: int) -> str:
    """The stored ``inputs`` (JSON) of one customer's assignment in cycle ``cycle_id``."""
    from harmonia.store.bulk import BulkConnection

    with BulkConnection(database, write=False) as bulk:
        found = read(bulk, cycle_id, ["customer_id", INPUTS], [customer_id]).column(INPUTS)
    if not len(found) or found[0].as_py() is None:
        if inputs_apart(database) and _files(database, cycle_id):
            raise _not_in_file(database, cycle_id, customer_id)
        raise _missing(database, cycle_id)
    return str(found[0].as_py())


def with_inputs(database: Database, cycle_id: int, rows: pa.Table) -> pa.Table:
    """``rows`` (assignments of cycle ``cycle_id``, by ``customer_id``) with their ``inputs``
    column added from the cycle's file, in the same order. Where the store keeps
    inputs in its table, ``rows`` must have them already."""
    if not inputs_apart(database) or INPUTS in rows.column_names:
        return rows
    import pyarrow as pa

    from harmonia.compute import duckdb_connection

    if not rows.num_rows:
        return rows.append_column(INPUTS, pa.array([], pa.string()))
    inputs = inputs_sql(database, cycle_id)
    duck = duckdb_connection()
    try:
        duck.register("harmonia_rows", rows)
        found = duck.sql(
            "SELECT r.* EXCLUDE (harmonia_row), i.inputs FROM (SELECT *, row_number() OVER () "
            f"AS harmonia_row FROM harmonia_rows) r LEFT JOIN {inputs} i "
            "ON i.customer_id = r.customer_id ORDER BY r.harmonia_row"
        ).to_arrow_table()
    finally:
        duck.close()
    return found


def _missing(database: Database, cycle_id: int) -> ConfigError:
    return ConfigError(
        f"the inputs of cycle {cycle_id}'s assignments are missing: they are kept in a file "
        "beside the database, and it is not there",
        where=str(inputs_folder(database, cycle_id)),
        fix="a store is its database file and the folder beside it: restore that folder from "
        "a backup, or run the cycle again (harmonia cycle run) and use the new one",
    )


def _not_in_file(database: Database, cycle_id: int, customer_id: int) -> ConfigError:
    return ConfigError(
        f"the inputs file of cycle {cycle_id} holds no inputs for customer {customer_id}, "
        "though the cycle has an assignment of theirs (the file was rewritten without "
        "them, by an erasure that did not commit, or replaced by another cycle's)",
        where=str(inputs_folder(database, cycle_id)),
        fix="restore the store (its database file and the folder beside it) from a backup, "
        "or run the cycle again (harmonia cycle run) and use the new one",
    )


def forget(database: Database, cycle_ids: Iterable[int]) -> None:
    """Delete the assignments of these cycles (failed, cancelled): their rows, then their
    inputs files (a file without rows is never read, and :func:`sweep` finds it)."""
    from sqlmodel import col, delete

    from harmonia.store.models import Assignment

    ids = sorted(set(cycle_ids))
    if not ids:
        return
    with database.session() as session:
        session.exec(delete(Assignment).where(col(Assignment.cycle_id).in_(ids)))
        session.commit()
    if inputs_apart(database):
        for cycle_id in ids:
            shutil.rmtree(inputs_folder(database, cycle_id), ignore_errors=True)


def sweep(database: Database, keep: Iterable[int], known_up_to: int) -> list[int]:
    """Remove the inputs files of cycles up to ``known_up_to`` not in ``keep`` (failed ones,
    whose rows are gone); returns their ids. A cycle above ``known_up_to`` may have opened
    since the catalogue was read: its file is left alone."""
    if not inputs_apart(database) or not inputs_root(database).exists():
        return []
    keep = set(keep)
    removed = []
    for folder in inputs_root(database).glob("cycle=*"):
        number = folder.name.removeprefix("cycle=")
        if number.isdigit() and int(number) not in keep and int(number) <= known_up_to:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(int(number))
    return sorted(removed)


def files_holding(database: Database, customer_ids: Sequence[int]) -> tuple[list[Path], str]:
    """The inputs files holding any of these customers, and the DuckDB condition that
    matches their rows (an erasure rewrites the files without them)."""
    theirs = f"customer_id IN ({', '.join(str(int(i)) for i in customer_ids) or 'NULL'})"
    if not inputs_apart(database):
        return [], theirs
    paths = sorted(inputs_root(database).glob("cycle=*/part-*.parquet"))
    if not paths:
        return [], theirs
    from harmonia.compute import duckdb_connection

    listed = ", ".join(literal(str(path)) for path in paths)
    duck = duckdb_connection()
    try:
        holding = duck.sql(
            f"SELECT filename FROM read_parquet([{listed}], filename = true) "
            f"WHERE {theirs} GROUP BY filename ORDER BY filename"
        ).fetchall()
    finally:
        duck.close()
    return [Path(path) for (path,) in holding], theirs


def erase(database: Database, customer_ids: Sequence[int]) -> int:
    """Every cycle's inputs file holding these customers, rewritten without them;
    returns the rows removed (0 where the store keeps inputs in its table). The
    features kept for later cycles go whole (:mod:`harmonia.store.feature_cache`)."""
    feature_cache.forget(database)
    paths, theirs = files_holding(database, customer_ids)
    return sum(_rewrite_without(path, theirs) for path in paths)


def _rewrite_without(path: Path, condition: str) -> int:
    """Replace the inputs file ``path`` whole, durably, by one without the rows matching
    the DuckDB ``condition``; returns how many went. DuckDB streams the copy."""

    def write(duck: Any, kept: str, temporary: Path) -> None:
        duck.execute(
            f"COPY ({kept}) TO {literal(str(temporary))} ({parquet_options(INPUTS_TABLE)})"
        )

    return rewrite_without(path, f"read_parquet({literal(str(path))})", condition, write)


#: Customers whose rows are gone but whose inputs may still be in files.
PENDING_TABLE = "assignment_input_erasure"


def erasure_pending_sql(ids: str) -> str:
    """SQL: record the customers ``ids`` selects as still to leave the inputs files; run it
    in the transaction that deletes their assignment rows, then :func:`finish_erasures`."""
    return (
        f"INSERT INTO {PENDING_TABLE} (customer_id) SELECT DISTINCT p.id FROM ({ids}) p "
        f"WHERE p.id NOT IN (SELECT customer_id FROM {PENDING_TABLE})"
    )


def finish_erasures(database: Database) -> tuple[int, ...]:
    """Rewrite the inputs files without every customer recorded as pending, then clear
    those records (the files first: a kill in between leaves the record, and the next
    call rewrites nothing more). Returns the customers finished."""
    from sqlalchemy import text

    with database.session() as session:
        pending = tuple(
            int(customer_id)
            for (customer_id,) in session.connection().execute(
                text(f"SELECT customer_id FROM {PENDING_TABLE} ORDER BY customer_id")
            )
        )
    if not pending:
        return ()
    erase(database, pending)
    with database.session() as session:
        session.connection().execute(
            text(
                f"DELETE FROM {PENDING_TABLE} WHERE customer_id IN ({', '.join(map(str, pending))})"
            )
        )
        session.commit()
    return pending
