"""The cycle's SQL, transpiled for Spark, runs in Spark and gives DuckDB's answer.

The universe is exported to the lake (Parquet), the previous cycle's
assignments handed to Spark as the ``assignment`` table, and the second
cycle's query (pull-through included) run by Spark SQL: every customer gets
the segments, rules, final segment and inputs the embedded engine stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from harmonia.engine.cycle import read_assignments
from harmonia.engine.dialects import transpile
from harmonia.engine.lake import LAKE_TABLES, export, table_path
from harmonia.engine.query import CycleQuery
from harmonia.engine.spec import resolve
from harmonia.plugin.catalog import Catalog
from harmonia.store import Database

pytestmark = pytest.mark.spark

PERIODS = ("2026-H2", "2027-H1")


def test_the_cycle_sql_runs_in_spark_and_agrees_with_duckdb(
    spark: Any,
    market: Catalog,
    harmonia_database: str,
    tmp_path: Path,
    load_universe: Callable[..., Database],
    run_periods: Callable[..., list[Any]],
) -> None:
    database = load_universe(harmonia_database, market, 3000, PERIODS[-1])
    before, after = (r.cycle for r in run_periods(database, market, "duckdb", PERIODS, tmp_path))
    export(database, tmp_path / "lake")
    for table in LAKE_TABLES:
        spark.read.parquet(table_path(tmp_path / "lake", table)).createOrReplaceTempView(table)
    previous = read_assignments(database, before.id).select(
        ["customer_id", "final_segment", "inputs"]
    )
    previous = previous.add_column(0, "cycle_id", pa.array([before.id] * previous.num_rows))
    spark.createDataFrame(previous).createOrReplaceTempView("assignment")

    spec = resolve(market, "FR", "oncology", PERIODS[-1])
    query = CycleQuery(spec, after.id, before.id)
    in_spark = spark.sql(transpile(query.assignments(), "spark")).toArrow()

    stored = read_assignments(database, after.id).to_pylist()
    expected = {row["customer_id"]: row for row in stored}
    assert in_spark.num_rows == len(expected) >= 2900
    origins = set()
    for row in in_spark.to_pylist():
        want = expected[row["customer_id"]]
        compared = ("segment", "segment_rule", "needs", "needs_rule", "tier", "tier_rule",
                    "final_segment", "origin")  # fmt: skip
        assert {c: row[c] for c in compared} == {c: want[c] for c in compared}
        assert json.loads(row["inputs"]) == json.loads(want["inputs"])
        origins.add(row["origin"])
    assert origins == {"rules", "pulled-through"}, "pull-through must be exercised"
