"""The allocator against a brute-force optimum, and its bookkeeping."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from harmonia.definitions.strategy import ResponseCurve
from harmonia.strategy.allocate import Steps, allocate
from harmonia.strategy.curves import gains


def _value(steps: list[Steps], unit_steps, weight, cost, contacts) -> float:
    """What the allocation earns above every unit's minimum."""
    total = 0.0
    for unit, x in enumerate(contacts):
        step = steps[unit_steps[unit]]
        extra = int(x) - step.low
        total += weight[unit] * float(np.sum(step.gains[:extra])) - cost[unit] * extra
    return total


def _brute_force(steps, unit_steps, weight, cost, pool, capacity, size) -> float:
    ranges = [range(steps[s].low, steps[s].high + 1) for s in unit_steps]
    best = -np.inf
    for contacts in itertools.product(*ranges):
        used = np.bincount(pool, weights=np.array(contacts) * size, minlength=len(capacity))
        if np.all(used <= capacity + 1e-9):
            best = max(best, _value(steps, unit_steps, weight, cost, contacts))
    return best


curve_parameters = st.tuples(
    st.floats(0.0, 2.0),  # minimum
    st.floats(0.1, 5.0),  # lift
    st.floats(0.3, 1.0),  # shape: concave
    st.floats(0.5, 8.0),  # half-saturation
    st.sampled_from(["adbudg", "exponential"]),
)


@st.composite
def problems(draw, sizes=st.just(1.0)):
    curves = draw(st.lists(curve_parameters, min_size=1, max_size=3))
    steps = []
    for minimum, lift, shape, half, family in curves:
        curve = ResponseCurve(family, minimum, minimum + lift, shape, half, 10.0)
        low = draw(st.integers(0, 2))
        high = low + draw(st.integers(0, 4))
        steps.append(Steps(low, high, gains(curve, low, high, share=0.5)))
    units = draw(st.integers(1, 4))
    unit_steps = np.array(
        draw(st.lists(st.integers(0, len(steps) - 1), min_size=units, max_size=units))
    )
    weight = np.array(draw(st.lists(st.floats(0.0, 3.0), min_size=units, max_size=units)))
    cost = np.array(draw(st.lists(st.floats(0.0, 6.0), min_size=units, max_size=units)))
    pools = draw(st.integers(1, 2))
    pool = np.array(draw(st.lists(st.integers(0, pools - 1), min_size=units, max_size=units)))
    size = np.full(pools, draw(sizes))[pool]
    lows = np.array([steps[s].low for s in unit_steps])
    minimum = np.bincount(pool, weights=lows * size, minlength=pools)
    spare = np.array(draw(st.lists(st.integers(0, 10), min_size=pools, max_size=pools)))
    capacity = minimum + spare * size[0]
    return steps, unit_steps, weight, cost, pool, capacity.astype(float), size


@settings(max_examples=300, deadline=None)
@given(problems())
def test_greedy_allocation_is_optimal_for_concave_curves(problem):
    steps, unit_steps, weight, cost, pool, capacity, size = problem
    result = allocate(
        steps=steps,
        unit_steps=unit_steps,
        weight=weight,
        cost=cost,
        pool=pool,
        capacity=capacity,
        size=size,
    )
    assert np.all(result.used <= capacity + 1e-9)
    got = _value(steps, unit_steps, weight, cost, result.contacts)
    best = _brute_force(steps, unit_steps, weight, cost, pool, capacity, size)
    assert got >= best - 1e-6 * max(1.0, abs(best))


@settings(max_examples=150, deadline=None)
@given(problems(sizes=st.sampled_from([6.0, 90.0])))
def test_a_budget_of_equal_cost_contacts_is_allocated_optimally(problem):
    steps, unit_steps, weight, cost, pool, capacity, size = problem
    result = allocate(
        steps=steps,
        unit_steps=unit_steps,
        weight=weight,
        cost=cost,
        pool=pool,
        capacity=capacity,
        size=size,
    )
    got = _value(steps, unit_steps, weight, cost, result.contacts)
    best = _brute_force(steps, unit_steps, weight, cost, pool, capacity, size)
    assert got >= best - 1e-6 * max(1.0, abs(best))


def test_minimums_are_cut_in_priority_order_when_a_pool_cannot_hold_them():
    steps = [Steps(2, 2), Steps(3, 3)]
    result = allocate(
        steps=steps,
        unit_steps=np.array([1, 0, 0]),
        weight=np.ones(3),
        cost=np.zeros(3),
        pool=np.zeros(3, dtype=np.int64),
        capacity=np.array([4.0]),
        priority=np.array([0, 1, 2]),
    )
    assert result.contacts.tolist() == [3, 1, 0]
    assert result.short_minimum.tolist() == [3.0]
    assert result.demand.tolist() == [7.0]


def test_pools_with_room_take_every_contact_worth_making_and_report_demand():
    curve = ResponseCurve(minimum=0, maximum=10, half_saturation=2, revenue_per_unit=100)
    step = Steps(0, 6, gains(curve, 0, 6, share=1.0))
    result = allocate(
        steps=[step],
        unit_steps=np.zeros(4, dtype=np.int64),
        weight=np.array([1.0, 1.0, 0.0, 2.0]),
        cost=np.full(4, 50.0),
        pool=np.array([0, 0, 0, 1]),
        capacity=np.array([np.inf, 3.0]),
    )
    wanted = int(np.sum(step.gains > 50.0))
    assert result.contacts[:3].tolist() == [wanted, wanted, 0]  # weight 0 earns nothing
    assert result.contacts[3] == 3  # the full pool: capacity
    assert result.demand[1] == np.sum(2 * step.gains > 50.0)
