"""``--engine spark``: the cycle's SQL run inside Apache Spark, where the market's data lives.

The customers and facts are Spark's: Parquet folders of a lake (as
``harmonia lake export`` writes them) or tables of a catalog, named by the
workspace's ``[spark]`` settings. Spark runs the same query the other engines
run, transpiled (:mod:`harmonia.engine.dialects`), writes the assignments and
the target list back to the lake or the catalog, and hands harmonia the
columns its store keeps, as Arrow (never row by row), so that the cycle is
recorded like any other: explain, diff and history work on it.

What stays in harmonia: the definitions, the cycle's record, the previous
cycle's assignments (handed to Spark for pull-through) and the sinks.

Spark's errors arrive with a JVM stack trace; the user gets one
:class:`~harmonia.errors.EngineError` naming the table and column instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa

from harmonia.engine.backends import (
    CycleOutputs,
    InputCheck,
    Stage,
    check_inputs,
    input_schema,
    plan_outputs,
    previous_assignments,
    stored_assignments,
    write_inputs_apart,
)
from harmonia.engine.dialects import transpile
from harmonia.engine.lake import LAKE_TABLES, table_path
from harmonia.engine.query import CycleQuery
from harmonia.errors import ConfigError, EngineError, NotFoundError
from harmonia.sql import quote
from harmonia.store.assignments import inputs_apart
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import Database
from harmonia.workspace import SparkSettings

#: Spark's type names of the Arrow types the cycle reads.
_SPARK_TYPES = {pa.int64(): "bigint", pa.string(): "string", pa.float64(): "double"}


def session(settings: SparkSettings) -> Any:
    """The Spark session of ``settings``: a Spark Connect server, or a master (local by default).

    An active session (a notebook's, a test's) is reused as it is.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "the Spark engine is not installed", fix="pip install 'harmonia[spark]' (and Java 17)"
        ) from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName(settings.app_name)
    builder = (
        builder.remote(settings.remote) if settings.remote else builder.master(settings.master)
    )
    for key, value in settings.conf.items():
        builder = builder.config(key, str(value))
    where = settings.remote or settings.master
    with spark_errors(f"Spark at {where}", fix="check [spark] master/remote in harmonia.toml"):
        return builder.getOrCreate()


@contextmanager
def spark_errors(where: str, *, fix: str) -> Iterator[None]:
    """Spark's and the JVM's exceptions as one :class:`EngineError`: the first line only."""
    try:
        yield
    except Exception as error:
        if type(error).__module__.split(".")[0] not in ("pyspark", "py4j", "grpc"):
            raise
        raise EngineError(_first_line(error), where=where, fix=fix) from None


def _first_line(error: Exception) -> str:
    message = getattr(error, "getMessage", None)
    text = message() if callable(message) else str(error)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def run(
    database: Database,
    query: CycleQuery,
    stage: Stage,
    settings: SparkSettings,
    input_check: InputCheck | None = None,
) -> CycleOutputs:
    """Run the cycle in Spark; store its assignments; return its outputs.

    ``input_check`` gets the input coverage, counted in Spark, before anything is computed.
    """
    check(settings)
    stage("starting Spark")
    spark = session(settings)
    stage("reading the lake")
    _register_inputs(spark, settings, query)
    _register_previous(spark, database, query)
    fix = "check the cycle's rule set against the lake's data"
    with spark_errors(f"cycle {query.cycle_id} in Spark", fix=fix):
        check_inputs(input_check, query, lambda sql: spark.sql(transpile(sql, "spark")).toArrow())
    stage("segmenting in Spark")
    with spark_errors(f"cycle {query.cycle_id} in Spark", fix=fix):
        computed = spark.sql(transpile(query.assignments(), "spark"))
        assignments, stored_at = _write(spark, computed, settings, query.cycle_id, "assignments")
        assignments.createOrReplaceTempView("assignments")
        stage("planning")
        target_list, summary, coverage = plan_outputs(
            lambda sql: spark.sql(transpile(sql, "spark")).toArrow(), query, "assignments"
        )
        _, listed_at = _write(
            spark, spark.createDataFrame(target_list), settings, query.cycle_id, "target_list"
        )
        stage("writing assignments")
        stored = spark.sql(transpile(stored_assignments("assignments"), "spark")).toArrow()
    with BulkConnection(database) as bulk:
        if inputs_apart(database):  # the inputs go to the cycle's file
            write_inputs_apart(database, query.cycle_id, stored.select(["customer_id", "inputs"]))
            stored = stored.drop_columns(["inputs"])
        bulk.append("assignment", stored)
        bulk.wait()
        bulk.analyze("assignment")
    return CycleOutputs(
        stored.num_rows, target_list, summary, coverage, written=(stored_at, listed_at)
    )


def check(settings: SparkSettings) -> None:
    """Refuse settings that cannot run a cycle, before the cycle is recorded."""
    if not settings.lake and not settings.database:
        raise ConfigError(
            "the Spark engine does not know where the market's data is",
            where="[spark] in harmonia.toml",
            fix='set lake = "<folder or URL>" (harmonia lake export writes one), '
            'or catalog = "..." and database = "..." for tables',
        )


def _located(path: str) -> str:
    """A local path made absolute: Spark resolves a relative one against the folder
    its JVM started in, which a reused session does not share with this command."""
    return path if "://" in path or ":/" in path else str(Path(path).resolve())


def _source(settings: SparkSettings, table: str) -> str:
    if settings.lake:
        return table_path(_located(settings.lake), table)
    return ".".join(part for part in (settings.catalog, settings.database, table) if part)


def _register_inputs(spark: Any, settings: SparkSettings, query: CycleQuery) -> None:
    """Each lake table as a view of its name, checked against the columns the cycle reads."""
    for table in LAKE_TABLES:
        source = _source(settings, table)
        fix = "harmonia lake export writes every table the cycle reads"
        with spark_errors(f"table {table} ({source})", fix=fix):
            frame = spark.read.parquet(source) if settings.lake else spark.table(source)
            columns = {field.name: field.dataType.simpleString() for field in frame.schema}
        for field in input_schema(table):
            expected = _SPARK_TYPES[field.type]
            found = columns.get(field.name)
            if found is None:
                raise EngineError(
                    f"column {field.name} is missing",
                    where=f"table {table} ({source})",
                    fix=f"add {field.name} ({expected}), as harmonia lake export writes it",
                )
            if found != expected and not (expected == "bigint" and found == "int"):
                raise EngineError(
                    f"column {field.name} is {found}, harmonia reads it as {expected}",
                    where=f"table {table} ({source})",
                    fix=f"CAST({field.name} AS {expected.upper()}) where the table is written",
                )
        frame.createOrReplaceTempView(table)
    country = quote(query.spec.country.code)
    with spark_errors("table customer", fix="check the lake"):
        anyone = spark.sql(f"SELECT 1 FROM customer WHERE country = {country} LIMIT 1").count()
    if not anyone:
        raise NotFoundError(
            f"no customers of {query.spec.country.code} in the lake",
            where=f"table customer ({_source(settings, 'customer')})",
            fix="export them (harmonia lake export), or check [spark] lake/database",
        )


def _register_previous(spark: Any, database: Database, query: CycleQuery) -> None:
    """The previous cycle's assignments, which pull-through compares with, from the store."""
    if query.previous_cycle_id is None:
        return
    with BulkConnection(database, write=False) as bulk:
        previous = previous_assignments(bulk, query)
    with spark_errors("the previous cycle's assignments", fix="check the Spark session"):
        spark.createDataFrame(previous).createOrReplaceTempView("assignment")


def _write(
    spark: Any, frame: Any, settings: SparkSettings, cycle_id: int, name: str
) -> tuple[Any, str]:
    """Write a result where the market's data lives; returns it as read back from there,
    and where that is (a folder, a URL or a table: an erasure needs to know).

    Reading back, not the query again: Spark would compute the whole cycle twice.
    """
    if settings.output or settings.lake:
        root = _located(settings.output or table_path(settings.lake or "", "cycles"))
        path = table_path(table_path(root, f"cycle={cycle_id}"), name)
        frame.write.mode("overwrite").parquet(path)
        return spark.read.parquet(path), path
    table = ".".join(
        part
        for part in (settings.catalog, settings.database, f"harmonia_{name}_{cycle_id}")
        if part
    )
    frame.write.mode("overwrite").saveAsTable(table)
    return spark.table(table), table
