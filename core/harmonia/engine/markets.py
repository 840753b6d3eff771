"""One therapy area across markets: does each market's segment distribution look like the rest?

The point of harmonized definitions is that segments mean the same in every
market, so their shares can be compared. For each market, the latest
completed cycle of the therapy area and period gives the shares of its
customers in each final segment. A market **departs** from the rest when the
Jensen-Shannon distance between its shares and the mean shares of the other
markets exceeds a threshold (default 0.1):

    JSD(P, Q) = sqrt( (KL(P || M) + KL(Q || M)) / 2 ),  M = (P + Q) / 2,  log base 2

It is 0 for identical shares and 1 for distributions with no segment in
common, symmetric and defined when a segment is empty (unlike KL). It is
computed on shares, not counts, so it does not grow with market size as a
chi-square test does (with a million US physicians every difference is
"significant"). The median gives every other market the same weight, so one
large market does not define "the rest", and one unusual market does not
move the reference the others are measured against. 0.1 corresponds to moving roughly 10% of
customers between segments: shares (40, 30, 30) against (30, 35, 35) are at 0.09.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from typing import Any

import attrs
from sqlmodel import select

from harmonia import lifecycle
from harmonia.errors import NotFoundError
from harmonia.store.database import Database
from harmonia.store.models import Customer, Cycle

DEFAULT_THRESHOLD = 0.1

STATISTIC = (
    "Jensen-Shannon distance (log base 2; 0 = the same shares, 1 = no segment in common) "
    "between the market's final-segment shares and the other markets' median share in "
    "each segment (rescaled to sum to 1)"
)


@attrs.frozen
class MarketRow:
    """One market's distribution and how far it is from the rest."""

    country: str
    cycle_id: int
    customers: int
    counts: dict[str, int]
    shares: dict[str, float]
    #: None when there is no other market to compare with.
    distance: float | None
    departs: bool


@attrs.frozen
class MarketComparison:
    """Segment distributions of one therapy area and period, market by market."""

    therapy_area: str
    period: str
    segments: tuple[str, ...]
    markets: tuple[MarketRow, ...]
    threshold: float
    statistic: str = STATISTIC

    @property
    def departing(self) -> list[str]:
        return [row.country for row in self.markets if row.departs]

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self) | {"departing": self.departing}


def js_distance(p: Sequence[float], q: Sequence[float]) -> float:
    """The Jensen-Shannon distance (log base 2) of two distributions over the same segments."""
    m = [(a + b) / 2 for a, b in zip(p, q, strict=True)]

    def kl(x: Sequence[float]) -> float:
        return sum(a * math.log2(a / b) for a, b in zip(x, m, strict=True) if a > 0)

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))


def latest_cycles(database: Database, therapy_area: str, period: str) -> list[Cycle]:
    """The latest completed cycle of the therapy area and period in each market."""
    with database.session() as session:
        cycles = session.exec(
            select(Cycle)
            .where(Cycle.therapy_area == therapy_area, Cycle.period == period)
            .where(Cycle.status.in_(lifecycle.COMPLETED))  # type: ignore[attr-defined]
            .order_by(Cycle.id)
        ).all()
    latest = {cycle.country: cycle for cycle in cycles}
    return [latest[country] for country in sorted(latest)]


def countries_with_customers(database: Database) -> list[str]:
    """The markets whose customers are in the store."""
    with database.session() as session:
        return sorted(session.exec(select(Customer.country).distinct()).all())


def compare_markets(
    database: Database,
    therapy_area: str,
    period: str,
    *,
    cycles: Sequence[Cycle] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> MarketComparison:
    """Compare the markets' latest cycles (or ``cycles``) of ``therapy_area`` in ``period``."""
    chosen = list(cycles) if cycles is not None else latest_cycles(database, therapy_area, period)
    if not chosen:
        raise NotFoundError(
            f"no completed {therapy_area} cycle for {period} in any market",
            fix=f"run them: harmonia markets run -t {therapy_area} -p {period}",
        )
    segments: list[str] = []
    counts: dict[str, dict[str, int]] = {}
    for cycle in chosen:
        rule_set = json.loads(cycle.snapshot or "{}").get("rule_set", {})
        declared = (rule_set.get("segment") or {}).get("segments", [])
        summary = json.loads(cycle.summary or "{}")
        rows = summary.get("segments", []) if isinstance(summary, dict) else summary
        found = {row["segment"]: int(row["customers"]) for row in rows}
        segments += [s for s in dict.fromkeys([*declared, *found]) if s not in segments]
        counts[cycle.country] = found
    shares = {
        country: _shares([found.get(s, 0) for s in segments]) for country, found in counts.items()
    }
    rows = []
    for cycle in chosen:
        others = [shares[c] for c in counts if c != cycle.country and sum(counts[c].values())]
        own = shares[cycle.country]
        distance = None
        if others and sum(counts[cycle.country].values()):
            distance = round(js_distance(own, _reference(others)), 4)
        rows.append(
            MarketRow(
                country=cycle.country,
                cycle_id=int(cycle.id),
                customers=sum(counts[cycle.country].values()),
                counts={s: counts[cycle.country].get(s, 0) for s in segments},
                shares={s: round(v, 4) for s, v in zip(segments, own, strict=True)},
                distance=distance,
                departs=distance is not None and distance > threshold,
            )
        )
    return MarketComparison(therapy_area, period, tuple(segments), tuple(rows), threshold)


def _reference(others: list[list[float]]) -> list[float]:
    """Per segment, the median of the other markets' shares, rescaled to sum to 1."""
    medians = [statistics.median(values) for values in zip(*others, strict=True)]
    total = sum(medians)
    # Medians of shares can all be 0 only if the others share no segment at all.
    return [m / total for m in medians] if total else _shares([1] * len(medians))


def _shares(values: list[int] | list[float]) -> list[float]:
    total = sum(values)
    return [value / total if total else 0.0 for value in values]
