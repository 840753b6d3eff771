"""Migrations on a store that holds rows: up, down and up again."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from harmonia.store.database import SCHEMA_REVISION, Database

TERRITORIES = [
    ("T1", "BE", "Brussels", "territory", "R1", 1),
    ("T2", "BE", "Antwerp", "territory", "R1", 1),
    ("R1", "BE", "Belgium", "region", None, 1),
]


def _downgrade(database: Database, revision: str) -> None:
    from alembic import command

    config = database._alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def _territories(database: Database) -> tuple[list[tuple], str | None, list[str]]:
    with database.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT code, country, name, level, parent, batch_id FROM territory ORDER BY code"
        ).all()
        key = sa.inspect(connection).get_pk_constraint("territory")
    return [tuple(row) for row in rows], key["name"], key["constrained_columns"]


@pytest.mark.postgres
def test_0620_upgrades_and_downgrades_a_postgresql_store_with_territories(
    postgres_url: str,
) -> None:
    """Review1 finding 9: the copied table's key kept the copy's name, and the
    downgrade's copy then clashed with it."""
    database = Database(postgres_url)
    database.upgrade("0610")
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO territory (code, country, name, level, parent, batch_id) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            TERRITORIES,
        )
    expected = sorted(TERRITORIES)
    database.upgrade()
    assert database.current_revision() == SCHEMA_REVISION
    assert _territories(database) == (expected, "territory_pkey", ["code", "country"])
    _downgrade(database, "0610")
    assert _territories(database) == (expected, "territory_pkey", ["code"])
    database.upgrade()
    assert _territories(database) == (expected, "territory_pkey", ["code", "country"])
    # A store upgraded before the key was renamed is repaired by the downgrade.
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "ALTER TABLE territory RENAME CONSTRAINT territory_pkey TO territory_rekeyed_pkey"
        )
    _downgrade(database, "0610")
    assert _territories(database) == (expected, "territory_pkey", ["code"])


def _batches_with_file_counts(database: Database) -> None:
    """Three load batches as 0630 recorded them: two of metrics (one counted), one of customers."""
    with database.engine.begin() as connection:
        for batch, kind, files in ((1, "metrics", 2), (2, "customers", None), (3, "metrics", None)):
            connection.execute(
                sa.text(
                    "INSERT INTO load_batch (id, source, system, kind, location, status, "
                    "rows_read, rows_loaded, rows_quarantined, actor, started_at, facts_files) "
                    "VALUES (:id, 'csv', 'csv', :kind, 'f.csv', 'loaded', 0, 0, 0, 'a', "
                    "'2026-12-01 00:00:00', :files)"
                ),
                {"id": batch, "kind": kind, "files": files},
            )


def _file_counts(database: Database) -> list[tuple]:
    with database.engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.exec_driver_sql(
                "SELECT batch_id, fact_table, files FROM fact_files ORDER BY batch_id"
            )
        ]


def _load_batch_columns(database: Database) -> set[str]:
    with database.engine.connect() as connection:
        return {column["name"] for column in sa.inspect(connection).get_columns("load_batch")}


@pytest.mark.parametrize(
    "store", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_0640_counts_fact_files_per_fact_table(store: str, tmp_path, request) -> None:
    """Review1: the count per load kind was right only while one fact table had each kind."""
    url = (
        f"sqlite:///{tmp_path / 'store.db'}"
        if store == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    database = Database(url)
    database.upgrade("0630")
    _batches_with_file_counts(database)
    database.upgrade("0640")
    assert _file_counts(database) == [(1, "metric", 2)]
    assert "facts_files" not in _load_batch_columns(database)
    _downgrade(database, "0630")
    with database.engine.connect() as connection:
        kept = connection.exec_driver_sql("SELECT id, facts_files FROM load_batch ORDER BY id")
        assert [tuple(row) for row in kept] == [(1, 2), (2, None), (3, None)]
    database.upgrade("0640")
    assert _file_counts(database) == [(1, "metric", 2)]
