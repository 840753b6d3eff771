"""Refinement migrations on a store that already holds requests."""

from __future__ import annotations

import json
from pathlib import Path

from harmonia.store.database import SCHEMA_REVISION, Database


def _insert_requests(database: Database, rows: list[tuple]) -> None:
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO refinement_request (id, cycle_id, customer_id, territory, requester, "
            "action, old_value, new_value, reason, comment, status, rule, message, decided_by, "
            "decided_at, decision_comment, created_at, version) VALUES "
            "(?, ?, ?, 'T1', 'rep1', ?, 'B', 'A', 'r', '', ?, 'policy', 'm', ?, NULL, '', "
            "'2026-12-01 00:00:00.000000', 1)",
            rows,
        )


def test_0510_keeps_the_accepted_duplicate_then_the_latest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
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
        assert (decided_by, decided, version) == ("migration", 1, 2)
    assert "request 2 is open" in expired[1][5]
    assert "request 5 is open" in expired[4][5]
    ((actor, action, subject, details),) = events
    assert (actor, action, subject) == ("migration", "refinement.expire", "cycle:1")
    assert json.loads(details)["requests"] == [1, 3, 4]
