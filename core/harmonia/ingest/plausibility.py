"""What may be data and what cannot, beyond a row's own format.

Two answers, kept apart on purpose:

* what **cannot be data** is quarantined like any other bad row: a period or
  a date too far in the future to have happened (:data:`FUTURE_HORIZON_MONTHS`),
  a value outside the bounds a pack declares for its metric
  (:class:`~harmonia.definitions.ruleset.MetricBounds`);
* what **may be legitimate but is unexpected** loads, and the load says so by
  name with counts: a therapy area no installed pack segments, a metric no
  installed rule set reads or bounds (other than the actuals a plan is
  compared with, :data:`~harmonia.definitions.strategy.ACTUAL_METRICS`), an
  answer dated after today.

The expectations come from the catalogue of installed packs. The checks run
in the loader's vectorized SQL; the warnings from counts it gathers per chunk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import attrs

from harmonia.definitions.strategy import ACTUAL_METRICS
from harmonia.sql import literal, quote

if TYPE_CHECKING:
    from harmonia.plugin.catalog import Catalog

#: How far ahead of the day of the load a period may start, or an answer be
#: dated. Planning works ahead (a vendor's potential for the coming half-year),
#: so the next twelve months are data; a period or date beyond is a typo or a
#: placeholder (2099-Q4), never data.
FUTURE_HORIZON_MONTHS = 12


@attrs.frozen
class Bounds:
    """The bounds of one therapy area's metric, and the rule set that declares them."""

    low: float | None
    high: float | None
    declared_by: str


@attrs.frozen
class Expectations:
    """What the installed packs lead a load to expect, as of ``today``."""

    today: dt.date = attrs.Factory(dt.date.today)
    #: therapy area -> the metrics its installed rule sets read or bound
    metrics: Mapping[str, frozenset[str]] = attrs.Factory(dict)
    bounds: Mapping[tuple[str, str], Bounds] = attrs.Factory(dict)

    @classmethod
    def of(cls, catalog: Catalog, today: dt.date | None = None) -> Expectations:
        metrics: dict[str, set[str]] = {}
        bounds: dict[tuple[str, str], Bounds] = {}
        for rule_set in catalog.rule_sets.values():
            metrics.setdefault(rule_set.therapy_area, set()).update(rule_set.metric_names)
            for declared in rule_set.metrics:
                if declared.min is not None or declared.max is not None:
                    key = (rule_set.therapy_area, declared.name)
                    bounds.setdefault(key, Bounds(declared.min, declared.max, rule_set.name))
        return cls(
            today=today or dt.date.today(),
            metrics={area: frozenset(names) for area, names in metrics.items()},
            bounds=bounds,
        )

    # -- what cannot be data (SQL for the row checks) --------------------------------------

    @property
    def last_month(self) -> int:
        """The last month data may describe, as ``year * 12 + month - 1`` (the period macros' unit)."""
        return self.today.year * 12 + self.today.month - 1 + FUTURE_HORIZON_MONTHS

    @property
    def last_month_text(self) -> str:
        year, month = divmod(self.last_month, 12)
        return f"{year}-{month + 1:02d}"

    @property
    def latest_moment(self) -> str:
        """SQL: the latest timestamp an answer may carry."""
        year, month = divmod(self.today.month - 1 + FUTURE_HORIZON_MONTHS, 12)
        try:
            latest = self.today.replace(year=self.today.year + year, month=month + 1)
        except ValueError:  # 29-31 of a month the horizon lands on without that day
            latest = self.today.replace(year=self.today.year + year, month=month + 1, day=28)
        return f"TIMESTAMP '{latest.isoformat()} 23:59:59'"

    def future_period_reason(self, period: str, first_month: str) -> str:
        """SQL: why a metric's period cannot be data, or NULL."""
        rest = (
            f"' is in the future: data describes periods that start by "
            f"{self.last_month_text} ({FUTURE_HORIZON_MONTHS} months from today)"
        )
        return (
            f"CASE WHEN {first_month} > {self.last_month} "
            f"THEN 'period ''' || {period} || {quote(rest)} END"
        )

    def future_answer_reason(self, answered_at: str, text: str) -> str:
        """SQL: why an answer's date cannot be data, or NULL."""
        rest = (
            f"' is in the future: answers are dated {FUTURE_HORIZON_MONTHS} months "
            "from today at the latest"
        )
        return (
            f"CASE WHEN {answered_at} > {self.latest_moment} "
            f"THEN 'answered_at ''' || {text} || {quote(rest)} END"
        )

    def bounds_table(self) -> str:
        """SQL: the declared bounds as a table (therapy_area, metric, low, high, declared_by)."""
        if not self.bounds:
            return (
                "(SELECT NULL::VARCHAR AS therapy_area, NULL::VARCHAR AS metric, "
                "NULL::DOUBLE AS low, NULL::DOUBLE AS high, NULL::VARCHAR AS declared_by "
                "WHERE FALSE) AS bounds"
            )
        rows = ", ".join(
            f"({quote(area)}, {quote(metric)}, {literal(b.low)}::DOUBLE, "
            f"{literal(b.high)}::DOUBLE, {quote(b.declared_by)})"
            for (area, metric), b in sorted(self.bounds.items())
        )
        return f"(VALUES {rows}) AS bounds(therapy_area, metric, low, high, declared_by)"

    # -- what is unexpected (warnings after the load) --------------------------------------

    def metric_warnings(self, counts: Iterable[tuple[str, str, int]]) -> list[str]:
        """Warnings naming each therapy area and metric no installed pack declares, with counts."""
        areas: dict[str, int] = {}
        names: dict[tuple[str, str], int] = {}
        for area, metric, count in counts:
            if area not in self.metrics:
                areas[area] = areas.get(area, 0) + count
            elif metric not in self.metrics[area] and metric not in ACTUAL_METRICS:
                names[area, metric] = names.get((area, metric), 0) + count
        installed = ", ".join(sorted(self.metrics)) or "none"
        warnings = [
            f"therapy area '{area}': {count:,} row{_s(count)} loaded, but no installed pack "
            f"segments it (installed: {installed}); install its pack, or check the spelling"
            for area, count in sorted(areas.items())
        ]
        warnings += [
            f"metric '{metric}' of {area}: {count:,} row{_s(count)} loaded, but no installed "
            f"rule set reads it ({area} reads: {', '.join(sorted(self.metrics[area]))}); "
            "check the spelling"
            for (area, metric), count in sorted(names.items())
        ]
        return warnings

    def answer_warning(self, count: int, latest: str | None) -> list[str]:
        """A warning about answers dated after today (within the horizon), if any."""
        if not count:
            return []
        return [
            f"{count:,} answer{_s(count)} dated after today ({self.today.isoformat()}), the "
            f"latest {latest}: check the dates (an answer describes what was said)"
        ]


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def bounds_reason(value: str, value_text: str, metric: str) -> str:
    """SQL: why a value is outside its metric's declared bounds, or NULL (needs ``low``,
    ``high`` and ``declared_by`` from :meth:`Expectations.bounds_table`)."""
    return (
        f"CASE WHEN {value} < low THEN 'value ''' || {value_text} || ''' is below the minimum ' || "
        f"{_plain('low')} || ' that ' || declared_by || ' declares for metric ''' || {metric} "
        f"|| '''' WHEN {value} > high THEN 'value ''' || {value_text} || ''' is above the maximum ' "
        f"|| {_plain('high')} || ' that ' || declared_by || ' declares for metric ''' || "
        f"{metric} || '''' END"
    )


def _plain(column: str) -> str:
    """SQL: a bound as a person writes it (0, not 0.0)."""
    return (
        f"CASE WHEN {column} = floor({column}) AND abs({column}) < 1e15 "
        f"THEN CAST(CAST({column} AS BIGINT) AS VARCHAR) ELSE CAST({column} AS VARCHAR) END"
    )
