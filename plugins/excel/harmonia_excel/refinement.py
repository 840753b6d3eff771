"""Refinement workbooks: a territory's proposal for its rep, and the rep's changes back.

Written: one row per customer of the territory with the proposal (segment,
tier … as the policy lets reps change them), an editable column per dimension
whose drop-down offers only the moves the policy allows from the customer's
value (a call goal: a whole number of calls), the policy's reasons (in the country's language, as the pack writes
them) and a comment. A hidden, protected sheet records the cycle, the
territory, the round of feedback (when it opened) and each row's customer and
proposal, so reading back knows exactly what the rep changed.

Read back: every row whose value differs from the proposal is a request; a row
whose customer id was edited is kept as a request refused for that reason.
Checks that need the store (the round still open, the rep's territory, the
policy) are the application's; nothing here decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

import attrs

from harmonia import InputError

#: The hidden sheet's name, and the first cell that says what the workbook is.
META_SHEET = "_harmonia_refinement"
LISTS_SHEET = "_lists"
MARK = "harmonia refinement workbook"

#: The request kind whose column takes a number of calls (no drop-down of moves).
GOAL = "goal"

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
        "goal": "Calls",
        "invalid": "Not allowed",
        "choose": "Choose one of the moves the policy allows.",
        "whole": "Give a whole number of calls (0 or more).",
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
        "goal": "Visites",
        "invalid": "Non autorisé",
        "choose": "Choisissez un des changements que la politique permet.",
        "whole": "Indiquez un nombre entier de visites (0 ou plus).",
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


#: Per dimension, the moves a rep may choose from each value (``None``: from a value
#: outside the dimension's order, or none).
Offered = Mapping[str, Mapping[str | None, Sequence[str]]]


def offered_moves(orders: Mapping[str, Sequence[str]], moves: str) -> dict[str, dict]:
    """The drop-down of every value of every dimension, asked of the policy once (a
    worker process writing workbooks has no application to ask)."""
    return {
        dimension: {value: allowed_moves(values, value, moves) for value in [*values, None]}
        for dimension, values in orders.items()
    }


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
    import pyarrow as pa

    table = pa.Table.from_pylist(rows) if rows else pa.table({"harmonia_id": pa.array([], "int64")})
    offered = offered_moves(orders, moves)
    (path,) = _write_books(table, [(0, len(rows), out, meta)], offered, tuple(reasons), language)
    return path


def write_workbooks(
    proposal: Any,
    path_of: Callable[[str], Path],
    *,
    meta: RefinementWorkbook,
    orders: Mapping[str, Sequence[str]],
    moves: str,
    reasons: Sequence[str],
    language: str,
    jobs: int = 1,
) -> list[Path]:
    """Every territory's workbook from one proposal (Arrow, sorted by territory, as
    ``app.refinement.proposal`` gives it), each at ``path_of(territory)``; ``meta``
    gives the cycle, round and dimensions (its territory and system are each
    workbook's own). ``jobs`` processes write them side by side (started with
    ``spawn``: a script calling this with ``jobs > 1`` keeps its top-level code
    under ``if __name__ == "__main__":``)."""
    import pyarrow.compute as pc

    rows = proposal.num_rows
    if not rows:
        return []
    # The proposal comes sorted: each territory is a run, found in Arrow (not a filter
    # of the whole universe per territory).
    territory = proposal.column("territory")
    changed = pc.fill_null(pc.not_equal(territory[1:], territory[:-1]), True)
    starts = [0, *(pc.indices_nonzero(changed).to_numpy() + 1).tolist()]
    ends = [*starts[1:], rows]
    names = [territory[start].as_py() for start in starts]
    books = [
        (start, end, path_of(name), attrs.evolve(meta, territory=name))
        for start, end, name in zip(starts, ends, names, strict=True)
    ]
    offered = offered_moves(orders, moves)
    if jobs <= 1:
        return _write_batch(proposal, books, offered, tuple(reasons), language)
    # Batches of about a fourth of a worker's share, so that a worker done early
    # takes another; each gets its slice of the proposal only.
    size = max(1, len(books) // (jobs * 4))
    batches = []
    for at in range(0, len(books), size):
        batch = books[at : at + size]
        first, last = batch[0][0], batch[-1][1]
        shifted = [(start - first, end - first, path, m) for start, end, path, m in batch]
        part = _rows_alone(proposal, first, last - first)
        batches.append((part, shifted, offered, tuple(reasons), language))
    return [path for paths in _in_processes(_write_batch, batches, jobs) for path in paths]


def _in_processes(function: Callable[..., Any], batches: Sequence[tuple], jobs: int) -> list:
    """``function(*batch)`` for every batch, in ``jobs`` processes; results in order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: a forked child would inherit the parent's store connections and threads.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(function, *batch) for batch in batches]
        return [future.result() for future in futures]


def _rows_alone(proposal: Any, first: int, count: int) -> Any:
    """Rows ``first:first + count`` of ``proposal`` in buffers of their own.

    A slice shares its parent's buffers, and pickling it (to send it to a worker)
    ships them whole: a 500-row slice of a 1M-row proposal pickles to ~195 MB. A
    copy taken with ``take`` holds its rows only."""
    import numpy as np

    return proposal.take(np.arange(first, first + count))


#: Books: (first row, end row, path, what the workbook is about) each.
Books = Sequence[tuple[int, int, Path, RefinementWorkbook]]


def _write_batch(
    proposal: Any, books: Books, offered: Offered, reasons: Sequence[str], language: str
) -> list[Path]:
    """Write the workbooks of ``books`` (rows ``start:end`` of ``proposal`` each),
    each with the system of its first row's ids."""
    systems = proposal.column("system") if "system" in proposal.column_names else None
    books = [
        (
            start,
            end,
            path,
            attrs.evolve(meta, system=(systems[start].as_py() or "") if systems else ""),
        )
        for start, end, path, meta in books
    ]
    return _write_books(proposal, books, offered, reasons, language)


#: Rows rendered to XML at once: enough for Arrow's kernels to pay, few enough to
#: keep a 1M universe's XML (~600 bytes a row) from being in memory all at once.
ROWS_AT_ONCE = 50_000


def _write_books(
    proposal: Any, books: Books, offered: Offered, reasons: Sequence[str], language: str
) -> list[Path]:
    """Write each book, its rows' XML rendered column-wise for many books at once
    (:mod:`harmonia_excel.sheet_xml`) into a template XlsxWriter wrote once."""
    from harmonia_excel.refinement_sheets import Layout

    if not books:
        return []
    layout = Layout.of(books[0][3].dimensions, offered, reasons, language)
    written: list[Path] = []
    group: list[Any] = []
    for book in books:
        group.append(book)
        if book[1] - group[0][0] >= ROWS_AT_ONCE or book is books[-1]:
            first, last = group[0][0], group[-1][1]
            part = proposal.slice(first, last - first)
            rendered = layout.render(part, [(s - first, e - first) for s, e, _, _ in group])
            for index, (_, _, path, meta) in enumerate(group):
                written.append(_write(layout, path, meta, rendered, index))
            group = []
    return written


def _write(layout: Any, out: Path, meta: RefinementWorkbook, rendered: Any, book: int) -> Path:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        layout.write(out, meta, rendered, book)
    except OSError as error:
        raise InputError(
            f"cannot write this workbook: {error}",
            where=str(out),
            fix="write to a folder that can be created and written to, on a disk with room",
        ) from None
    return out


def read_workbooks(
    paths: Sequence[Path], jobs: int = 1
) -> list[tuple[RefinementWorkbook, list[dict[str, Any]]]]:
    """:func:`read_workbook` of each path, in order; ``jobs`` processes read them
    side by side (see :func:`write_workbooks` on ``spawn``). The first workbook
    that cannot be read is the error, as when read one by one."""
    if jobs <= 1 or len(paths) < 2:
        return [read_workbook(path) for path in paths]
    size = max(1, len(paths) // (jobs * 4))
    batches = [(list(paths[at : at + size]),) for at in range(0, len(paths), size)]
    read = [outcome for part in _in_processes(_read_batch, batches, jobs) for outcome in part]
    for outcome in read:
        if isinstance(outcome, Unreadable):
            raise InputError(outcome.what, where=outcome.where, fix=outcome.fix)
    return read


@attrs.frozen
class Unreadable:
    """Why a workbook could not be read, as a worker sends it back (an error with
    keyword arguments does not survive pickling whole)."""

    what: str
    where: str | None
    fix: str | None


def _read_batch(paths: Sequence[Path]) -> list[Any]:
    read: list[Any] = []
    for path in paths:
        try:
            read.append(read_workbook(path))
        except InputError as error:
            read.append(Unreadable(error.what, error.where, error.fix))
            break  # the first error is the answer; the rest need not be read
    return read


def read_workbook(path: Path) -> tuple[RefinementWorkbook, list[dict[str, Any]]]:
    """The workbook's hidden record and the rep's changes: one request per changed cell.

    Each request has ``_row`` (the sheet row), ``customer_id`` (the harmonia id
    the row was written for), ``action``, ``new_value``, ``reason``, ``comment``
    and, when the row's customer id was edited, ``refusal_rule`` and
    ``refusal_message``.
    """
    # python-calamine (Rust) reads a sheet into Python lists in one call, several
    # times faster than openpyxl's cell objects, even read-only.
    from python_calamine import CalamineWorkbook

    records: list[list[Any]] | None = None
    try:
        with CalamineWorkbook.from_path(str(path)) as workbook:
            if META_SHEET in workbook.sheet_names:
                # skip_empty_area=False: item i of a sheet's list is its row i + 1.
                records = workbook.get_sheet_by_name(META_SHEET).to_python(skip_empty_area=False)
                sheet = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except Exception as error:
        raise InputError(
            f"cannot read this workbook: {error}", where=str(path), fix="save it as .xlsx"
        ) from None
    if records is None:
        raise InputError(
            "this is not a refinement workbook harmonia wrote (its hidden sheet is missing)",
            where=str(path),
            fix="write one with `harmonia refinement workbook` and fill that one in",
        )
    fields = {str(row[0]): row[1] for row in records[1:6] if len(row) > 1}
    dimensions = tuple(str(fields.get("dimensions") or "").split())
    meta = RefinementWorkbook(
        cycle=int(fields["cycle"]),
        territory=str(_text(fields["territory"])),
        opened_at=str(fields["opened_at"]),
        system=_text(fields["system"]) or "",
        dimensions=dimensions,
    )
    written = [row for row in _padded(records[7:], 3 + len(dimensions)) if row[0] not in (None, "")]
    # Rows are found by their customer's source id, not their place: a rep may
    # sort or filter the sheet. A row whose id is not one the workbook was
    # written with (edited, or pasted twice) is refused, for the customer
    # written at its place.
    ids = [(row[2].strip() or None) if type(row[2]) is str else _text(row[2]) for row in written]
    by_source = dict(zip(ids, written, strict=True))
    by_place = {int(row[0]): (source_id, row) for source_id, row in zip(ids, written, strict=True)}
    seen: set[str] = set()
    requests: list[dict[str, Any]] = []
    reason_at = 4 + 2 * len(dimensions)
    yours = [(5 + 2 * index, 3 + index) for index in range(len(dimensions))]
    # The row's choices and id, and the proposal and id written there: compared
    # in one step for the rows that come back as written.
    choices_of = itemgetter(*(at for at, _ in yours), 0)
    proposal_of = itemgetter(*(was for _, was in yours), 2)
    for number, cells in enumerate(_padded(sheet[1:], reason_at + 2), start=2):
        # Most rows come back as written: same id at the same place, every choice
        # the proposal or empty. They ask nothing, and are passed over without
        # reading any cell as text.
        source_id, original = by_place.get(number) or (None, None)
        if (
            source_id is not None
            and source_id not in seen
            and by_source[source_id] is original
            and (
                choices_of(cells) == proposal_of(original)
                or (
                    cells[0] == original[2]
                    and all(cells[at] in (original[was], None, "") for at, was in yours)
                )
            )
        ):
            seen.add(source_id)
            continue
        if not any(cell not in (None, "") for cell in cells):
            continue
        source_id = _text(cells[0])
        original = by_source.get(source_id) if source_id not in seen else None
        refusal = None
        if original is None:
            original = (by_place.get(number) or (None, None))[1] or by_source.get(source_id)
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
    return meta, requests


def _padded(rows: list[list[Any]], width: int) -> list[list[Any]]:
    """``rows`` at least ``width`` cells long. python-calamine gives a sheet's rows
    all as wide as the sheet, so one row says whether any needs padding."""
    if all(len(row) >= width for row in rows[:1]):
        return rows
    return [row + [None] * (width - len(row)) for row in rows]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a number typed in a cell: 123, as the rep sees it, not 123.0
    text = str(value).strip()
    return text or None
