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
