"""Writing cells: text that stays text, valid sheet names, the shared styles."""

from __future__ import annotations

import re
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

#: The colours of the shared styles (RGB).
HEADER_COLOUR, GROUP_COLOUR, LOCKED_COLOUR, LINE_COLOUR = "1F4E79", "2E75B6", "F2F2F2", "BFBFBF"
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor=HEADER_COLOUR)
GROUP_FILL = PatternFill("solid", fgColor=GROUP_COLOUR)
LOCKED_FILL = PatternFill("solid", fgColor=LOCKED_COLOUR)
THIN = Side(style="thin", color=LINE_COLOUR)
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
WRAP = Alignment(wrap_text=True, vertical="top")
CENTER_WRAP = Alignment(wrap_text=True, vertical="center", horizontal="center")
#: The same styles as XlsxWriter formats (for the workbooks it writes).
XLSX_HEADER = {
    "bold": True,
    "font_color": "#FFFFFF",
    "bg_color": f"#{HEADER_COLOUR}",
    "pattern": 1,
    "border": 1,
    "border_color": f"#{LINE_COLOUR}",
}
XLSX_LOCKED = {"bg_color": f"#{LOCKED_COLOUR}", "pattern": 1}

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
    "XLSX_HEADER",
    "XLSX_LOCKED",
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
