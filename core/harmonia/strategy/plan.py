"""Call plans within capacity: integer contacts per customer and channel.

For the cycles of one market and period (one per therapy area), every
customer's plan in every area is a *unit* per channel. Channels with a
response curve get contacts between their strategy's minimum and maximum by
greedy marginal profit (:mod:`harmonia.strategy.allocate`); channels without
one keep the fixed plan a cycle makes (the same numbers as the cycle's target
list). Face-to-face calls and event seats draw on each territory's capacity,
shared by every therapy area (one customer in two areas is two plans on one
rep's time); other channels draw on their budget where one is given.

The objective is profit: gross margin on the revenue the curves expect, less
the cost of the contacts. A customer's curve is scaled by their weight (their
potential relative to their segment's average).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harmonia.definitions.strategy import CHANNELS, FIELD_CHANNELS, ChannelPlan, EngagementStrategy
from harmonia.engine.query import CycleQuery, in_period, period_position
from harmonia.engine.spec import CycleSpec
from harmonia.errors import ConfigError
from harmonia.sql import literal
from harmonia.strategy.allocate import Steps, allocate
from harmonia.strategy.capacity import Capacity, territory_capacity
from harmonia.strategy.curves import gains, revenue
from harmonia.strategy.universe import PlannedCycle

METHOD = (
    "greedy marginal allocation: minimums first, then every further contact ranked by its "
    "marginal profit within its territory (calls, event seats) or budget, cut at capacity; "
    "exact for concave response curves"
)


@attrs.frozen
class CallPlan:
    """A plan: goals per customer, and what it asks of each territory and budget.

    Money is in cents (integers), so every sum adds up exactly.
    """

    #: One row per customer and therapy area: segment, strategy, contacts per
    #: channel, cost, revenue and gross margin (cents).
    goals: pa.Table
    #: One row per territory: reps, capacity, planned, wanted and unmet calls
    #: and event seats, minimum calls that did not fit, fixed field cost.
    territories: pa.Table
    #: One row per budget-limited channel: budget, used, wanted (cents).
    budgets: pa.Table
    channels: tuple[str, ...]
    #: Messages about territories that cannot hold their minimum plans.
    shortfalls: tuple[str, ...] = ()
    method: str = METHOD


@attrs.frozen
class _Economics:
    """The market's parameters a plan uses (country profile, within the catalogue)."""

    share: float
    position: tuple[int, int]
    margin: float
    response_scale: float
    frequency_scale: float
    min_calls: int
    rep_cost: float
    working_days: float
    calls_per_day: float
    seats: float

    @classmethod
    def of(cls, spec: CycleSpec, response_scale: float | None = None) -> _Economics:
        return cls(
            share=spec.period.months / 12,
            position=period_position(spec.period),
            margin=spec.parameter("gross_margin"),
            response_scale=response_scale
            if response_scale is not None
            else spec.parameter("response_scale"),
            frequency_scale=spec.parameter("frequency_scale"),
            min_calls=int(spec.parameter("min_calls")),
            rep_cost=spec.parameter("rep_cost"),
            working_days=spec.parameter("working_days"),
            calls_per_day=spec.parameter("calls_per_day"),
            seats=spec.parameter("event_seats_per_rep"),
        )


@attrs.frozen
class _Group:
    """One segment of one therapy area: what its strategy plans on each channel."""

    therapy_area: str
    segment: str
    rank: int
    strategy: EngagementStrategy
    fixed: dict[str, int]

    def channel(self, name: str) -> ChannelPlan | None:
        if not self.strategy.target:
            return None
        return next((p for p in self.strategy.channels if p.channel == name), None)

    @property
    def curved(self) -> bool:
        return any(p.response is not None for p in self.strategy.channels if self.strategy.target)


def make_plan(
    connection: Any,
    cycles: Sequence[PlannedCycle],
    capacity: Capacity,
    *,
    response_scale: float | None = None,
) -> CallPlan:
    """Plan the cycles' customers (``plan_units`` in ``connection``) within ``capacity``."""
    economics = _Economics.of(cycles[0].spec, response_scale)
    groups = _groups(cycles)
    _check_strategies(connection, cycles, groups)
    territories = [
        row[0]
        for row in connection.sql(
            "SELECT DISTINCT territory FROM plan_units ORDER BY territory"
        ).fetchall()
    ]
    units = _units(connection, groups, territories)
    reps = capacity.field_force.of(np.array(territories, dtype=object))
    limits = territory_capacity(
        reps,
        share=economics.share,
        working_days=economics.working_days,
        calls_per_day=economics.calls_per_day,
        seats=economics.seats,
    )
    channels = tuple(c for c in CHANNELS if any(g.channel(c) is not None for g in groups))
    contacts: dict[str, np.ndarray] = {}
    usage: dict[str, Any] = {}
    for channel in channels:
        contacts[channel], usage[channel] = _allocate_channel(
            channel, groups, units, limits, capacity, economics
        )
    goals = _goals(groups, units, contacts, economics, territories)
    territory_table = _territories(territories, reps, limits, usage, economics)
    budgets = _budgets(capacity, usage)
    return CallPlan(goals, territory_table, budgets, channels, _shortfalls(territory_table))


def _groups(cycles: Sequence[PlannedCycle]) -> list[_Group]:
    groups = []
    for cycle in cycles:
        spec = cycle.spec
        fixed = {row["segment"]: row for row in CycleQuery(spec, 0).plan_rows()}
        for rank, segment in enumerate(spec.rule_set.segment.outcomes, start=1):
            strategy = spec.strategies[segment]
            plan = {c: int(fixed[segment].get(c, 0)) for c in CHANNELS if c in fixed[segment]}
            groups.append(_Group(spec.therapy_area, segment, rank, strategy, plan))
    return groups


def _check_strategies(
    connection: Any, cycles: Sequence[PlannedCycle], groups: list[_Group]
) -> None:
    """Every assigned segment has a strategy (a cycle's snapshot always should)."""
    known = {(g.therapy_area, g.segment) for g in groups}
    found = connection.sql("SELECT DISTINCT therapy_area, segment FROM plan_units").fetchall()
    missing = sorted(set(found) - known)
    if missing:
        area, segment = missing[0]
        cycle = next(c for c in cycles if c.spec.therapy_area == area)
        raise ConfigError(
            f"segment {segment!r} of {area} has customers in cycle {cycle.id} but no "
            f"{cycle.spec.variant!r} engagement strategy",
            where=f"cycle {cycle.id}, rule set {cycle.spec.rule_set.name}",
            fix=f"add a strategy for segment {segment!r} to the {area} pack (variant "
            f"{cycle.spec.variant!r}) and run the cycle again",
        )


@attrs.frozen
class _Units:
    cycle_id: np.ndarray
    customer_id: np.ndarray
    group: np.ndarray
    territory: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return len(self.group)


def _units(connection: Any, groups: list[_Group], territories: list[str]) -> _Units:
    codes = " UNION ALL ".join(
        f"SELECT {literal(g.therapy_area)} AS therapy_area, {literal(g.segment)} AS segment, "
        f"{index} AS code"
        for index, g in enumerate(groups)
    )
    arrays = connection.sql(
        f"""
        WITH codes AS ({codes}),
        places AS (SELECT territory, CAST(ROW_NUMBER() OVER (ORDER BY territory) - 1 AS BIGINT)
            AS place FROM (SELECT DISTINCT territory FROM plan_units))
        SELECT u.cycle_id, u.customer_id, c.code, p.place, u.weight
        FROM plan_units u JOIN codes c USING (therapy_area, segment) JOIN places p USING (territory)
        ORDER BY u.therapy_area, u.customer_id
        """
    ).fetchnumpy()
    return _Units(
        np.asarray(arrays["cycle_id"], dtype=np.int64),
        np.asarray(arrays["customer_id"], dtype=np.int64),
        np.asarray(arrays["code"], dtype=np.int64),
        np.asarray(arrays["place"], dtype=np.int64),
        np.asarray(arrays["weight"], dtype=float),
    )


def _steps(group: _Group, plan: ChannelPlan, economics: _Economics) -> Steps:
    if plan.response is None:
        fixed = group.fixed.get(plan.channel, 0)
        return Steps(fixed, fixed)
    k, n = economics.position
    low = in_period(plan.low * economics.frequency_scale, k, n)
    high = in_period(plan.high * economics.frequency_scale, k, n)
    if plan.channel == "face_to_face" and plan.per_year > 0:
        low = max(low, economics.min_calls)
    high = max(high, low)
    earned = gains(plan.response, low, high, economics.share, economics.response_scale)
    return Steps(low, high, economics.margin * earned)


def _allocate_channel(
    channel: str,
    groups: list[_Group],
    units: _Units,
    limits: dict[str, np.ndarray],
    capacity: Capacity,
    economics: _Economics,
) -> tuple[np.ndarray, Any]:
    steps: list[Steps] = []
    step_of = np.full(len(groups), -1)
    cost_of = np.zeros(len(groups))
    for index, group in enumerate(groups):
        plan = group.channel(channel)
        if plan is not None:
            step_of[index] = len(steps)
            cost_of[index] = plan.cost
            steps.append(_steps(group, plan, economics))
    members = np.flatnonzero(step_of[units.group] >= 0)
    unit_steps = step_of[units.group[members]]
    cost = cost_of[units.group[members]]
    budget = capacity.budgets.get(channel)
    if channel in FIELD_CHANNELS:
        pool, pool_capacity, size = units.territory[members], limits[channel], None
    else:
        pool = np.zeros(len(members), dtype=np.int64)
        pool_capacity = np.array([np.inf if budget is None else budget])
        size = cost if budget is not None else None
        if budget is not None:
            _check_budget(channel, budget, steps, unit_steps, cost)
    result = allocate(
        steps=steps,
        unit_steps=unit_steps,
        weight=units.weight[members],
        cost=cost,
        pool=pool,
        capacity=pool_capacity,
        size=size,
        priority=np.array([g.rank for g in groups])[units.group[members]],
    )
    contacts = np.zeros(len(units), dtype=np.int64)
    contacts[members] = result.contacts
    return contacts, result


def _check_budget(
    channel: str, budget: float, steps: list[Steps], unit_steps: np.ndarray, cost: np.ndarray
) -> None:
    lows = np.array([s.low for s in steps], dtype=float)[unit_steps]
    minimum = float(np.sum(lows * cost))
    if minimum > budget + 1e-9:
        raise ConfigError(
            f"the {channel} budget {budget:,.2f} is below what the minimum plans cost: "
            f"{int(lows.sum()):,} contacts for {minimum:,.2f}",
            where=f"--budget {channel}",
            fix=f"raise the budget to at least {minimum:,.2f}, or lower the strategies' "
            f"min_per_year on {channel}",
        )


def _goals(
    groups: list[_Group],
    units: _Units,
    contacts: dict[str, np.ndarray],
    economics: _Economics,
    territories: list[str],
) -> pa.Table:
    earned = np.zeros(len(units))
    spent = np.zeros(len(units))
    for index, group in enumerate(groups):
        rows = np.flatnonzero(units.group == index)
        if not len(rows):
            continue
        weight = units.weight[rows]
        if not group.curved:
            earned[rows] = weight * group.strategy.expected_revenue * economics.share
        for plan in group.strategy.channels if group.strategy.target else ():
            x = contacts[plan.channel][rows]
            spent[rows] += x * plan.cost
            if plan.response is not None:
                earned[rows] += weight * revenue(
                    plan.response, x, economics.share, economics.response_scale
                )
    revenue_cents = np.round(earned * 100).astype(np.int64)
    columns: dict[str, Any] = {
        "cycle_id": units.cycle_id,
        "therapy_area": _labels(units.group, [g.therapy_area for g in groups]),
        "customer_id": units.customer_id,
        "territory": _labels(units.territory, territories),
        "segment": _labels(units.group, [g.segment for g in groups]),
        "segment_rank": np.array([g.rank for g in groups], dtype=np.int64)[units.group],
        "strategy": _labels(units.group, [g.strategy.name for g in groups]),
        "weight": units.weight,
        **contacts,
        "contacts": sum(contacts.values(), np.zeros(len(units), dtype=np.int64)),
        "cost": np.round(spent * 100).astype(np.int64),
        "revenue": revenue_cents,
        "gross_margin": np.round(revenue_cents * economics.margin).astype(np.int64),
    }
    return pa.table(columns)


def _labels(codes: np.ndarray, names: list[str]) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(names))


def _territories(
    territories: list[str],
    reps: np.ndarray,
    limits: dict[str, np.ndarray],
    usage: dict[str, Any],
    economics: _Economics,
) -> pa.Table:
    def column(channel: str, field: str) -> np.ndarray:
        if channel not in usage:
            return np.zeros(len(territories), dtype=np.int64)
        return np.round(getattr(usage[channel], field)).astype(np.int64)

    calls_demand = column("face_to_face", "demand")
    calls_used = column("face_to_face", "used")
    seats_demand = column("event", "demand")
    seats_used = column("event", "used")
    return pa.table(
        {
            "territory": territories,
            "reps": reps,
            "calls_capacity": limits["face_to_face"].astype(np.int64),
            "calls_planned": calls_used,
            "calls_wanted": calls_demand,
            "calls_unmet": np.maximum(calls_demand - calls_used, 0),
            "minimum_calls_short": column("face_to_face", "short_minimum"),
            "seats_capacity": limits["event"].astype(np.int64),
            "seats_planned": seats_used,
            "seats_unmet": np.maximum(seats_demand - seats_used, 0),
            "minimum_seats_short": column("event", "short_minimum"),
            "fixed_cost": np.round(reps * economics.rep_cost * economics.share * 100).astype(
                np.int64
            ),
        }
    )


def _budgets(capacity: Capacity, usage: dict[str, Any]) -> pa.Table:
    rows = [
        {
            "channel": channel,
            "budget": round(amount * 100),
            "used": round(float(usage[channel].used[0]) * 100) if channel in usage else 0,
            "wanted": round(float(usage[channel].demand[0]) * 100) if channel in usage else 0,
        }
        for channel, amount in capacity.budgets.items()
    ]
    schema = pa.schema(
        [
            ("channel", pa.string()),
            ("budget", pa.int64()),
            ("used", pa.int64()),
            ("wanted", pa.int64()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _shortfalls(territories: pa.Table) -> tuple[str, ...]:
    """One message per territory whose reps cannot deliver the minimum plans."""
    short = territories.filter(
        pc.or_(
            pc.greater(territories["minimum_calls_short"], 0),
            pc.greater(territories["minimum_seats_short"], 0),
        )
    )
    messages = []
    for row in short.to_pylist():
        missing = " and ".join(
            f"{row[column]:,} minimum {what}"
            for column, what in (
                ("minimum_calls_short", "face-to-face calls"),
                ("minimum_seats_short", "event seats"),
            )
            if row[column] > 0
        )
        if row["reps"] <= 0:
            messages.append(
                f"territory {row['territory']} has no reps: {missing} are not planned (place "
                "a rep on it in the roster or the capacity file, or align its customers to "
                "another territory)"
            )
        else:
            messages.append(
                f"territory {row['territory']}: {row['reps']:g} reps cannot deliver {missing} "
                "of the plans (add reps, raise event_seats_per_rep, or plan fewer contacts in the "
                "strategies)"
            )
    return tuple(messages)
