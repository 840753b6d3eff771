"""Reading a filled rep profiling workbook back as canonical response rows.

Columns are found by their header (so a rep who moved or inserted columns
does no harm) and mapped to items through the hidden sheet; localized option
texts and yes/no go back to codes. Nothing is judged here: a value that maps
to no code is passed on as typed, and the loader quarantines it with its
reason, as for a CSV row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from harmonia import InputError
from harmonia.files import canonical_value
from harmonia_excel.labels import NO_WORDS, YES_WORDS
from harmonia_excel.metadata import BOOLEAN_LIST, Column, WorkbookMeta


@attrs.frozen
class FilledRows:
    """The answers of a workbook as canonical rows, and headers that matched nothing."""

    rows: list[dict[str, Any]]
    ignored_columns: tuple[str, ...] = ()


def read_filled(workbook: Any, meta: WorkbookMeta, location: str) -> FilledRows:
    """Every answer in the answer sheet, one canonical row per answered item."""
    if meta.sheet not in workbook.sheetnames:
        raise InputError(
            f"the answer sheet {meta.sheet!r} is missing "
            f"(sheets: {', '.join(workbook.sheetnames)})",
            where=location,
            fix="give the sheet its name back, or write a new workbook",
        )
    rows = list(workbook[meta.sheet].iter_rows(min_row=meta.header_row, values_only=True))
    if len(rows) < 2:
        return FilledRows([])
    positions, ignored = _positions(rows[0], rows[meta.label_row - meta.header_row], meta)
    found_roles = {column.role for column in positions.values()}
    for role in ("customer", "answered_at"):
        if role not in found_roles:
            header = next(c.header for c in meta.columns if c.role == role)
            raise InputError(
                f"the column {header!r} is missing from the answer sheet",
                where=location,
                fix="give the column its header back: harmonia finds the columns by their headers",
            )
    reader = _RowReader(meta, positions)
    found = []
    for line, values in enumerate(rows[meta.first_row - meta.header_row :], meta.first_row):
        # `_line`: the sheet row a rejected answer is reported at (a rep finds it there).
        found.extend(answer | {"_line": line} for answer in reader.answers(values))
    return FilledRows(found, ignored)


def _positions(
    headers: tuple[Any, ...], labels: tuple[Any, ...], meta: WorkbookMeta
) -> tuple[dict[int, Column], tuple[str, ...]]:
    """Which column (by position) holds what, found by its question and option texts.

    A multiple-choice question is one merged header over its option columns:
    only the first holds the text, so it carries over to the columns after it.
    """
    by_key = {column.key: column for column in meta.columns}
    positions, ignored = {}, []
    question = ""
    for position in range(max(len(headers), len(labels))):
        header = _text(headers, position)
        label = _text(labels, position)
        question = header or (question if label else "")
        if not question:
            continue
        column = by_key.get((question, label))
        if column is None:
            ignored.append(f"{question}: {label}" if label else question)
        else:
            positions[position] = column
    return positions, tuple(ignored)


def _text(values: tuple[Any, ...], position: int) -> str:
    value = values[position] if position < len(values) else None
    return "" if value is None else str(value).strip()


class _RowReader:
    """Turns one sheet row into canonical rows."""

    def __init__(self, meta: WorkbookMeta, positions: dict[int, Column]) -> None:
        self.meta = meta
        self.positions = positions
        self.codes: dict[str, dict[str, str]] = {}
        for choice in meta.choices:
            self.codes.setdefault(choice.list, {})[choice.text.strip().lower()] = choice.code
        words = {word: "true" for word in YES_WORDS} | {word: "false" for word in NO_WORDS}
        self.booleans = words | self.codes.get(BOOLEAN_LIST, {})
        self.order = {column.item: index for index, column in enumerate(meta.columns)}

    def answers(self, values: tuple[Any, ...]) -> Iterator[dict[str, Any]]:
        customer, answered_at = None, None
        single: dict[str, str] = {}
        selected: dict[str, list[str]] = {}
        for position, column in self.positions.items():
            value = values[position] if position < len(values) else None
            if column.role == "customer":
                customer = canonical_value(value)
            elif column.role == "answered_at":
                answered_at = canonical_value(value)
            elif column.role == "option":
                chosen = self._checked(value, column)
                if chosen is not None:
                    selected.setdefault(column.item, []).append(chosen)
            elif column.role == "item" and canonical_value(value) is not None:
                single[column.item] = self._answer(value, column)
        answers = {**single, **{item: "|".join(codes) for item, codes in selected.items()}}
        common = {
            "customer_id": customer,
            "questionnaire": self.meta.questionnaire,
            "version": self.meta.version,
            "respondent": self.meta.respondent,
            "answered_at": answered_at,
        }
        for item in sorted(answers, key=lambda item: self.order.get(item, len(self.order))):
            yield {**common, "question": item, "answer": answers[item]}

    def _answer(self, value: Any, column: Column) -> str:
        """A cell's value as canonical text: an option's code, true/false, or the value."""
        text = canonical_value(value) or ""
        if column.kind == "single":
            return self.codes.get(column.item, {}).get(text.lower(), text)
        if column.kind == "boolean":
            return self.booleans.get(text.lower(), text)
        return text

    def _checked(self, value: Any, column: Column) -> str | None:
        """The option's code when its box is ticked, None when not; anything else as typed."""
        if value is True:
            return column.option
        text = (canonical_value(value) or "").lower()
        if not text or value is False or text in NO_WORDS:
            return None
        return column.option if text in YES_WORDS else text
