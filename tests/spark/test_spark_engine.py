"""``--engine spark``: a cycle on the lake, recorded in the store like any other.

The user's path through the CLI: export the store to a lake, point
``[spark]`` at it in harmonia.toml, run two cycles on Spark (the second
pulls through), then explain and diff them. Spark's answer must be DuckDB's,
customer by customer. And bad lakes get messages, not Java stack traces.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harmonia.engine.backends import input_schema
from harmonia.engine.cycle import read_assignments, run_cycle
from harmonia.engine.lake import LAKE_TABLES
from harmonia.errors import ConfigError, EngineError, NotFoundError
from harmonia.plugin.catalog import Catalog
from harmonia.store import Database
from harmonia.workspace import SparkSettings

pytestmark = pytest.mark.spark

PERIODS = ("2026-H2", "2027-H1")
COMPARED = ("segment", "segment_rule", "needs", "needs_rule", "tier", "tier_rule",
            "final_segment", "origin")  # fmt: skip


def test_a_spark_cycle_runs_on_the_lake_and_is_recorded_like_any_other(
    spark: Any,
    market: Catalog,
    harmonia_database: str,
    harmonia_cli: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    load_universe: Callable[..., Database],
    run_periods: Callable[..., list[Any]],
) -> None:
    database = load_universe(harmonia_database, market, 2000, PERIODS[-1])
    monkeypatch.chdir(tmp_path)
    (tmp_path / "harmonia.toml").write_text('[spark]\nlake = "lake"\noutput = "results"\n')
    exported = json.loads(harmonia_cli("lake", "export", "--country", "FR", "--json").stdout)
    assert exported["tables"]["customer"] == 2000

    for period in PERIODS:
        ran = harmonia_cli(
            "cycle", "run", "-c", "FR", "-t", "oncology", "-p", period, "--engine", "spark",
            "--json",
        )  # fmt: skip
        assert ran.exit_code == 0, ran.output
    cycles = json.loads(harmonia_cli("cycle", "list", "--json").stdout)
    assert [(c["id"], c["engine"], c["status"]) for c in cycles] == [
        (2, "spark", "draft"),
        (1, "spark", "draft"),
    ]
    assert cycles[0]["previous_cycle_id"] == 1
    written = pq.read_table(tmp_path / "results" / "cycle=2" / "assignments")
    assert written.num_rows == 2000
    assert pq.read_table(tmp_path / "results" / "cycle=2" / "target_list").num_rows > 0

    # The same universe on DuckDB (cycles 3 and 4) gives every customer the same answer.
    run_periods(database, market, "duckdb", PERIODS, tmp_path)
    on_spark = {r["customer_id"]: r for r in read_assignments(database, 2).to_pylist()}
    on_duckdb = {r["customer_id"]: r for r in read_assignments(database, 4).to_pylist()}
    assert on_spark.keys() == on_duckdb.keys()
    for customer, row in on_duckdb.items():
        assert tuple(on_spark[customer][c] for c in COMPARED) == tuple(row[c] for c in COMPARED)
        assert json.loads(on_spark[customer]["inputs"]) == json.loads(row["inputs"])
    assert {row["origin"] for row in on_spark.values()} == {"rules", "pulled-through"}

    explained = harmonia_cli("explain", "--cycle", "2", "--customer", "1")
    assert explained.exit_code == 0 and "potential_decile" in explained.output
    diff = json.loads(harmonia_cli("cycle", "diff", "1", "2", "--json").stdout)
    assert diff["stayed"] + diff["moved"] == 2000

    # Erasure reaches what Spark wrote (and the lake it read), not only the store.
    erased = harmonia_cli("privacy", "erase", "1", "--yes", "--json")
    assert erased.exit_code == 0, erased.output
    cleaned = json.loads(erased.stdout)["files_cleaned"]
    assert str((tmp_path / "results" / "cycle=2" / "assignments").resolve()) in cleaned
    for cycle in (1, 2):
        kept = pq.read_table(tmp_path / "results" / f"cycle={cycle}" / "assignments")
        assert kept.num_rows == 1999 and 1 not in kept.column("customer_id").to_pylist()
    assert 1 not in pq.read_table(tmp_path / "lake" / "customer").column("id").to_pylist()


def _lake(folder: Path, **changed: pa.Table | None) -> Path:
    """An empty lake of the right shape, with some tables changed (None: left out)."""
    for table in LAKE_TABLES:
        data = changed.get(table, input_schema(table).empty_table())
        if data is not None:
            (folder / table).mkdir(parents=True)
            pq.write_table(data, folder / table / "part-00000.parquet")
    return folder


def _run(database: str, catalog: Catalog, lake: Path, tmp: Path) -> None:
    Database(database).ensure_schema()
    run_cycle(
        Database(database),
        catalog,
        country="FR",
        therapy_area="oncology",
        period="2027-H1",
        engine="spark",
        sinks=(),
        directory=tmp,
        spark=SparkSettings(lake=str(lake)),
    )


def test_bad_lakes_get_a_message_naming_table_and_column(
    spark: Any, market: Catalog, harmonia_database: str, tmp_path: Path
) -> None:
    customers = input_schema("customer")
    renamed = customers.empty_table().rename_columns(
        ["identifier" if n == "id" else n for n in customers.names]
    )
    with pytest.raises(EngineError, match="column id is missing") as missing_column:
        _run(harmonia_database, market, _lake(tmp_path / "a", customer=renamed), tmp_path)
    assert "table customer" in str(missing_column.value) and "Traceback" not in str(
        missing_column.value
    )

    as_text = pa.schema([(f.name, pa.string()) for f in input_schema("metric")]).empty_table()
    with pytest.raises(EngineError, match="column customer_id is string") as wrong_type:
        _run(harmonia_database, market, _lake(tmp_path / "b", metric=as_text), tmp_path)
    assert "table metric" in str(wrong_type.value) and "BIGINT" in str(wrong_type.value)

    with pytest.raises(EngineError, match=r"PATH_NOT_FOUND|does not exist") as no_table:
        _run(harmonia_database, market, _lake(tmp_path / "c", answer=None), tmp_path)
    assert "table answer" in str(no_table.value) and "at org.apache" not in str(no_table.value)

    with pytest.raises(NotFoundError, match="no customers of FR in the lake"):
        _run(harmonia_database, market, _lake(tmp_path / "d"), tmp_path)


def test_a_spark_cycle_needs_to_know_where_the_data_is(
    market: Catalog, harmonia_database: str, tmp_path: Path
) -> None:
    Database(harmonia_database).ensure_schema()
    with pytest.raises(ConfigError, match=r"\[spark\] in harmonia.toml"):
        run_cycle(
            Database(harmonia_database),
            market,
            country="FR",
            therapy_area="oncology",
            period="2027-H1",
            engine="spark",
            sinks=(),
            directory=tmp_path,
        )
