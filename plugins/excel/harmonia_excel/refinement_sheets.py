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

import functools
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


@functools.cache
def letter(column: int) -> str:
    from xlsxwriter.utility import xl_col_to_name

    return xl_col_to_name(column)


@attrs.frozen
class Rendered:
    """Rows of several workbooks as XML: the data sheet's and the hidden record's
    rows (``bounds[i]:bounds[i + 1]`` are workbook i's), and per dimension the
    drop-downs of every workbook (``checks[d][1][i]:checks[d][1][i + 1]`` are
    workbook i's)."""

    data: Any
    record: Any
    bounds: Any
    checks: dict[str, tuple[Any, Any]]


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
        """The XML rows of ``books`` (rows ``start:end`` of ``rows`` each, in order,
        every row in one), column-wise."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        count = rows.num_rows

        def column(name: str) -> Any:
            if name in rows.column_names:
                return rows.column(name).combine_chunks()
            return pa.nulls(count, pa.string())

        bounds = np.array([0, *(end for _, end in books)], dtype=np.int64)
        book_of = np.repeat(np.arange(len(books)), np.diff(bounds))
        numbers = np.arange(count, dtype=np.int64) - bounds[book_of] + 2
        at, at_record = sheet_xml.row_numbers(numbers), sheet_xml.row_numbers(numbers + 6)
        locked = self.locked
        first, last = (
            pc.if_else(pc.equal(column(n), ""), None, column(n))
            for n in ("first_name", "last_name")
        )
        # Not null_handling="skip": pyarrow 26 drops the rows where every part is null.
        name = pc.coalesce(pc.binary_join_element_wise(first, last, " "), first, last)
        source_id = column("source_id")
        if not pa.types.is_integer(source_id.type):
            source_id = sheet_xml.text(source_id)  # escaped once for both sheets
        data = [
            sheet_xml.cells("A", at, source_id, locked),
            sheet_xml.cells("B", at, name, locked),
            sheet_xml.cells("C", at, sheet_xml.text(column("specialty"), repeated=True), locked),
            sheet_xml.cells("D", at, sheet_xml.text(column("city"), repeated=True), locked),
        ]
        record = [
            sheet_xml.cells("A", at_record, pa.array(numbers)),
            sheet_xml.cells("B", at_record, column("harmonia_id")),
            sheet_xml.cells("C", at_record, source_id),
        ]
        checks = {}
        for index, dimension in enumerate(self.dimensions):
            value = column(dimension)
            integer = pa.types.is_integer(value.type)
            shown = value if integer else sheet_xml.text(value, repeated=True)
            # Locked (grey): the context and the proposal; the rep's choice is not.
            data.append(sheet_xml.cells(letter(4 + 2 * index), at, shown, locked))
            data.append(sheet_xml.cells(letter(5 + 2 * index), at, shown))
            record.append(sheet_xml.cells(letter(3 + index), at_record, shown))
            if dimension != GOAL:
                checks[dimension] = self._choices(
                    letter(5 + 2 * index), dimension, value, book_of, numbers, len(books)
                )
        return Rendered(
            sheet_xml.rows_xml(at, data), sheet_xml.rows_xml(at_record, record), bounds, checks
        )

    def _choices(
        self, column: str, dimension: str, value: Any, book_of: Any, numbers: Any, books: int
    ) -> tuple[Any, Any]:
        """Each workbook's drop-downs of ``dimension``: per value, in the order values
        first appear, the moves from it on the cells of its rows (runs of rows as
        ranges, ``F2:F4 F7``), all workbooks' at once; and where each one's begin."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if not len(value):  # a workbook without rows has no drop-down
            return pa.array([], pa.string()), np.zeros(books + 1, dtype=np.int64)
        encoded = pc.dictionary_encode(value)
        values = encoded.dictionary.to_pylist()
        formulas = self.lists[dimension]
        # Code 0 is a missing value; a value outside the dimension's order gets
        # the moves from nowhere (as the policy answers for it).
        formula = pa.array([formulas[None], *(formulas.get(v, formulas[None]) for v in values)])
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False) + 1
        key = book_of * (len(values) + 1) + codes
        order = np.argsort(key, kind="stable")  # by workbook and value, rows ascending
        key, rows = key[order], numbers[order]
        runs = np.flatnonzero(np.r_[True, (key[1:] != key[:-1]) | (rows[1:] != rows[:-1] + 1)])
        firsts, lasts = rows[runs], rows[np.r_[runs[1:], len(rows)] - 1]
        cells = pc.if_else(
            pa.array(firsts == lasts),
            pc.binary_join_element_wise(column, sheet_xml.row_numbers(firsts), ""),
            pc.binary_join_element_wise(
                column, sheet_xml.row_numbers(firsts), ":", column,
                sheet_xml.row_numbers(lasts), "",
            ),
        )  # fmt: skip
        run_key = key[runs]
        groups = np.flatnonzero(np.r_[True, run_key[1:] != run_key[:-1]])
        ranges = pc.binary_join(
            pa.ListArray.from_arrays(pa.array(np.r_[groups, len(runs)], pa.int32()), cells), " "
        )
        book, code = np.divmod(run_key[groups], len(values) + 1)
        xml = pc.binary_join_element_wise(
            self._list_check, ranges, '"><formula1>', formula.take(pa.array(code)),
            "</formula1></dataValidation>", "",
        )  # fmt: skip
        # Within a workbook, values in the order they first appear on the sheet.
        placed = np.lexsort((firsts[groups], book))
        starts = np.searchsorted(book[placed], np.arange(books + 1))
        return xml.take(pa.array(placed)), starts

    @property
    def _list_check(self) -> str:
        """A drop-down's opening, up to its cells."""
        title = sheet_xml.attribute(label(self.language, "invalid"))
        choose = sheet_xml.attribute(label(self.language, "choose"))
        return (
            f'<dataValidation type="list" allowBlank="1" showInputMessage="1" '
            f'showErrorMessage="1" errorTitle="{title}" error="{choose}" sqref="'
        )

    def write(self, out: Path, meta: RefinementWorkbook, rendered: Rendered, book: int) -> None:
        """Workbook ``book`` of ``rendered`` at ``out``."""
        start, end = int(rendered.bounds[book]), int(rendered.bounds[book + 1])
        last = end - start + 1
        right = letter(len(self.headers) - 1)
        data = self.data.fill(
            f'<dimension ref="A1:{right}{last}"/>',
            sheet_xml.joined(rendered.data, start, end),
            f'<autoFilter ref="A1:{right}{last}"/>',
            self._validations(rendered, book, last),
        )
        head = _record_lines(
            [
                [MARK],
                ["cycle", meta.cycle],
                ["territory", meta.territory],
                ["opened_at", meta.opened_at],
                ["system", meta.system],
                ["dimensions", " ".join(self.dimensions)],
                ["row", "harmonia_id", "source_id", *self.dimensions],
            ]
        )
        record = self.record.fill(
            f'<dimension ref="A1:{letter(2 + len(self.dimensions))}{RECORD_HEAD + end - start}"/>',
            [head, sheet_xml.joined(rendered.record, start, end)],
        )
        self.template.write(out, {DATA: data, RECORD: record, BOOK: self.book.fill(f"${last}")})

    def _validations(self, rendered: Rendered, book: int, last: int) -> list[Any]:
        """The drop-downs: the reasons, and per dimension each value's moves on its
        rows; a goal is a whole number of calls."""
        if last < 2:
            return []
        reason = letter(4 + 2 * len(self.dimensions))
        checks: list[Any] = [
            f'{self._list_check}{reason}2:{reason}{last}"><formula1>{self.reasons}'
            "</formula1></dataValidation>"
        ]
        count = 1
        for index, dimension in enumerate(self.dimensions):
            column = letter(5 + 2 * index)
            if dimension == GOAL:
                title = sheet_xml.attribute(label(self.language, "invalid"))
                whole = sheet_xml.attribute(label(self.language, "whole"))
                checks.append(
                    f'<dataValidation type="whole" operator="greaterThanOrEqual" '
                    f'allowBlank="1" showInputMessage="1" showErrorMessage="1" '
                    f'errorTitle="{title}" error="{whole}" sqref="{column}2:{column}{last}">'
                    f"<formula1>0</formula1></dataValidation>"
                )
                count += 1
                continue
            xml, starts = rendered.checks[dimension]
            first, end = int(starts[book]), int(starts[book + 1])
            checks.append(sheet_xml.joined(xml, first, end))
            count += end - first
        return [f'<dataValidations count="{count}">', *checks, "</dataValidations>"]


def _record_lines(lines: Sequence[Sequence[Any]]) -> str:
    """The hidden record's first lines (numbers as numbers, the rest as text)."""
    return "".join(
        f'<row r="{number}">{_record_line(number, tuple(line))}</row>'
        for number, line in enumerate(lines, start=1)
    )


@functools.lru_cache(maxsize=64)
def _record_line(number: int, line: tuple[Any, ...]) -> str:
    # Cached: most lines are the same in every workbook of a round.
    return "".join(
        sheet_xml.number_cell(f"{letter(column)}{number}", value)
        if isinstance(value, int)
        else sheet_xml.text_cell(f"{letter(column)}{number}", str(value))
        for column, value in enumerate(line)
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
