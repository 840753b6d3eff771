"""One answer on Spark too: a 100k-customer universe, customer by customer.

The synthetic French oncology market (real packs) is loaded into SQLite,
segmented by the embedded DuckDB engine for two periods (so pull-through
runs), exported to the lake, and segmented again by ``--engine spark`` from
the lake. Every customer must get the same segments, rules fired, final
segment and origin (tests/test_engines_agree.py compares SQLite and
PostgreSQL in-database with DuckDB the same way).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harmonia.engine.cycle import read_assignments
from harmonia.engine.lake import export
from harmonia.plugin.catalog import Catalog
from harmonia.store import Database
from harmonia.workspace import SparkSettings

pytestmark = [pytest.mark.spark, pytest.mark.slow]

CUSTOMERS = 100_000
PERIODS = ("2026-H2", "2027-H1")
COMPARED = ("segment", "segment_rule", "needs", "needs_rule", "tier", "tier_rule",
            "final_segment", "origin")  # fmt: skip


def test_spark_gives_every_customer_duckdbs_assignment(
    spark: Any,
    market: Catalog,
    harmonia_database: str,
    tmp_path: Path,
    load_universe: Callable[..., Database],
    run_periods: Callable[..., list[Any]],
) -> None:
    database = load_universe(harmonia_database, market, CUSTOMERS, PERIODS[-1])
    embedded = run_periods(database, market, "duckdb", PERIODS, tmp_path)
    export(database, tmp_path / "lake")
    settings = SparkSettings(lake=str(tmp_path / "lake"), output=str(tmp_path / "results"))
    on_spark = run_periods(database, market, "spark", PERIODS, tmp_path, spark=settings)
    assert on_spark[-1].cycle.previous_cycle_id == on_spark[0].cycle.id

    def by_customer(result: Any) -> dict[int, tuple]:
        rows = read_assignments(database, result.cycle.id).to_pylist()
        return {row["customer_id"]: tuple(row[c] for c in COMPARED) for row in rows}

    expected, found = by_customer(embedded[-1]), by_customer(on_spark[-1])
    assert len(expected) >= CUSTOMERS * 0.99
    assert found == expected
    assert {row[-1] for row in found.values()} == {"rules", "pulled-through"}
