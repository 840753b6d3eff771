"""A re-run during feedback: open requests carried over to the new draft, conflicts listed.

The vendors' advice is "do not re-run the assignment during feedback", because
a re-run can add targets or move a customer a rep is challenging, and their
open challenges are silently lost. Here a re-run is a new draft cycle; carrying
over compares each open request (pending or accepted) of the cycle in feedback
with the re-run:

``carried``      the customer is in the re-run, on the same territory, with the
                 value the request started from: the request moves to the new
                 cycle with its status, decision and history (``carried_from``);
``not needed``   the re-run already gives the value the request asked for;
``conflict``     the customer is gone, moved to another territory, or the re-run
                 changed the value the request started from; or a call goal no
                 longer fits its territory's capacity in the re-run (fewer reps,
                 more calls planned): carried goals count in their order, as a
                 batch's do.

In the old cycle a carried request becomes ``carried`` and the others
``expired``, each with a message saying why (the rep is shown it): none is
dropped. The report is the same
whether it is applied or only looked at (``dry_run``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence

import attrs

from harmonia.compute import duckdb_connection
from harmonia.refinement.policy import CallCapacity, fits_sql, load_capacities, walked_goals_sql
from harmonia.refinement.requests import stored_time
from harmonia.refinement.snapshot import goal_sql, planned_calls_sql, target_sql
from harmonia.sql import literal
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import Database

#: How each request of the old cycle fares in the re-run (DuckDB, over ``requests``
#: and ``rerun``: customer_id, territory, segment, needs, tier).
OUTCOMES_SQL = """
WITH valued AS (
    SELECT r.*, n.customer_id AS rerun_customer, n.territory AS rerun_territory,
        CASE r.action WHEN 'segment' THEN n.segment WHEN 'needs' THEN n.needs
            WHEN 'tier' THEN n.tier WHEN 'target' THEN n.target
            WHEN 'goal' THEN CAST(n.goal AS VARCHAR)
            WHEN 'add' THEN n.territory WHEN 'keep' THEN n.territory END AS rerun_value
    FROM requests r LEFT JOIN rerun n ON n.customer_id = r.customer_id
)
SELECT * EXCLUDE (rerun_customer),
    CASE
        WHEN rerun_customer IS NULL THEN 'conflict'
        -- An account request's territory is where it goes, not where the customer is.
        WHEN action NOT IN ('add', 'keep') AND rerun_territory IS DISTINCT FROM territory
            THEN 'conflict'
        WHEN rerun_value IS NOT DISTINCT FROM old_value THEN 'carried'
        WHEN rerun_value IS NOT DISTINCT FROM new_value THEN 'not needed'
        ELSE 'conflict' END AS outcome
FROM valued
ORDER BY id
"""


@attrs.frozen
class CarryOver:
    """What a re-run does to the open requests of a cycle in feedback."""

    old_cycle: int
    new_cycle: int
    #: One dict per open request: its fields, ``rerun_value``, ``outcome``, ``why``.
    requests: list[dict]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for request in self.requests:
            counts[request["outcome"]] = counts.get(request["outcome"], 0) + 1
        return counts


def _why(row: dict, new_cycle: int) -> str:
    if row["outcome"] == "carried":
        return f"carried over to cycle {new_cycle}"
    if row["rerun_territory"] is None:
        return f"the re-run (cycle {new_cycle}) no longer has this customer"
    if row["action"] not in ("add", "keep") and row["rerun_territory"] != row["territory"]:
        return (
            f"the re-run (cycle {new_cycle}) puts this customer on territory "
            f"{row['rerun_territory']}, not {row['territory']}"
        )
    if row["outcome"] == "not needed":
        return f"the re-run (cycle {new_cycle}) already gives {row['new_value']}"
    return (
        f"the re-run (cycle {new_cycle}) changed the {row['action']} from {row['old_value']} "
        f"to {row['rerun_value']}: ask again if still needed"
    )


def carry_over_report(
    database: Database,
    old_cycle: int,
    new_cycle: int,
    targeted: Sequence[str] = (),
    goals: Mapping[str, int] | None = None,
    capacity: CallCapacity | None = None,
) -> CarryOver:
    """The open requests of ``old_cycle`` and how each fares in ``new_cycle``.

    ``new_cycle``'s refinement scope must be frozen (its territories);
    ``targeted`` are the segments its plan targets, ``goals`` the calls its plan
    gives each segment, ``capacity`` the calls each territory can make (a carried
    goal must still fit).
    """
    with BulkConnection(database) as bulk:
        requests = bulk.read(
            "SELECT id, customer_id, territory, requester, action, old_value, new_value, "
            "reason, comment, status, rule, message, decided_by, decided_at, "
            "decision_comment, created_at, version FROM refinement_request "
            f"WHERE cycle_id = {int(old_cycle)} AND status IN ('pending', 'accepted')"
        )
        rerun = bulk.read(
            "SELECT s.customer_id, s.territory, a.final_segment AS segment, a.needs, a.tier, "
            f"{target_sql('a.final_segment', targeted)} AS target, "
            f"{goal_sql('a.final_segment', goals or {})} AS goal "
            "FROM refinement_scope s JOIN assignment a ON a.cycle_id = s.cycle_id AND "
            f"a.customer_id = s.customer_id WHERE s.cycle_id = {int(new_cycle)} AND "
            "s.customer_id IN (SELECT customer_id FROM refinement_request "
            f"WHERE cycle_id = {int(old_cycle)} AND status IN ('pending', 'accepted'))"
        )
    duck = duckdb_connection()
    try:
        duck.register("requests_raw", requests)
        duck.register("rerun_raw", rerun)
        text = "VARCHAR"
        duck.execute(
            "CREATE TEMP TABLE rerun AS SELECT CAST(customer_id AS BIGINT) AS customer_id, "
            f"CAST(territory AS {text}) AS territory, CAST(segment AS {text}) AS segment, "
            f"CAST(needs AS {text}) AS needs, CAST(tier AS {text}) AS tier, "
            f"CAST(target AS {text}) AS target, CAST(goal AS BIGINT) AS goal FROM rerun_raw"
        )
        duck.execute(
            "CREATE TEMP TABLE requests AS SELECT CAST(id AS BIGINT) AS id, "
            "CAST(customer_id AS BIGINT) AS customer_id, "
            + ", ".join(
                f"CAST({c} AS {text}) AS {c}"
                for c in (
                    "territory",
                    "requester",
                    "action",
                    "old_value",
                    "new_value",
                    "reason",
                    "comment",
                    "status",
                    "rule",
                    "message",
                    "decided_by",
                    "decision_comment",
                )
            )
            + ", decided_at, created_at, CAST(version AS BIGINT) AS version FROM requests_raw"
        )
        rows = duck.sql(OUTCOMES_SQL).to_arrow_table().to_pylist()
    finally:
        duck.close()
    for row in rows:
        row["why"] = _why(row, new_cycle)
    if capacity is not None:
        _cap_goals(database, rows, new_cycle, targeted, goals or {}, capacity)
    return CarryOver(old_cycle, new_cycle, rows)


def _cap_goals(
    database: Database,
    rows: list[dict],
    new_cycle: int,
    targeted: Sequence[str],
    goals: Mapping[str, int],
    capacity: CallCapacity,
) -> None:
    """Carried goals that no longer fit their territory's capacity in the re-run become
    conflicts: each territory's calls planned in the re-run (its open requests in),
    then the carried goals one by one in order, a lower one making room, walked in
    DuckDB as a batch's goals are (:func:`~harmonia.refinement.policy.walked_goals_sql`)."""
    import pyarrow as pa

    carried = [r for r in rows if r["outcome"] == "carried" and r["action"] == "goal"]
    if not carried:
        return
    territories = sorted({str(r["territory"]) for r in carried})
    with BulkConnection(database, write=False) as bulk:
        planned = bulk.read(planned_calls_sql(new_cycle, goals, territories, targeted))
    duck = duckdb_connection()
    try:
        duck.register(
            "carried_goals",
            pa.table(
                {
                    "_row": pa.array([r["id"] for r in carried], pa.int64()),
                    "territory": pa.array([str(r["territory"]) for r in carried], pa.string()),
                    "added": pa.array(
                        [int(r["new_value"]) - int(r["old_value"]) for r in carried], pa.int64()
                    ),
                }
            ),
        )
        duck.register("planned_raw", planned)
        duck.execute(
            "CREATE TEMP TABLE planned AS SELECT CAST(territory AS VARCHAR) AS territory, "
            "CAST(calls AS BIGINT) AS calls FROM planned_raw"
        )
        load_capacities(duck, capacity)
        walk = walked_goals_sql(
            "SELECT c._row, c.territory, c.added, COALESCE(p.calls, 0) AS planned "
            "FROM carried_goals c LEFT JOIN planned p ON p.territory = c.territory"
        )
        over = (
            duck.sql(
                f"WITH RECURSIVE {walk} SELECT _row, territory, before + added AS calls, "
                f"capacity, reps FROM walked WHERE NOT {fits_sql('walked')}"
            )
            .to_arrow_table()
            .to_pylist()
        )
    finally:
        duck.close()
    by_id = {row["id"]: row for row in carried}
    for goal in over:
        row = by_id[goal["_row"]]
        row["outcome"] = "conflict"
        row["why"] = (
            f"in the re-run (cycle {new_cycle}) calls planned for territory {goal['territory']} "
            f"would be {goal['calls']:,} against a capacity of {goal['capacity']:,} "
            f"({goal['reps']:g} rep(s) x {capacity.basis}): ask again if still needed"
        )


class Changed(Exception):
    """Requests of the report were decided (or changed) after it was made."""


def apply_carry_over(database: Database, report: CarryOver, *, actor: str) -> None:
    """Move the carried requests to the new cycle and expire the others with their reason.

    One transaction, set-based, holding the requests' write lock; each request
    changes only if it is still as the report saw it (status and version). If a
    manager decided one meanwhile, nothing is applied and :class:`Changed` is
    raised: the caller makes the report again.
    """
    import pyarrow as pa

    if not report.requests:
        return
    now = dt.datetime.now(dt.UTC)
    seen = pa.table(
        {
            "id": pa.array([row["id"] for row in report.requests], pa.int64()),
            "seen_status": pa.array([row["status"] for row in report.requests], pa.string()),
            "seen_version": pa.array([row["version"] for row in report.requests], pa.int64()),
            "carried": pa.array([row["outcome"] == "carried" for row in report.requests]),
            "why": pa.array([row["why"] for row in report.requests], pa.string()),
        }
    )
    left = [row for row in report.requests if row["outcome"] != "carried"]
    columns = (
        "customer_id, territory, requester, action, old_value, new_value, reason, comment, "
        "status, rule, message, decided_by, decided_at, decision_comment, created_at"
    )
    with BulkConnection(database) as bulk:
        bulk.lock("refinement_request")
        stage = bulk.stage(seen, "carried")
        # The UPDATE below looks each request up in the stage: one index probe per
        # request, not a scan of the stage per request.
        schema = "temp." if bulk.dialect == "sqlite" else ""
        bulk.execute(f"CREATE UNIQUE INDEX {schema}{stage}_id ON {stage} (id)")
        still = (
            f"FROM refinement_request r JOIN {stage} s ON s.id = r.id "
            "AND s.seen_status = r.status AND s.seen_version = r.version"
        )
        unchanged = int(bulk.scalar(f"SELECT COUNT(*) {still}"))
        if unchanged != seen.num_rows:
            raise Changed(f"{seen.num_rows - unchanged} request(s) changed meanwhile")
        # The carried requests move with their status, decision and history.
        bulk.execute(
            f"INSERT INTO refinement_request (cycle_id, {columns}, carried_from, version) "
            f"SELECT {int(report.new_cycle)}, "
            + ", ".join(f"r.{c.strip()}" for c in columns.split(","))
            + f", r.id, 1 {still} WHERE s.carried ORDER BY r.id"
        )
        # The old cycle keeps each request with what became of it.
        bulk.execute(
            f"""
            UPDATE refinement_request SET
                status = CASE WHEN (SELECT s.carried FROM {stage} s
                    WHERE s.id = refinement_request.id) THEN 'carried' ELSE 'expired' END,
                rule = 're-run',
                message = (SELECT s.why FROM {stage} s WHERE s.id = refinement_request.id),
                decided_by = {literal(actor)}, decided_at = {stored_time(bulk.dialect, now)},
                version = version + 1
            WHERE id IN (SELECT id FROM {stage})
            """
        )
        details = {
            "to": report.new_cycle,
            **report.counts(),
            "not carried": [{"id": row["id"], "why": row["why"]} for row in left],
        }
        bulk.execute(
            "INSERT INTO audit_event (at, actor, action, subject, details) VALUES "
            f"({stored_time(bulk.dialect, now)}, {literal(actor)}, 'refinement.carry-over', "
            f"{literal(f'cycle:{report.old_cycle}')}, {literal(json.dumps(details))})"
        )
