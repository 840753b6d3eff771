"""Typed values as canonical answer text, the same whichever way they came in.

Spreadsheets and FHIR hand harmonia numbers, dates and flags as typed values;
the loader reads answers as text in the market's conventions. These turn a
typed value into text that every convention reads back as the same value.
"""

from __future__ import annotations

import datetime as dt
from typing import Any


def canonical_number(value: float | int) -> str:
    """A number as answer text that reads the same with a decimal point or comma.

    Why: the loader reads a market's numbers in its convention, and with decimal
    commas ``2.125`` reads as two thousand one hundred and twenty-five. Whole
    numbers are written without separators, and a fraction of exactly three
    digits gets a trailing zero (``2.1250``), which no convention misreads.
    """
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    text = repr(number)
    whole, dot, fraction = text.partition(".")
    if dot and len(fraction) == 3 and fraction.isdigit():
        text = f"{whole}.{fraction}0"
    return text


def canonical_value(value: Any) -> str | None:
    """A typed value (from a spreadsheet cell or JSON) as canonical answer text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return canonical_number(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.replace(tzinfo=None, microsecond=0).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    return text or None
