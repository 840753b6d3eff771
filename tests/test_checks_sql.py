"""The SQL macros of ingest agree with their Python references.

Ingest checks a million rows without a Python loop, so periods, numbers in
market conventions and Luhn check digits are SQL macros
(:data:`harmonia.ingest.checks.MACROS`). :mod:`harmonia.periods`,
python-stdnum and the reference below say what they must answer; hypothesis
holds them to it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import duckdb
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from stdnum import luhn

from harmonia.ingest.checks import MACROS
from harmonia.periods import Period


@pytest.fixture(scope="module")
def sql() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute(MACROS)
    yield connection
    connection.close()


def each(sql: duckdb.DuckDBPyConnection, expression: str, rows: list[dict]) -> list:
    """``expression`` (over the keys of a row) for each of ``rows``, in one query.

    Why: a query per value was most of the time these tests took, so each
    hypothesis example is a batch of values (and a failing batch shrinks to one).
    """
    numbered = [{"_i": number, **row} for number, row in enumerate(rows)]
    return [
        value
        for value, _ in sql.execute(
            f"SELECT {expression}, _i FROM (SELECT unnest(?, recursive := true)) ORDER BY _i",
            [numbered],
        ).fetchall()
    ]


# --- text ------------------------------------------------------------------------------


def test_text_is_trimmed_as_trim_does_for_every_character(sql):
    """harmonia_text skips trim for plain ASCII values: it must answer what trim does
    with every character (trim strips Unicode spaces, not tabs) at either end."""
    differing = sql.execute(
        """
        WITH characters AS (  -- every code point but the surrogates (no characters)
            SELECT chr(CAST(code AS INTEGER)) AS c
            FROM (FROM range(1, 55296) t(code) UNION ALL FROM range(57344, 1114112) t(code))
        ), values AS (
            SELECT unnest(['', ' ', '  ', 'a', 'a' || chr(13) || chr(10) || 'b', 'a b']) AS s
            UNION ALL SELECT c || 'x' FROM characters
            UNION ALL SELECT 'x' || c FROM characters
            UNION ALL SELECT c || 'x' || c FROM characters
        )
        SELECT s FROM values WHERE harmonia_text(s) IS DISTINCT FROM NULLIF(trim(s), '')
        """
    ).fetchall()
    assert differing == []


# --- periods -----------------------------------------------------------------------------


def sql_periods(sql: duckdb.DuckDBPyConnection, texts: list[str]) -> list[tuple[int, int] | None]:
    """(first month, months) of each text as ingest computes them (see metrics_sql), or None."""
    pairs = each(
        sql,
        "[harmonia_period_first(upper(harmonia_text(text))), "
        "harmonia_period_months(upper(harmonia_text(text)))]",
        [{"text": text} for text in texts],
    )
    return [None if first is None else (first, months) for first, months in pairs]


def python_period(text: str) -> tuple[int, int] | None:
    try:
        period = Period.parse(text)
    except ValueError:
        return None
    return period.first_month, period.months


@st.composite
def written_periods(draw: st.DrawFn) -> str:
    """Periods as people type them, valid or nearly: case, spaces, out-of-range parts."""
    year = draw(st.integers(min_value=0, max_value=9999).map(lambda y: f"{y:04d}"))
    part = draw(
        st.sampled_from(["", "-H", "-h", "-Q", "-q", "-", "-W", "/"])
        | st.integers(min_value=0, max_value=19).map(lambda m: f"-{m:02d}")
    )
    number = draw(st.sampled_from(["", "0", "1", "2", "3", "4", "5", "12"])) if part else ""
    pad = draw(st.sampled_from(["", " ", "  "]))
    return f"{pad}{year}{part}{number}{draw(st.sampled_from(['', ' ']))}"


@settings(max_examples=40, deadline=None)
@given(st.lists(written_periods(), min_size=1, max_size=20))
@example(["2027-H1", "2027-13"])
def test_period_macros_agree_with_period_parse_on_written_periods(
    sql: duckdb.DuckDBPyConnection, texts: list[str]
) -> None:
    assert sql_periods(sql, texts) == [python_period(text) for text in texts]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet="0123456789-HQhqW \t٢", max_size=9), min_size=1, max_size=20))
def test_period_macros_agree_with_period_parse_on_any_text(
    sql: duckdb.DuckDBPyConnection, texts: list[str]
) -> None:
    assert sql_periods(sql, texts) == [python_period(text) for text in texts]


# --- Luhn ------------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(alphabet="0123456789", min_size=1, max_size=24), min_size=1, max_size=20))
@example(["10000016", "8084012345678903"])  # a TINY number of the test market, and another
def test_luhn_macro_agrees_with_stdnum(sql: duckdb.DuckDBPyConnection, numbers: list[str]) -> None:
    valid = each(sql, "harmonia_luhn(digits)", [{"digits": digits} for digits in numbers])
    assert valid == [luhn.is_valid(digits) for digits in numbers]


@settings(max_examples=20, deadline=None)
@given(st.lists(st.text(alphabet="0123456789", min_size=1, max_size=15), min_size=1, max_size=20))
def test_luhn_macro_accepts_every_number_stdnum_completes(
    sql: duckdb.DuckDBPyConnection, numbers: list[str]
) -> None:
    completed = [{"digits": digits + luhn.calc_check_digit(digits)} for digits in numbers]
    assert each(sql, "harmonia_luhn(digits)", completed) == [True] * len(numbers)


# --- weighted mod 10 (Germany's LANR) --------------------------------------------------------


def weighted_mod10_reference(digits: str, weights: list[int]) -> bool:
    """The KBV rule as the LANR directive writes it, digit by digit."""
    if len(digits) <= len(weights) or not digits[: len(weights) + 1].isdigit():
        return False
    total = sum(int(digit) * weight for digit, weight in zip(digits, weights, strict=False))
    return int(digits[len(weights)]) == (10 - total % 10) % 10


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet="0123456789", min_size=0, max_size=12),
            st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=8),
        ),
        min_size=1,
        max_size=20,
    )
)
@example(
    [
        ("123456601", [4, 9, 4, 9, 4, 9]),  # 6*4... sum 144: check digit 6
        ("999999900", [4, 9, 4, 9, 4, 9]),  # the KBV's pseudo number
        ("12a4566", [4, 9, 4, 9, 4, 9]),
    ]
)
def test_weighted_mod10_macro_agrees_with_the_reference(
    sql: duckdb.DuckDBPyConnection, cases: list[tuple[str, list[int]]]
) -> None:
    rows = [{"digits": digits, "weights": weights} for digits, weights in cases]
    valid = each(sql, "COALESCE(harmonia_weighted_mod10(digits, weights), FALSE)", rows)
    assert valid == [weighted_mod10_reference(digits, weights) for digits, weights in cases]


def test_weighted_mod10_python_agrees_on_the_lanr_examples() -> None:
    from harmonia.plugin.types import weighted_mod10_digit

    assert weighted_mod10_digit("123456", (4, 9, 4, 9, 4, 9)) == 6
    assert weighted_mod10_digit("999999", (4, 9, 4, 9, 4, 9)) == 9


# --- numbers in market conventions ---------------------------------------------------------

#: Grouping marks a market may write inside a number: removed wherever they are.
_SPACES = re.compile(r"[ \t\n\r\f\u00a0\u202f']")
#: A plain decimal number once the decimal mark is a point (ASCII digits only).
_PLAIN = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def reference_number(text: str, comma: bool) -> float | None:
    """What a number cell means in a file read with a decimal comma (or point).

    The rules as documented in ingest/checks.py and the README: spaces,
    no-break spaces and apostrophes group digits anywhere; the *other* mark
    groups digits only in groups of three after a leading 1 to 999
    (``1.234.567,8`` with a decimal comma, ``1,234,567.8`` with a point);
    anywhere else it cannot be grouping and is read as the decimal mark, when
    the file's own mark is absent (``92.9`` in a decimal-comma file). Anything
    else, and infinities, is not a number.
    """
    decimal, other = (",", ".") if comma else (".", ",")
    compact = _SPACES.sub("", text)
    grouped = rf"[+-]?[1-9][0-9]{{0,2}}(\{other}[0-9]{{3}})+(\{decimal}[0-9]*)?"
    if re.fullmatch(grouped, compact):
        compact = compact.replace(other, "").replace(decimal, ".")
    elif other in compact:
        if decimal in compact:
            return None
        compact = compact.replace(other, ".")
    else:
        compact = compact.replace(decimal, ".")
    if not _PLAIN.fullmatch(compact):
        return None
    value = float(compact)
    return value if math.isfinite(value) else None


def sql_number(sql: duckdb.DuckDBPyConnection, text: str, comma: bool) -> float | None:
    return sql.execute("SELECT harmonia_number(?, ?)", [text, comma]).fetchone()[0]


@pytest.mark.parametrize(
    ("text", "comma", "expected"),
    [
        ("1,5", True, 1.5),
        ("1.234,5", True, 1234.5),
        ("1 234,5", True, 1234.5),
        ("1\u00a0234\u202f567,25", True, 1234567.25),
        ("-0,75", True, -0.75),
        ("1,234.5", False, 1234.5),
        ("1'234.5", False, 1234.5),
        ("12,345,678", False, 12345678.0),
        ("1.5e3", False, 1500.0),
        ("1,5", False, 1.5),
        ("1,23", False, 1.23),
        ("92.9", True, 92.9),
        ("1.234", True, 1234.0),
        ("0.125", True, 0.125),
        ("-0.500", True, -0.5),
        ("0,125", False, 0.125),
        ("1,2.3", True, None),
        ("1.2.3", True, None),
        ("12,5,3", True, None),
        ("abc", True, None),
        ("inf", False, None),
        ("1" * 400, False, None),
    ],
)
def test_number_macro_examples(
    sql: duckdb.DuckDBPyConnection, text: str, comma: bool, expected: float | None
) -> None:
    assert reference_number(text, comma) == expected
    assert sql_number(sql, text, comma) == expected


@st.composite
def written_numbers(draw: st.DrawFn) -> str:
    """Numbers as spreadsheets and people write them, and near misses."""
    shape = draw(st.sampled_from(["grouped", "plain", "noise"]))
    if shape == "noise":
        return draw(st.text(alphabet="0123456789.,+- e'\u00a0", max_size=12))
    sign = draw(st.sampled_from(["", "-", "+"]))
    head = str(draw(st.integers(min_value=0, max_value=999 if shape == "grouped" else 10**7)))
    groups = draw(st.lists(st.integers(0, 999).map(lambda g: f"{g:03d}"), max_size=3))
    mark = draw(st.sampled_from([".", ",", " ", "'", "\u00a0"]))
    body = mark.join([head, *groups]) if shape == "grouped" else head
    decimal = draw(st.sampled_from(["", ",", "."]))
    digits = draw(st.sampled_from(["", "5", "25", "125", "0625"])) if decimal else ""
    exponent = draw(st.sampled_from(["", "", "e3", "E-2"]))
    return f"{sign}{body}{decimal}{digits}{exponent}"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(written_numbers(), st.booleans()), min_size=1, max_size=20))
# A decimal point in a file read with decimal commas; two signs an apostrophe keeps apart.
@example([("1.5", True), ("+'-0", False)])
def test_number_macro_agrees_with_the_reference(
    sql: duckdb.DuckDBPyConnection, cases: list[tuple[str, bool]]
) -> None:
    rows = [{"text": text, "comma": comma} for text, comma in cases]
    assert each(sql, "harmonia_number(text, comma)", rows) == [
        reference_number(text, comma) for text, comma in cases
    ]
