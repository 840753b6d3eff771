"""Where a cycle's SQL runs: in embedded DuckDB, or inside the store's own database.

``duckdb``
    Reads the slices of the store a cycle needs as Arrow (ADBC), runs the
    cycle in DuckDB (vectorized, all cores), writes the assignments back in
    bulk. The default on the embedded SQLite store.
``spark``
    Runs the same SQL, transpiled, inside Apache Spark, on the market's data
    in a lake or a catalog: :mod:`harmonia.engine.spark`, which builds on this.
``database``
    Runs the same SQL, transpiled, inside the store: the assignments are
    computed into a work table (in steps on SQLite, in one parallel statement
    on PostgreSQL), copied into ``assignment`` and planned from there. No
    customer's row leaves the database; only the target list, the segment
    summary and the profile coverage do. The default on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import attrs
import duckdb
import pyarrow as pa

from harmonia.compute import duckdb_connection, memory_limit_bytes
from harmonia.engine.coverage import input_coverage_sql
from harmonia.engine.dialects import transpile
from harmonia.engine.pullthrough import PreviousInputs
from harmonia.engine.query import ASSIGNMENT_COLUMNS, CycleQuery, with_steps
from harmonia.engine.reuse import Reuse
from harmonia.errors import ConfigError
from harmonia.store import assignments as stored
from harmonia.store import history
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import Database
from harmonia.store.facts import FACT_TABLES, facts_of

ENGINES = ("duckdb", "database", "spark")

Stage = Callable[[str], None]

#: Judges the input coverage (:mod:`harmonia.engine.coverage`) before the cycle
#: computes anything; raises to refuse the cycle.
InputCheck = Callable[[pa.Table], None]

#: Session settings of a cycle run inside PostgreSQL. Why: PostgreSQL estimates
#: a window filter such as "the latest response" (rn = 1) at half a percent of
#: its rows, then joins what are tens of thousands of rows by nested loops.
#: Every query of a cycle reads a whole universe, for which hash and merge
#: joins are right (100k customers: the cycle run went from 12.2 s to 9.9 s).
POSTGRES_SETTINGS = ("SET enable_nestloop = off",)

#: An in-database run computes into a work table named this plus the cycle id.
WORK_TABLE_PREFIX = "harmonia_cycle_"


@attrs.frozen
class CycleOutputs:
    """What a backend hands back after persisting the assignments."""

    assignments: int
    target_list: pa.Table
    summary: pa.Table
    coverage: pa.Table | None = None
    #: How the contacts were planned when not by the strategies' fixed frequencies
    #: (the planner's method, capacity and shortfalls), for the cycle's summary.
    call_plan: dict[str, Any] | None = None
    #: Saves that plan (in one transaction) and returns its id: called once the
    #: outputs are written, so a failed write leaves no plan behind.
    save_plan: Callable[[], int] | None = attrs.field(default=None, eq=False, repr=False)
    #: Where the backend itself wrote results (Spark's folders or tables).
    written: tuple[str, ...] = ()


def default_engine(database: Database) -> str:
    return "database" if database.dialect == "postgresql" else "duckdb"


def run(
    engine: str,
    database: Database,
    query: CycleQuery,
    stage: Stage,
    batches: Sequence[int] | None = None,
    check: InputCheck | None = None,
    changed: pa.Table | None = None,
) -> CycleOutputs:
    """Run the cycle on ``engine``; ``batches`` restricts the facts read to those load batches.

    ``check`` gets the input coverage, counted on the inputs as read, before
    anything is computed. ``changed``: the customers a load after ``batches``
    changed (:func:`harmonia.store.history.changed_since`), read as of them.
    """
    if engine == "duckdb":
        return _run_embedded(database, query, stage, batches, check, changed)
    if engine == "database":
        return _run_in_database(database, query, stage, batches, check, changed)
    raise ConfigError(f"unknown engine {engine!r}", fix=f"use one of {', '.join(ENGINES)}")


def check_inputs(
    check: InputCheck | None, query: CycleQuery, read: Callable[[str], pa.Table]
) -> None:
    """Count the input coverage where the inputs are (``read`` runs a DuckDB-dialect
    query there) and hand it to ``check``."""
    if check is not None:
        check(read(input_coverage_sql(query)))


def _run_embedded(
    database: Database,
    query: CycleQuery,
    stage: Stage,
    batches: Sequence[int] | None,
    check: InputCheck | None = None,
    changed: pa.Table | None = None,
) -> CycleOutputs:
    connection = duckdb_connection()
    try:
        stage("reading inputs")
        reuse = Reuse.of(database, query, batches)
        query, key, kept = _read_unless_kept(database, query, connection, batches, changed, reuse)
        if reuse is not None and kept is not None:
            coverage = reuse.coverage(kept)
        else:
            coverage = connection.sql(input_coverage_sql(query)).to_arrow_table()
        if check is not None:
            check(coverage)
        stage("segmenting")
        features = reuse.features(kept) if reuse is not None and kept is not None else None
        try:
            compute_in_parts(connection, query, "computed_assignments", features)
        except duckdb.IOException:
            if reuse is None or key is None or features is None or reuse.find(key) is not None:
                raise
            # The entry went while read (an erasure, an objection, another process's
            # pruning): the facts it stood for are read, and the features computed.
            connection.execute("DROP TABLE IF EXISTS main.computed_assignments")
            read_inputs(database, query, connection, batches, only=reuse.facts)
            compute_in_parts(connection, query, "computed_assignments")
        if reuse is not None and key is not None and kept is None:
            reuse.save(key, connection, "computed_assignments", coverage)
        connection.execute(
            f"CREATE VIEW assignments AS {query.with_inputs_json('computed_assignments')}"
        )
        count = connection.sql("SELECT COUNT(*) FROM assignments").fetchall()[0][0]
        # The assignments stream to the store in the background while DuckDB plans.
        columns = stored.stored_columns(database, ASSIGNMENT_COLUMNS)
        with BulkConnection(database) as bulk:
            bulk.append(
                "assignment",
                connection.cursor()
                .sql(stored_assignments("assignments", columns))
                .to_arrow_reader(100_000),
            )
            stage("planning")
            outputs = plan_outputs(lambda sql: fetch(connection, sql), query, "assignments")
            stage("writing assignments")
            if len(columns) < len(ASSIGNMENT_COLUMNS):  # the inputs go to the cycle's file
                stored.write_inputs(
                    database,
                    connection.cursor(),
                    query.cycle_id,
                    query.inputs_struct("computed_assignments"),
                )
            bulk.wait()
            bulk.analyze("assignment")
    finally:
        connection.close()
    return CycleOutputs(int(count), *outputs)


def _read_unless_kept(
    database: Database,
    query: CycleQuery,
    connection: Any,
    batches: Sequence[int] | None,
    changed: pa.Table | None,
    reuse: Reuse | None,
) -> tuple[CycleQuery, str | None, Path | None]:
    """The cycle's inputs, read (:func:`read_inputs`) but for the facts where the features
    computed from the same inputs are kept (:mod:`harmonia.engine.reuse`); returns the
    query for them, the features' key and their entry if kept."""
    if reuse is None:
        return read_inputs(database, query, connection, batches, changed), None, None
    # The facts wait for the records only where an entry may spare reading them.
    later = reuse.facts if reuse.likely() else ()
    query = read_inputs(database, query, connection, batches, changed, skip=later)
    key = reuse.key(connection)
    kept = reuse.find(key)
    if kept is None and later:
        read_inputs(database, query, connection, batches, only=later)
    return query, key, kept


#: Customers whose assignments one DuckDB statement computes, per MiB of its memory
#: limit (4 GB: 4M customers). Why: the features join each per-customer step to the
#: population by hash, a chain of a dozen hash tables as large as the universe, which
#: DuckDB cannot spill: a 10M universe ran out of its 4 GB in that join. 1M customers
#: at a 400 MB limit took 0.85 GB of the process; at 100 MB they ran out.
CUSTOMERS_PER_MIB = 1_000

#: The DuckDB schema of a cycle's steps, computed once each before the parts.
STEP_SCHEMA = "harmonia_steps"

#: Rows per batch of a store table's slice streamed into DuckDB. Why bounded: the
#: batches are held outside DuckDB's memory limit (10M customers in one: ~2 GB).
STREAM_ROWS = 500_000


def compute_in_parts(
    connection: Any, query: CycleQuery, computed: str, features: str | None = None
) -> int:
    """The cycle's assignments as the table ``computed``, inputs as columns (the inputs'
    JSON is built only where they are stored, not for planning), the customers in parts.

    Each step over the whole universe (scores, ranks) is a table of its own, computed
    once; then the per-customer part (features, rules, pull-through) runs for one part
    of the customers at a time, by a hash of their id, over the steps' rows of those
    customers only: as many parts as the memory limit needs (see
    :data:`CUSTOMERS_PER_MIB`). Where one part holds the market, the steps and the
    rest are one statement, no step stored. The rows are the same whatever the number
    of parts, which it returns.

    ``features``: SQL of the features computed before (:mod:`harmonia.engine.reuse`),
    which stand for every step up to them.
    """
    steps, body = query.assignment_steps(inputs_as_columns=True)
    if features is not None:
        kept = ("previous", "ruled")
        steps = {"features": features, **{n: s for n, s in steps.items() if n in kept}}
    # The market's customers, of whom the population is some: parts for as many.
    ((customers,),) = connection.execute("SELECT COUNT(*) FROM main.customer").fetchall()
    mib = max(1, memory_limit_bytes(connection) // 2**20)
    parts = max(1, -(-int(customers) // max(1, int(mib * CUSTOMERS_PER_MIB))))
    if parts == 1:
        # One statement: DuckDB streams the steps into the joins, where tables of them
        # are written whole and read again (1M: segmenting 4.39 -> 3.82 s CPU).
        connection.execute(f"CREATE TABLE main.{computed} AS {with_steps(steps, body)}")
        return 1
    per_customer = {"ruled": steps.pop("ruled")}
    if features is None:
        per_customer = {"features": steps.pop("features"), **per_customer}
    connection.execute(f"CREATE SCHEMA {STEP_SCHEMA}")
    # The steps find the ones before them in their schema, and the inputs in main.
    connection.execute(f"SET search_path = '{STEP_SCHEMA},main'")
    try:
        for name, sql in steps.items():
            # Kept features are read from their file where they are used: copying them
            # into a table first costs more than reading them (1M: 0.32 s of CPU, 0.08).
            kind = "VIEW" if features is not None and name == "features" else "TABLE"
            connection.execute(f"CREATE {kind} {STEP_SCHEMA}.{name} AS {sql}")
        keyed = [
            name
            for (name,) in connection.execute(
                "SELECT table_name FROM duckdb_columns() WHERE schema_name = "
                f"'{STEP_SCHEMA}' AND column_name = 'customer_id'"
            ).fetchall()
        ]
        for part in range(parts):
            # By the id as an integer: hash(5::DOUBLE) and hash('5') differ from hash(5),
            # so a step keeping its ids in another type would put them in another part.
            mine = f" WHERE hash(CAST(customer_id AS BIGINT)) % {parts} = {part}"
            ctes = [f"{name} AS (SELECT * FROM {STEP_SCHEMA}.{name}{mine})" for name in keyed]
            ctes += [f"{name} AS ({sql})" for name, sql in per_customer.items()]
            rows = f"WITH {', '.join(ctes)} {body}"
            connection.execute(
                f"INSERT INTO main.{computed} {rows}"
                if part
                else f"CREATE TABLE main.{computed} AS {rows}"
            )
        return parts
    finally:
        connection.execute("RESET search_path")
        connection.execute(f"DROP SCHEMA IF EXISTS {STEP_SCHEMA} CASCADE")


def read_inputs(
    database: Database,
    query: CycleQuery,
    connection: Any,
    batches: Sequence[int] | None = None,
    changed: pa.Table | None = None,
    *,
    skip: Collection[str] = (),
    only: Collection[str] | None = None,
) -> CycleQuery:
    """The one place a cycle reads its inputs: the store's slices as DuckDB tables.
    Returns ``query`` for the tables as read: with the previous cycle's inputs as
    a struct where its file keeps them so (:func:`previous_inputs`).

    A cycle reads its recorded input snapshot, a current run too: ``batches``
    (the snapshot) restricts the facts read, and the customers ``changed``
    since it (:func:`harmonia.store.history.changed_since`; a load committed
    while the cycle opened) are read as of it, from their rows' versions.
    Facts held outside the database (Parquet on the embedded store) are read
    by DuckDB in place, restricted to ``batches`` when given; the rest is
    copied from the store, two tables at a time (one reader per core). Each
    reader has its own store connection and DuckDB cursor; SQLite in WAL mode
    serves concurrent readers, and ADBC releases the GIL while it reads.

    ``skip`` leaves those inputs out, ``only`` reads those alone.
    """
    with BulkConnection(database, write=False) as bulk:
        market_alone = not bulk.exists(query.other_markets())
    queries = {
        name: sql
        for name, sql in query.input_queries(market_alone=market_alone).items()
        if name not in skip and (only is None or name in only)
    }
    facts = facts_of(database)

    def copy(names: Sequence[str]) -> None:
        with BulkConnection(database, write=False) as bulk:
            for name in names:
                if facts.external and name in FACT_TABLES:
                    cursor = connection.cursor()
                    facts.select_into(bulk, cursor, name, queries[name], batches=batches)
                    continue
                if name == "assignment" and stored.inputs_apart(database):
                    _copy_previous(connection.cursor(), bulk, query)
                    continue
                sql = transpile(queries[name], database.dialect)
                copy_in(connection.cursor(), name, stream_input(bulk, name, sql))

    # Facts kept as files are read by one reader, the largest first: their
    # views share one schema, which two DuckDB writers cannot change at once.
    held = [name for name in queries if facts.external and name in FACT_TABLES]
    tasks = [sorted(held, key=lambda name: name != "metric")] if held else []
    tasks += [[name] for name in sorted(queries, key=lambda n: n != "metric") if name not in held]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="harmonia-read") as pool:
        for future in [pool.submit(copy, names) for names in tasks]:
            future.result()
    if "customer" in queries:
        _customers_as_of(connection, query, changed)
    if "assignment" not in queries:
        return query
    return attrs.evolve(query, previous_inputs=previous_inputs(connection))


def previous_inputs(connection: Any) -> PreviousInputs | None:
    """The fields (name, DuckDB type) of the previous cycle's inputs in the DuckDB
    ``assignment`` input where they are a struct; None where they are JSON text."""
    kind = connection.sql(f"SELECT {stored.INPUTS} FROM assignment").types[0]
    if kind.id != "struct":
        return None
    return tuple((name, str(field)) for name, field in kind.children)


def _customers_as_of(connection: Any, query: CycleQuery, changed: pa.Table | None) -> None:
    """The DuckDB ``customer`` input as of the snapshot: the customers a later load
    changed get their row then back from its versions, those it created go."""
    if changed is None:
        return
    connection.register("customer_changes", changed)
    try:
        for statement in history.apply_sql(
            "customer",
            "customer_changes",
            input_schema("customer").names,
            query.spec.country.code,
        ):
            connection.execute(statement)
    finally:
        connection.unregister("customer_changes")


def previous_assignments(bulk: BulkConnection, query: CycleQuery) -> pa.Table:
    """The previous cycle's assignments pull-through compares with (its ``assignment``
    input), inputs included wherever the store keeps them."""
    assert query.previous_cycle_id is not None
    return stored.read(bulk, query.previous_cycle_id, input_schema("assignment").names).cast(
        input_schema("assignment")
    )


def stream_input(bulk: BulkConnection, name: str, sql: str) -> pa.RecordBatchReader:
    """The rows of ``sql``, a slice of the store table ``name``, in bounded batches."""
    return bulk.stream(sql, batch_rows=STREAM_ROWS, schema=input_schema(name))


def copy_in(
    connection: Any,
    name: str,
    reader: pa.RecordBatchReader,
    schema: pa.Schema | None = None,
    table: str | None = None,
) -> None:
    """A store table's slice (``schema``'s columns, else all its input's) into DuckDB's own
    (compressed, spillable) storage, typed, as ``table`` (else ``name``)."""
    schema = schema or input_schema(name)
    typed = pa.RecordBatchReader.from_batches(
        schema, (batch.select(schema.names).cast(schema) for batch in reader)
    )
    connection.register("incoming", typed)
    connection.execute(f"CREATE TABLE {table or name} AS SELECT * FROM incoming")
    connection.unregister("incoming")


def _copy_previous(connection: Any, bulk: BulkConnection, query: CycleQuery) -> None:
    """The previous cycle's assignments (pull-through's ``assignment`` input) where its
    inputs are a file: the rows streamed in, then joined by DuckDB with the file read in
    place, so that no whole copy of the cycle is built in memory (1M: ~0.5 GB of JSON).
    The inputs stay as the file keeps them: a struct is compared field by field, never
    turned into JSON text and parsed back (1M: reading it and segmenting took 11.3 s of
    CPU with the text, 8.0 s with the struct)."""
    assert query.previous_cycle_id is not None
    schema = input_schema("assignment")
    held = pa.schema([field for field in schema if field.name != stored.INPUTS])
    rows = bulk.stream(
        f"SELECT {', '.join(held.names)} FROM assignment "
        f"WHERE cycle_id = {int(query.previous_cycle_id)}",
        batch_rows=STREAM_ROWS,
        schema=held,
    )
    copy_in(connection, "assignment", rows, held, table="assignment_rows")
    listed = ", ".join(
        f"i.{stored.INPUTS}" if column == stored.INPUTS else f"a.{column}"
        for column in schema.names
    )
    connection.execute(
        f"CREATE TABLE assignment AS SELECT {listed} FROM assignment_rows a LEFT JOIN "
        f"{stored.inputs_sql(bulk.database, query.previous_cycle_id, as_text=False)} i "
        "USING (customer_id)"
    )
    connection.execute("DROP TABLE assignment_rows")


def _run_in_database(
    database: Database,
    query: CycleQuery,
    stage: Stage,
    batches: Sequence[int] | None,
    check: InputCheck | None = None,
    changed: pa.Table | None = None,
) -> CycleOutputs:
    if database.dialect == "postgresql":
        return _run_in_postgres(database, query, stage, check)
    computed = f"{WORK_TABLE_PREFIX}{query.cycle_id}"
    with BulkConnection(database) as bulk:
        _stage_external_facts(bulk, query, batches, changed)
        check_inputs(check, query, lambda sql: bulk.read(transpile(sql, bulk.dialect)))
        stage("segmenting in the database")
        _compute_in_steps(bulk, query, computed)
        # The previous cycle's assignments, staged: the store's own table is written next.
        bulk.execute("DROP VIEW IF EXISTS temp.assignment")
        bulk.execute(f"DROP TABLE IF EXISTS temp.{_PREVIOUS_INPUTS}")
        _store_assignments(bulk, computed, query.cycle_id)
        stage("planning")
        return _plan_in_database(bulk, query, computed)


def _stage_external_facts(
    bulk: BulkConnection,
    query: CycleQuery,
    batches: Sequence[int] | None,
    changed: pa.Table | None = None,
) -> None:
    """Facts kept outside the database, as temporary tables of their names (which SQLite
    finds before its own tables), so that the query runs inside it unchanged."""
    facts = facts_of(bulk.database)
    if not facts.external:
        return
    _stage_customers_as_of(bulk, query, changed)
    for name, sql in query.input_queries().items():
        if name == "assignment" and stored.inputs_apart(bulk.database):
            _stage_previous(bulk, query)
        if name in FACT_TABLES:
            bulk.create_temporary(name, facts.read(bulk, sql, batches=batches))
            # The store table's key, so SQLite joins it by index as it joined
            # the table (without it, each lookup scans: quadratic at 100k).
            key = ", ".join(FACT_TABLES[name].key)
            bulk.execute(f"CREATE INDEX temp.{name}_key ON {name} ({key})")


#: The previous cycle's inputs, staged in SQLite beside its ``assignment`` view.
_PREVIOUS_INPUTS = "harmonia_previous_inputs"


def _stage_previous(bulk: BulkConnection, query: CycleQuery) -> None:
    """The previous cycle's assignments (pull-through's ``assignment`` input) where its
    inputs are a file, as a temporary view (which SQLite finds before its own table): the
    store's rows, read where they are, joined with the file's inputs, which DuckDB streams
    into a temporary table (SQLite cannot read Parquet). No whole copy of the cycle is
    built in Python (1M: ~0.5 GB of JSON, twice with its cast)."""
    assert query.previous_cycle_id is not None
    cycle = int(query.previous_cycle_id)
    duck = duckdb_connection()
    try:
        inputs = duck.sql(
            f"SELECT customer_id, {stored.INPUTS} FROM {stored.inputs_sql(bulk.database, cycle)}"
        )
        bulk.create_temporary(_PREVIOUS_INPUTS, inputs.to_arrow_reader(100_000))
    finally:
        duck.close()
    bulk.execute(f"CREATE INDEX temp.{_PREVIOUS_INPUTS}_key ON {_PREVIOUS_INPUTS} (customer_id)")
    bulk.execute("DROP VIEW IF EXISTS temp.assignment")
    bulk.execute(
        "CREATE TEMPORARY VIEW assignment AS SELECT a.cycle_id, a.customer_id, a.final_segment, "
        f"i.{stored.INPUTS} FROM main.assignment a LEFT JOIN {_PREVIOUS_INPUTS} i "
        f"ON i.customer_id = a.customer_id WHERE a.cycle_id = {cycle}"
    )


def _stage_customers_as_of(
    bulk: BulkConnection, query: CycleQuery, changed: pa.Table | None
) -> None:
    """The market's customers as of the snapshot, as a temporary ``customer`` table
    (which SQLite finds before its own), when a later load ``changed`` any of them."""
    if changed is None:
        return
    connection = duckdb_connection()
    try:
        sql = transpile(query.input_queries()["customer"], bulk.dialect)
        copy_in(connection, "customer", bulk.stream(sql))
        _customers_as_of(connection, query, changed)
        customers = connection.sql("SELECT * FROM customer").to_arrow_table()
    finally:
        connection.close()
    bulk.create_temporary("customer", customers)
    bulk.execute("CREATE INDEX temp.customer_key ON customer (id)")
    bulk.execute("CREATE INDEX temp.customer_country ON customer (country)")


def _run_in_postgres(
    database: Database, query: CycleQuery, stage: Stage, check: InputCheck | None = None
) -> CycleOutputs:
    """PostgreSQL: compute once into a work table, then store and plan side by side.

    The work table is an ordinary (unlogged) table, not a temporary one, so a
    second session can read it: one copies the assignments into the store
    while the other plans the target list, summary and coverage from it. The
    copy commits only once planning has succeeded, so a failed cycle stores
    nothing. The role running cycles needs CREATE on the store's schema, as
    ``harmonia db upgrade`` does.
    """
    computed = f"{WORK_TABLE_PREFIX}{query.cycle_id}"
    if check is not None:
        stage("checking inputs")
        with _tuned_session(database) as bulk:
            check_inputs(check, query, lambda sql: bulk.read(transpile(sql, bulk.dialect)))
    stage("segmenting in the database")
    with _tuned_session(database) as bulk, _may_create_tables(database):
        _drop_abandoned_work_tables(bulk)
        # One statement: PostgreSQL plans CREATE TABLE AS in parallel (an
        # INSERT ... SELECT never) and joins its CTEs by hash.
        bulk.execute(
            f"CREATE UNLOGGED TABLE {computed} AS "
            + transpile(query.assignments(), database.dialect)
        )
    try:
        copy = _AssignmentCopy(database, computed, query.cycle_id)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="harmonia-store") as pool:
            copied = pool.submit(copy.run)
            stage("planning")
            try:
                with _tuned_session(database) as bulk:
                    outputs = _plan_in_database(bulk, query, computed)
            except BaseException as error:
                copy.abandon()
                pool.shutdown(wait=True)
                if (failure := copy.failure(copied)) is not None:
                    error.add_note(f"storing the assignments also failed: {failure}")
                raise
            copy.commit()
            stage("writing assignments")
            copied.result()
    finally:
        _drop_work_table(database, computed)
    return outputs


class _AssignmentCopy:
    """Copies the computed assignments into the store in a session of its own.

    The copy waits, uncommitted, for the planning session's verdict: it
    commits when planning succeeded and rolls back (cancelling a copy still
    running) when it failed.
    """

    def __init__(self, database: Database, computed: str, cycle_id: int):
        self.database = database
        self.computed = computed
        self.cycle_id = cycle_id
        self._verdict = threading.Event()
        # Guards the two below: abandon() may cancel only a connection that is
        # open and copying (a closed one refuses the cancel).
        self._lock = threading.Lock()
        self._abandoned = False
        self._copying: BulkConnection | None = None

    def run(self) -> None:
        with BulkConnection(self.database) as bulk:
            with self._lock:
                if self._abandoned:
                    raise _Abandoned
                self._copying = bulk
            try:
                _store_assignments(bulk, self.computed, self.cycle_id)
            except Exception as error:
                if self._abandoned:  # cancelled by abandon(): not a failure of its own
                    raise _Abandoned from error
                raise
            finally:
                with self._lock:
                    self._copying = None
            self._verdict.wait()
            if self._abandoned:
                raise _Abandoned

    def commit(self) -> None:
        self._verdict.set()

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            if self._copying is not None:
                # Only a shortcut: an uncancelled copy still rolls back at the
                # verdict, so a refused cancel must not hide why planning failed.
                with suppress(Exception):
                    self._copying.cancel()
        self._verdict.set()

    @staticmethod
    def failure(copied: Future[None]) -> BaseException | None:
        """What went wrong in the copy, other than being abandoned."""
        error = copied.exception()
        return None if error is None or isinstance(error, _Abandoned) else error


class _Abandoned(Exception):
    """Planning failed: the copy rolls back."""


def _drop_work_table(database: Database, computed: str) -> None:
    with BulkConnection(database) as bulk:
        bulk.execute(f"DROP TABLE IF EXISTS {computed}")


def _drop_abandoned_work_tables(bulk: BulkConnection) -> None:
    """Drop the work tables a killed process left behind.

    A work table is kept while its cycle is still ``running`` (another
    process may be in the middle of it).
    """
    abandoned = bulk.read(
        "SELECT tablename FROM pg_tables t WHERE schemaname = current_schema() "
        f"AND starts_with(tablename, '{WORK_TABLE_PREFIX}') AND NOT EXISTS ("
        f"SELECT 1 FROM cycle c WHERE c.status = 'running' "
        f"AND t.tablename = '{WORK_TABLE_PREFIX}' || c.id)"
    )
    for name in abandoned.column("tablename").to_pylist():
        bulk.execute(f'DROP TABLE IF EXISTS "{name}"')


@contextmanager
def _may_create_tables(database: Database) -> Iterator[None]:
    """A role refused CREATE on the store's schema gets a message, not a traceback."""
    try:
        yield
    except Exception as error:
        if getattr(error, "sqlstate", None) != "42501":  # insufficient_privilege
            raise
        user = database.parsed.username or "the role in --database"
        raise ConfigError(
            "an in-database cycle computes into a work table, and this role may not create one",
            where=database.display_url,
            fix=f"GRANT CREATE ON SCHEMA <the store's schema> TO {user} "
            "(PostgreSQL 15 no longer grants it on public by default), "
            "or run the cycle with --engine duckdb",
        ) from None


@contextmanager
def _tuned_session(database: Database) -> Iterator[BulkConnection]:
    """A store session with the settings of a cycle run (:data:`POSTGRES_SETTINGS`)."""
    with BulkConnection(database) as bulk:
        for setting in POSTGRES_SETTINGS:
            bulk.execute(setting)
        yield bulk


def stored_assignments(computed: str, columns: Sequence[str] = ASSIGNMENT_COLUMNS) -> str:
    """The store's columns of the computed assignments, in the order of its key."""
    return f"SELECT {', '.join(columns)} FROM {computed} ORDER BY customer_id"


def write_inputs_apart(
    database: Database, cycle_id: int, rows: pa.Table | pa.RecordBatchReader
) -> None:
    """The cycle's inputs file from ``rows`` (``customer_id``, ``inputs``), where the store
    keeps assignment inputs as files: before the assignments' transaction commits (see
    :mod:`harmonia.store.assignments`)."""
    duck = duckdb_connection()
    try:
        duck.register("harmonia_inputs", rows)
        stored.write_inputs(
            database, duck, cycle_id, "SELECT customer_id, inputs FROM harmonia_inputs"
        )
    finally:
        duck.close()


def _store_assignments(bulk: BulkConnection, computed: str, cycle_id: int) -> None:
    """Copy the computed assignments into the store (their inputs into the cycle's file,
    where the store keeps them apart)."""
    columns = stored.stored_columns(bulk.database, ASSIGNMENT_COLUMNS)
    if len(columns) < len(ASSIGNMENT_COLUMNS):
        rows = bulk.stream(f"SELECT customer_id, inputs FROM {computed}")
        write_inputs_apart(bulk.database, cycle_id, rows)
    bulk.execute(
        f"INSERT INTO assignment ({', '.join(columns)}) {stored_assignments(computed, columns)}"
    )
    bulk.analyze("assignment")


Planned = tuple[pa.Table, pa.Table, pa.Table | None]


def fetch(connection: Any, sql: str) -> pa.Table:
    """The rows of the DuckDB query ``sql`` as Arrow, streamed out of DuckDB in batches.

    Why not ``to_arrow_table()``: DuckDB first collects that whole result in its own
    memory, within its limit: the 1M target list (511k rows), planned while the
    assignments stream to the store, ran out of a 300MB limit that way; streamed, it
    is planned (and costs the same CPU).
    """
    return connection.sql(sql).to_arrow_reader(100_000).read_all()


def plan_outputs(read: Callable[[str], pa.Table], query: CycleQuery, computed: str) -> Planned:
    """The target list, summary and coverage, from the computed assignments."""
    coverage = query.coverage(computed)
    return (
        read(query.target_list(computed)),
        read(query.summary(computed)),
        read(coverage) if coverage else None,
    )


#: The stored assignment columns the refined target list and summary read, typed.
_PLANNED = pa.schema(
    [
        ("cycle_id", pa.int64()),
        ("customer_id", pa.int64()),
        ("segment", pa.string()),
        ("final_segment", pa.string()),
        ("origin", pa.string()),
        ("needs", pa.string()),
        ("tier", pa.string()),
        ("refined_target", pa.string()),
        ("refined_goal", pa.int64()),
        ("refined_territory", pa.string()),
    ]
)

#: What refinement reads of the cycle's scope, typed.
_SCOPE = pa.schema(
    [("cycle_id", pa.int64()), ("customer_id", pa.int64()), ("territory", pa.string())]
)


def plan_stored(database: Database, query: CycleQuery) -> tuple[pa.Table, pa.Table]:
    """The target list and summary of the cycle's stored assignments as refinement left
    them (publishing).

    PostgreSQL plans in the database. On SQLite the cycle's assignments, its
    refinement scope and the customers, identifiers and source ids it names are
    read into DuckDB, which plans as a run does: SQLite joined and sorted a 1M
    universe's target list in ~7 s of CPU, most of a publish.
    """
    cycle_id = int(query.cycle_id)
    stored = f"(SELECT * FROM assignment WHERE cycle_id = {cycle_id})"
    if database.dialect != "sqlite":
        with BulkConnection(database) as bulk:
            return (
                bulk.read(transpile(query.target_list(stored, refined=True), bulk.dialect)),
                bulk.read(transpile(query.summary(stored, refined=True), bulk.dialect)),
            )
    inputs = query.input_queries()
    connection = duckdb_connection()
    try:
        with BulkConnection(database, write=False) as bulk:
            for name in ("customer", "golden_value", "identifier", "crosswalk"):
                sql = transpile(inputs[name], database.dialect)
                copy_in(connection, name, stream_input(bulk, name, sql))
            read_refined(bulk, connection, cycle_id)

        return (
            fetch(connection, query.target_list("assignment", refined=True)),
            fetch(connection, query.summary("assignment", refined=True)),
        )
    finally:
        connection.close()


def read_refined(bulk: BulkConnection, connection: Any, cycle_id: int, scope: str = "") -> None:
    """The cycle's stored assignments as refinement left them (the columns it changes
    and planning reads) and its refinement scope, into DuckDB as the store names them:
    ``assignment`` and ``refinement_scope``. ``scope``: an SQL condition on the scope's
    rows ``s`` (only those customers are read)."""
    cycle_id = int(cycle_id)
    scoped = f"cycle_id = {cycle_id}"
    if scope:
        scoped += (
            " AND customer_id IN (SELECT s.customer_id FROM refinement_scope s "
            f"WHERE s.cycle_id = {cycle_id} AND {scope})"
        )
    for name, schema in (("assignment", _PLANNED), ("refinement_scope", _SCOPE)):
        sql = f"SELECT {', '.join(schema.names)} FROM {name} WHERE {scoped}"
        copy_in(connection, name, bulk.stream(sql, batch_rows=500_000, schema=schema), schema)


def _plan_in_database(bulk: BulkConnection, query: CycleQuery, computed: str) -> CycleOutputs:
    count = int(bulk.scalar(f"SELECT COUNT(*) FROM {computed}"))
    planned = plan_outputs(lambda sql: bulk.read(transpile(sql, bulk.dialect)), query, computed)
    return CycleOutputs(count, *planned)


def _compute_in_steps(bulk: BulkConnection, query: CycleQuery, computed: str) -> None:
    """SQLite: each step a temporary table indexed on customer_id, joined by index.

    Why: SQLite joins a common table expression by scanning it once per outer
    row when it cannot index it, which makes a 100k-customer cycle quadratic.
    """
    steps, body = query.assignment_steps()
    for name, sql in steps.items():
        bulk.execute(f"DROP TABLE IF EXISTS temp.{name}")
        bulk.execute(f"CREATE TEMPORARY TABLE {name} AS {transpile(sql, 'sqlite')}")
        columns = {row["name"] for row in bulk.read(f"PRAGMA temp.table_info({name})").to_pylist()}
        if "customer_id" in columns:
            bulk.execute(f"CREATE INDEX temp.{name}_customer ON {name} (customer_id)")
    bulk.execute(f"CREATE TEMPORARY TABLE {computed} AS {transpile(body, 'sqlite')}")
    for name in steps:
        bulk.execute(f"DROP TABLE temp.{name}")


# Column types of the store tables as the cycle reads them. SQLite is typed by
# value, so an empty or all-NULL column would otherwise come back as anything.
_SCHEMAS: dict[str, list[tuple[str, str]]] = {
    "customer": [
        ("id", "int64"),
        ("country", "string"),
        ("type", "string"),
        ("first_name", "string"),
        ("last_name", "string"),
        ("specialty", "string"),
        ("postal_code", "string"),
        ("city", "string"),
        ("territory", "string"),
    ],
    "metric": [
        ("customer_id", "int64"),
        ("therapy_area", "string"),
        ("metric", "string"),
        ("period", "string"),
        ("first_month", "int64"),
        ("last_month", "int64"),
        ("value", "double"),
    ],
    "response": [
        ("id", "int64"),
        ("customer_id", "int64"),
        ("questionnaire", "string"),
        ("version", "string"),
        ("respondent", "string"),
        ("answered_at", "string"),
    ],
    "answer": [("response_id", "int64"), ("question", "string"), ("value", "string")],
    "identifier": [("customer_id", "int64"), ("scheme", "string"), ("value", "string")],
    "crosswalk": [("system", "string"), ("source_id", "string"), ("customer_id", "int64")],
    "customer_redirect": [("merged_id", "int64"), ("survivor_id", "int64")],
    "objection": [("customer_id", "int64")],
    "golden_value": [("customer_id", "int64"), ("attribute", "string"), ("value", "string")],
    "assignment": [
        ("cycle_id", "int64"),
        ("customer_id", "int64"),
        ("final_segment", "string"),
        ("inputs", "string"),
    ],
}


def input_schema(name: str) -> pa.Schema:
    """The Arrow schema of a store table's slice as a cycle reads it (and the lake keeps it)."""
    return pa.schema([(column, pa.type_for_alias(kind)) for column, kind in _SCHEMAS[name]])
