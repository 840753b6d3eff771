"""SQL dialects the cycle compiles to, with the few fixes harmonia needs.

The cycle's SQL is written once, in DuckDB's dialect, and transpiled by
sqlglot to the engine that holds the data. Two constructs need help beyond
what sqlglot does for every dialect, both about the assignment's ``inputs``
(a JSON object stored as text):

* building it: ``JSON_OBJECT('k': v)`` is DuckDB's and PostgreSQL 16's
  syntax. Spark has no JSON object function (it is
  ``TO_JSON(NAMED_STRUCT('k', v))``, keeping NULL fields as DuckDB does);
  PostgreSQL before 16 needs ``JSON_BUILD_OBJECT``; BigQuery and Snowflake
  build a JSON value that becomes text through their own function, not a
  cast.
* reading it back (pull-through compares each input with the previous
  cycle's): SQLite, Spark, Trino, BigQuery and Snowflake extract from JSON
  *text*, so the ``CAST(inputs AS JSON)`` DuckDB needs must vanish (SQLite
  would make a number of it, Spark refuses it, Trino makes a JSON string).

Which dialects are run here and which are only parsed back is in
docs/scale.md; ``tests/engine/test_dialects.py`` keeps the cycle's SQL in
each under golden files.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import sqlglot
from sqlglot import exp

SOURCE_DIALECT = "duckdb"


class _JSONAsText:
    """Generator mixin: JSON is text in this dialect.

    A cast to JSON vanishes (the JSON functions read text), and a JSON object
    cast to text goes through :attr:`JSON_TEXT`, the dialect's own function
    for that, where it has one.
    """

    JSON_TEXT: str | None = None

    def cast_sql(self, expression: exp.Cast, safe_prefix: str | None = None) -> str:
        generator: Any = self
        if expression.to.is_type(exp.DataType.Type.JSON):
            return generator.sql(expression, "this")
        if (
            self.JSON_TEXT
            and isinstance(expression.this, exp.JSONObject)
            and expression.to.is_type(*exp.DataType.TEXT_TYPES)
        ):
            return generator.func(self.JSON_TEXT, expression.this)
        return super().cast_sql(expression, safe_prefix)  # type: ignore[misc]


def _pairs(expression: exp.JSONObject) -> list[exp.Expression]:
    """``'k1', v1, 'k2', v2, ...`` of a JSON object."""
    arguments: list[exp.Expression] = []
    for pair in expression.expressions:
        arguments.extend((pair.this, pair.expression))
    return arguments


def _json_build_object(generator: Any, expression: exp.JSONObject) -> str:
    return generator.func("JSON_BUILD_OBJECT", *_pairs(expression))


def _named_struct_json(generator: Any, expression: exp.JSONObject) -> str:
    # Why the option: Spark leaves NULL fields out of JSON by default, DuckDB
    # writes them; explain shows an input the cycle saw as NULL, not as absent.
    struct = generator.func("NAMED_STRUCT", *_pairs(expression))
    keep_nulls = "MAP('ignoreNullFields', 'false')"
    return f"TO_JSON({struct}, {keep_nulls})"


# Each dialect class is built on first use: sqlglot builds a subclass's tokenizer
# tries when it is defined, and all seven were built at every start of a cycle,
# which uses one of them (sqlite on the embedded store): import + one transpile to
# sqlite took 0.10 s of CPU, 0.043 s with each built on first use.


@cache
def _sqlite() -> type[sqlglot.Dialect]:
    from sqlglot.dialects.sqlite import SQLite

    class HarmoniaSQLite(SQLite):
        class Generator(_JSONAsText, SQLite.Generator):
            pass

    return HarmoniaSQLite


@cache
def _postgres() -> type[sqlglot.Dialect]:
    from sqlglot.dialects.postgres import Postgres

    class HarmoniaPostgres(Postgres):
        class Generator(Postgres.Generator):
            TRANSFORMS = {**Postgres.Generator.TRANSFORMS, exp.JSONObject: _json_build_object}

    return HarmoniaPostgres


@cache
def _spark() -> type[sqlglot.Dialect]:
    from sqlglot.dialects.spark import Spark

    class HarmoniaSpark(Spark):
        class Generator(_JSONAsText, Spark.Generator):
            TRANSFORMS = {**Spark.Generator.TRANSFORMS, exp.JSONObject: _named_struct_json}

    return HarmoniaSpark


@cache
def _databricks() -> type[sqlglot.Dialect]:
    from sqlglot.dialects.databricks import Databricks

    class HarmoniaDatabricks(Databricks):
        class Generator(_JSONAsText, Databricks.Generator):
            TRANSFORMS = {**Databricks.Generator.TRANSFORMS, exp.JSONObject: _named_struct_json}

    return HarmoniaDatabricks


@cache
def _trino() -> type[sqlglot.Dialect]:
    from sqlglot.dialects.trino import Trino

    class HarmoniaTrino(Trino):
        class Generator(_JSONAsText, Trino.Generator):
            pass

    return HarmoniaTrino


@cache
def _bigquery() -> type[sqlglot.Dialect]:
    from sqlglot.dialects.bigquery import BigQuery

    class HarmoniaBigQuery(BigQuery):
        class Generator(_JSONAsText, BigQuery.Generator):
            JSON_TEXT = "TO_JSON_STRING"

    return HarmoniaBigQuery


@cache
def _snowflake() -> type[sqlglot.Dialect]:
    from sqlglot.dialects.snowflake import Snowflake

    class HarmoniaSnowflake(Snowflake):
        class Generator(_JSONAsText, Snowflake.Generator):
            JSON_TEXT = "TO_JSON"

    return HarmoniaSnowflake


#: Engines (and store backends) -> what builds the dialect their SQL is generated in.
#: Any other sqlglot dialect (DuckDB's own too) is transpiled as sqlglot does it, unchecked.
DIALECTS: dict[str, Callable[[], type[sqlglot.Dialect]]] = {
    "sqlite": _sqlite,
    "postgresql": _postgres,
    "postgres": _postgres,
    "spark": _spark,
    "databricks": _databricks,
    "trino": _trino,
    "bigquery": _bigquery,
    "snowflake": _snowflake,
}


def transpile(sql: str, dialect: str, *, pretty: bool = False) -> str:
    """``sql`` (DuckDB dialect) for ``dialect``: an engine, a store backend or any sqlglot dialect."""
    build = DIALECTS.get(dialect)
    target = build() if build else dialect
    if isinstance(target, str):
        _check_dialect(target)
    if target == SOURCE_DIALECT:
        return sql if not pretty else sqlglot.transpile(sql, read=SOURCE_DIALECT, pretty=True)[0]
    return sqlglot.transpile(sql, read=SOURCE_DIALECT, write=target, pretty=pretty)[0]


def _check_dialect(name: str) -> None:
    from harmonia.errors import ConfigError

    try:
        sqlglot.Dialect.get_or_raise(name)
    except ValueError:
        known = sorted(d.value for d in sqlglot.dialects.Dialects if d.value)
        raise ConfigError(
            f"unknown SQL dialect {name!r}", fix=f"use one of: {', '.join(known)}"
        ) from None
