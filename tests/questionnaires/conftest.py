"""Fixtures for the questionnaire tests: packs, the real loader, SQL engines to score in."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest
from helpers import accounted
from qhelpers import CUSTOMER_HEADER, RESPONSE_HEADER, Engine

import harmonia_fr
import harmonia_oncology
from harmonia.plugin.catalog import Catalog
from harmonia.plugin.manager import PluginManager
from harmonia.store import Database


@pytest.fixture
def oncology(harmonia_plugins: PluginManager, register_pack: Callable[..., Any]) -> Catalog:
    """The built-ins plus the oncology and French packs."""
    register_pack(harmonia_oncology, name="oncology")
    register_pack(harmonia_fr, name="fr")
    return harmonia_plugins.catalog()


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[[str, Sequence[Sequence[Any]]], Path]:
    """``write_csv(name, rows)``: a ``;`` CSV whose first row is the header."""

    def write(name: str, rows: Sequence[Sequence[Any]]) -> Path:
        path = tmp_path / name
        path.write_text(
            "\n".join(";".join("" if v is None else str(v) for v in row) for row in rows) + "\n",
            encoding="utf-8",
        )
        return path

    return write


@pytest.fixture
def load(harmonia_database: str, write_csv: Callable[..., Path]) -> Callable[..., list[Any]]:
    """``load(catalog, kind, rows, country="FR")``: load rows of a kind through the real loader."""
    from harmonia.ingest import Loader

    database = Database(harmonia_database)

    def run(catalog: Catalog, kind: str, rows: Sequence[Sequence[Any]], country: str | None = "FR"):
        header = {"responses": RESPONSE_HEADER, "customers": CUSTOMER_HEADER}[kind]
        path = write_csv(f"{kind}.csv", [header, *rows])
        loader = Loader(database, catalog, country=country)
        return accounted(list(loader.run(catalog.data_sources["csv"], {"path": str(path)})))

    return run


@pytest.fixture(params=["duckdb", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """Each engine the cycle runs scoring on (PostgreSQL: a fresh database)."""
    if request.param == "duckdb":
        connection = duckdb.connect()
        yield Engine("duckdb", connection, "duckdb")
        connection.close()
    elif request.param == "sqlite":
        connection = sqlite3.connect(":memory:")
        yield Engine("sqlite", connection, "sqlite")
        connection.close()
    else:
        import psycopg

        url = request.getfixturevalue("postgres_url").replace("+psycopg", "")
        with psycopg.connect(url, autocommit=True) as connection:
            yield Engine("postgresql", connection, "postgresql")
