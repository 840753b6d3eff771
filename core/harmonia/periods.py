"""Periods as people write them: ``2027``, ``2027-H1``, ``2027-Q3``, ``2027-05``.

A period is a run of whole months. Internally each month is an ordinal
(``year * 12 + month - 1``) so periods compare and subtract as integers, in
Python and in SQL alike; the store keeps ``first_month``/``last_month``
ordinals beside the text so every engine can filter on them.
"""

from __future__ import annotations

import datetime as dt
import functools
import re

import attrs

GRANULARITIES = {"year": 12, "half": 6, "quarter": 3, "month": 1}

_PATTERN = re.compile(
    r"(?P<year>\d{4})(?:-(?:(?P<half>H[12])|(?P<quarter>Q[1-4])|(?P<month>\d{2})))?",
    re.ASCII,
)


def month_ordinal(year: int, month: int) -> int:
    """The ordinal of a calendar month (January 2027 -> 24324)."""
    return year * 12 + month - 1


def ordinal_date(ordinal: int) -> dt.date:
    """The first day of the month with this ordinal."""
    return dt.date(ordinal // 12, ordinal % 12 + 1, 1)


@functools.total_ordering
@attrs.frozen(order=False)
class Period:
    """A named run of months: a year, a half, a quarter or a month."""

    granularity: str
    first_month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        """Read ``2027``, ``2027-H1``, ``2027-Q3`` or ``2027-05``.

        Raises ``ValueError`` with a message naming the accepted forms.
        """
        match = _PATTERN.fullmatch(str(text).strip(" ").upper())
        if not match:
            raise ValueError(
                f"{text!r} is not a period; write a year (2027), a half (2027-H1), "
                "a quarter (2027-Q3) or a month (2027-05)"
            )
        year = int(match["year"])
        if match["half"]:
            return cls("half", month_ordinal(year, 1 + 6 * (int(match["half"][1]) - 1)))
        if match["quarter"]:
            return cls("quarter", month_ordinal(year, 1 + 3 * (int(match["quarter"][1]) - 1)))
        if match["month"]:
            month = int(match["month"])
            if not 1 <= month <= 12:
                raise ValueError(f"{text!r} is not a period: month {month} is not 01 to 12")
            return cls("month", month_ordinal(year, month))
        return cls("year", month_ordinal(year, 1))

    @classmethod
    def containing(cls, day: dt.date, granularity: str) -> Period:
        """The period of ``granularity`` that contains ``day``."""
        size = GRANULARITIES[granularity]
        ordinal = month_ordinal(day.year, day.month)
        return cls(granularity, ordinal - (ordinal % 12) % size)

    @property
    def months(self) -> int:
        return GRANULARITIES[self.granularity]

    @property
    def last_month(self) -> int:
        return self.first_month + self.months - 1

    @property
    def start(self) -> dt.date:
        """First day of the period."""
        return ordinal_date(self.first_month)

    @property
    def end(self) -> dt.date:
        """First day *after* the period (exclusive end)."""
        return ordinal_date(self.last_month + 1)

    def shifted(self, steps: int) -> Period:
        """The period ``steps`` periods later (earlier when negative)."""
        return Period(self.granularity, self.first_month + steps * self.months)

    def trailing(self, granularity: str, count: int) -> list[Period]:
        """The ``count`` periods of ``granularity`` that end with this period's last month.

        Used for engagement consistency: the last four quarters up to a
        cycle's period, oldest first.
        """
        last = Period.containing(ordinal_date(self.last_month), granularity)
        if last.last_month > self.last_month:
            last = last.shifted(-1)
        return [last.shifted(-offset) for offset in reversed(range(count))]

    def contains(self, other: Period) -> bool:
        return self.first_month <= other.first_month and other.last_month <= self.last_month

    def __str__(self) -> str:
        year, month = divmod(self.first_month, 12)
        if self.granularity == "year":
            return f"{year:04d}"
        if self.granularity == "half":
            return f"{year:04d}-H{month // 6 + 1}"
        if self.granularity == "quarter":
            return f"{year:04d}-Q{month // 3 + 1}"
        return f"{year:04d}-{month + 1:02d}"

    def __lt__(self, other: Period) -> bool:
        return (self.first_month, self.months) < (other.first_month, other.months)


def current_period(today: dt.date | None = None, granularity: str = "half") -> Period:
    """The period of ``granularity`` containing today: the default cycle period."""
    return Period.containing(today or dt.date.today(), granularity)
