"""Writing cells: text that stays text, valid sheet names, the shared styles."""

from __future__ import annotations

import re
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
GROUP_FILL = PatternFill("solid", fgColor="2E75B6")
LOCKED_FILL = PatternFill("solid", fgColor="F2F2F2")
THIN = Side(style="thin", color="BFBFBF")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
WRAP = Alignment(wrap_text=True, vertical="top")
CENTER_WRAP = Alignment(wrap_text=True, vertical="center", horizontal="center")

#: Excel's limits: rows per sheet (the header takes one) and characters per sheet name.
MAX_ROWS = 1_048_576
SHEET_NAME_LENGTH = 31

__all__ = [
    "BORDER",
    "CENTER_WRAP",
    "GROUP_FILL",
    "HEADER_FILL",
    "HEADER_FONT",
    "LOCKED_FILL",
    "MAX_ROWS",
    "WRAP",
    "safe",
    "set_text",
    "sheet_name",
]


def safe(value: Any) -> Any:
    """A value openpyxl writes as data: control characters removed from text."""
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def set_text(cell: Any, text: str | None) -> None:
    """Write text that stays text, even when it starts with '=' (never a formula)."""
    cell.value = safe(text)
    if isinstance(text, str) and text.startswith("="):
        cell.data_type = "s"


def sheet_name(text: str) -> str:
    """A valid sheet name: no ``[]:*?/\\``, at most 31 characters."""
    return re.sub(r"[\[\]:*?/\\]", " ", text).strip()[:SHEET_NAME_LENGTH] or "Sheet"
