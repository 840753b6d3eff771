"""Override analytics: what the field asked for, what was decided, how much moved.

Per cycle, in the store, in a few small queries: requests by reason and
outcome, by territory (customers, requests, changes accepted, share of the
territory changed), the share of the universe whose final segment came
from refinement, the call goals changed (calls added or taken away) and the
accounts added to or kept on a territory. How customers the field moved performed against those the
rules placed needs actuals of the following period; it is not computed here.
"""

from __future__ import annotations

from typing import Any

from harmonia.refinement.policy import UNCOUNTED
from harmonia.sql import text_list
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import Database


def override_analytics(database: Database, cycle_id: int) -> dict[str, Any]:
    """The cycle's refinement figures as plain data."""
    cycle_id = int(cycle_id)
    # A customer counts as changed by a request that changes its result: call goals
    # and accounts change the work (reported under goals and accounts), as max_share says.
    changes = f"status = 'accepted' AND action NOT IN ({text_list(UNCOUNTED)})"
    with BulkConnection(database) as bulk:
        by_reason = bulk.read(
            "SELECT action, reason, status, COUNT(*) AS requests FROM refinement_request "
            f"WHERE cycle_id = {cycle_id} GROUP BY action, reason, status "
            "ORDER BY action, reason, status"
        ).to_pylist()
        by_rule = bulk.read(
            "SELECT rule, status, COUNT(*) AS requests FROM refinement_request "
            f"WHERE cycle_id = {cycle_id} GROUP BY rule, status ORDER BY requests DESC, rule"
        ).to_pylist()
        by_territory = bulk.read(
            f"""
            SELECT s.territory, COUNT(*) AS customers,
                SUM(CASE WHEN r.asked > 0 THEN 1 ELSE 0 END) AS customers_asked,
                SUM(CASE WHEN r.accepted > 0 THEN 1 ELSE 0 END) AS customers_changed
            FROM refinement_scope s LEFT JOIN (
                SELECT customer_id, COUNT(*) AS asked,
                    SUM(CASE WHEN {changes} THEN 1 ELSE 0 END) AS accepted
                FROM refinement_request WHERE cycle_id = {cycle_id} GROUP BY customer_id
            ) r ON r.customer_id = s.customer_id
            WHERE s.cycle_id = {cycle_id}
            GROUP BY s.territory ORDER BY s.territory
            """
        ).to_pylist()
        universe = int(bulk.scalar(f"SELECT COUNT(*) FROM assignment WHERE cycle_id = {cycle_id}"))
        changed = int(
            bulk.scalar(
                "SELECT COUNT(DISTINCT customer_id) FROM refinement_request "
                f"WHERE cycle_id = {cycle_id} AND {changes}"
            )
        )
        goals = bulk.read(
            "SELECT COUNT(*) AS accepted, COALESCE(SUM(CAST(new_value AS INTEGER) "
            "- CAST(old_value AS INTEGER)), 0) AS calls_added FROM refinement_request "
            f"WHERE cycle_id = {cycle_id} AND action = 'goal' AND status = 'accepted'"
        ).to_pylist()[0]
        accounts = {
            str(row["action"]): int(row["requests"])
            for row in bulk.read(
                "SELECT action, COUNT(*) AS requests FROM refinement_request "
                f"WHERE cycle_id = {cycle_id} AND action IN ('add', 'keep') "
                "AND status = 'accepted' GROUP BY action"
            ).to_pylist()
        }
        refined = int(
            bulk.scalar(
                f"SELECT COUNT(*) FROM assignment WHERE cycle_id = {cycle_id} "
                "AND origin = 'refined'"
            )
        )
    for row in by_territory:
        row["share_changed"] = (
            round(row["customers_changed"] / row["customers"], 4) if row["customers"] else 0.0
        )
    return {
        "cycle": cycle_id,
        "customers": universe,
        "customers_changed": changed,
        "share_of_universe_changed": round(changed / universe, 6) if universe else 0.0,
        "final_segments_from_refinement": refined,
        # Call goals change the work planned, not the customers' results.
        "goals": {"accepted": int(goals["accepted"]), "calls_added": int(goals["calls_added"])},
        # Accounts added to or kept on a territory by an accepted request.
        "accounts": {"added": accounts.get("add", 0), "kept": accounts.get("keep", 0)},
        "requests": sum(row["requests"] for row in by_reason),
        "by_reason": by_reason,
        "by_rule": by_rule,
        "by_territory": by_territory,
    }
