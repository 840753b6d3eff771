"""The ``xlsx`` output sink: cycle outputs as formatted workbooks.

One sheet per output, with a styled and frozen header, a filter, column
widths that fit the content, and number formats (ids without separators,
counts with thousands separators, amounts with two decimals, dates as
YYYY-MM-DD). Excel shows the decimal mark of the reader's locale, so the same
file reads right in Paris and in Boston. Rows stream through openpyxl's
write-only mode; an output longer than a sheet continues on the next one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from harmonia import SinkRequest
from harmonia_excel.cells import BORDER, HEADER_FILL, HEADER_FONT, MAX_ROWS, safe, sheet_name

#: Widths are measured on this many rows, then capped.
SAMPLE_ROWS = 1000
MAX_WIDTH = 50
ID_FORMAT, COUNT_FORMAT, AMOUNT_FORMAT, DATE_FORMAT = "0", "#,##0", "#,##0.00", "yyyy-mm-dd"


def write_xlsx(request: SinkRequest) -> list[str]:
    """Write ``request.table`` as ``<name>-<output>.xlsx`` in the output directory."""
    from openpyxl import Workbook

    path = request.path(".xlsx")
    workbook = Workbook(write_only=True)
    formats = [_format(field) for field in request.table.schema]
    widths = _widths(request.table)
    for part, rows in enumerate(_chunks(request.table, MAX_ROWS - 1), start=1):
        title = request.kind if part == 1 else f"{request.kind} ({part})"
        _sheet(workbook, sheet_name(title), request.table.column_names, formats, widths, rows)
    workbook.save(path)
    return [str(path)]


def _sheet(
    workbook: Any,
    title: str,
    names: list[str],
    formats: list[str | None],
    widths: list[float],
    rows: Iterator[list[Any]],
) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    sheet = workbook.create_sheet(title)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    header = []
    for name in names:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font, cell.fill, cell.border = HEADER_FONT, HEADER_FILL, BORDER
        header.append(cell)
    sheet.append(header)
    count = 0
    for row in rows:
        sheet.append([_cell(sheet, value, fmt) for value, fmt in zip(row, formats, strict=True)])
        count += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(max(len(names), 1))}{count + 1}"


def _cell(sheet: Any, value: Any, number_format: str | None) -> Any:
    from openpyxl.cell import WriteOnlyCell

    value = safe(value)
    if number_format is None or value is None:
        if isinstance(value, str) and value.startswith("="):
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"  # text, never a formula
            return cell
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = number_format
    return cell


def _chunks(table: Any, size: int) -> Iterator[Iterator[list[Any]]]:
    """The table's rows as lists, ``size`` rows per chunk (at least one chunk)."""
    starts = range(0, max(table.num_rows, 1), size)
    for start in starts:
        yield _rows(table.slice(start, size))


def _rows(table: Any) -> Iterator[list[Any]]:
    for batch in table.to_batches(max_chunksize=10_000):
        columns = [column.to_pylist() for column in batch.columns]
        yield from (list(row) for row in zip(*columns, strict=True))


def _format(field: Any) -> str | None:
    import pyarrow as pa

    kind = field.type
    if pa.types.is_integer(kind):
        return ID_FORMAT if _id_like(field.name) else COUNT_FORMAT
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return AMOUNT_FORMAT
    if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        return DATE_FORMAT
    return None


def _id_like(name: str) -> bool:
    return name == "id" or name.endswith(("_id", "_code")) or name == "period"


def _widths(table: Any) -> list[float]:
    sample = table.slice(0, SAMPLE_ROWS)
    widths = []
    for name, column in zip(table.column_names, sample.columns, strict=True):
        longest = max((len(_shown(value)) for value in column.to_pylist()), default=0)
        widths.append(float(min(max(longest, len(name)) + 3, MAX_WIDTH)))
    return widths


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, dt.date | dt.datetime):
        return "yyyy-mm-dd"
    return "" if value is None else str(value)
