"""The cycle's SQL in every dialect the docs name, kept under golden files.

DuckDB, SQLite, PostgreSQL and Spark also run it (tests/test_engines_agree.py,
tests/spark/); Trino, Snowflake and BigQuery have no engine here, so their SQL
is parsed back in its own dialect and any change to it shows in review as a
change of its golden file. ``HARMONIA_UPDATE_GOLDEN=1 pytest tests/engine``
rewrites the files after an intended change.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlglot
from helpers import tiny_catalog

from harmonia.engine.dialects import transpile
from harmonia.engine.query import CycleQuery
from harmonia.engine.spec import resolve

GOLDEN = Path(__file__).parent / "golden"
RUN_HERE = ("duckdb", "sqlite", "postgres", "spark")
PARSED_ONLY = ("trino", "snowflake", "bigquery")


@pytest.fixture(scope="module")
def cycle_sql() -> Callable[[str], str]:
    """The tiny market's second cycle (pull-through from the first) in a dialect.

    Built once for the module, and each dialect transpiled once: three tests
    read each dialect's SQL, and transpiling is most of what they cost.
    """
    spec = resolve(tiny_catalog(), "NL", "cardiology", "2027-H1")
    assert spec.country.pull_through.enabled
    sql = CycleQuery(spec, cycle_id=2, previous_cycle_id=1).assignments()
    return functools.cache(lambda dialect: transpile(sql, dialect, pretty=True) + "\n")


@pytest.mark.parametrize("dialect", RUN_HERE + PARSED_ONLY)
def test_the_cycle_sql_of_each_dialect_matches_its_golden_file(
    cycle_sql: Callable[[str], str], dialect: str
) -> None:
    sql = cycle_sql(dialect)
    golden = GOLDEN / f"cycle.{dialect}.sql"
    if os.environ.get("HARMONIA_UPDATE_GOLDEN"):
        golden.write_text(sql)
    assert golden.exists(), f"no golden file {golden.name}: run with HARMONIA_UPDATE_GOLDEN=1"
    assert sql == golden.read_text(), f"{golden.name} changed: review the diff, then update it"


@pytest.mark.parametrize("dialect", RUN_HERE + PARSED_ONLY)
def test_the_cycle_sql_parses_back_in_its_dialect(
    cycle_sql: Callable[[str], str], dialect: str
) -> None:
    parsed = sqlglot.parse_one(cycle_sql(dialect), read=dialect)
    assert isinstance(parsed, sqlglot.exp.Query)
    # Parsing back is a fixed point: what the dialect reads, it writes the same way.
    again = parsed.sql(dialect=dialect)
    assert sqlglot.parse_one(again, read=dialect).sql(dialect=dialect) == again


@pytest.mark.parametrize(
    ("dialect", "built", "read_back"),
    [
        ("spark", "TO_JSON(NAMED_STRUCT(", "GET_JSON_OBJECT(previous_assignment.inputs, "),
        ("databricks", "TO_JSON(NAMED_STRUCT(", "GET_JSON_OBJECT(previous_assignment.inputs, "),
        ("trino", "JSON_OBJECT(", "JSON_EXTRACT_SCALAR(previous_assignment.inputs, "),
        (
            "bigquery",
            "TO_JSON_STRING(JSON_OBJECT(",
            "JSON_EXTRACT_SCALAR(previous_assignment.inputs, ",
        ),
        (
            "snowflake",
            "TO_JSON(OBJECT_CONSTRUCT_KEEP_NULL(",
            "JSON_EXTRACT_PATH_TEXT(previous_assignment.inputs, ",
        ),
        ("sqlite", "JSON_OBJECT(", "previous_assignment.inputs ->> "),
        ("postgres", "JSON_BUILD_OBJECT(", "CAST(previous_assignment.inputs AS JSON)"),
    ],
)
def test_the_inputs_are_built_and_read_back_as_each_dialect_does_json(
    cycle_sql: Callable[[str], str], dialect: str, built: str, read_back: str
) -> None:
    sql = re.sub(r"\(\s+", "(", " ".join(cycle_sql(dialect).split()))
    assert built in sql and read_back in sql
    # DuckDB's key-colon-value form is a bind parameter to Spark (UNBOUND_SQL_PARAMETER).
    if dialect != "trino":
        assert "': " not in sql


def test_a_dialect_is_built_only_when_sql_is_transpiled_to_it() -> None:
    """A cycle on the embedded store transpiles to SQLite only: the other dialects
    (building all seven made import + one transpile 0.10 s of CPU, 0.043 s without)
    are neither built nor imported."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from harmonia.engine.dialects import transpile\n"
        "assert transpile('SELECT 1 AS x', 'sqlite') == 'SELECT 1 AS x'\n"
        "print(sorted(m for m in sys.modules if m.startswith('sqlglot.dialects.')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    loaded = result.stdout.strip()
    for other in ("trino", "presto", "snowflake", "bigquery", "spark", "databricks", "postgres"):
        assert f"'sqlglot.dialects.{other}'" not in loaded
