"""One answer everywhere: a 100k-customer universe segmented by every engine.

The synthetic French oncology market (real packs: harmonia-fr, harmonia-oncology,
harmonia-synthetic) is loaded into SQLite and into PostgreSQL, then segmented
by the embedded DuckDB engine and in-database on both stores, for two periods
so that pull-through runs too. Every customer must get the same segments,
rules fired and final segment from all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harmonia.engine.cycle import read_assignments, run_cycle
from harmonia.ingest import Loader
from harmonia.plugin.catalog import Catalog
from harmonia.plugin.manager import PluginManager
from harmonia.store import Database
from harmonia.store.bulk import BulkConnection

harmonia_fr = pytest.importorskip("harmonia_fr")
harmonia_oncology = pytest.importorskip("harmonia_oncology")
harmonia_synthetic = pytest.importorskip("harmonia_synthetic")

CUSTOMERS = 100_000
PERIODS = ("2026-H2", "2027-H1")
COMPARED = ("segment", "segment_rule", "needs", "needs_rule", "tier", "tier_rule",
            "final_segment", "origin")  # fmt: skip


@pytest.fixture
def market(register_pack: Callable[..., Any], harmonia_plugins: PluginManager) -> Catalog:
    for module, name in (
        (harmonia_fr, "fr"),
        (harmonia_oncology, "oncology"),
        (harmonia_synthetic, "synthetic"),
    ):
        register_pack(module, name=name)
    return harmonia_plugins.catalog()


def _segment(url: str, catalog: Catalog, engine: str, tmp: Path) -> dict[str, tuple]:
    """Load the universe into ``url`` (once) and run both periods on ``engine``."""
    database = Database(url)
    database.ensure_schema()
    with BulkConnection(database) as bulk:
        loaded = bulk.scalar("SELECT COUNT(*) FROM customer")
    if not loaded:
        loader = Loader(database, catalog, country="FR")
        options = {"customers": str(CUSTOMERS), "seed": "7", "period": PERIODS[-1]}
        results = list(loader.run(catalog.data_sources["synthetic"], options))
        assert sum(r.rows_quarantined for r in results) == 0
        # A new potential estimate for every tenth customer, seen by the second
        # period only: they are segmented again, the others pulled through.
        revised = tmp / "revised.csv"
        revised.write_text(
            "customer_id,therapy_area,metric,period,value\n"
            + "".join(
                f"C{n:07d},oncology,potential,2027-Q1,{1000 + n}\n" for n in range(1, CUSTOMERS, 10)
            ),
            encoding="utf-8",
        )
        revision = Loader(database, catalog, country="FR", system="synthetic")
        results = list(revision.run(catalog.data_sources["csv"], {"path": str(revised)}))
        assert sum(r.rows_quarantined for r in results) == 0
    cycles = [
        run_cycle(
            database,
            catalog,
            country="FR",
            therapy_area="oncology",
            period=period,
            engine=engine,
            sinks=(),
            directory=tmp,
        )
        for period in PERIODS
    ]
    assert cycles[-1].cycle.previous_cycle_id is not None
    return _by_source_id(database, cycles[-1].cycle.id)


def _by_source_id(database: Database, cycle_id: int) -> dict[str, tuple]:
    table = read_assignments(database, cycle_id)
    with BulkConnection(database, write=False) as bulk:
        sources = dict(
            zip(
                *bulk.read("SELECT customer_id, source_id FROM crosswalk").to_pydict().values(),
                strict=True,
            )
        )
    rows = table.to_pylist()
    return {sources[row["customer_id"]]: tuple(row[c] for c in COMPARED) for row in rows}


@pytest.mark.slow
@pytest.mark.postgres
def test_duckdb_sqlite_and_postgresql_give_identical_assignments(
    market: Catalog, harmonia_database: str, postgres_url: str, tmp_path: Path
) -> None:
    embedded = _segment(harmonia_database, market, "duckdb", tmp_path)
    in_postgres = _segment(postgres_url, market, "database", tmp_path)
    assert len(embedded) >= CUSTOMERS * 0.99
    assert in_postgres == embedded
    origins = {row[-1] for row in embedded.values()}
    assert origins == {"rules", "pulled-through"}, "pull-through must be exercised"


@pytest.mark.slow
def test_sqlite_in_database_gives_duckdbs_assignments(market: Catalog, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sqlite.db'}"
    embedded = _segment(url, market, "duckdb", tmp_path)
    in_sqlite = _segment(url, market, "database", tmp_path)
    assert len(embedded) >= CUSTOMERS * 0.99
    assert in_sqlite == embedded
    assert {row[-1] for row in embedded.values()} == {"rules", "pulled-through"}
