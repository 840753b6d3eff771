"""Profiles in the cycle: latest response wins, stale ones are reported, engines agree.

The oncology and French packs, loaded through the real loader into SQLite;
PostgreSQL gets a copy of the same store. Every engine (embedded DuckDB, and
the SQL run inside SQLite or PostgreSQL) must give the same profile features
and the same coverage report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from qhelpers import customers

import harmonia_synthetic
from harmonia.engine.cycle import read_assignments, run_cycle
from harmonia.store import Database
from harmonia.store.bulk import BulkConnection

PERIOD = "2027-H1"  # FR keeps responses 24 months: the window is 2025-01 to 2027-06
ADOPTION_AND_NEED = {  # v2 answers: adoption advocate (mean 3), need outcomes (mean 2)
    "patients_per_month": "120",
    "tumour_types": "lung",
    "novel_therapy_adoption": "early",
    "biomarker_testing": "broad_panel",
    "clinical_trials": "false",
    "what_matters_most": "outcome_evidence",
    "support_priority": "trial_updates",
}
V1 = {  # v1 answers: adoption non_user (mean 0); v1 has no support_priority
    **{k: v for k, v in ADOPTION_AND_NEED.items() if k != "support_priority"},
    "novel_therapy_adoption": "wait",
    "biomarker_testing": "rarely",
}
TRIALIST = {  # adoption mean (1 + 1) / 2: trialist
    **ADOPTION_AND_NEED,
    "novel_therapy_adoption": "selected",
    "biomarker_testing": "case_by_case",
}


def response(customer: str, version: str, when: str, answers: dict[str, str]) -> list[tuple]:
    return [
        (customer, "oncology-profile", version, "R1", when, question, answer)
        for question, answer in answers.items()
    ]


ROWS = [
    *response("C0001", "2", "2026-09-01", ADOPTION_AND_NEED),
    *response("C0002", "1", "2026-02-01", V1),  # need: not comparable
    *response("C0003", "2", "2024-11-30", ADOPTION_AND_NEED),  # stale only
    *response("C0004", "2", "2024-06-01", ADOPTION_AND_NEED),  # stale, but ...
    *response("C0004", "2", "2026-01-15", TRIALIST),  # ... a newer one in the window wins
    *response("C0005", "2", "2025-03-01", ADOPTION_AND_NEED),  # superseded by ...
    *response("C0005", "1", "2026-03-01", V1),  # ... a later version 1 response
    *response("C0007", "2", "2027-08-01", ADOPTION_AND_NEED),  # after the cycle: not used
]
# C0006 and C0008 never answered.

EXPECTED_FEATURES = {
    "C0001": ("advocate", "outcomes"),
    "C0002": ("non_user", "unknown"),
    "C0003": ("unknown", "unknown"),
    "C0004": ("trialist", "outcomes"),
    "C0005": ("non_user", "unknown"),
    "C0006": ("unknown", "unknown"),
    "C0007": ("unknown", "unknown"),
    "C0008": ("unknown", "unknown"),
}
EXPECTED_COVERAGE = [
    {
        "questionnaire": "oncology-profile",
        "dimension": "adoption",
        "customers": 8,
        "scored": 4,
        "incomplete": 0,
        "not_comparable": 0,
        "stale_only": 1,
        "unanswered": 3,
        "features": ["adoption"],
    },
    {
        "questionnaire": "oncology-profile",
        "dimension": "need",
        "customers": 8,
        "scored": 2,
        "incomplete": 0,
        "not_comparable": 2,
        "stale_only": 1,
        "unanswered": 3,
        "features": ["need"],
    },
]


@pytest.fixture
def store(oncology, load, harmonia_database) -> str:
    """The SQLite store with the eight customers and their responses loaded."""
    load(oncology, "customers", customers(8))
    (result,) = load(oncology, "responses", ROWS)
    assert result.rows_quarantined == 0
    return harmonia_database


def features(url: str, cycle_id: int) -> dict[str, tuple[str, str]]:
    """Source customer id -> (adoption, need) as the cycle's assignments saw them."""
    database = Database(url)
    with BulkConnection(database) as bulk:
        crosswalk = bulk.read("SELECT customer_id, source_id FROM crosswalk").to_pylist()
    ids = {row["customer_id"]: row["source_id"] for row in crosswalk}
    table = read_assignments(database, cycle_id).to_pylist()
    found = {}
    for row in table:
        inputs = json.loads(row["inputs"])
        found[str(ids[row["customer_id"]])] = (inputs["adoption"], inputs["need"])
    return found


def cycle(url: str, plugins: Any, engine: str, tmp_path: Path) -> Any:
    return run_cycle(
        Database(url),
        plugins,
        country="FR",
        therapy_area="oncology",
        period=PERIOD,
        engine=engine,
        directory=tmp_path / engine,
    )


@pytest.mark.parametrize("engine", ["duckdb", "database"])
def test_latest_comparable_responses_score_and_stale_ones_are_reported(
    store, oncology, engine, tmp_path
):
    result = cycle(store, oncology, engine, tmp_path)
    assert features(store, result.cycle.id) == EXPECTED_FEATURES
    assert result.coverage == EXPECTED_COVERAGE
    summary = json.loads(result.cycle.summary)
    assert summary["profile_coverage"] == EXPECTED_COVERAGE
    assert [(row["segment"], row["customers"]) for row in summary["segments"]] == [
        (row["segment"], row["customers"]) for row in result.summary
    ]


def copy_store(sqlite_url: str, postgres_url: str) -> None:
    """Copy the SQLite store's rows into a fresh PostgreSQL store, table by table."""
    import psycopg

    Database(postgres_url).upgrade()
    from harmonia.testing import query_store

    tables = ("load_batch", "customer", "crosswalk", "identifier", "metric", "response", "answer")
    with psycopg.connect(postgres_url.replace("+psycopg", "")) as target:
        for table in tables:
            # Facts (metrics, responses, answers) are read where the SQLite store keeps them.
            stored = query_store(sqlite_url, f"SELECT * FROM {table}")
            if not stored:
                continue
            columns = list(stored[0])
            rows = [tuple(row.values()) for row in stored]
            with (
                target.cursor() as out,
                out.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        for table in ("load_batch", "customer", "response"):
            target.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["duckdb", "database"])
def test_postgresql_agrees(store, oncology, postgres_url, engine, tmp_path):
    copy_store(store, postgres_url)
    result = cycle(postgres_url, oncology, engine, tmp_path)
    assert features(postgres_url, result.cycle.id) == EXPECTED_FEATURES
    assert result.coverage == EXPECTED_COVERAGE


@pytest.mark.postgres
def test_engines_agree_on_a_synthetic_universe(
    oncology, register_pack, harmonia_plugins, harmonia_database, postgres_url, tmp_path
):
    """Thousands of generated profiles: the same levels on every engine and store."""
    from harmonia.ingest import Loader

    register_pack(harmonia_synthetic, name="synthetic")
    oncology = harmonia_plugins.catalog()
    # The generator writes decimal points, whatever the market.
    loader = Loader(Database(harmonia_database), oncology, country="FR", decimal=".")
    options = {"customers": "2000", "seed": "11", "period": PERIOD, "coverage": "0.6"}
    results = list(loader.run(oncology.data_sources["synthetic"], options))
    assert sum(r.rows_quarantined for r in results) == 0
    copy_store(harmonia_database, postgres_url)
    runs = {
        (store, engine): cycle(url, oncology, engine, tmp_path / store)
        for store, url in (("sqlite", harmonia_database), ("postgresql", postgres_url))
        for engine in ("duckdb", "database")
    }
    urls = {"sqlite": harmonia_database, "postgresql": postgres_url}
    profiles = {key: features(urls[key[0]], run.cycle.id) for key, run in runs.items()}
    reference = profiles[("sqlite", "duckdb")]
    assert sum(adoption != "unknown" for adoption, _ in reference.values()) > 600
    for key, found in profiles.items():
        assert found == reference, key
        assert runs[key].coverage == runs[("sqlite", "duckdb")].coverage, key
