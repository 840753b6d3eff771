"""What reps refine, frozen when feedback opens; what publishing applies.

Opening feedback copies each of the cycle's customers with its territory (from
the alignment of the cycle's period, else the customer's own territory) into
``refinement_scope``: later loads and re-runs change neither the cycle's
assignments (a re-run is a new cycle) nor whose customer is whose. Both steps
are single SQL statements in the store, whatever the size of the universe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from harmonia.compute import duckdb_connection
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


#: Requests whose values count as the customer's while the round is open.
OPEN = ("pending", "accepted")


def customer_values_sql(
    cycle_id: int,
    targeted: Sequence[str] = (),
    goals: Mapping[str, int] | None = None,
    *,
    statuses: Sequence[str] = OPEN,
    customers: str = "",
) -> str:
    """SQL over the store: the cycle's customers with their values as refinement has
    them so far, one row each: ``customer_id``, ``territory``, ``segment``,
    ``needs``, ``tier``, ``target`` and ``goal``.

    Each dimension is the customer's request of ``statuses`` for it, else what
    publishing applied, else the cycle's computed value; ``target`` and ``goal``
    follow the segment so chosen (``targeted``: the segments the plan targets,
    ``goals``: segment -> face-to-face calls). ``territory`` is an accepted account
    request's (add or keep: the account is the receiving rep's for the rest of the
    round), else the one frozen when feedback opened. The proposal, the checks of a batch and the calls
    planned per territory all read this, so a rep is checked against what they see.
    ``customers``: an SQL condition on the scope's rows ``s`` (narrows the read).
    """
    cycle_id = int(cycle_id)
    values = ", ".join(
        f"MAX(CASE WHEN action = {quote(action)} AND status IN ({text_list(statuses)}) "
        f"THEN new_value END) AS {action}"
        for action in DIMENSION_COLUMNS
    )
    accounts = text_list(list(ACCOUNT_COLUMNS))
    segment = "COALESCE(r.segment, a.final_segment)"
    return f"""
        SELECT s.customer_id, COALESCE(r.account, a.refined_territory, s.territory) AS territory,
            {segment} AS segment, COALESCE(r.needs, a.needs) AS needs,
            COALESCE(r.tier, a.tier) AS tier,
            COALESCE(r.target, a.refined_target, {target_sql(segment, targeted)}) AS target,
            COALESCE(CAST(r.goal AS BIGINT), CAST(a.refined_goal AS BIGINT),
                {goal_sql(segment, goals or {})}) AS goal
        FROM refinement_scope s
        JOIN assignment a ON a.cycle_id = s.cycle_id AND a.customer_id = s.customer_id
        LEFT JOIN (
            SELECT customer_id, {values}, MAX(CASE WHEN action IN ({accounts})
                AND status = 'accepted' THEN new_value END) AS account
            FROM refinement_request
            WHERE cycle_id = {cycle_id} AND status IN ({text_list([*OPEN, *statuses])})
            GROUP BY customer_id
        ) r ON r.customer_id = s.customer_id
        WHERE s.cycle_id = {cycle_id} {f"AND {customers}" if customers else ""}
    """


def on_territories_sql(cycle_id: int, territories: Sequence[str]) -> str:
    """SQL: a condition on the scope's rows ``s`` that holds for every customer on one
    of ``territories`` (frozen there, or brought there by an accepted account request);
    the caller keeps those whose ``territory`` is one of them."""
    return (
        f"(s.territory IN ({text_list(territories)}) OR s.customer_id IN ("
        f"SELECT customer_id FROM refinement_request WHERE cycle_id = {int(cycle_id)} "
        f"AND status = 'accepted' AND action IN ({text_list(list(ACCOUNT_COLUMNS))})))"
    )


def planned_calls_sql(
    cycle_id: int,
    goals: Mapping[str, int],
    territories: Sequence[str],
    targeted: Sequence[str] = (),
) -> str:
    """SQL over the store: ``territory, calls``, the face-to-face calls planned for
    each of ``territories`` in the cycle: each targeted customer's goal as refinement
    has it so far (:func:`customer_values_sql`, open requests in)."""
    values = customer_values_sql(
        cycle_id, targeted, goals, customers=on_territories_sql(cycle_id, territories)
    )
    return f"""
        SELECT v.territory, SUM(CASE WHEN v.target = 'yes' THEN v.goal ELSE 0 END) AS calls
        FROM ({values}) v
        WHERE v.territory IN ({text_list(territories)})
        GROUP BY v.territory
    """


def freeze_scope(database: Database, cycle: Cycle) -> int:
    """Record each customer's territory for the cycle; returns how many have none.

    A customer's territory is the one the alignment gives for the latest
    period that overlaps the cycle's, else the territory its customer record
    carries. Its ``previous`` territory (where a kept account returns) is the
    alignment's of the latest period ending before the cycle's, else its
    customer record's: frozen too, so a later load does not change what a
    ``keep`` request is checked against.
    """
    period = Period.parse(cycle.period)
    cycle_id = int(cycle.id or 0)
    with BulkConnection(database) as bulk:
        bulk.execute(f"DELETE FROM refinement_scope WHERE cycle_id = {cycle_id}")
        bulk.execute(
            f"""
            INSERT INTO refinement_scope (cycle_id, customer_id, territory, previous)
            SELECT a.cycle_id, a.customer_id, COALESCE(al.territory, c.territory, ''),
                COALESCE(p.territory, c.territory)
            FROM assignment a
            JOIN customer c ON c.id = a.customer_id
            LEFT JOIN (
                SELECT customer_id, territory, ROW_NUMBER() OVER (
                    PARTITION BY customer_id ORDER BY first_month DESC, period) AS rn
                FROM alignment
                WHERE first_month <= {period.last_month} AND last_month >= {period.first_month}
            ) al ON al.customer_id = a.customer_id AND al.rn = 1
            LEFT JOIN (
                SELECT customer_id, territory, ROW_NUMBER() OVER (
                    PARTITION BY customer_id ORDER BY last_month DESC, first_month DESC) AS rn
                FROM alignment WHERE last_month < {period.first_month}
            ) p ON p.customer_id = a.customer_id AND p.rn = 1
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


def proposal_sql(
    cycle_id: int,
    territory: str | None,
    system: str | None,
    targeted: Sequence[str] = (),
    goals: Mapping[str, int] | None = None,
) -> str:
    """SQL: the cycle's frozen proposal (see :func:`proposal`), accepted requests
    applied, sorted by territory and name."""
    from harmonia.sql import literal

    cycle_id = int(cycle_id)
    on = on_territories_sql(cycle_id, [territory]) if territory else ""
    where = f"WHERE v.territory = {literal(territory)}" if territory else ""
    systems = f"WHERE system = {literal(system)}" if system else ""
    values = customer_values_sql(cycle_id, targeted, goals, statuses=("accepted",), customers=on)
    return f"""
        SELECT v.territory, v.customer_id AS harmonia_id, x.system, x.source_id,
            c.type, c.first_name, c.last_name, c.specialty, c.city,
            v.segment, v.needs, v.tier, v.target, v.goal
        FROM ({values}) v
        JOIN customer c ON c.id = v.customer_id
        LEFT JOIN (
            SELECT customer_id, system, source_id, ROW_NUMBER() OVER (
                PARTITION BY customer_id ORDER BY system, source_id) AS rn
            FROM crosswalk {systems}
        ) x ON x.customer_id = v.customer_id AND x.rn = 1
        {where}
        ORDER BY v.territory, c.last_name, c.first_name, v.customer_id
    """


def proposal(
    database: Database,
    cycle: Cycle,
    territory: str | None,
    system: str | None,
    targeted: Sequence[str] = (),
    goals: Mapping[str, int] | None = None,
) -> pa.Table:
    """The cycle's frozen proposal as Arrow (see ``app.refinement.proposal``).

    One query (:func:`proposal_sql`): accepted requests are applied on the way,
    so a workbook written twice shows what was already decided. PostgreSQL runs
    it in the store. On SQLite the cycle's slices (its scope, assignments and
    requests, its customers' names and source ids: of ``territory`` only, when
    given) are read into DuckDB, which runs the same query: SQLite ranked the
    source ids and sorted a 1M universe by name in ~9 s of CPU, on one core.
    """
    cycle_id = int(cycle.id or 0)
    sql = proposal_sql(cycle_id, territory, system, targeted, goals)
    if database.dialect != "sqlite":
        with BulkConnection(database) as bulk:
            return bulk.read(sql)
    duck = _ordered_as_sqlite()
    try:
        with BulkConnection(database, write=False) as bulk:
            on = on_territories_sql(cycle_id, [territory]) if territory else ""
            _read_proposed(bulk, duck, cycle_id, on, system)
        return duck.sql(sql).to_arrow_table()
    finally:
        duck.close()


def _ordered_as_sqlite() -> Any:
    """A DuckDB connection that orders as SQLite does (NULL first when ascending, last
    when descending), for a query of the store run there to give the same rows."""
    duck = duckdb_connection()
    duck.execute("SET default_null_order = 'nulls_first_on_asc_last_on_desc'")
    return duck


#: What the proposal reads of the cycle's refinement requests, typed.
_REQUESTS = pa.schema(
    [
        ("cycle_id", pa.int64()),
        ("customer_id", pa.int64()),
        ("action", pa.string()),
        ("status", pa.string()),
        ("new_value", pa.string()),
    ]
)


def _read_proposed(
    bulk: BulkConnection, duck: Any, cycle_id: int, on: str, system: str | None
) -> None:
    """Into DuckDB, as the store names them: the slices :func:`proposal` reads (of the
    customers of the scope's rows ``on`` selects, when given)."""
    from harmonia.engine.backends import copy_in, input_schema, read_refined
    from harmonia.sql import literal

    read_refined(bulk, duck, cycle_id, on)
    # A territory's customers are looked up one by one; the whole cycle's are read in
    # one scan of each table (1M: lookups took 4-5 times as long), DuckDB's join keeps them.
    ours = (
        f"(SELECT s.customer_id FROM refinement_scope s WHERE s.cycle_id = {cycle_id} AND {on})"
        if on
        else ""
    )
    named = pa.schema([input_schema("customer").field(name) for name in _CUSTOMER_COLUMNS])
    customers = f" WHERE id IN {ours}" if ours else ""
    copy_in(
        duck,
        "customer",
        bulk.stream(f"SELECT {', '.join(named.names)} FROM customer{customers}"),
        named,
    )
    sources = [f"customer_id IN {ours}"] if ours else []
    sources += [f"system = {literal(system)}"] if system else []
    where = f" WHERE {' AND '.join(sources)}" if sources else ""
    copy_in(
        duck,
        "crosswalk",
        bulk.stream(
            f"SELECT system, source_id, customer_id FROM crosswalk{where}", batch_rows=500_000
        ),
    )
    requests = bulk.read(
        f"SELECT {', '.join(_REQUESTS.names)} FROM refinement_request WHERE cycle_id = {cycle_id}"
    )
    copy_in(
        duck,
        "refinement_request",
        pa.RecordBatchReader.from_batches(requests.schema, requests.to_batches()),
        _REQUESTS,
    )


#: The customer's columns the proposal shows.
_CUSTOMER_COLUMNS = ("id", "type", "first_name", "last_name", "specialty", "city")
