"""Periods as people write them: parsing, printing, ordering, windows."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harmonia.periods import Period, current_period, month_ordinal, ordinal_date


@pytest.mark.parametrize(
    ("text", "granularity", "first", "months"),
    [
        ("2027", "year", (2027, 1), 12),
        ("2027-H1", "half", (2027, 1), 6),
        ("2027-H2", "half", (2027, 7), 6),
        ("2027-Q1", "quarter", (2027, 1), 3),
        ("2027-Q4", "quarter", (2027, 10), 3),
        ("2027-01", "month", (2027, 1), 1),
        ("2027-12", "month", (2027, 12), 1),
    ],
)
def test_parse_reads_every_granularity(
    text: str, granularity: str, first: tuple[int, int], months: int
) -> None:
    period = Period.parse(text)
    assert period.granularity == granularity
    assert period.first_month == month_ordinal(*first)
    assert period.months == months
    assert period.last_month == period.first_month + months - 1
    assert str(period) == text


def test_parse_accepts_lower_case_and_surrounding_spaces() -> None:
    assert Period.parse(" 2027-q3 ") == Period.parse("2027-Q3")
    assert Period.parse("2027-h2") == Period.parse("2027-H2")


@pytest.mark.parametrize(
    "text",
    ["", "27", "2027-", "2027-H3", "2027-H0", "2027-Q0", "2027-Q5", "2027-00", "2027-13",
     "2027-1", "2027-W01", "2027/05", "2027-05-01", "H1-2027", "twenty"],
)  # fmt: skip
def test_parse_refuses_anything_else_naming_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match="is not a period") as raised:
        Period.parse(text)
    assert repr(text) in str(raised.value)
    if "month" not in str(raised.value):
        assert "2027-H1" in str(raised.value) and "2027-05" in str(raised.value)


@st.composite
def period_texts(draw: st.DrawFn) -> str:
    year = draw(st.integers(min_value=0, max_value=9999))
    suffix = draw(
        st.one_of(
            st.just(""),
            st.sampled_from(["-H1", "-H2", "-Q1", "-Q2", "-Q3", "-Q4"]),
            st.integers(min_value=1, max_value=12).map(lambda m: f"-{m:02d}"),
        )
    )
    return f"{year:04d}{suffix}"


@given(period_texts())
def test_str_gives_back_the_text_that_was_parsed(text: str) -> None:
    assert str(Period.parse(text)) == text


@given(period_texts())
def test_a_period_is_a_run_of_whole_months_inside_its_year(text: str) -> None:
    period = Period.parse(text)
    year = int(text[:4])
    assert month_ordinal(year, 1) <= period.first_month <= period.last_month
    assert period.last_month <= month_ordinal(year, 12)
    assert period.first_month % period.months == 0  # halves and quarters are aligned


def test_dates_of_a_period() -> None:
    period = Period.parse("2027-H2")
    assert (period.start, period.end) == (dt.date(2027, 7, 1), dt.date(2028, 1, 1))
    assert Period.parse("2027-12").end == dt.date(2028, 1, 1)
    assert ordinal_date(month_ordinal(2027, 5)) == dt.date(2027, 5, 1)


def test_ordering_is_by_start_then_length() -> None:
    periods = [Period.parse(text) for text in ["2027", "2027-H2", "2027-Q1", "2026-12", "2027-H1"]]
    assert [str(p) for p in sorted(periods)] == ["2026-12", "2027-Q1", "2027-H1", "2027", "2027-H2"]
    assert Period.parse("2026") < Period.parse("2027-01") < Period.parse("2027-02")
    assert Period.parse("2027-H2") > Period.parse("2027-H1")


def test_periods_support_every_comparison_operator() -> None:
    first, second = Period.parse("2027-H1"), Period.parse("2027-H2")
    assert first <= second and second >= first and first <= first
    assert not first >= second


def test_equal_periods_are_equal_and_hash_alike() -> None:
    assert Period.parse("2027-q1") == Period.parse("2027-Q1")
    assert len({Period.parse("2027-q1"), Period.parse("2027-Q1")}) == 1
    assert Period.parse("2027") != Period.parse("2027-H1")


def test_shifted_moves_by_whole_periods() -> None:
    assert str(Period.parse("2027-H1").shifted(-1)) == "2026-H2"
    assert str(Period.parse("2027-Q4").shifted(1)) == "2028-Q1"
    assert str(Period.parse("2027-01").shifted(-13)) == "2025-12"


def test_contains() -> None:
    year = Period.parse("2027")
    assert year.contains(Period.parse("2027-Q3")) and year.contains(year)
    assert not Period.parse("2027-H1").contains(Period.parse("2027-Q3"))


@pytest.mark.parametrize(
    ("period", "granularity", "count", "expected"),
    [
        ("2027-H1", "quarter", 4, ["2026-Q3", "2026-Q4", "2027-Q1", "2027-Q2"]),
        ("2027-H2", "quarter", 2, ["2027-Q3", "2027-Q4"]),
        ("2027-Q2", "month", 3, ["2027-04", "2027-05", "2027-06"]),
        ("2027", "half", 3, ["2026-H2", "2027-H1", "2027-H2"]),
        # Only whole periods that have ended by the last month count.
        ("2027-05", "quarter", 2, ["2026-Q4", "2027-Q1"]),
        ("2027-Q1", "year", 2, ["2025", "2026"]),
    ],
)
def test_trailing_gives_the_whole_periods_ending_with_the_period(
    period: str, granularity: str, count: int, expected: list[str]
) -> None:
    assert [str(p) for p in Period.parse(period).trailing(granularity, count)] == expected


@given(period_texts().filter(lambda t: t[:4] >= "0002"), st.sampled_from(["month", "quarter"]))
def test_trailing_periods_are_consecutive_and_end_by_the_period(
    text: str, granularity: str
) -> None:
    period = Period.parse(text)
    window = period.trailing(granularity, 4)
    assert len(window) == 4 and all(p.granularity == granularity for p in window)
    assert window[-1].last_month <= period.last_month
    assert all(a.last_month + 1 == b.first_month for a, b in itertools.pairwise(window))


def test_current_period_is_the_one_containing_today() -> None:
    assert str(current_period(dt.date(2027, 7, 1))) == "2027-H2"
    assert str(current_period(dt.date(2027, 6, 30), "quarter")) == "2027-Q2"
    assert str(Period.containing(dt.date(2027, 11, 5), "month")) == "2027-11"
