"""What reps refine, frozen when feedback opens; what publishing applies.

Opening feedback copies each of the cycle's customers with its territory (from
the alignment of the cycle's period, else the customer's own territory) into
``refinement_scope``: later loads and re-runs change neither the cycle's
assignments (a re-run is a new cycle) nor whose customer is whose. Both steps
are single SQL statements in the store, whatever the size of the universe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow as pa

from harmonia.periods import Period
from harmonia.sql import quote, text_list
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import Database
from harmonia.store.models import Cycle

#: The assignment column each refinable dimension changes.
DIMENSION_COLUMNS = {
    "segment": "final_segment",
    "needs": "needs",
    "tier": "tier",
    "target": "refined_target",
    "goal": "refined_goal",
}

#: The assignment column an accepted account request (add or keep) sets: the
#: territory the customer goes to.
ACCOUNT_COLUMNS = {"add": "refined_territory", "keep": "refined_territory"}

#: A target request's values: on the target list, or not.
TARGET_VALUES = ("yes", "no")


def target_sql(segment: str, targeted: Sequence[str]) -> str:
    """SQL: ``yes`` when the segment ``segment`` (an expression) is a targeted one."""
    return f"CASE WHEN {segment} IN ({text_list(targeted)}) THEN 'yes' ELSE 'no' END"


def goal_sql(segment: str, goals: Mapping[str, int]) -> str:
    """SQL: the face-to-face calls the plan gives the segment ``segment`` (an expression)
    in the cycle's period (``goals``: segment -> calls; 0 for a segment not listed)."""
    cases = " ".join(f"WHEN {quote(name)} THEN {int(calls)}" for name, calls in goals.items())
    return f"CAST(CASE {segment} {cases} ELSE 0 END AS BIGINT)" if cases else "CAST(0 AS BIGINT)"


def planned_calls_sql(cycle_id: int, goals: Mapping[str, int], territories: Sequence[str]) -> str:
    """SQL over the store: ``territory, calls``, the face-to-face calls planned for
    each of ``territories`` in the cycle: every customer's plan (``goals``: segment
    -> calls), an open (pending or accepted) goal request taking its customer's place."""
    return f"""
        SELECT s.territory, SUM(COALESCE(CAST(o.new_value AS INTEGER),
            {goal_sql("a.final_segment", goals)})) AS calls
        FROM refinement_scope s
        JOIN assignment a ON a.cycle_id = s.cycle_id AND a.customer_id = s.customer_id
        LEFT JOIN refinement_request o ON o.cycle_id = s.cycle_id
            AND o.customer_id = s.customer_id AND o.action = 'goal'
            AND o.status IN ('pending', 'accepted')
        WHERE s.cycle_id = {int(cycle_id)} AND s.territory IN ({text_list(territories)})
        GROUP BY s.territory
    """


def freeze_scope(database: Database, cycle: Cycle) -> int:
    """Record each customer's territory for the cycle; returns how many have none.

    A customer's territory is the one the alignment gives for the latest
    period that overlaps the cycle's, else the territory its customer record
    carries.
    """
    period = Period.parse(cycle.period)
    cycle_id = int(cycle.id or 0)
    with BulkConnection(database) as bulk:
        bulk.execute(f"DELETE FROM refinement_scope WHERE cycle_id = {cycle_id}")
        bulk.execute(
            f"""
            INSERT INTO refinement_scope (cycle_id, customer_id, territory)
            SELECT a.cycle_id, a.customer_id, COALESCE(al.territory, c.territory, '')
            FROM assignment a
            JOIN customer c ON c.id = a.customer_id
            LEFT JOIN (
                SELECT customer_id, territory, ROW_NUMBER() OVER (
                    PARTITION BY customer_id ORDER BY first_month DESC, period) AS rn
                FROM alignment
                WHERE first_month <= {period.last_month} AND last_month >= {period.first_month}
            ) al ON al.customer_id = a.customer_id AND al.rn = 1
            WHERE a.cycle_id = {cycle_id}
            """
        )
        return int(
            bulk.scalar(
                f"SELECT COUNT(*) FROM refinement_scope WHERE cycle_id = {cycle_id} "
                "AND territory = ''"
            )
        )


def apply_accepted(database: Database, cycle_id: int) -> int:
    """Write the accepted requests into the cycle's assignments; returns how many.

    The rules' own values stay in ``segment``/``needs_rule``…; ``origin`` becomes
    ``refined`` for a changed segment, and ``refined_by`` names the request
    behind each changed dimension (``{"segment": 12, "tier": 15}``).
    """
    import pyarrow.compute as pc

    cycle_id = int(cycle_id)
    with BulkConnection(database) as bulk:
        accepted = bulk.read(
            "SELECT id, customer_id, action, new_value FROM refinement_request "
            f"WHERE cycle_id = {cycle_id} AND status = 'accepted'"
        )
        applied = 0
        if not accepted.num_rows:  # (an empty read from SQLite has no column types)
            return 0
        for action, column in {**DIMENSION_COLUMNS, **ACCOUNT_COLUMNS}.items():
            rows = accepted.filter(pc.equal(accepted.column("action"), action))
            if not rows.num_rows:
                continue
            applied += rows.num_rows
            # An indexed table of the changes: one lookup per changed customer,
            # not a scan of the requests per assignment.
            stage = bulk.stage(rows.select(["customer_id", "new_value"]), "refined")
            schema = "temp." if bulk.dialect == "sqlite" else ""
            bulk.execute(f"CREATE INDEX {schema}{stage}_customer ON {stage} (customer_id)")
            origin = ", origin = 'refined'" if action == "segment" else ""
            # A goal is a number of calls (the request keeps it as text, like every value).
            value = "CAST(s.new_value AS INTEGER)" if action == "goal" else "s.new_value"
            bulk.execute(
                f"""
                UPDATE assignment SET {column} = (
                    SELECT {value} FROM {stage} s WHERE s.customer_id = assignment.customer_id
                ){origin}
                WHERE cycle_id = {cycle_id} AND customer_id IN (SELECT customer_id FROM {stage})
                """
            )
        _record_requests(bulk, cycle_id, accepted)
        return applied


def _record_requests(bulk: BulkConnection, cycle_id: int, accepted: pa.Table) -> None:
    """``refined_by`` of each changed assignment: its dimensions' requests, as JSON."""
    from harmonia.compute import duckdb_connection

    duck = duckdb_connection()
    try:
        duck.register("accepted", accepted)
        by_customer = duck.sql(
            """
            SELECT CAST(customer_id AS BIGINT) AS customer_id,
                '{' || string_agg('"' || action || '": ' || CAST(id AS VARCHAR), ', '
                    ORDER BY action) || '}' AS refined_by
            FROM accepted GROUP BY customer_id
            """
        ).to_arrow_table()
    finally:
        duck.close()
    stage = bulk.stage(by_customer, "refined_by")
    schema = "temp." if bulk.dialect == "sqlite" else ""
    bulk.execute(f"CREATE INDEX {schema}{stage}_customer ON {stage} (customer_id)")
    bulk.execute(
        f"""
        UPDATE assignment SET refined_by = (
            SELECT s.refined_by FROM {stage} s WHERE s.customer_id = assignment.customer_id
        )
        WHERE cycle_id = {cycle_id} AND customer_id IN (SELECT customer_id FROM {stage})
        """
    )


def proposal(
    database: Database,
    cycle: Cycle,
    territory: str | None,
    system: str | None,
    targeted: Sequence[str] = (),
    goals: Mapping[str, int] | None = None,
):
    """The cycle's frozen proposal as Arrow (see ``app.refinement.proposal``).

    One query in the store: accepted requests are applied on the way, so a
    workbook written twice shows what was already decided.
    """
    from harmonia.sql import literal

    cycle_id = int(cycle.id or 0)
    where = f"AND s.territory = {literal(territory)}" if territory else ""
    systems = f"WHERE system = {literal(system)}" if system else ""
    accepted = ", ".join(
        f"MAX(CASE WHEN action = '{action}' THEN new_value END) AS {action}"
        for action in DIMENSION_COLUMNS
    )
    with BulkConnection(database) as bulk:
        return bulk.read(
            f"""
            SELECT s.territory, s.customer_id AS harmonia_id, x.system, x.source_id,
                c.type, c.first_name, c.last_name, c.specialty, c.city,
                COALESCE(r.segment, a.final_segment) AS segment,
                COALESCE(r.needs, a.needs) AS needs, COALESCE(r.tier, a.tier) AS tier,
                COALESCE(r.target, a.refined_target,
                    {target_sql("COALESCE(r.segment, a.final_segment)", targeted)}) AS target,
                COALESCE(CAST(r.goal AS BIGINT), CAST(a.refined_goal AS BIGINT),
                    {goal_sql("COALESCE(r.segment, a.final_segment)", goals or {})}) AS goal
            FROM refinement_scope s
            JOIN assignment a ON a.cycle_id = s.cycle_id AND a.customer_id = s.customer_id
            JOIN customer c ON c.id = s.customer_id
            LEFT JOIN (
                SELECT customer_id, system, source_id, ROW_NUMBER() OVER (
                    PARTITION BY customer_id ORDER BY system, source_id) AS rn
                FROM crosswalk {systems}
            ) x ON x.customer_id = s.customer_id AND x.rn = 1
            LEFT JOIN (
                SELECT customer_id, {accepted} FROM refinement_request
                WHERE cycle_id = {cycle_id} AND status = 'accepted' GROUP BY customer_id
            ) r ON r.customer_id = s.customer_id
            WHERE s.cycle_id = {cycle_id} {where}
            ORDER BY s.territory, c.last_name, c.first_name, s.customer_id
            """
        )
