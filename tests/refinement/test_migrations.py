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
