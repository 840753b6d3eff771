"""The ``xlsx`` data source: canonical sheets, and filled rep profiling workbooks.

A workbook with sheets named ``customers``, ``metrics`` and ``responses``
loads like the three CSV files (customers first); a workbook with other
sheet names loads each sheet whose header says what it holds. A filled rep
profiling workbook (written by ``harmonia questionnaire workbook``) is
recognized by its hidden sheet and loads as responses. Either way the
loader validates every row and quarantines what is wrong, as for CSV.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harmonia import RECORD_KINDS, ConfigError, InputError, SourceRequest
from harmonia.files import KIND_ORDER, FileBatch, canonical_value, detect_kind, normalize_header
from harmonia_excel.filled import read_filled
from harmonia_excel.metadata import WorkbookMeta


def read_xlsx(request: SourceRequest) -> Iterator[FileBatch]:
    """Yield the batches of the workbook at ``path`` (customers, then metrics, then responses)."""
    path = Path(request.option("path") or "")
    with _open(path) as workbook:
        meta = _meta(workbook, path)
        if meta is not None:
            yield _filled_batch(workbook, meta, path, request)
            return
        yield from _canonical_batches(workbook, path, request.option("kind"))


@contextmanager
def _open(path: Path) -> Iterator[Any]:
    from openpyxl import load_workbook

    if not path.is_file():
        raise InputError("no such file", where=str(path), fix="check the path")
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a file that is not xlsx
        raise InputError(
            f"cannot read this file as an Excel workbook: {error}",
            where=str(path),
            fix="save it as .xlsx (Excel 2007 or later)",
        ) from None
    try:
        yield workbook
    finally:
        workbook.close()


def _meta(workbook: Any, path: Path) -> WorkbookMeta | None:
    try:
        return WorkbookMeta.read(workbook)
    except (TypeError, ValueError) as error:
        raise InputError(
            f"the hidden sheet of this rep profiling workbook is damaged: {error}",
            where=str(path),
            fix="write a new workbook with `harmonia questionnaire workbook` and copy the answers",
        ) from None


# --- rep profiling workbooks ------------------------------------------------------------


def _filled_batch(
    workbook: Any, meta: WorkbookMeta, path: Path, request: SourceRequest
) -> FileBatch:
    """The answers as responses, with the customer ids of ``meta.system``.

    The workbook's instructions give the load command with that ``--system``.
    """
    _check_market(meta, path, request)
    filled = read_filled(workbook, meta, str(path))
    table = _table(filled.rows, "responses")
    location = f"{path} [{meta.sheet}]"
    # A rep saw the questions' texts, not their codes: reasons name both.
    terms = {c.item: c.header for c in meta.columns if c.item and c.header.strip()}
    # ... and a drop-down's options by their texts, not their codes.
    options = {
        item: tuple((choice.code, choice.text) for choice in meta.choices_of(item))
        for item in terms
        if meta.choices_of(item)
    }
    return FileBatch(
        "responses",
        table,
        location,
        ignored_columns=filled.ignored_columns,
        terms=tuple(sorted(terms.items(), key=lambda term: -len(term[0]))),
        options=tuple(options.items()),
    )


def _check_market(meta: WorkbookMeta, path: Path, request: SourceRequest) -> None:
    """A rep workbook is rep-driven data: the country must be its own and use rep data."""
    if request.country and meta.country and request.country != meta.country:
        raise ConfigError(
            f"this workbook was written for {meta.country}, not {request.country}",
            where=str(path),
            fix=f"load it with --country {meta.country}",
        )
    profile = request.profile
    if profile is not None and "rep" not in profile.data_sources:
        raise ConfigError(
            f"{profile.code} does not use rep data sources (its profile allows: "
            f"{', '.join(profile.data_sources)}), and a rep profiling workbook is rep data",
            where=str(path),
            fix="use another source, or change the country profile",
        )


# --- canonical sheets --------------------------------------------------------------------


def _canonical_batches(workbook: Any, path: Path, kind: str | None) -> Iterator[FileBatch]:
    sheets = _sheets_by_kind(workbook, path, kind)
    for sheet_kind in KIND_ORDER:
        for title, header, rows in sheets.get(sheet_kind, ()):
            yield _sheet_batch(sheet_kind, header, rows, f"{path} [{title}]")


def _sheets_by_kind(
    workbook: Any, path: Path, kind: str | None
) -> dict[str, list[tuple[str, list[str], list[tuple[int, tuple]]]]]:
    """Each sheet's kind (by its name, else its header), header and numbered rows."""
    named = {normalize_header(title): title for title in workbook.sheetnames}
    chosen = [named[k] for k in KIND_ORDER if k in named] or list(workbook.sheetnames)
    found: dict[str, list[tuple[str, list[str], list[tuple[int, tuple]]]]] = {}
    for title in chosen:
        header, rows = _read_sheet(workbook[title])
        if not header:
            continue
        location = f"{path} [{title}]"
        normalized = normalize_header(title)
        sheet_kind = normalized if normalized in RECORD_KINDS else kind
        sheet_kind = detect_kind(header, location, sheet_kind)
        found.setdefault(sheet_kind, []).append((title, header, rows))
    if not found:
        raise InputError(
            "no sheet holds canonical records",
            where=str(path),
            fix="name the sheets customers, metrics and responses, with the CSV formats' headers",
        )
    return found


def _read_sheet(sheet: Any) -> tuple[list[str], list[tuple[int, tuple]]]:
    """The normalized header (row 1) and the non-empty rows with their sheet row numbers."""
    rows = sheet.iter_rows(values_only=True)
    first = next(rows, None)
    if not first or all(value is None for value in first):
        return [], []
    header = [normalize_header(str(value)) if value is not None else "" for value in first]
    numbered = [
        (number, row)
        for number, row in enumerate(rows, start=2)
        if any(canonical_value(value) is not None for value in row)
    ]
    return header, numbered


def _sheet_batch(
    kind: str, header: list[str], rows: list[tuple[int, tuple]], location: str
) -> FileBatch:
    columns = RECORD_KINDS[kind].column_names
    position = {name: index for index, name in enumerate(header) if name}
    records = [
        {name: _cell(row, position.get(name), name) for name in columns} | {"_row": number}
        for number, row in rows
    ]
    ignored = tuple(name for name in header if name and name not in columns)
    return FileBatch(kind, _table(records, kind), location, ignored_columns=ignored)


def _cell(row: tuple, index: int | None, column: str) -> str | None:
    if index is None or index >= len(row):
        return None
    value = row[index]
    # Excel turns a typed 2026-05 into the date 1 May 2026: the month was meant.
    midnight = not isinstance(value, dt.datetime) or value.time() == dt.time(0, 0)
    if column == "period" and isinstance(value, dt.date) and value.day == 1 and midnight:
        return f"{value.year:04d}-{value.month:02d}"
    return canonical_value(value)


def _table(records: list[dict[str, Any]], kind: str) -> Any:
    """Canonical text columns plus ``_row`` (numbered from 1 when the records have none),
    and ``_line``, the sheet row to report a rejected row at, where the records say."""
    import pyarrow as pa

    columns = RECORD_KINDS[kind].column_names
    arrays = {name: pa.array([r.get(name) for r in records], pa.string()) for name in columns}
    rows = [r.get("_row", index) for index, r in enumerate(records, start=1)]
    arrays["_row"] = pa.array(rows, pa.int64())
    if any("_line" in r for r in records):
        arrays["_line"] = pa.array([r.get("_line") for r in records], pa.int64())
    return pa.table(arrays)
