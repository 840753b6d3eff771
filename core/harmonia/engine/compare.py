"""Comparing two cycles: the migration matrix of final segments, needs segments or tiers."""

from __future__ import annotations

from typing import Any

from harmonia.engine.cycle import get_cycle
from harmonia.errors import ConfigError
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import Database

#: The assignment column each dimension's result is compared by: the segment
#: after field refinement and pull-through, the needs segment and tier as assigned.
COLUMNS = {"segment": "final_segment", "needs": "needs", "tier": "tier"}


def dimensions(database: Database, before: int, after: int) -> list[str]:
    """The dimensions the rule sets of both cycles declare, in COLUMNS order."""
    import json

    rule_sets = [
        json.loads(get_cycle(database, cycle).snapshot).get("rule_set", {})
        for cycle in (before, after)
    ]
    # An undeclared dimension is absent or null in the snapshot.
    return [name for name in COLUMNS if all(rule_set.get(name) for rule_set in rule_sets)]


def migration(
    database: Database, before: int, after: int, dimension: str = "segment"
) -> dict[str, Any]:
    """Customers counted by (``dimension``'s result before, after).

    A customer present in only one cycle counts under the segment ``(none)``
    on the other side.
    """
    import json

    cycles = [get_cycle(database, before), get_cycle(database, after)]
    if dimension not in dimensions(database, before, after):
        raise ConfigError(
            f"the rule sets of cycles {before} and {after} do not both assign a {dimension}",
            fix="compare one of: " + ", ".join(dimensions(database, before, after)),
        )
    column = COLUMNS[dimension]
    order: list[str] = []
    for record in cycles:
        segments = (
            json.loads(record.snapshot).get("rule_set", {}).get(dimension, {}).get("segments", [])
        )
        order.extend(segment for segment in segments if segment not in order)
    with BulkConnection(database) as bulk:
        # Joined through the key (cycle_id, customer_id) on both sides: SQLite joins a
        # FULL OUTER JOIN of two subqueries by nested loops (minutes at 50k customers).
        rows = bulk.read(
            f"""
            SELECT before_segment, after_segment, COUNT(*) AS customers FROM (
                SELECT b.{column} AS before_segment, COALESCE(a.{column}, '(none)') AS after_segment
                FROM assignment b LEFT JOIN assignment a
                  ON a.cycle_id = {int(after)} AND a.customer_id = b.customer_id
                WHERE b.cycle_id = {int(before)}
                UNION ALL
                SELECT '(none)', a.{column} FROM assignment a
                WHERE a.cycle_id = {int(after)} AND NOT EXISTS (
                    SELECT 1 FROM assignment b
                    WHERE b.cycle_id = {int(before)} AND b.customer_id = a.customer_id)
            ) moves
            GROUP BY before_segment, after_segment
            """
        ).to_pylist()
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["before_segment"], {})[row["after_segment"]] = int(row["customers"])

    def ordered(names: set[str]) -> list[str]:
        return [s for s in order if s in names] + sorted(names - set(order))

    before_segments = ordered(set(counts))
    after_segments = ordered({after for row in counts.values() for after in row})
    stayed = sum(n for b, row in counts.items() for a, n in row.items() if a == b and b != "(none)")
    entered = sum(counts.get("(none)", {}).values())
    left = sum(row.get("(none)", 0) for row in counts.values())
    total = sum(n for row in counts.values() for n in row.values())
    return {
        "before": before,
        "after": after,
        "dimension": dimension,
        "before_segments": before_segments,
        "after_segments": after_segments,
        "counts": counts,
        "stayed": stayed,
        "moved": total - stayed - entered - left,
        "entered": entered,
        "left": left,
    }
