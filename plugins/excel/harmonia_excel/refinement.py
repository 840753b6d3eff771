"""Refinement workbooks: a territory's proposal for its rep, and the rep's changes back.

Written: one row per customer of the territory with the proposal (segment,
tier … as the policy lets reps change them), an editable column per dimension
whose drop-down offers only the moves the policy allows from the customer's
value, the policy's reasons (in the country's language, as the pack writes
them) and a comment. A hidden, protected sheet records the cycle, the
territory, the round of feedback (when it opened) and each row's customer and
proposal, so reading back knows exactly what the rep changed.

Read back: every row whose value differs from the proposal is a request; a row
whose customer id was edited is kept as a request refused for that reason.
Checks that need the store (the round still open, the rep's territory, the
policy) are the application's; nothing here decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from copy import copy
from pathlib import Path
from typing import Any

import attrs

from harmonia import InputError

#: The hidden sheet's name, and the first cell that says what the workbook is.
META_SHEET = "_harmonia_refinement"
LISTS_SHEET = "_lists"
MARK = "harmonia refinement workbook"

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "sheet": "Refinement",
        "customer_id": "Customer ID",
        "name": "Name",
        "specialty": "Specialty",
        "city": "City",
        "proposed": "{dimension} (proposed)",
        "yours": "{dimension} (yours)",
        "reason": "Reason",
        "comment": "Comment",
        "segment": "Segment",
        "needs": "Needs",
        "tier": "Tier",
        "target": "Target",
        "invalid": "Not allowed",
        "choose": "Choose one of the moves the policy allows.",
        "do_not_edit": "Do not change: harmonia finds the customer by it.",
    },
    "fr": {
        "sheet": "Affinage",
        "customer_id": "ID client",
        "name": "Nom",
        "specialty": "Spécialité",
        "city": "Ville",
        "proposed": "{dimension} (proposé)",
        "yours": "{dimension} (votre choix)",
        "reason": "Motif",
        "comment": "Commentaire",
        "segment": "Segment",
        "needs": "Besoins",
        "tier": "Niveau",
        "target": "Cible",
        "invalid": "Non autorisé",
        "choose": "Choisissez un des changements que la politique permet.",
        "do_not_edit": "Ne pas modifier : harmonia retrouve le client par cet identifiant.",
    },
}


def label(language: str, key: str, **values: str) -> str:
    words = LABELS.get(language, {}).get(key) or LABELS["en"][key]
    return words.format(**values)


@attrs.frozen
class RefinementWorkbook:
    """What a refinement workbook is about (its hidden sheet)."""

    cycle: int
    territory: str
    opened_at: str
    system: str
    dimensions: tuple[str, ...]


def allowed_moves(values: Sequence[str], current: str | None, moves: str) -> list[str]:
    """The values a rep may choose from ``current`` (the application's rule)."""
    from harmonia import current_app

    return current_app().refinement.allowed_moves(values, current, moves)


def write_workbook(
    rows: list[dict[str, Any]],
    out: Path,
    *,
    meta: RefinementWorkbook,
    orders: Mapping[str, Sequence[str]],
    moves: str,
    reasons: Sequence[str],
    language: str,
) -> Path:
    """Write one territory's proposal (``rows`` as ``app.refinement.proposal`` gives them)."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.worksheet.datavalidation import DataValidation

    from harmonia_excel.cells import (
        BORDER,
        HEADER_FILL,
        HEADER_FONT,
        LOCKED_FILL,
        safe,
        set_text,
    )

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = label(language, "sheet")
    lists = workbook.create_sheet(LISTS_SHEET)
    lists.sheet_state = "hidden"
    hidden = workbook.create_sheet(META_SHEET)
    hidden.sheet_state = "veryHidden"

    dimensions = [d for d in meta.dimensions if d in orders]
    headers = [label(language, key) for key in ("customer_id", "name", "specialty", "city")]
    for dimension in dimensions:
        name = label(language, dimension)
        headers += [
            label(language, "proposed", dimension=name),
            label(language, "yours", dimension=name),
        ]
    headers += [label(language, "reason"), label(language, "comment")]
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font, cell.fill, cell.border = HEADER_FONT, HEADER_FILL, BORDER
    sheet["A1"].comment = Comment(label(language, "do_not_edit"), "harmonia")
    locked_columns = [1, 2, 3, 4, *(5 + 2 * i for i in range(len(dimensions)))]
    locked_style = None
    for number, row in enumerate(rows, start=2):
        name = " ".join(filter(None, (row.get("first_name"), row.get("last_name"))))
        values: list[Any] = [row["source_id"], name, row.get("specialty"), row.get("city")]
        for dimension in dimensions:
            values += [row.get(dimension), row.get(dimension)]
        values += [None, None]
        sheet.append([safe(value) for value in values])
        for column, value in enumerate(values, start=1):
            if isinstance(value, str) and value.startswith("="):
                set_text(sheet.cell(number, column), value)  # text, never a formula
        for column in locked_columns:
            cell = sheet.cell(number, column)
            if locked_style is None:
                cell.fill = LOCKED_FILL
                locked_style = cell._style
            else:
                # Why: setting a fill hashes the whole style each time (most of
                # the writing time of a large territory); the first cell's style
                # is the same for every locked cell.
                cell._style = copy(locked_style)

    # Drop-downs from lists on a hidden sheet (a list typed into the rule is cut at
    # 255 characters): the reasons, and per dimension and value the moves allowed.
    list_column = 1

    def add_list(items: Sequence[str]) -> str:
        nonlocal list_column
        from openpyxl.utils import get_column_letter

        for index, item in enumerate(items, start=1):
            set_text(lists.cell(index, list_column), item)
        letter = get_column_letter(list_column)
        list_column += 1
        return f"{LISTS_SHEET}!${letter}$1:${letter}${max(1, len(items))}"

    def validation(formula: str, cells: str | None = None) -> Any:
        check = DataValidation(
            type="list", formula1=f"={formula}", allow_blank=True, sqref=cells or ()
        )
        check.error, check.errorTitle = label(language, "choose"), label(language, "invalid")
        check.showErrorMessage = True
        sheet.add_data_validation(check)
        return check

    last = len(rows) + 1
    from openpyxl.utils import get_column_letter

    if rows:
        reason_letter = get_column_letter(5 + 2 * len(dimensions))
        validation(add_list(reasons)).add(f"{reason_letter}2:{reason_letter}{last}")
        for index, dimension in enumerate(dimensions):
            letter = get_column_letter(6 + 2 * index)
            by_value: dict[str | None, list[int]] = {}
            for number, row in enumerate(rows, start=2):
                by_value.setdefault(row.get(dimension), []).append(number)
            for current, numbers in by_value.items():
                validation(
                    add_list(allowed_moves(orders[dimension], current, moves)),
                    _ranges(letter, numbers),
                )
    sheet.freeze_panes = "C2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{last}"
    for column, header in enumerate(headers, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = max(12, min(40, len(header) + 4))

    hidden.append([MARK])
    hidden.append(["cycle", meta.cycle])
    hidden.append(["territory", meta.territory])
    hidden.append(["opened_at", meta.opened_at])
    hidden.append(["system", meta.system])
    hidden.append(["dimensions", " ".join(dimensions)])
    hidden.append(["row", "harmonia_id", "source_id", *dimensions])
    for number, row in enumerate(rows, start=2):
        hidden.append(
            [number, row["harmonia_id"], row["source_id"], *(row.get(d) for d in dimensions)]
        )
    hidden.protection.sheet = True
    lists.protection.sheet = True
    out.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(out)
    return out


def _ranges(letter: str, numbers: Sequence[int]) -> str:
    """The cells of rows ``numbers`` (ascending) in column ``letter``, runs as ranges
    (``F2:F4 F7``): one list for the whole validation, not a cell added at a time."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and runs[-1][1] == number - 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return " ".join(
        f"{letter}{first}" if first == last else f"{letter}{first}:{letter}{last}"
        for first, last in runs
    )


def read_workbook(path: Path) -> tuple[RefinementWorkbook, list[dict[str, Any]]]:
    """The workbook's hidden record and the rep's changes: one request per changed cell.

    Each request has ``_row`` (the sheet row), ``customer_id`` (the harmonia id
    the row was written for), ``action``, ``new_value``, ``reason``, ``comment``
    and, when the row's customer id was edited, ``refusal_rule`` and
    ``refusal_message``.
    """
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:
        raise InputError(
            f"cannot read this workbook: {error}", where=str(path), fix="save it as .xlsx"
        ) from None
    if META_SHEET not in workbook.sheetnames:
        raise InputError(
            "this is not a refinement workbook harmonia wrote (its hidden sheet is missing)",
            where=str(path),
            fix="write one with `harmonia refinement workbook` and fill that one in",
        )
    records = [list(row) for row in workbook[META_SHEET].iter_rows(values_only=True)]
    fields = {str(row[0]): row[1] for row in records[1:6]}
    dimensions = tuple(str(fields.get("dimensions") or "").split())
    meta = RefinementWorkbook(
        cycle=int(fields["cycle"]),
        territory=str(fields["territory"]),
        opened_at=str(fields["opened_at"]),
        system=str(fields["system"] or ""),
        dimensions=dimensions,
    )
    written = [row for row in records[7:] if row and row[0] is not None]
    # Rows are found by their customer's source id, not their place: a rep may
    # sort or filter the sheet. A row whose id is not one the workbook was
    # written with (edited, or pasted twice) is refused, for the customer
    # written at its place.
    by_source = {_text(row[2]): row for row in written}
    by_place = {int(row[0]): row for row in written}
    seen: set[str] = set()
    sheet = workbook[workbook.sheetnames[0]]
    requests: list[dict[str, Any]] = []
    reason_at = 4 + 2 * len(dimensions)
    for number, cells in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
        if not any(cell not in (None, "") for cell in cells):
            continue
        source_id = _text(cells[0])
        original = by_source.get(source_id) if source_id not in seen else None
        refusal = None
        if original is None:
            original = by_place.get(number) or by_source.get(source_id)
            if original is None:  # an unknown id below the written rows: nobody to ask for
                continue
            refusal = (
                f"row {number}: customer id {source_id} is "
                + ("on two rows" if source_id in seen else "not one this workbook was written for")
                + f" (the row was written for {original[2]}); ids identify customers and "
                "are not edited"
            )
        elif source_id is not None:
            seen.add(source_id)
        reason, comment = _text(cells[reason_at]), _text(cells[reason_at + 1]) or ""
        for index, dimension in enumerate(dimensions):
            value, proposed = _text(cells[5 + 2 * index]), _text(original[3 + index])
            if value == proposed or value is None:
                continue
            requests.append(
                {
                    "_row": number,
                    "customer_id": int(original[1]),
                    "action": dimension,
                    "new_value": value,
                    "reason": reason,
                    "comment": comment,
                    "refusal_rule": "workbook.customer_id" if refusal else None,
                    "refusal_message": refusal,
                }
            )
    workbook.close()
    return meta, requests


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
