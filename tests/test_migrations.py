"""Migrations on a store that holds rows: up, down and up again."""

from __future__ import annotations

from pathlib import Path

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
    # On SQLite, 0610 counted every committed batch: batch 3 has no count because its
    # files were missing at that upgrade (unknown, kept as such); PostgreSQL keeps none.
    counted = [(1, "metric", 2), *([(3, "metric", None)] if store == "sqlite" else [])]
    assert _file_counts(database) == counted
    assert "facts_files" not in _load_batch_columns(database)
    _downgrade(database, "0630")
    with database.engine.connect() as connection:
        kept = connection.exec_driver_sql("SELECT id, facts_files FROM load_batch ORDER BY id")
        assert [tuple(row) for row in kept] == [(1, 2), (2, None), (3, None)]
    database.upgrade("0640")
    assert _file_counts(database) == counted


#: Tables whose rows 0530 and 0600 must leave alone (the loaded tiny market's).
KEPT = ("customer", "identifier", "crosswalk", "load_batch", "quarantine")
#: Facts: Parquet files at the head revision (SQLite), rows of the store's tables before.
FACTS = ("metric", "response", "answer")


def _facts(url: str) -> dict[str, int]:
    from helpers import query

    return {table: query(url, f"SELECT COUNT(*) AS n FROM {table}")[0]["n"] for table in FACTS}


def _row_counts(database: Database, tables: tuple[str, ...]) -> dict[str, int]:
    with database.engine.connect() as connection:
        return {
            table: connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar()
            for table in tables
        }


def _tables(database: Database) -> set[str]:
    with database.engine.connect() as connection:
        return set(sa.inspect(connection).get_table_names())


def test_0530_and_0600_upgrade_and_downgrade_a_populated_store(universe: str) -> None:
    """Review1: the affiliation (0530) and suppression (0600) tables, added to a store
    that holds a loaded market, keep it whole both ways."""
    from helpers import query

    database = Database(universe)
    kept = _row_counts(database, KEPT)
    facts = _facts(universe)
    assert kept["customer"] > 0 and all(facts.values()), facts
    _downgrade(database, "0520")
    assert not {"affiliation", "suppression", "workspace_secret"} & _tables(database)
    assert _row_counts(database, KEPT) == kept
    # Below 0700 the responses and answers are the tables' rows again.
    answers = {table: facts[table] for table in ("response", "answer")}
    assert _row_counts(database, ("response", "answer")) == answers

    database.upgrade("0530")
    assert "affiliation" in _tables(database) and "suppression" not in _tables(database)
    child, parent = (row["id"] for row in query(universe, "SELECT id FROM customer LIMIT 2"))
    with database.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO affiliation (customer_id, parent_id, batch_id) VALUES (:c, :p, 1)"
            ),
            {"c": child, "p": parent},
        )
    database.upgrade("0600")
    with database.engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO suppression (hash, kind, at) VALUES ('h1', 'source_id', :at)"),
            {"at": "2026-12-01 00:00:00"},
        )
        connection.exec_driver_sql(
            "INSERT INTO workspace_secret (name, value) VALUES ('erasure', 'k')"
        )
    database.upgrade()
    assert database.current_revision() == SCHEMA_REVISION
    # 0700 on SQLite records itself as a (empty) responses load batch: review5 11.
    kept["load_batch"] += database.dialect == "sqlite"
    assert _row_counts(database, KEPT) == kept
    assert _facts(universe) == facts
    assert query(universe, "SELECT customer_id, parent_id FROM affiliation") == [
        {"customer_id": child, "parent_id": parent}
    ]
    assert query(universe, "SELECT hash, kind FROM suppression") == [
        {"hash": "h1", "kind": "source_id"}
    ]

    _downgrade(database, "0530")
    assert not {"suppression", "workspace_secret"} & _tables(database)
    assert _row_counts(database, ("affiliation", *KEPT)) == {"affiliation": 1, **kept}
    _downgrade(database, "0520")
    assert "affiliation" not in _tables(database)
    database.upgrade()
    assert _row_counts(database, KEPT) == kept
    assert _facts(universe) == facts


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database to migrate step by step: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return request.getfixturevalue("postgres_url")


def test_0650_starts_the_attribute_history_from_each_customers_latest_source(
    store_url: str,
) -> None:
    """Each customer's current values, given by its record in the system of its latest
    batch; another system's record of the same customer and an erased one get none."""
    database = Database(store_url)
    database.upgrade("0640")
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO load_batch (id, source, system, kind, location, status, rows_read, "
            "rows_loaded, rows_quarantined, actor, started_at) VALUES "
            "(1, 'csv', 'crm', 'customers', 'a.csv', 'done', 2, 2, 0, '', '2026-01-01'), "
            "(2, 'csv', 'vendor', 'customers', 'b.csv', 'done', 1, 1, 0, '', '2026-01-02')"
        )
        connection.exec_driver_sql(
            "INSERT INTO customer (id, country, type, first_name, last_name, email, "
            "first_batch_id, batch_id) VALUES "
            "(1, 'FR', 'HCP', 'Anne', 'Morel', '', 1, 1), "
            "(2, 'FR', 'HCP', 'Luc', 'Petit', 'luc@example.fr', 1, 2), "
            "(3, 'FR', 'HCP', NULL, NULL, NULL, 1, 1)"
        )
        connection.exec_driver_sql(
            "INSERT INTO crosswalk (system, source_id, customer_id, batch_id) VALUES "
            "('crm', 'C1', 1, 1), ('crm', 'C2', 2, 1), ('vendor', 'V2', 2, 2)"
        )
    database.engine.dispose()
    upgraded = Database(store_url)
    upgraded.upgrade()
    assert upgraded.current_revision() == SCHEMA_REVISION
    query = (
        "SELECT system, source_id, batch_id, first_name, last_name, specialty, email "
        "FROM customer_attribute_history ORDER BY system, source_id"
    )

    def history() -> list[tuple]:
        with upgraded.engine.connect() as connection:
            return [tuple(row) for row in connection.exec_driver_sql(query)]

    expected = [
        ("crm", "C1", 1, "Anne", "Morel", None, None),
        ("vendor", "V2", 2, "Luc", "Petit", None, "luc@example.fr"),
    ]
    assert history() == expected
    _downgrade(upgraded, "0640")
    with upgraded.engine.connect() as connection:
        assert "customer_attribute_history" not in sa.inspect(connection).get_table_names()
    upgraded.upgrade()
    assert history() == expected


def test_0750_starts_each_customers_versions_from_its_current_row(store_url: str) -> None:
    """One version per customer: its row as it is, under its latest batch."""
    database = Database(store_url)
    database.upgrade("0740")
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO load_batch (id, source, system, kind, location, status, rows_read, "
            "rows_loaded, rows_quarantined, actor, started_at) VALUES "
            "(1, 'csv', 'crm', 'customers', 'a.csv', 'loaded', 2, 2, 0, '', '2026-01-01'), "
            "(2, 'csv', 'crm', 'customers', 'b.csv', 'loaded', 1, 1, 0, '', '2026-01-02')"
        )
        connection.exec_driver_sql(
            "INSERT INTO customer (id, country, type, first_name, last_name, specialty, email, "
            "first_batch_id, batch_id) VALUES "
            "(1, 'FR', 'HCP', 'Anne', 'Morel', 'cardiology', NULL, 1, 1), "
            "(2, 'BE', 'HCO', NULL, 'Clinique', NULL, 'info@example.be', 1, 2)"
        )
    database.engine.dispose()
    upgraded = Database(store_url)
    upgraded.upgrade("0750")  # 0780 drops them again: see the next test
    assert upgraded.current_revision() == "0750"

    def versions() -> list[tuple]:
        with upgraded.engine.connect() as connection:
            return [
                tuple(row)
                for row in connection.exec_driver_sql(
                    "SELECT id, batch_id, country, type, first_name, last_name, specialty, email "
                    "FROM customer_version ORDER BY id, batch_id"
                )
            ]

    expected = [
        (1, 1, "FR", "HCP", "Anne", "Morel", "cardiology", None),
        (2, 2, "BE", "HCO", None, "Clinique", None, "info@example.be"),
    ]
    assert versions() == expected
    _downgrade(upgraded, "0740")
    with upgraded.engine.connect() as connection:
        assert "customer_version" not in sa.inspect(connection).get_table_names()
    upgraded.upgrade("0750")
    assert versions() == expected


def test_0780_keeps_only_the_versions_a_later_batch_replaced(store_url: str) -> None:
    """Customer 1 changed in batch 2: its state of batch 1 stays, the one repeating its
    row goes; customer 2 never changed (its only version is its row). A downgrade
    writes the current rows back as versions."""
    database = Database(store_url)
    database.upgrade("0770")
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO load_batch (id, source, system, kind, location, status, rows_read, "
            "rows_loaded, rows_quarantined, actor, started_at) VALUES "
            "(1, 'csv', 'crm', 'customers', 'a.csv', 'loaded', 2, 2, 0, '', '2026-01-01'), "
            "(2, 'csv', 'crm', 'customers', 'b.csv', 'loaded', 1, 1, 0, '', '2026-01-02')"
        )
        connection.exec_driver_sql(
            "INSERT INTO customer (id, country, type, first_name, last_name, specialty, email, "
            "first_batch_id, batch_id) VALUES "
            "(1, 'FR', 'HCP', 'Anne', 'Morel', 'oncology', NULL, 1, 2), "
            "(2, 'BE', 'HCO', NULL, 'Clinique', NULL, 'info@example.be', 1, 1)"
        )
        connection.exec_driver_sql(
            "INSERT INTO customer_version (id, batch_id, country, type, first_name, last_name, "
            "specialty, email) VALUES "
            "(1, 1, 'BE', 'HCP', 'Anne', 'Morel', 'cardiology', NULL), "
            "(1, 2, 'FR', 'HCP', 'Anne', 'Morel', 'oncology', NULL), "
            "(2, 1, 'BE', 'HCO', NULL, 'Clinique', NULL, 'info@example.be')"
        )
    database.engine.dispose()
    upgraded = Database(store_url)
    upgraded.upgrade()
    assert upgraded.current_revision() == SCHEMA_REVISION

    def versions() -> list[tuple]:
        with upgraded.engine.connect() as connection:
            return [
                tuple(row)
                for row in connection.exec_driver_sql(
                    "SELECT id, batch_id, country, type, first_name, last_name, specialty, email "
                    "FROM customer_version ORDER BY id, batch_id"
                )
            ]

    replaced = [(1, 1, "BE", "HCP", "Anne", "Morel", "cardiology", None)]
    assert versions() == replaced
    _downgrade(upgraded, "0770")
    assert versions() == [
        *replaced,
        (1, 2, "FR", "HCP", "Anne", "Morel", "oncology", None),
        (2, 1, "BE", "HCO", None, "Clinique", None, "info@example.be"),
    ]
    upgraded.upgrade()
    assert versions() == replaced


def test_0790_drops_the_assignment_index_by_final_segment(store_url: str) -> None:
    """An appended assignment costs an entry in the primary key only: the index by final
    segment (which no query used) goes, rows kept; a downgrade builds it again."""
    database = Database(store_url)
    database.upgrade("0780")
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO cycle (id, country, therapy_area, period, status, engine, rule_set, "
            "rule_set_version, customers, snapshot, summary, actor, started_at) VALUES "
            "(1, 'FR', 'oncology', '2027-H1', 'draft', 'duckdb', 'r', '1', 1, '{}', '[]', '', "
            "'2026-01-01')"
        )
        connection.exec_driver_sql(
            "INSERT INTO assignment (cycle_id, customer_id, segment, segment_rule, "
            "final_segment, origin) VALUES (1, 7, 'grow', 'r1', 'grow', 'rules')"
        )
    database.engine.dispose()

    def indexes() -> list[str]:
        with database.engine.connect() as connection:
            return [index["name"] for index in sa.inspect(connection).get_indexes("assignment")]

    assert indexes() == ["ix_assignment_cycle_final"]
    database.upgrade()
    assert indexes() == []
    with database.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT cycle_id, customer_id FROM assignment").all()
    assert [tuple(row) for row in rows] == [(1, 7)]
    _downgrade(database, "0780")
    assert indexes() == ["ix_assignment_cycle_final"]


def test_0800_gives_the_crosswalk_a_row_hash_keeping_its_rows(store_url: str) -> None:
    """Records loaded before have no row hash (their next row is compared in full);
    a downgrade drops the column and keeps the rows."""
    database = Database(store_url)
    database.upgrade("0790")
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO crosswalk (system, source_id, customer_id, batch_id) "
            "VALUES ('crm', 'C01', 1, 1), ('crm', 'C02', 2, 1)"
        )
    database.engine.dispose()
    database.upgrade()

    def rows(columns: str) -> list[tuple]:
        with database.engine.connect() as connection:
            return [
                tuple(row)
                for row in connection.exec_driver_sql(
                    f"SELECT {columns} FROM crosswalk ORDER BY source_id"
                )
            ]

    assert rows("source_id, customer_id, row_hash") == [("C01", 1, None), ("C02", 2, None)]
    _downgrade(database, "0790")
    assert rows("*") == [("crm", "C01", 1, 1), ("crm", "C02", 2, 1)]
