"""Writing a rep profiling workbook: one row per customer, one column per question.

The workbook is in one language (the country's): headers are the question
texts, drop-downs offer the options' texts, help and skip logic are comments
on the headers. A multiple-choice question gets one column per option (pick
Yes under each answer that applies), because a spreadsheet cell holds one
choice. A hidden sheet (:mod:`harmonia_excel.metadata`) maps all of it back
to item ids and option codes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from harmonia import EnableWhen, Item, Questionnaire, text_in
from harmonia_excel.cells import (
    BORDER,
    CENTER_WRAP,
    GROUP_FILL,
    HEADER_FILL,
    HEADER_FONT,
    LOCKED_FILL,
    WRAP,
    set_text,
    sheet_name,
)
from harmonia_excel.labels import Labels
from harmonia_excel.metadata import BOOLEAN_LIST, CHECK_LIST, Choice, Column, WorkbookMeta

#: Group titles, then questions, then (under a multiple-choice question) its options.
GROUP_ROW, HEADER_ROW, LABEL_ROW, FIRST_ROW = 1, 2, 3, 4
#: The context columns before the questions: (role, label key, width).
CONTEXT = (
    ("customer", "customer_id", 14),
    ("name", "name", 26),
    ("specialty", "specialty", 18),
    ("city", "city", 16),
    ("answered_at", "answered_at", 14),
)
#: Scales with this many values or fewer get a drop-down of their values.
SCALE_LIST_LIMIT = 11
DATE_FORMAT = "yyyy-mm-dd"
TITLE_FONT = Font(bold=True, color="1F4E79", size=14)


@attrs.frozen
class Customer:
    """A row of the workbook: the customer's id in the workbook's system, and context."""

    id: str
    name: str = ""
    specialty: str = ""
    city: str = ""


@attrs.frozen
class Target:
    """Who the workbook is for, and how its answers load back."""

    country: str
    territory: str
    language: str
    system: str
    respondent: str
    load_command: str = ""


def build(questionnaire: Questionnaire, customers: Sequence[Customer], target: Target) -> Workbook:
    """The rep profiling workbook for ``customers`` (an openpyxl Workbook, not yet saved)."""
    labels = Labels(target.language)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = sheet_name(labels["sheet"])
    columns = list(_columns(questionnaire, target.language, labels))
    meta = WorkbookMeta(
        questionnaire=questionnaire.id,
        version=questionnaire.version,
        therapy_area=questionnaire.therapy_area,
        country=target.country,
        territory=target.territory,
        language=target.language,
        system=target.system,
        respondent=target.respondent,
        generated_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        sheet=sheet.title,
        header_row=HEADER_ROW,
        label_row=LABEL_ROW,
        first_row=FIRST_ROW,
        columns=tuple(column.meta for column in columns),
        choices=tuple(_choices(questionnaire, target.language, labels)),
    )
    _instructions(workbook, questionnaire, len(customers), target, labels)
    lists = meta.write(workbook)
    last_row = FIRST_ROW + max(len(customers), 1) - 1
    _headers(sheet, questionnaire, columns, target.language)
    _rows(sheet, customers, columns)
    for column in columns:
        _validate(sheet, column, lists, last_row, labels)
    sheet.freeze_panes = sheet.cell(row=FIRST_ROW, column=len(CONTEXT) + 1)
    sheet.auto_filter.ref = f"A{LABEL_ROW}:{columns[-1].meta.letter}{last_row}"
    workbook.active = 0
    return workbook


# --- columns ----------------------------------------------------------------------


@attrs.frozen
class _Column:
    """A planned column: what it holds (``meta``), its width and its item, if any."""

    meta: Column
    width: float
    item: Item | None = None
    comment: str = ""


def _columns(q: Questionnaire, language: str, labels: Labels) -> Iterator[_Column]:
    index = 0
    for role, key, width in CONTEXT:
        index += 1
        comment = labels["do_not_edit"] if role == "customer" else ""
        yield _Column(Column(get_column_letter(index), role, labels[key]), width, comment=comment)
    for item in q.items:
        header = _header(item, language)
        comment = _comment(item, q, language, labels)
        if item.type == "multiple":
            for option in item.options:
                index += 1
                label = text_in(option.text, language) or option.code
                letter = get_column_letter(index)
                column = Column(letter, "option", header, item.id, option.code, item.type, label)
                yield _Column(column, 16, item, comment)
            continue
        index += 1
        column = Column(get_column_letter(index), "item", header, item.id, kind=item.type)
        yield _Column(column, 40 if item.type == "text" else 24, item, comment)


def _header(item: Item, language: str) -> str:
    text = text_in(item.text, language) or item.id
    unit = item.unit_text(language)
    if unit:
        text = f"{text} ({unit})"
    return f"{text} *" if item.required else text


def _comment(item: Item, q: Questionnaire, language: str, labels: Labels) -> str:
    """Help, unit and skip logic, shown when the rep hovers over the header."""
    parts = []
    if item.help:
        parts.append(text_in(item.help, language) or "")
    if item.required:
        parts.append(labels["required"])
    if item.enable_when:
        parts.append(_condition_text(item, q, language, labels))
    return "\n\n".join(part for part in parts if part)


def _condition_text(item: Item, q: Questionnaire, language: str, labels: Labels) -> str:
    conditions = [_one_condition(c, q, language, labels) for c in item.enable_when]
    if len(conditions) > 1 and item.enable_behavior == "any":
        return f"{labels['only_if']} {labels['any_of']}:\n" + "\n".join(
            f"- {text}" for text in conditions
        )
    return f"{labels['only_if']}: " + "; ".join(conditions)


def _one_condition(condition: EnableWhen, q: Questionnaire, language: str, labels: Labels) -> str:
    source = q.item(condition.item)
    name = text_in(source.text, language) if source else condition.item
    if condition.operator == "exists":
        return f"“{name}” {labels['answered' if condition.expects_answer else 'not_answered']}"
    answer: Any = condition.answer
    if source is not None and source.option(str(answer)) is not None:
        answer = text_in(source.option(str(answer)).text, language)  # type: ignore[union-attr]
    elif isinstance(answer, bool):
        answer = labels["yes" if answer else "no"]
    return f"“{name}” {condition.operator} {answer}"


def _choices(q: Questionnaire, language: str, labels: Labels) -> Iterator[Choice]:
    yield Choice(BOOLEAN_LIST, "true", labels["yes"])
    yield Choice(BOOLEAN_LIST, "false", labels["no"])
    yield Choice(CHECK_LIST, "true", labels["yes"])
    for item in q.items:
        if item.type == "single":
            for option in item.options:
                yield Choice(item.id, option.code, text_in(option.text, language) or option.code)


# --- sheets -------------------------------------------------------------------------


def _headers(sheet: Any, q: Questionnaire, columns: list[_Column], language: str) -> None:
    """Group titles over their questions, questions over their options, help as comments."""
    for number, column in enumerate(columns, start=1):
        sheet.column_dimensions[column.meta.letter].width = column.width
        for row in (GROUP_ROW, HEADER_ROW, LABEL_ROW):
            cell = sheet.cell(row=row, column=number)
            cell.font, cell.border = HEADER_FONT, BORDER
            cell.fill = GROUP_FILL if row == GROUP_ROW else HEADER_FILL
            cell.alignment = CENTER_WRAP if row == GROUP_ROW else WRAP
        if column.meta.role == "option":
            set_text(sheet.cell(row=LABEL_ROW, column=number), column.meta.label)
    for first, last, column in _question_spans(columns):
        cell = sheet.cell(row=HEADER_ROW, column=first)
        set_text(cell, column.meta.header)
        if column.comment:
            cell.comment = Comment(column.comment, "harmonia", width=320, height=160)
        if column.meta.role == "option":
            _merge(sheet, HEADER_ROW, first, HEADER_ROW, last)
        else:
            _merge(sheet, HEADER_ROW, first, LABEL_ROW, last)
    groups = {group.id: group for group in q.groups}
    for group_id, first, last in _group_spans(columns):
        title = text_in(groups[group_id].title, language) if group_id in groups else group_id
        set_text(sheet.cell(row=GROUP_ROW, column=first), title)
        _merge(sheet, GROUP_ROW, first, GROUP_ROW, last)
    sheet.row_dimensions[HEADER_ROW].height = 96
    sheet.row_dimensions[LABEL_ROW].height = 48


def _merge(sheet: Any, top: int, left: int, bottom: int, right: int) -> None:
    if (top, left) != (bottom, right):
        sheet.merge_cells(start_row=top, start_column=left, end_row=bottom, end_column=right)


def _question_spans(columns: list[_Column]) -> Iterator[tuple[int, int, _Column]]:
    """(first column, last column, column) of each question: its option columns together."""
    number = 1
    while number <= len(columns):
        column = columns[number - 1]
        last = number
        if column.meta.role == "option":
            while last < len(columns) and columns[last].meta.item == column.meta.item:
                last += 1
        yield number, last, column
        number = last + 1


def _group_spans(columns: list[_Column]) -> Iterator[tuple[str, int, int]]:
    """(group, first column, last column) of each run of columns of one group."""
    current: tuple[str, int, int] | None = None
    for number, column in enumerate(columns, start=1):
        group = column.item.group if column.item is not None else None
        if current is not None and group == current[0]:
            current = (current[0], current[1], number)
            continue
        if current is not None:
            yield current
        current = (group, number, number) if group else None
    if current is not None:
        yield current


def _rows(sheet: Any, customers: Sequence[Customer], columns: list[_Column]) -> None:
    context = {"customer": "id", "name": "name", "specialty": "specialty", "city": "city"}
    for offset, customer in enumerate(customers):
        row = FIRST_ROW + offset
        for number, column in enumerate(columns, start=1):
            cell = sheet.cell(row=row, column=number)
            cell.border = BORDER
            attribute = context.get(column.meta.role)
            if attribute is not None:
                set_text(cell, getattr(customer, attribute) or None)
                cell.fill = LOCKED_FILL
                cell.number_format = "@"  # ids like 00123 stay text
            elif column.meta.role == "answered_at" or (column.item and column.item.type == "date"):
                cell.number_format = DATE_FORMAT
            elif column.item is not None and column.item.type == "text":
                cell.alignment = WRAP


def _instructions(
    workbook: Workbook, q: Questionnaire, customers: int, target: Target, labels: Labels
) -> None:
    sheet = workbook.create_sheet(sheet_name(labels["instructions_sheet"]))
    lines = [
        text_in(q.title, target.language) or q.id,
        labels.format(
            "summary",
            territory=target.territory,
            customers=customers,
            id=q.id,
            version=q.version,
        ),
        "",
        *(labels[f"intro_{n}"] for n in range(1, 6)),
        target.load_command,
    ]
    for number, line in enumerate(lines, start=1):
        set_text(sheet.cell(row=number, column=1), line)
    sheet["A1"].font = TITLE_FONT
    sheet.column_dimensions["A"].width = 110


# --- validation ---------------------------------------------------------------------


def _validate(
    sheet: Any, column: _Column, lists: dict[str, str], last_row: int, labels: Labels
) -> None:
    validation = _validation(column, lists, labels)
    if validation is None:
        return
    validation.showErrorMessage = True
    validation.errorTitle = labels["invalid"]
    sheet.add_data_validation(validation)
    letter = column.meta.letter
    validation.add(f"{letter}{FIRST_ROW}:{letter}{last_row}")


def _validation(column: _Column, lists: dict[str, str], labels: Labels) -> DataValidation | None:
    role, item = column.meta.role, column.item
    if role == "answered_at":
        return _date(labels)
    if item is None:
        return None
    if role == "option":
        return _list(lists[CHECK_LIST], labels)
    if item.type == "single":
        return _list(lists[item.id], labels)
    if item.type == "boolean":
        return _list(lists[BOOLEAN_LIST], labels)
    if item.type == "date":
        return _date(labels)
    if item.type == "scale" and _small_whole_range(item):
        values = range(int(item.min or 0), int(item.max or 0) + 1)
        return _list('"' + ",".join(str(v) for v in values) + '"', labels)
    if item.type in ("integer", "decimal", "scale"):
        return _number(item, labels)
    return None


def _list(formula: str, labels: Labels) -> DataValidation:
    # showDropDown=False *shows* the in-cell arrow (the attribute means "suppress").
    validation = DataValidation(type="list", formula1=formula, allow_blank=True)
    validation.showDropDown = False
    validation.error = labels["choose"]
    return validation


def _date(labels: Labels) -> DataValidation:
    validation = DataValidation(
        type="date", operator="greaterThanOrEqual", formula1="1", allow_blank=True
    )
    validation.error = labels["date"]
    return validation


def _small_whole_range(item: Item) -> bool:
    if item.min is None or item.max is None:
        return False
    whole = float(item.min).is_integer() and float(item.max).is_integer()
    return whole and item.max - item.min + 1 <= SCALE_LIST_LIMIT


def _number(item: Item, labels: Labels) -> DataValidation:
    whole = item.type in ("integer", "scale") and all(
        bound is None or float(bound).is_integer() for bound in (item.min, item.max)
    )
    kind = "whole" if whole else "decimal"
    low, high = _bound(item.min, whole), _bound(item.max, whole)
    if low is not None and high is not None:
        validation = DataValidation(type=kind, operator="between", formula1=low, formula2=high)
        range_text = labels.format("between", min=low, max=high)
    elif low is not None:
        validation = DataValidation(type=kind, operator="greaterThanOrEqual", formula1=low)
        range_text = labels.format("at_least", min=low)
    elif high is not None:
        validation = DataValidation(type=kind, operator="lessThanOrEqual", formula1=high)
        range_text = labels.format("at_most", max=high)
    else:
        # No bounds: still refuse text in a number column.
        validation = DataValidation(
            type=kind, operator="between", formula1="-1E+15", formula2="1E+15"
        )
        range_text = ""
    validation.allow_blank = True
    validation.error = f"{labels['whole' if whole else 'number']} {range_text}".strip() + "."
    return validation


def _bound(value: float | None, whole: bool) -> str | None:
    if value is None:
        return None
    return str(int(value)) if whole or float(value).is_integer() else repr(float(value))
