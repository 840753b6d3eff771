"""The sheets of refinement workbooks, written for many territories at once.

What every workbook of a round shares is written once by XlsxWriter (styles,
the header row and its comment, frozen panes, the drop-down lists, the hidden
sheets' protection) and cut where workbooks differ; each territory's rows are
rendered column-wise in Arrow (:mod:`harmonia_excel.sheet_xml`) for many
territories at once. The workbook a rep gets is the one XlsxWriter wrote cell
by cell before (same cells, styles, drop-downs, hidden record), at a fraction
of the CPU.

The lists sheet holds every list a drop-down of the round can offer: the
reasons, and per dimension the moves allowed from each value. A cell's
drop-down points at the list of its own value.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from harmonia_excel import sheet_xml
from harmonia_excel.refinement import (
    GOAL,
    LISTS_SHEET,
    MARK,
    META_SHEET,
    Offered,
    RefinementWorkbook,
    label,
)
from harmonia_excel.sheet_xml import Holes, Template

#: Where the context columns end and the dimensions' (proposed, yours) pairs begin.
CONTEXT = ("customer_id", "name", "specialty", "city")
#: The hidden record's lines before its rows (mark, cycle, territory, opened_at,
#: system, dimensions, the rows' header).
RECORD_HEAD = 7
DATA, LISTS, RECORD, BOOK = (
    "xl/worksheets/sheet1.xml",
    "xl/worksheets/sheet2.xml",
    "xl/worksheets/sheet3.xml",
    "xl/workbook.xml",
)


def letter(column: int) -> str:
    from xlsxwriter.utility import xl_col_to_name

    return xl_col_to_name(column)


@attrs.frozen
class Rendered:
    """Rows of several workbooks as XML: the data sheet's and the hidden record's
    rows, and per dimension each row's value as a code into ``values``."""

    data: Any
    record: Any
    codes: dict[str, Any]
    values: dict[str, list[Any]]


@attrs.frozen
class Layout:
    """The workbooks of a round: their columns, and the template they are written into."""

    dimensions: tuple[str, ...]
    headers: tuple[str, ...]
    language: str
    reasons: str  # the formula of the reasons' list
    lists: dict[str, dict[Any, str]]  # per dimension and value, its list's formula
    locked: int  # the style of the context and the proposal
    template: Template
    data: Holes
    record: Holes
    book: Holes

    @classmethod
    def of(
        cls,
        dimensions: Sequence[str],
        offered: Offered,
        reasons: Sequence[str],
        language: str,
    ) -> Layout:
        # A call goal is a number typed in, not a move chosen from a list.
        dimensions = tuple(d for d in dimensions if d in offered or d == GOAL)
        headers = [label(language, key) for key in CONTEXT]
        for dimension in dimensions:
            name = label(language, dimension)
            headers += [
                label(language, "proposed", dimension=name),
                label(language, "yours", dimension=name),
            ]
        headers += [label(language, "reason"), label(language, "comment")]
        template, formulas, locked = _template(headers, dimensions, offered, reasons, language)
        return cls(
            dimensions=dimensions,
            headers=tuple(headers),
            language=language,
            reasons=formulas.pop(None)[None],
            lists=formulas,
            locked=locked,
            template=template,
            # Zero-width holes where rows go; the others replace what they match.
            data=Holes.cut(
                template.part(DATA),
                r'<dimension ref="[^"]*"/>',
                r"(?=</sheetData>)",
                r'<autoFilter ref="[^"]*"/>',
                r"<dataValidations.*?</dataValidations>",
            ),
            record=Holes.cut(
                template.part(RECORD),
                r'<dimension ref="[^"]*"/>',
                r"(?<=<sheetData>).*?(?=</sheetData>)",
            ),
            book=Holes.cut(template.part(BOOK), r"\$\d+(?=</definedName>)"),
        )

    def render(self, rows: Any, books: Sequence[tuple[int, int]]) -> Rendered:
        """The XML rows of ``books`` (rows ``start:end`` of ``rows`` each), column-wise."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        count = rows.num_rows

        def column(name: str) -> Any:
            if name in rows.column_names:
                return rows.column(name).combine_chunks()
            return pa.nulls(count, pa.string())

        starts = np.array([start for start, _ in books], dtype=np.int64)
        sizes = np.array([end - start for start, end in books], dtype=np.int64)
        numbers = np.arange(count, dtype=np.int64) - np.repeat(starts, sizes) + 2
        at, at_record = sheet_xml.row_numbers(numbers), sheet_xml.row_numbers(numbers + 6)
        locked = self.locked
        first, last = (
            pc.if_else(pc.equal(column(n), ""), None, column(n))
            for n in ("first_name", "last_name")
        )
        # Not null_handling="skip": pyarrow 26 drops the rows where every part is null.
        name = pc.coalesce(pc.binary_join_element_wise(first, last, " "), first, last)
        data = [
            sheet_xml.cells("A", at, column("source_id"), locked),
            sheet_xml.cells("B", at, name, locked),
            sheet_xml.cells("C", at, column("specialty"), locked),
            sheet_xml.cells("D", at, column("city"), locked),
        ]
        record = [
            sheet_xml.cells("A", at_record, pa.array(numbers)),
            sheet_xml.cells("B", at_record, column("harmonia_id")),
            sheet_xml.cells("C", at_record, column("source_id")),
        ]
        codes, values = {}, {}
        for index, dimension in enumerate(self.dimensions):
            value = column(dimension)
            # Locked (grey): the context and the proposal; the rep's choice is not.
            data.append(sheet_xml.cells(letter(4 + 2 * index), at, value, locked))
            data.append(sheet_xml.cells(letter(5 + 2 * index), at, value))
            record.append(sheet_xml.cells(letter(3 + index), at_record, value))
            if dimension != GOAL:
                encoded = pc.dictionary_encode(value)
                codes[dimension] = pc.fill_null(encoded.indices, -1).to_numpy()
                values[dimension] = encoded.dictionary.to_pylist()
        return Rendered(
            sheet_xml.rows_xml(at, data), sheet_xml.rows_xml(at_record, record), codes, values
        )

    def write(
        self, out: Path, meta: RefinementWorkbook, rendered: Rendered, start: int, end: int
    ) -> None:
        """The workbook of rows ``start:end`` of ``rendered`` at ``out``."""
        last = end - start + 1
        right = letter(len(self.headers) - 1)
        data = self.data.fill(
            f'<dimension ref="A1:{right}{last}"/>',
            sheet_xml.joined(rendered.data, start, end),
            f'<autoFilter ref="A1:{right}{last}"/>',
            self._validations(rendered, start, end),
        )
        head = [
            [MARK],
            ["cycle", meta.cycle],
            ["territory", meta.territory],
            ["opened_at", meta.opened_at],
            ["system", meta.system],
            ["dimensions", " ".join(self.dimensions)],
            ["row", "harmonia_id", "source_id", *self.dimensions],
        ]
        lines = []
        for number, line in enumerate(head, start=1):
            cells = "".join(
                sheet_xml.number_cell(f"{letter(c)}{number}", value)
                if isinstance(value, int)
                else sheet_xml.text_cell(f"{letter(c)}{number}", str(value))
                for c, value in enumerate(line)
            )
            lines.append(f'<row r="{number}">{cells}</row>')
        record = self.record.fill(
            f'<dimension ref="A1:{letter(2 + len(self.dimensions))}{RECORD_HEAD + end - start}"/>',
            ["".join(lines).encode(), sheet_xml.joined(rendered.record, start, end)],
        )
        self.template.write(out, {DATA: data, RECORD: record, BOOK: self.book.fill(f"${last}")})

    def _validations(self, rendered: Rendered, start: int, end: int) -> str:
        """The drop-downs: the reasons, and per dimension each value's moves on its
        rows; a goal is a whole number of calls."""
        import numpy as np

        if end <= start:
            return ""
        last = end - start + 1
        title = sheet_xml.attribute(label(self.language, "invalid"))
        choose = sheet_xml.attribute(label(self.language, "choose"))

        def listed(cells: str, formula: str) -> str:
            return (
                f'<dataValidation type="list" allowBlank="1" showInputMessage="1" '
                f'showErrorMessage="1" errorTitle="{title}" error="{choose}" sqref="{cells}">'
                f"<formula1>{formula}</formula1></dataValidation>"
            )

        reason = letter(4 + 2 * len(self.dimensions))
        checks = [listed(f"{reason}2:{reason}{last}", self.reasons)]
        for index, dimension in enumerate(self.dimensions):
            column = letter(5 + 2 * index)
            if dimension == GOAL:
                whole = sheet_xml.attribute(label(self.language, "whole"))
                checks.append(
                    f'<dataValidation type="whole" operator="greaterThanOrEqual" '
                    f'allowBlank="1" showInputMessage="1" showErrorMessage="1" '
                    f'errorTitle="{title}" error="{whole}" sqref="{column}2:{column}{last}">'
                    f"<formula1>0</formula1></dataValidation>"
                )
                continue
            codes = rendered.codes[dimension][start:end]
            found, first_at, groups = np.unique(codes, return_index=True, return_inverse=True)
            formulas = self.lists[dimension]
            for group in np.argsort(first_at, kind="stable"):
                code = int(found[group])
                value = rendered.values[dimension][code] if code >= 0 else None
                formula = formulas.get(value, formulas[None])
                numbers = np.flatnonzero(groups == group) + 2
                checks.append(listed(_ranges(column, numbers), formula))
        return f'<dataValidations count="{len(checks)}">{"".join(checks)}</dataValidations>'


def _ranges(column: str, numbers: Any) -> str:
    """The cells of rows ``numbers`` (ascending) in ``column``, runs as ranges
    (``F2:F4 F7``): one list for the whole validation, not a cell at a time."""
    import numpy as np

    breaks = np.flatnonzero(np.diff(numbers) != 1) + 1
    firsts = numbers[np.concatenate(([0], breaks))].tolist()
    lasts = numbers[np.concatenate((breaks - 1, [len(numbers) - 1]))].tolist()
    return " ".join(
        f"{column}{a}" if a == b else f"{column}{a}:{column}{b}"
        for a, b in zip(firsts, lasts, strict=True)
    )


def _template(
    headers: Sequence[str],
    dimensions: Sequence[str],
    offered: Offered,
    reasons: Sequence[str],
    language: str,
) -> tuple[Template, dict[Any, dict[Any, str]], int]:
    """What every workbook of the round shares, written by XlsxWriter: the template,
    the lists' formulas (the reasons' under ``None``) and the locked style's index."""
    import xlsxwriter

    from harmonia_excel.cells import XLSX_HEADER, XLSX_LOCKED, safe

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet(label(language, "sheet"))
    lists = workbook.add_worksheet(LISTS_SHEET)
    hidden = workbook.add_worksheet(META_SHEET)
    header_style, locked = workbook.add_format(XLSX_HEADER), workbook.add_format(XLSX_LOCKED)
    for column, header in enumerate(headers):
        sheet.write_string(0, column, header, header_style)
        sheet.set_column(column, column, max(12, min(40, len(header) + 4)))
    sheet.write_comment(0, 0, label(language, "do_not_edit"), {"author": "harmonia"})

    # Drop-downs from lists on a hidden sheet (a list typed into the rule is cut at
    # 255 characters).
    list_column = 0

    def add_list(items: Sequence[str]) -> str:
        nonlocal list_column
        for index, item in enumerate(items):
            lists.write_string(index, list_column, safe(item))
        name = letter(list_column)
        list_column += 1
        return f"{LISTS_SHEET}!${name}$1:${name}${max(1, len(items))}"

    formulas: dict[Any, dict[Any, str]] = {None: {None: add_list(reasons)}}
    for dimension in dimensions:
        if dimension != GOAL:
            formulas[dimension] = {
                value: add_list(choices) for value, choices in offered[dimension].items()
            }
    # Placeholders where each workbook has its own: a drop-down, the filter's last
    # row, the hidden record (its locked blank gives the locked style its index).
    reason = 4 + 2 * len(dimensions)
    sheet.data_validation(1, reason, 1, reason, {"validate": "list", "source": "=$A$1"})
    sheet.freeze_panes(1, 2)
    sheet.autofilter(0, 0, 0, len(headers) - 1)
    hidden.write_number(0, 0, 0)
    hidden.write_blank(1, 0, None, locked)
    lists.hide()
    hidden.very_hidden()
    lists.protect()
    hidden.protect()
    workbook.close()
    return Template.of(buffer.getvalue()), formulas, locked.xf_index
