"""SQL dialects the cycle compiles to, with the few fixes harmonia needs.

The cycle's SQL is written once, in DuckDB's dialect, and transpiled by
sqlglot to the engine that holds the data. Two spots need help beyond what
sqlglot does for every dialect:

* SQLite has no JSON type: ``CAST(x AS JSON)`` must vanish (its JSON
  functions take text), or SQLite would cast the text to a number.
* ``JSON_OBJECT('k': v)`` is PostgreSQL 16 syntax; ``JSON_BUILD_OBJECT``
  works on every supported PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.dialects.sqlite import SQLite

SOURCE_DIALECT = "duckdb"


class HarmoniaSQLite(SQLite):
    class Generator(SQLite.Generator):
        def cast_sql(self, expression: exp.Cast, safe_prefix: str | None = None) -> str:
            if expression.to.is_type(exp.DataType.Type.JSON):
                return self.sql(expression, "this")
            return super().cast_sql(expression, safe_prefix)


def _json_build_object(generator: Any, expression: exp.JSONObject) -> str:
    arguments: list[exp.Expression] = []
    for pair in expression.expressions:
        arguments.extend((pair.this, pair.expression))
    return generator.func("JSON_BUILD_OBJECT", *arguments)


class HarmoniaPostgres(Postgres):
    class Generator(Postgres.Generator):
        TRANSFORMS = {**Postgres.Generator.TRANSFORMS, exp.JSONObject: _json_build_object}


#: Store backends -> the dialect their SQL is generated in.
STORE_DIALECTS: dict[str, type[sqlglot.Dialect] | str] = {
    "sqlite": HarmoniaSQLite,
    "postgresql": HarmoniaPostgres,
    "postgres": HarmoniaPostgres,
    "duckdb": "duckdb",
}


def transpile(sql: str, dialect: str, *, pretty: bool = False) -> str:
    """``sql`` (DuckDB dialect) for ``dialect``: a store backend or any sqlglot dialect."""
    target = STORE_DIALECTS.get(dialect, dialect)
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
