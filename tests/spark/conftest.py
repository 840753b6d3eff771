"""Spark in local mode for the tests marked ``spark`` (tox -e spark).

One session for the whole run: a JVM takes seconds to start. Two cores, a
few shuffle partitions (the universes are small) and no web UI keep it lean.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harmonia.engine.cycle import run_cycle
from harmonia.ingest import Loader
from harmonia.plugin.catalog import Catalog
from harmonia.plugin.manager import PluginManager
from harmonia.store import Database

#: Spark settings of the test session (also what the engine is given in tests).
TEST_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
}


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    # Under CI the spark environment must really run Spark: a missing extra fails.
    if os.environ.get("CI") == "true":
        import pyspark  # noqa: F401
    pytest.importorskip("pyspark", reason="the spark extra is not installed (tox -e spark)")
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[2]").appName("harmonia-tests")
    for key, value in TEST_CONF.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def market(register_pack: Callable[..., Any], harmonia_plugins: PluginManager) -> Catalog:
    """The synthetic French oncology market (the real packs, registered as installed)."""
    for name in ("fr", "oncology", "synthetic"):
        register_pack(pytest.importorskip(f"harmonia_{name}"), name=name)
    return harmonia_plugins.catalog()


@pytest.fixture
def load_universe() -> Callable[..., Database]:
    """Loads a synthetic universe of the ``market``'s packs into a store."""
    return _load_universe


@pytest.fixture
def run_periods() -> Callable[..., list[Any]]:
    """Runs one cycle per period on an engine; returns their results."""
    return _run_periods


def _load_universe(url: str, catalog: Catalog, customers: int, period: str) -> Database:
    database = Database(url)
    database.ensure_schema()
    loader = Loader(database, catalog, country="FR")
    options = {"customers": str(customers), "seed": "7", "period": period}
    results = list(loader.run(catalog.data_sources["synthetic"], options))
    assert sum(r.rows_quarantined for r in results) == 0
    # A new potential estimate for every tenth customer, dated in the last
    # period only: the last cycle segments them again and pulls the others
    # through, so both paths of the query are compared.
    with tempfile.TemporaryDirectory() as tmp:
        revised = Path(tmp) / "revised.csv"
        revised.write_text(
            "customer_id,therapy_area,metric,period,value\n"
            + "".join(
                f"C{n:07d},oncology,potential,{period},{1000 + n}\n"
                for n in range(1, customers, 10)
            ),
            encoding="utf-8",
        )
        revision = Loader(database, catalog, country="FR", system="synthetic")
        results = list(revision.run(catalog.data_sources["csv"], {"path": str(revised)}))
    assert sum(r.rows_quarantined for r in results) == 0, results
    return database


def _run_periods(
    database: Database,
    catalog: Catalog,
    engine: str,
    periods: tuple[str, ...],
    tmp: Path,
    **options: Any,
) -> list[Any]:
    return [
        run_cycle(
            database,
            catalog,
            country="FR",
            therapy_area="oncology",
            period=period,
            engine=engine,
            sinks=(),
            directory=tmp,
            **options,
        )
        for period in periods
    ]
