"""Fixtures of the FHIR interchange tests: the real oncology questionnaire, PHQ-9, loading."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

import harmonia.fhir.source
from harmonia import Questionnaire, load_definitions
from harmonia.plugins import Plugins

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
def with_fhir_source(register_pack: Callable[..., Any], harmonia_plugins: Plugins) -> Plugins:
    """The plugins with the ``fhir`` data source (a built-in once the core registers it)."""
    if "fhir" not in harmonia_plugins.data_sources:
        assert register_pack(harmonia.fhir.source, name="fhir-source") is not None
    return harmonia_plugins


@pytest.fixture
def load() -> Callable[..., list[Any]]:
    """Load files as ``harmonia load`` does; returns the load results."""

    def run(
        url: str,
        plugins: Plugins,
        *paths: Path,
        country: str | None = None,
        system: str | None = None,
        **options: str,
    ) -> list[Any]:
        from harmonia.ingest import Loader, plan_files
        from harmonia.store import Database

        loader = Loader(Database(url), plugins, country=country, system=system)
        results = []
        for source, path in plan_files(plugins.data_sources.values(), paths):
            results.extend(loader.run(source, {**options, "path": str(path)}))
        return results

    return run


@pytest.fixture
def query() -> Callable[[str, str], list[tuple]]:
    """Rows of a SQL query against a database URL (SQLite or PostgreSQL)."""

    def run(url: str, sql: str) -> list[tuple]:
        from sqlalchemy import text

        from harmonia.store import Database

        database = Database(url)
        try:
            with database.engine.begin() as connection:
                result = connection.execute(text(sql))
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            database.engine.dispose()

    return run
