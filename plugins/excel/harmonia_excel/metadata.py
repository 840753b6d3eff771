"""The hidden sheet that lets harmonia read a rep profiling workbook back.

It holds, as plain rows a person can audit (column A says what each row is):

* ``meta`` rows: the questionnaire and version, country, territory, language,
  the source system whose ids the customer column holds, the respondent, and
  where the answers are (sheet, header rows, first data row);
* ``column`` rows: each column of the answer sheet, its header and the item
  (and, for multiple-choice items, the option) it holds;
* ``choice`` rows: every drop-down list (an item's options, yes/no) with the
  code behind each localized text. The drop-downs point at these cells, so
  the texts a rep picks are the texts mapped back to codes on import.

The sheet is hidden and protected (without a password: it guards against
accidents, not people).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from harmonia_excel.cells import set_text

SHEET = "_harmonia"
MARKER = "harmonia rep profiling workbook"
FORMAT = "1"
#: Column of the meta sheet holding a choice's text (the drop-down ranges point here).
CHOICE_TEXT_COLUMN = "D"


@attrs.frozen
class Column:
    """One column of the answer sheet.

    ``role`` is ``customer``, ``answered_at``, ``item`` or ``option`` (one
    option of a multiple-choice item); the other columns (name, city ...) are
    context for the rep and are not read back. ``kind`` is the item's type.
    ``header`` is the question (shared by the option columns of a multiple-choice
    item, under one merged cell) and ``label`` the option's text under it.
    """

    letter: str
    role: str
    header: str
    item: str = ""
    option: str = ""
    kind: str = ""
    label: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """What identifies the column on the sheet: its header and label texts."""
        return (self.header.strip(), self.label.strip())


@attrs.frozen
class Choice:
    """An entry of a drop-down list: ``code`` is what the localized ``text`` means."""

    list: str
    code: str
    text: str


#: Lists that are not an item's options.
BOOLEAN_LIST = "_boolean"
CHECK_LIST = "_check"


@attrs.frozen
class WorkbookMeta:
    """What a rep profiling workbook is for, and how to read its answers."""

    questionnaire: str
    version: str
    therapy_area: str
    country: str
    territory: str
    language: str
    system: str
    respondent: str
    generated_at: str
    sheet: str
    header_row: int
    label_row: int
    first_row: int
    columns: tuple[Column, ...] = ()
    choices: tuple[Choice, ...] = ()

    def choices_of(self, name: str) -> list[Choice]:
        """The entries of one drop-down list, in order."""
        return [choice for choice in self.choices if choice.list == name]

    def write(self, workbook: Any) -> dict[str, str]:
        """Add the hidden sheet; returns each drop-down list's cell range by list name."""
        sheet = workbook.create_sheet(SHEET)
        rows: list[list[str]] = [
            [MARKER, FORMAT],
            ["This sheet lets harmonia read the workbook back. Do not change it."],
        ]
        rows.extend(["meta", key, str(value)] for key, value in self._scalars())
        rows.extend(
            ["column", c.letter, c.role, c.header, c.item, c.option, c.kind, c.label]
            for c in self.columns
        )
        ranges: dict[str, list[int]] = {}
        for choice in self.choices:
            rows.append(["choice", choice.list, choice.code, choice.text])
            ranges.setdefault(choice.list, []).append(len(rows))
        for row in rows:
            sheet.append([None] * len(row))
            for index, value in enumerate(row, start=1):
                set_text(sheet.cell(row=sheet.max_row, column=index), value)
        sheet.sheet_state = "hidden"
        sheet.protection.sheet = True
        column = CHOICE_TEXT_COLUMN
        return {
            name: f"'{SHEET}'!${column}${numbers[0]}:${column}${numbers[-1]}"
            for name, numbers in ranges.items()
        }

    def _scalars(self) -> Iterator[tuple[str, Any]]:
        for field in attrs.fields(type(self)):
            if field.name not in ("columns", "choices"):
                yield field.name, getattr(self, field.name)

    @classmethod
    def read(cls, workbook: Any) -> WorkbookMeta | None:
        """The metadata of a rep profiling workbook, or None for any other workbook."""
        if SHEET not in workbook.sheetnames:
            return None
        rows = [list(row) for row in workbook[SHEET].iter_rows(values_only=True)]
        if not rows or not rows[0] or rows[0][0] != MARKER:
            return None
        return cls._from_rows(rows[2:])

    @classmethod
    def _from_rows(cls, rows: Iterable[list[Any]]) -> WorkbookMeta:
        scalars: dict[str, Any] = {}
        columns, choices = [], []
        for row in rows:
            cells = [("" if value is None else str(value)) for value in row] + [""] * 8
            if cells[0] == "meta":
                scalars[cells[1]] = cells[2]
            elif cells[0] == "column":
                columns.append(Column(*cells[1:8]))
            elif cells[0] == "choice":
                choices.append(Choice(cells[1], cells[2], cells[3]))
        known = {field.name for field in attrs.fields(cls)} - {"columns", "choices"}
        values = {key: value for key, value in scalars.items() if key in known}
        for key in ("header_row", "label_row", "first_row"):
            values[key] = int(float(values.get(key) or 0))
        return cls(**values, columns=tuple(columns), choices=tuple(choices))
