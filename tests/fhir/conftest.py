"""Fixtures of the FHIR interchange tests: the real oncology questionnaire, PHQ-9, loading."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from harmonia import Questionnaire, load_definitions
from harmonia.plugin.catalog import Catalog
from harmonia.plugin.manager import PluginManager

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def oncology_versions() -> list[Questionnaire]:
    """Versions 1 and 2 of the oncology pack's questionnaire, as the pack ships them."""
    found = load_definitions(Questionnaire, files("harmonia_oncology") / "questionnaires")
    return sorted(found, key=lambda q: q.version)


@pytest.fixture
def phq9() -> dict[str, Any]:
    """The PHQ-9 (LOINC 44249-1) as a FHIR R4 Questionnaire written outside harmonia."""
    return json.loads((FIXTURES / "phq-9.json").read_text(encoding="utf-8"))


@pytest.fixture
def phq9_spec_file() -> Path:
    return FIXTURES / "phq-9-dimensions.toml"


@pytest.fixture
def with_fhir_source(harmonia_plugins: PluginManager) -> PluginManager:
    """The plugin manager, whose built-ins include the ``fhir`` data source."""
    assert "harmonia.fhir.source" in {pack.name for pack in harmonia_plugins.packs}
    return harmonia_plugins


@pytest.fixture
def load() -> Callable[..., list[Any]]:
    """Load files as ``harmonia load`` does; returns the load results."""

    def run(
        url: str,
        catalog: Catalog,
        *paths: Path,
        country: str | None = None,
        system: str | None = None,
        **options: str,
    ) -> list[Any]:
        from harmonia.ingest import Loader, plan_files
        from harmonia.store import Database

        loader = Loader(Database(url), catalog, country=country, system=system)
        results = []
        for source, path in plan_files(catalog.data_sources.values(), paths):
            results.extend(loader.run(source, {**options, "path": str(path)}))
        return results

    return run


@pytest.fixture
def query() -> Callable[[str, str], list[tuple]]:
    """Rows of a SQL query against a database URL (SQLite or PostgreSQL), facts
    (responses, answers) read where the store keeps them."""

    def run(url: str, sql: str) -> list[tuple]:
        from harmonia.testing import query_store

        return [tuple(row.values()) for row in query_store(url, sql)]

    return run
