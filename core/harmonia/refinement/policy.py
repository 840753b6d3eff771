"""A set of refinement requests checked against the policy, in one DuckDB query.

Each request is checked, in this order, and the first check that fails
rejects it with a message naming the rule (``rule``):

``window``      the policy's window (``window_days`` from opening feedback)
``snapshot``    the customer is in the cycle's frozen snapshot
``territory``   the customer is on the requester's territory (a manager's: below them)
``dimensions``  the policy lets reps change this dimension
``value``       the new value is one of the dimension's segments, and not the current one
``moves``       ``adjacent``: a rep moves one step up or down the dimension's order
``reason``      one of the policy's reasons
``duplicate``   no other open request for the same customer and dimension
``max_share``   the share of a rep's customers with a change stays within ``max_share``
                (call goals and accounts are not counted: they change the work, not
                the customer's result)
``capacity``    a call goal keeps the calls planned for the territory within what
                its reps can make in the period (the planner's capacity model)

An account request (``add`` a customer of another territory to yours, or
``keep`` one this cycle's alignment moved away from yours) names the territory
it goes to as its new value: that territory must be the requester's, and it is
the request's territory (its manager decides).

A manager's own change is held to the window, the territory (below them), the
dimensions, the values and the reasons, not to moves or the share.

What passes is decided: a manager's own change is accepted (``own change``);
else the first auto rule whose condition holds accepts or rejects it with its
message (``auto:<name>``); else it waits for the manager (``manager``), or is
accepted when the policy needs no approval. Nothing is evaluated row by row in
Python: 20,000 requests are one query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import attrs
import duckdb
import pyarrow as pa

from harmonia.definitions import RefinementPolicy
from harmonia.errors import DefinitionError
from harmonia.rules import compile_condition, to_sql
from harmonia.rules.policy import auto_rule_problems, decided_kinds
from harmonia.sql import quote, text_list

#: Requests that change the work or whose customer it is, not the customer's
#: result: not counted in ``max_share``.
UNCOUNTED = ("goal", "add", "keep")

#: Requests that move an account to the requester's territory (one open per customer).
ACCOUNT_KINDS = ("add", "keep")

#: The columns of the requests a batch is checked from.
INCOMING = pa.schema(
    [
        ("_row", pa.int64()),
        ("customer_id", pa.int64()),
        ("requester", pa.string()),
        ("action", pa.string()),
        ("new_value", pa.string()),
        ("reason", pa.string()),
        ("comment", pa.string()),
        # Set by a front end that found the row wrong before the policy (a workbook
        # row whose customer id was changed): the request is stored, rejected so.
        ("refusal_rule", pa.string()),
        ("refusal_message", pa.string()),
    ]
)


def allowed_moves(values: Sequence[str], current: str | None, moves: str) -> list[str]:
    """The values a rep may choose from ``current``: itself and one step either side
    (``adjacent``), or every value (``any``)."""
    if moves != "adjacent" or current not in values:
        return list(values)
    at = list(values).index(current)
    return list(values[max(0, at - 1) : at + 2])


@attrs.frozen
class CallCapacity:
    """The face-to-face calls each territory's reps can make in the cycle's period.

    ``calls`` and ``reps`` are per territory (the planner's model: reps x working
    days x calls a day x share of the year); ``basis`` says how one rep's calls
    are counted, for the message a refused goal shows.
    """

    calls: Mapping[str, int]
    reps: Mapping[str, float]
    basis: str
    #: The market plans its calls within capacity when publishing (``call_plan =
    #: "capacity"``): the planner sets every goal, so none is taken by hand.
    replanned: bool = False


@attrs.frozen
class Context:
    """What checking a batch needs beyond the requests: the policy and the cycle's facts.

    ``orders`` maps each dimension to its segments, highest first (the cycle's
    rule set). ``opened_at`` is when feedback opened. The DuckDB connection
    holds the tables ``scope`` (customer_id, territory, segment, needs, tier, target:
    the requested customers in the snapshot, as the proposal shows them: accepted
    requests in, an accepted account on its new territory), ``sizes`` (territory, customers),
    ``authority`` (person, role, territory, manager: the territories each person
    may act on), ``open_requests`` (id, customer_id, action, territory,
    status: the cycle's pending and accepted requests) and ``planned``
    (territory, calls: the face-to-face calls planned per territory, every open
    request included); ``scope`` also has each customer's ``goal`` (its calls).
    Without ``capacity`` (what each territory can make) goals are not capped.
    """

    policy: RefinementPolicy
    orders: Mapping[str, Sequence[str]]
    opened_at: dt.datetime
    now: dt.datetime
    capacity: CallCapacity | None = None


def evaluate(duck: duckdb.DuckDBPyConnection, incoming: pa.Table, context: Context) -> pa.Table:
    """Each request of ``incoming`` with ``territory``, ``old_value``, ``status``,
    ``rule`` and ``message`` (the rep is shown it)."""
    problems = auto_rule_problems(context.policy)
    if problems:
        raise DefinitionError(problems, where=f"refinement policy {context.policy.name}")
    duck.register("incoming", incoming)
    duck.execute(f"CREATE OR REPLACE TEMP TABLE orders AS {_orders_sql(context.orders)}")
    load_capacities(duck, context.capacity or CallCapacity({}, {}, ""))
    checked = duck.sql(_checks_sql(context)).to_arrow_table()
    duck.unregister("incoming")
    return checked


def load_capacities(duck: duckdb.DuckDBPyConnection, capacity: CallCapacity) -> None:
    """The DuckDB table ``capacities`` (territory, calls, reps) that
    :func:`walked_goals_sql` reads."""
    territories = list(capacity.calls)
    duck.register(
        "capacity_rows",
        pa.table(
            {
                "territory": pa.array(territories, pa.string()),
                "calls": pa.array([capacity.calls[t] for t in territories], pa.int64()),
                "reps": pa.array([capacity.reps.get(t, 0.0) for t in territories], pa.float64()),
            }
        ),
    )
    duck.execute("CREATE OR REPLACE TEMP TABLE capacities AS SELECT * FROM capacity_rows")
    duck.unregister("capacity_rows")


def walked_goals_sql(goals: str) -> str:
    """DuckDB: the common table expressions (after ``WITH RECURSIVE``) ending in
    ``walked`` (territory, nth, _row, before, added, capacity, reps): the goals of the
    query ``goals`` (``_row``, ``territory``, ``added``: the calls it adds, ``planned``:
    its territory's calls planned without it) walked per territory in ``_row`` order
    against ``capacities``. A goal that fits (:func:`fits_sql`) adds its change to the
    next one's ``before`` (a lower goal makes room), one that does not adds nothing.
    A batch's checks and a carry-over's both count goals so."""
    return f"""
    numbered_goals AS (
        SELECT g._row, g.territory, g.added, g.planned, c.calls AS capacity, c.reps,
            ROW_NUMBER() OVER (PARTITION BY g.territory ORDER BY g._row) AS nth
        FROM ({goals}) g LEFT JOIN capacities c ON c.territory = g.territory
    ), walked(territory, nth, _row, before, added, capacity, reps) AS (
        -- One step per goal of the busiest territory.
        SELECT territory, nth, _row, planned, added, capacity, reps
        FROM numbered_goals WHERE nth = 1
        UNION ALL
        SELECT g.territory, g.nth, g._row,
            w.before + CASE WHEN {fits_sql("w")} THEN w.added ELSE 0 END,
            g.added, g.capacity, g.reps
        FROM walked w JOIN numbered_goals g ON g.territory = w.territory AND g.nth = w.nth + 1
    )"""


def _orders_sql(orders: Mapping[str, Sequence[str]]) -> str:
    rows = [
        f"({quote(dimension)}, {quote(value)}, {position}, {len(values)})"
        for dimension, values in orders.items()
        for position, value in enumerate(values)
    ]
    return "SELECT * FROM (VALUES " + ", ".join(rows) + ") AS o(dimension, value, position, size)"


def _checks_sql(context: Context) -> str:
    policy = context.policy
    deadline = context.opened_at + dt.timedelta(days=policy.window_days)
    closed = context.now > deadline
    allowed = ", ".join(policy.dimensions)
    share = policy.max_share
    auto = _auto_rules_sql(policy)
    accounts, uncounted = text_list(ACCOUNT_KINDS), text_list(UNCOUNTED)

    def kind(table: str) -> str:
        """A request's kind as duplicates count it: an account's add and keep are one."""
        return f"CASE WHEN {table}.action IN ({accounts}) THEN 'account' ELSE {table}.action END"

    # The goals that passed every other check, against their territory's capacity.
    walk = walked_goals_sql(
        "SELECT s._row, s.territory, s.new_goal - s.goal AS added, COALESCE(p.calls, 0) "
        "AS planned FROM shared s LEFT JOIN planned p ON p.territory = s.territory "
        "WHERE s.final_refusal IS NULL AND s.action = 'goal'"
    )
    window = (
        f"'the refinement window closed on {deadline:%Y-%m-%d %H:%M} UTC "
        f"({policy.window_days} days after feedback opened)'"
        if closed
        else "NULL"
    )
    return f"""
    WITH RECURSIVE requests AS (
        SELECT i.*, s.territory AS placed_on, s.previous,
            CASE WHEN i.action IN ({accounts}) THEN i.new_value ELSE s.territory END
                AS territory,
            s.segment, s.needs, s.tier, s.target, s.goal,
            CASE i.action WHEN 'segment' THEN s.segment WHEN 'needs' THEN s.needs
                WHEN 'tier' THEN s.tier WHEN 'target' THEN s.target
                WHEN 'goal' THEN CAST(s.goal AS VARCHAR)
                WHEN 'add' THEN s.territory WHEN 'keep' THEN s.territory END AS old_value,
            CASE WHEN i.action = 'goal' AND regexp_full_match(trim(i.new_value), '[0-9]{{1,9}}')
                THEN CAST(trim(i.new_value) AS BIGINT) END AS new_goal,
            a.role, a.person IS NOT NULL AS covered, a.manager,
            (SELECT string_agg(DISTINCT territory, ', ' ORDER BY territory) FROM authority
                WHERE person = i.requester) AS own_units
        FROM incoming i
        LEFT JOIN scope s ON s.customer_id = i.customer_id
        LEFT JOIN authority a ON a.person = i.requester AND a.territory =
            CASE WHEN i.action IN ({accounts}) THEN i.new_value ELSE s.territory END
    ), placed AS (
        SELECT r.*, old.position AS old_position, new.position AS new_position,
            old.position - new.position AS steps,
            CASE WHEN r.action = 'goal' THEN r.new_goal - r.goal END AS calls_added,
            COALESCE(new.position = 0, FALSE) AS to_top,
            (SELECT string_agg(value, ', ' ORDER BY position) FROM orders
                WHERE dimension = r.action) AS values_of
        FROM requests r
        LEFT JOIN orders old ON old.dimension = r.action AND old.value = r.old_value
        LEFT JOIN orders new ON new.dimension = r.action AND new.value = r.new_value
    ), checked AS (
        SELECT *, COALESCE(
            CASE WHEN refusal_rule IS NOT NULL THEN [refusal_rule, refusal_message] END,
            CASE WHEN {window} IS NOT NULL THEN ['policy.window', {window}] END,
            CASE WHEN placed_on IS NULL THEN ['policy.snapshot', 'customer ' || customer_id
                || ' is not in the cycle''s frozen snapshot'] END,
            CASE WHEN NOT covered AND action IN ({accounts}) THEN ['policy.territory', 'territory '
                || COALESCE(new_value, '') || ' is not yours (' || COALESCE(own_units, 'none')
                || '): an account is added to or kept on a territory of yours']
                WHEN NOT covered THEN ['policy.territory', 'customer ' || customer_id || ' is on '
                || 'territory ' || territory || ', not yours ('
                || COALESCE(own_units, 'no territory') || ')'] END,
            CASE WHEN action NOT IN ({text_list(policy.dimensions)}) THEN ['policy.dimensions',
                'the policy lets reps change {allowed}, not ' || COALESCE(action, 'nothing')] END,
            CASE WHEN action = 'goal' THEN {_goal_value_check(context.capacity)}
                WHEN action IN ({accounts}) THEN {_account_check()}
                WHEN new_position IS NULL THEN ['policy.value', '''' || COALESCE(new_value, '')
                || ''' is not a ' || action || ' (' || COALESCE(values_of, '') || ')']
                WHEN new_value = old_value THEN ['policy.value', 'customer ' || customer_id
                || ' is already ' || old_value] END,
            {_moves_check(policy)},
            {_reasons_check(policy)}
        ) AS refusal
        FROM placed
    ), deduplicated AS (
        SELECT c.*, COALESCE(c.refusal, CASE
            WHEN o.id IS NOT NULL THEN ['policy.duplicate', 'request ' || o.id || ' for the '
                || c.action || ' of customer ' || c.customer_id || ' is already ' || o.status]
            WHEN ROW_NUMBER() OVER (PARTITION BY c.customer_id, {kind("c")}, c.refusal IS NULL
                ORDER BY c._row) > 1 AND c.refusal IS NULL
                THEN ['policy.duplicate', 'the ' || c.action || ' of customer ' || c.customer_id
                || ' is asked for twice in this batch'] END) AS refusal2
        FROM checked c
        LEFT JOIN open_requests o ON o.customer_id = c.customer_id AND {kind("o")} = {kind("c")}
    ), eligible AS (
        -- The share counts customers: those asked for already, then this batch's
        -- new ones in order (a second dimension of the same customer is no new change).
        -- A call goal or an account changes the rep's work, not the customer's
        -- result: not counted.
        SELECT territory, customer_id, min(_row) AS first_row
        FROM deduplicated d
        WHERE refusal2 IS NULL AND role = 'rep' AND action NOT IN ({uncounted})
            AND customer_id NOT IN (SELECT customer_id FROM open_requests
                WHERE action NOT IN ({uncounted}))
        GROUP BY territory, customer_id
    ), ranked AS (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY territory ORDER BY first_row) AS nth
        FROM eligible
    ), already AS (
        SELECT territory, count(DISTINCT customer_id) AS n FROM open_requests
        WHERE action NOT IN ({uncounted}) GROUP BY territory
    ), shared AS (
        SELECT d.*, COALESCE(d.refusal2, CASE
            WHEN r.nth IS NOT NULL AND COALESCE(al.n, 0) + r.nth
                > CAST(floor({share} * sz.customers + 1e-9) AS BIGINT)
            THEN ['policy.max_share', 'the policy allows changes for {share:.0%} of a territory''s '
                || 'customers: ' || CAST(floor({share} * sz.customers + 1e-9) AS BIGINT)
                || ' of the ' || sz.customers || ' on ' || d.territory || ', and '
                || (COALESCE(al.n, 0) + r.nth - 1) || ' are asked for already'] END)
            AS final_refusal
        FROM deduplicated d
        LEFT JOIN ranked r ON r.customer_id = d.customer_id AND r.territory = d.territory
            AND d.refusal2 IS NULL AND d.role = 'rep'
        LEFT JOIN sizes sz ON sz.territory = d.territory
        LEFT JOIN already al ON al.territory = d.territory
    ), {walk}, capped AS (
        SELECT s.* EXCLUDE (final_refusal), COALESCE(s.final_refusal, CASE
            WHEN NOT {fits_sql("g")}
            THEN ['policy.capacity', 'calls planned for territory ' || s.territory
                || ' would be ' || format('{{:,}}', g.before + g.added)
                || ' against a capacity of ' || format('{{:,}}', g.capacity) || ' ('
                || format('{{:g}}', g.reps) || ' rep(s) x '
                || {quote(context.capacity.basis if context.capacity else "")} || ')'] END)
            AS final_refusal
        FROM shared s LEFT JOIN walked g ON g._row = s._row
    )
    SELECT _row, customer_id, requester, action, old_value, new_value, reason, comment,
        territory,
        CASE WHEN final_refusal IS NOT NULL THEN 'rejected'
             WHEN role = 'manager' THEN 'accepted'
             {auto.decisions}
             WHEN {"TRUE" if policy.requires_approval else "FALSE"} THEN 'pending'
             ELSE 'accepted' END AS status,
        CASE WHEN final_refusal IS NOT NULL THEN final_refusal[1]
             WHEN role = 'manager' THEN 'own change'
             {auto.rules}
             WHEN {"TRUE" if policy.requires_approval else "FALSE"} THEN 'manager'
             ELSE 'policy' END AS rule,
        CASE WHEN final_refusal IS NOT NULL THEN final_refusal[2]
             WHEN role = 'manager' THEN 'a manager''s own change: accepted, and kept in the audit'
             {auto.messages}
             WHEN {"TRUE" if policy.requires_approval else "FALSE"} THEN
                'waiting for the decision of ' || COALESCE(manager, 'your manager')
             ELSE 'accepted: the policy needs no approval' END AS message
    FROM capped
    ORDER BY _row
    """


def _reasons_check(policy: RefinementPolicy) -> str:
    """One of the policy's reasons: those of the request's kind where it declares them."""

    def refused(reasons: Sequence[str], kind: str) -> str:
        return (
            f"CASE WHEN reason IS NULL OR reason NOT IN ({text_list(reasons)}) THEN "
            "['policy.reason', 'reason ''' || COALESCE(reason, '') || ''' is not one of the "
            f"policy''s{quote(kind)[1:-1]}: {quote('; '.join(reasons))[1:-1]}'] END"
        )

    kinds = " ".join(
        f"WHEN action = {quote(action)} THEN {refused(reasons, f' for a {action} change')}"
        for action, reasons in policy.reasons_by_action.items()
    )
    general = refused(policy.reasons, "")
    return f"CASE {kinds} ELSE {general} END" if kinds else general


def fits_sql(goal: str) -> str:
    """SQL: the goal ``goal`` (a row of ``walked``) keeps its territory within capacity
    (a lower goal always does; a territory without a known capacity is not capped)."""
    return (
        f"({goal}.added <= 0 OR {goal}.capacity IS NULL "
        f"OR {goal}.before + {goal}.added <= {goal}.capacity)"
    )


def _account_check() -> str:
    """An account goes to a territory it is not on; a kept one was on it before this cycle."""
    return (
        "CASE WHEN new_value = placed_on THEN ['policy.value', 'customer ' || customer_id "
        "|| ' is on ' || placed_on || ' already'] "
        "WHEN action = 'keep' AND previous IS DISTINCT FROM new_value THEN ['policy.value', "
        "'customer ' || customer_id || ' was not on ' || new_value || ' before this cycle (it "
        "was on ' || COALESCE(NULLIF(previous, ''), 'no territory') || '): ask to add it "
        "instead'] END"
    )


def _goal_value_check(capacity: CallCapacity | None) -> str:
    """A call goal is a whole number of calls, for a customer on the target list, and a change."""
    if capacity is not None and capacity.replanned:
        return (
            "['policy.dimensions', 'this market plans its calls within capacity when the "
            "cycle is published (call_plan = capacity): the planner sets every goal']"
        )
    return (
        "CASE WHEN new_goal IS NULL THEN ['policy.value', 'a call goal is a "
        "whole number of calls (0 or more), not ''' || COALESCE(new_value, '') || ''''] "
        "WHEN target = 'no' THEN ['policy.value', 'customer ' || customer_id || ' is not on "
        "the target list: ask for it as a target first'] "
        "WHEN new_goal = goal THEN ['policy.value', 'customer ' || customer_id || ' already "
        "has a goal of ' || goal || ' calls'] END"
    )


def _moves_check(policy: RefinementPolicy) -> str:
    if policy.moves != "adjacent":
        return "NULL"
    return (
        "CASE WHEN role = 'rep' AND abs(steps) > 1 THEN ['policy.moves', 'a move from ' || old_value || ' to ' "
        "|| new_value || ' is ' || abs(steps) || ' steps; the policy allows one step up "
        "or down'] END"
    )


@attrs.frozen
class _AutoSql:
    decisions: str
    rules: str
    messages: str


def _auto_rules_sql(policy: RefinementPolicy) -> _AutoSql:
    decisions, rules, messages = [], [], []
    for rule in policy.auto_rules:
        # Only the kinds of request the rule describes: "one step down" is no goal's.
        kinds = decided_kinds(rule, policy)
        if not kinds:
            continue
        condition = (
            f"action IN ({text_list(kinds)}) AND ({to_sql(compile_condition(rule.when), 'duckdb')})"
        )
        outcome = "accepted" if rule.decision == "accept" else "rejected"
        decisions.append(f"WHEN {condition} THEN '{outcome}'")
        rules.append(f"WHEN {condition} THEN {quote('auto:' + rule.name)}")
        messages.append(f"WHEN {condition} THEN {quote(rule.message)}")
    return _AutoSql("\n".join(decisions), "\n".join(rules), "\n".join(messages))
