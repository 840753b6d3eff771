"""Refinement migrations on a store that already holds requests."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from harmonia.store.database import SCHEMA_REVISION, Database

CREATED = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def _insert_requests(database: Database, rows: list[tuple]) -> None:
    names = ("id", "cycle", "customer", "action", "status", "decided_by")
    with database.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO refinement_request (id, cycle_id, customer_id, territory, "
                "requester, action, old_value, new_value, reason, comment, status, rule, "
                "message, decided_by, decided_at, decision_comment, created_at, version) "
                "VALUES (:id, :cycle, :customer, 'T1', 'rep1', :action, 'B', 'A', 'r', '', "
                ":status, 'policy', 'm', :decided_by, NULL, '', :created, 1)"
            ),
            [dict(zip(names, row, strict=True), created=CREATED) for row in rows],
        )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return request.getfixturevalue("postgres_url")


def test_0510_keeps_the_accepted_duplicate_then_the_latest(store_url: str) -> None:
    url = store_url
    database = Database(url)
    database.upgrade("0500")
    _insert_requests(
        database,
        [
            # cycle 1, customer 7, segment: pending first, then a manager's acceptance
            (1, 1, 7, "segment", "pending", None),
            (2, 1, 7, "segment", "accepted", "manager1"),
            (3, 1, 7, "segment", "pending", None),
            # two pending: the latest stays
            (4, 1, 8, "segment", "pending", None),
            (5, 1, 8, "segment", "pending", None),
            # not duplicates: another dimension, another cycle, a decided one
            (6, 1, 7, "tier", "pending", None),
            (7, 2, 7, "segment", "pending", None),
            (8, 1, 8, "segment", "rejected", "manager1"),
        ],
    )
    database.engine.dispose()
    upgraded = Database(url)
    upgraded.upgrade()
    assert upgraded.current_revision() == SCHEMA_REVISION
    with upgraded.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT id, status, decided_by, decided_at IS NOT NULL, version, message "
            "FROM refinement_request ORDER BY id"
        ).all()
        events = connection.exec_driver_sql(
            "SELECT actor, action, subject, details FROM audit_event "
            "WHERE action = 'refinement.expire'"
        ).all()
    assert len(rows) == 8  # nothing deleted
    status = {row[0]: row[1] for row in rows}
    assert status == {
        1: "expired",
        2: "accepted",
        3: "expired",
        4: "expired",
        5: "pending",
        6: "pending",
        7: "pending",
        8: "rejected",
    }
    expired = {row[0]: row for row in rows if row[1] == "expired"}
    for _, _, decided_by, decided, version, _ in expired.values():
        assert (decided_by, bool(decided), version) == ("migration", True, 2)
    assert "request 2 is open" in expired[1][5]
    assert "request 5 is open" in expired[4][5]
    ((actor, action, subject, details),) = events
    assert (actor, action, subject) == ("migration", "refinement.expire", "cycle:1")
    assert json.loads(details)["requests"] == [1, 3, 4]


@pytest.mark.parametrize(
    ("before", "column"), [("0650", "refined_goal"), ("0670", "refined_territory")]
)
def test_0670_and_0690_add_a_refined_column_to_a_store_with_assignments(
    store_url: str, before: str, column: str
) -> None:
    from alembic import command

    database = Database(store_url)
    database.upgrade(before)
    with database.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO assignment (cycle_id, customer_id, segment, segment_rule, "
                "final_segment, origin, inputs, refined_target) VALUES "
                "(1, 7, 'grow', 'r1', 'champion', 'refined', '{}', 'yes')"
            )
        )
    database.engine.dispose()
    upgraded = Database(store_url)
    upgraded.upgrade()
    assert upgraded.current_revision() == SCHEMA_REVISION

    def stored() -> list[tuple]:
        with upgraded.engine.connect() as connection:
            return [
                tuple(row)
                for row in connection.exec_driver_sql(
                    "SELECT customer_id, final_segment, refined_target FROM assignment"
                ).all()
            ]

    with upgraded.engine.connect() as connection:
        added = connection.exec_driver_sql(f"SELECT {column} FROM assignment").all()
    assert [tuple(row) for row in added] == [(None,)]
    assert stored() == [(7, "champion", "yes")]
    config = upgraded._alembic_config()
    with upgraded.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, before)
    assert stored() == [(7, "champion", "yes")]
    upgraded.upgrade()
    assert upgraded.current_revision() == SCHEMA_REVISION


def test_0730_freezes_the_previous_territory_of_the_cycles_in_feedback(store_url: str) -> None:
    from alembic import command

    from harmonia.periods import Period

    h2, h1 = Period.parse("2026-H2"), Period.parse("2027-H1")
    database = Database(store_url)
    database.upgrade("0710")
    with database.engine.begin() as connection:
        run = connection.exec_driver_sql
        run(
            "INSERT INTO load_batch (id, source, system, kind, location, status, rows_read, "
            "rows_loaded, rows_quarantined, actor, started_at) VALUES "
            "(1, 'csv', 'crm', 'customers', 'a.csv', 'done', 3, 3, 0, '', '2026-01-01')"
        )
        run(
            "INSERT INTO customer (id, country, type, first_name, last_name, email, territory, "
            "first_batch_id, batch_id) VALUES (1, 'BE', 'HCP', 'A', 'B', '', 'T9', 1, 1), "
            "(2, 'BE', 'HCP', 'C', 'D', '', 'T8', 1, 1), (3, 'BE', 'HCP', 'E', 'F', '', NULL, 1, 1)"
        )
        run(
            "INSERT INTO alignment (customer_id, period, first_month, last_month, territory, "
            f"batch_id) VALUES (1, '2026-H2', {h2.first_month}, {h2.last_month}, 'T1', 1), "
            f"(1, '2027-H1', {h1.first_month}, {h1.last_month}, 'T2', 1)"
        )
        for status in ("feedback", "published"):
            run(
                "INSERT INTO cycle (country, therapy_area, period, status, engine, rule_set, "
                "rule_set_version, customers, snapshot, summary, actor, started_at, owner) "
                f"VALUES ('BE', 'cardiology', '2027-H1', '{status}', 'duckdb', 'tiny-core', "
                "'1', 3, '{}', '{}', 'x', '2027-01-01 00:00:00', '')"
            )
        run(
            "INSERT INTO refinement_scope (cycle_id, customer_id, territory) VALUES "
            "(1, 1, 'T2'), (1, 2, 'T8'), (1, 3, ''), (2, 1, 'T2')"
        )
    database.engine.dispose()
    upgraded = Database(store_url)
    upgraded.upgrade()
    assert upgraded.current_revision() == SCHEMA_REVISION

    def scope() -> list[tuple]:
        with upgraded.engine.connect() as connection:
            return [
                tuple(row)
                for row in connection.exec_driver_sql(
                    "SELECT cycle_id, customer_id, territory FROM refinement_scope "
                    "ORDER BY cycle_id, customer_id"
                ).all()
            ]

    with upgraded.engine.connect() as connection:
        previous = connection.exec_driver_sql(
            "SELECT cycle_id, customer_id, previous FROM refinement_scope "
            "ORDER BY cycle_id, customer_id"
        ).all()
    # In feedback: the alignment before the cycle, else the customer record's; a
    # published cycle takes no requests and keeps none.
    assert [tuple(row) for row in previous] == [
        (1, 1, "T1"),
        (1, 2, "T8"),
        (1, 3, None),
        (2, 1, None),
    ]
    kept = [(1, 1, "T2"), (1, 2, "T8"), (1, 3, ""), (2, 1, "T2")]
    assert scope() == kept
    config = upgraded._alembic_config()
    with upgraded.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0710")
    assert scope() == kept
    upgraded.upgrade()
    assert upgraded.current_revision() == SCHEMA_REVISION
