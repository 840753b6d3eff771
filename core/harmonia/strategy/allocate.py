"""Integer contacts by greedy marginal allocation, vectorized.

The problem (Lodish's CALLPLAN, in integers): each *unit* (a customer's plan
on one channel in one therapy area) gets ``x`` contacts between its
``low`` and ``high``, earning ``weight x gain[j] - cost`` for its ``j``-th
contact above ``low``. Each unit draws on one *pool* (a territory's call
capacity, a territory's event seats, a channel's budget), which holds
``capacity`` and each contact takes ``size`` of it (1 call; a budget pool's
contacts take their cost). Maximise the sum of values within every pool.

The method: give every unit its minimum (in priority order while the pool
lasts), then rank every further contact with a positive value by value per
unit of size within its pool and cut each pool's ranking where its capacity
ends. Pools are disjoint and a unit's gains never rise, so this is the
greedy marginal allocation, which is exact for separable concave objectives
under one resource constraint (Gross 1956; Ibaraki and Katoh, *Resource
Allocation Problems*, 1988) when a pool's contacts are all the same size,
as a territory's calls are. For a budget shared by contacts of different
costs it is the classic ratio heuristic, within one contact's value of the
optimum. ``tests/strategy/test_allocate.py`` holds it to a brute-force
optimum on small cases.

No loop runs per customer: the ranking is one sort over the contacts that
compete for a full pool (pools with room take every positive contact without
being ranked).
"""

from __future__ import annotations

import attrs
import numpy as np


@attrs.frozen
class Steps:
    """The contacts a unit may get, and the gain of each above the minimum.

    ``gains[j]`` is what contact ``low + j + 1`` adds per unit of weight;
    non-increasing, ``high - low`` long (empty for a fixed plan, low = high).
    """

    low: int
    high: int
    gains: np.ndarray = attrs.field(factory=lambda: np.zeros(0), eq=False)

    def __attrs_post_init__(self) -> None:
        if len(self.gains) != self.high - self.low:
            raise ValueError(f"{len(self.gains)} gains for contacts {self.low}..{self.high}")


@attrs.frozen
class Allocation:
    """Contacts per unit, and per pool: what was used and what was wanted."""

    contacts: np.ndarray
    used: np.ndarray
    #: What the pool would use without a limit: minimums plus every contact worth making.
    demand: np.ndarray
    #: Minimum contacts (in pool units) that did not fit.
    short_minimum: np.ndarray


def allocate(
    *,
    steps: list[Steps],
    unit_steps: np.ndarray,
    weight: np.ndarray,
    cost: np.ndarray,
    pool: np.ndarray,
    capacity: np.ndarray,
    size: np.ndarray | None = None,
    priority: np.ndarray | None = None,
) -> Allocation:
    """Contacts for every unit (see the module's docstring for the method).

    ``unit_steps`` indexes ``steps`` per unit; ``pool`` indexes ``capacity``
    (``inf`` for an unlimited pool). ``priority`` orders who keeps a minimum
    when a pool cannot hold them all (lower first; then higher weight).
    """
    count = len(unit_steps)
    size = np.ones(count) if size is None else np.asarray(size, dtype=float)
    priority = np.zeros(count, dtype=np.int64) if priority is None else priority
    lows = np.array([s.low for s in steps], dtype=np.int64)[unit_steps]
    given = _minimums(lows, size, weight, pool, capacity, priority)
    room = capacity - np.bincount(pool, weights=given * size, minlength=len(capacity))

    wanted = _worth_making(steps, unit_steps, weight, cost)
    wanted[given < lows] = 0  # a pool that cut a minimum has no room for more
    demand = np.bincount(pool, weights=(lows + wanted) * size, minlength=len(capacity))
    extra_size = np.bincount(pool, weights=wanted * size, minlength=len(capacity))
    full = extra_size > room + 1e-9

    contacts = given + np.where(full[pool], 0, wanted)
    competing = np.flatnonzero(full[pool] & (wanted > 0))
    if len(competing):
        contacts += _ranked(steps, unit_steps, weight, cost, pool, size, room, competing, wanted)
    used = np.bincount(pool, weights=contacts * size, minlength=len(capacity))
    short = np.bincount(pool, weights=(lows - given) * size, minlength=len(capacity))
    return Allocation(contacts.astype(np.int64), used, demand, short)


def _minimums(
    lows: np.ndarray,
    size: np.ndarray,
    weight: np.ndarray,
    pool: np.ndarray,
    capacity: np.ndarray,
    priority: np.ndarray,
) -> np.ndarray:
    """Every unit's minimum, cut in priority order in pools that cannot hold them all."""
    need = lows * size
    total = np.bincount(pool, weights=need, minlength=len(capacity))
    if np.all(total <= capacity + 1e-9):
        return lows.copy()
    order = np.lexsort((np.arange(len(lows)), -weight, priority, pool))
    before = _cumulative_within(need[order], pool[order]) - need[order]
    fits = np.floor((capacity[pool[order]] - before + 1e-9) / size[order])
    given = np.empty_like(lows)
    given[order] = np.clip(fits, 0, lows[order]).astype(np.int64)
    return given


def _worth_making(
    steps: list[Steps], unit_steps: np.ndarray, weight: np.ndarray, cost: np.ndarray
) -> np.ndarray:
    """Per unit: how many contacts above its minimum add more than they cost."""
    wanted = np.zeros(len(unit_steps), dtype=np.int64)
    threshold = np.full(len(cost), np.inf)
    with np.errstate(over="ignore"):  # a tiny weight: a threshold no gain reaches
        np.divide(cost, weight, out=threshold, where=weight > 0)
    for index, step in enumerate(steps):
        if step.high == step.low:
            continue
        members = np.flatnonzero(unit_steps == index)
        # gains fall, so the contacts worth making are the first ones whose gain beats cost
        wanted[members] = np.searchsorted(-step.gains, -threshold[members], side="left")
    return wanted


def _ranked(
    steps: list[Steps],
    unit_steps: np.ndarray,
    weight: np.ndarray,
    cost: np.ndarray,
    pool: np.ndarray,
    size: np.ndarray,
    room: np.ndarray,
    competing: np.ndarray,
    wanted: np.ndarray,
) -> np.ndarray:
    """Contacts above the minimum for units of full pools: best value per size first."""
    counts = wanted[competing]
    unit = np.repeat(competing, counts)
    step = np.arange(len(unit)) - np.repeat(np.cumsum(counts) - counts, counts)
    table = _gain_table(steps)
    value = weight[unit] * table[unit_steps[unit], step] - cost[unit]
    # The rows come by unit, then by contact, and lexsort is stable: ties keep that
    # order, so each unit takes a prefix of its contacts and ties go by unit.
    order = np.lexsort((-value / size[unit], pool[unit]))
    taken_size = size[unit[order]]
    within = _cumulative_within(taken_size, pool[unit[order]])
    keep = within <= room[pool[unit[order]]] + 1e-9
    return np.bincount(unit[order][keep], minlength=len(unit_steps)).astype(np.int64)


def _gain_table(steps: list[Steps]) -> np.ndarray:
    width = max((len(s.gains) for s in steps), default=0)
    table = np.full((len(steps), max(width, 1)), -np.inf)
    for index, step in enumerate(steps):
        table[index, : len(step.gains)] = step.gains
    return table


def _cumulative_within(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Running sums of ``values`` restarting where ``groups`` (sorted) changes."""
    running = np.cumsum(values)
    if not len(values):
        return running
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    lengths = np.diff(np.r_[starts, len(values)])
    offsets = np.repeat(running[starts] - values[starts], lengths)
    return running - offsets
