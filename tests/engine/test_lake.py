"""The lake export: the store's tables as Parquet, typed as a cycle reads them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from harmonia.engine.backends import input_schema
from harmonia.engine.lake import LAKE_TABLES, export
from harmonia.errors import PathError
from harmonia.plugin.catalog import Catalog
from harmonia.store import Database
from harmonia.store.bulk import BulkConnection
from harmonia.store.facts import FACT_TABLES, copy_store, facts_of


def test_every_table_is_written_whole_and_typed(universe: str, tmp_path: Path) -> None:
    database = Database(universe)
    written = export(database, tmp_path / "lake")
    assert list(written) == list(LAKE_TABLES)
    with BulkConnection(database, write=False) as bulk:
        for table in LAKE_TABLES:
            lake = pq.read_table(tmp_path / "lake" / table)
            assert lake.schema == input_schema(table), table
            count = f"SELECT COUNT(*) AS n FROM {table}"
            facts = facts_of(database)
            if facts.external and table in FACT_TABLES:  # Parquet beside the store
                stored = facts.read(bulk, count).column("n")[0].as_py()
            else:
                stored = bulk.scalar(count)
            assert lake.num_rows == written[table] == stored, table
    assert written["customer"] > 0 and written["metric"] > 0 and written["answer"] > 0
    assert not list((tmp_path / "lake").glob(".*")), "no partial folder is left"


def test_one_market_only_and_a_second_export_replaces_the_first(
    universe: str, tmp_path: Path
) -> None:
    database = Database(universe)
    everyone = export(database, tmp_path / "lake")
    nobody = export(database, tmp_path / "lake", country="de")
    assert everyone["customer"] > 0 and set(nobody.values()) == {0}
    assert pq.read_table(tmp_path / "lake" / "customer").num_rows == 0
    assert export(database, tmp_path / "lake", country="nl") == everyone


def test_a_lake_folder_that_is_a_file_is_an_error(universe: str, tmp_path: Path) -> None:
    (tmp_path / "lake").write_text("not a folder")
    with pytest.raises(PathError, match="cannot use this path"):
        export(Database(universe), tmp_path / "lake")


def test_harmonia_lake_export_defaults_to_the_workspaces_lake(
    harmonia_cli: Callable[..., Any],
    tiny: Catalog,
    harmonia_database: str,
    sqlite_h1: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    copy_store(sqlite_h1, Path(harmonia_database.removeprefix("sqlite:///")))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "harmonia.toml").write_text('[spark]\nlake = "market-lake"\n')
    result = harmonia_cli("lake", "export", "--country", "NL", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["lake"] == "market-lake" and document["tables"]["customer"] > 0
    assert (tmp_path / "market-lake" / "metric" / "part-00000.parquet").is_file()
    shown = harmonia_cli("lake", "export", "elsewhere")
    assert shown.exit_code == 0 and "customer" in shown.output and "elsewhere" in shown.output

    (tmp_path / "blocked").write_text("a file")
    refused = harmonia_cli("lake", "export", "blocked")
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "cannot use this path" in refused.output
