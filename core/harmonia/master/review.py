"""The review queue: pairs in the grey zone, decided by a data steward.

A steward sees both customers side by side with the match probability and
what agreed, and accepts (the pair is merged) or rejects (never proposed
again). Decisions are made one by one at the command line or in bulk in a
workbook: ``export`` writes the pending pairs to an XLSX file with a
``decision`` column, ``import`` reads it back. A workbook with a decision
that is neither accept nor reject, or a pair that is not pending any more,
is refused whole with every problem listed, so nothing is half applied.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs
from sqlalchemy import text
from sqlmodel import Session, select

from harmonia.errors import ConfigError, InputError, NotFoundError
from harmonia.master.merging import merge_accepted
from harmonia.sql import literal
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import Database
from harmonia.store.models import Customer, MatchPair

#: What each side of a pair shows: the attributes a steward compares.
SHOWN = ("first_name", "last_name", "specialty", "address", "postal_code", "city", "phone", "email")
DECISIONS = ("accept", "reject")
SHEET = "review"


@attrs.frozen
class PendingPair:
    pair_id: int
    probability: float
    evidence: dict[str, float]
    left: dict[str, Any]
    right: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class Decided:
    accepted: tuple[int, ...]
    rejected: tuple[int, ...]
    merges: tuple[int, ...]
    survivors: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def pending(
    database: Database, *, country: str | None = None, limit: int | None = None
) -> list[PendingPair]:
    """The pairs waiting for a decision, most probable first."""
    with database.session() as session:
        query = select(MatchPair).where(MatchPair.status == "review")
        if country:
            query = query.where(MatchPair.country == country.upper())
        query = query.order_by(MatchPair.probability.desc(), MatchPair.id)
        if limit:
            query = query.limit(limit)
        pairs = session.exec(query).all()
        customers = _customers(session, [i for p in pairs for i in (p.left_id, p.right_id)])
    return [
        PendingPair(
            p.id,
            round(p.probability, 6),
            json.loads(p.evidence),
            customers[p.left_id],
            customers[p.right_id],
        )
        for p in pairs
    ]


def decide(database: Database, decisions: Iterable[tuple[int, str]], *, actor: str) -> Decided:
    """Apply decisions (pair id, accept or reject) together, or none of them.

    One transaction, a few statements whatever the number of pairs: the
    rejected ones are stamped in one, and the accepted ones merged together
    (:func:`~harmonia.master.merging.merge_accepted`): the customers they
    link become one per group, checked as a whole, so a workbook may hold a
    chain (A with B, then B with C) but not one that joins two people.
    """
    decisions = list(decisions)
    problems = [f"pair {pair_id}: {why}" for pair_id, why in _problems(database, decisions)]
    if problems:
        raise ConfigError(
            "; ".join(problems) + "; nothing was decided",
            fix="decide pending pairs only (`harmonia master review list`), with accept or reject",
        )
    rejected = [pair_id for pair_id, decision in decisions if decision == "reject"]
    accepted = [pair_id for pair_id, decision in decisions if decision == "accept"]
    with BulkConnection(database) as bulk:
        if rejected:
            bulk.execute(
                f"UPDATE match_pair SET status = 'rejected', decided_by = {literal(actor)}, "
                f"decided_at = CURRENT_TIMESTAMP WHERE id IN ({_listed(rejected)})"
            )
        merges, survivors = merge_accepted(bulk, accepted, actor=actor)
    return Decided(tuple(accepted), tuple(rejected), merges, survivors)


def _listed(ids: Iterable[int]) -> str:
    return ", ".join(str(int(i)) for i in ids) or "NULL"


def _problems(
    database: Database, decisions: Sequence[tuple[int, str]]
) -> Iterable[tuple[int, str]]:
    if not decisions:
        raise ConfigError("no decisions given", fix="name pair ids, or fill the decision column")
    with database.session() as session:
        statuses = dict(
            session.connection()
            .execute(
                text(
                    "SELECT id, status FROM match_pair "
                    f"WHERE id IN ({_listed(p for p, _ in decisions)})"
                )
            )
            .all()
        )
    seen: set[int] = set()
    for pair_id, decision in decisions:
        if decision not in DECISIONS:
            yield pair_id, f"decision {decision!r} is not accept or reject"
        if pair_id in seen:
            yield pair_id, "decided twice"
        seen.add(pair_id)
        status = statuses.get(pair_id)
        if status is None:
            yield pair_id, "no such pair"
        elif status != "review":
            yield pair_id, f"is not pending (it is {status})"


def _customers(session: Session, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = session.exec(select(Customer).where(Customer.id.in_(sorted(set(ids))))).all()
    return {c.id: {"id": c.id, **{name: getattr(c, name) for name in SHOWN}} for c in rows}


# --- the workbook round trip --------------------------------------------------------------


def export_workbook(database: Database, path: Path, *, country: str | None = None) -> int:
    """Write the pending pairs to ``path`` (XLSX), one row per pair; returns how many."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    pairs = pending(database, country=country)
    book = Workbook()
    sheet = book.active
    sheet.title = SHEET
    header = [
        "pair",
        "probability",
        "decision",
        *(f"left {n}" for n in ("id", *SHOWN)),
        *(f"right {n}" for n in ("id", *SHOWN)),
    ]
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for pair in pairs:
        sheet.append(
            [
                pair.pair_id,
                pair.probability,
                None,
                *(pair.left[n] for n in ("id", *SHOWN)),
                *(pair.right[n] for n in ("id", *SHOWN)),
            ]
        )
    choice = DataValidation(type="list", formula1='"accept,reject"', allow_blank=True)
    choice.error = "Write accept or reject, or leave it empty to decide later."
    sheet.add_data_validation(choice)
    if pairs:
        choice.add(f"C2:C{len(pairs) + 1}")
        for row in sheet.iter_rows(min_row=2, min_col=3, max_col=3):
            row[0].fill = PatternFill("solid", fgColor="FFF2CC")
    sheet.freeze_panes = "D2"
    sheet.auto_filter.ref = sheet.dimensions
    try:
        book.save(path)
    except OSError as error:
        from harmonia.errors import PathError

        raise PathError.from_os_error(error) from None
    return len(pairs)


def read_workbook(path: Path) -> list[tuple[int, str]]:
    """The decisions filled in a review workbook (rows left empty are not decided)."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (OSError, ValueError, KeyError) as error:
        raise InputError(
            f"cannot read the review workbook: {error}",
            where=str(path),
            fix="give the .xlsx file `harmonia master review export` wrote",
        ) from None
    if SHEET not in book.sheetnames:
        raise InputError(
            f"the workbook has no sheet {SHEET!r}",
            where=str(path),
            fix="give the .xlsx file `harmonia master review export` wrote",
        )
    rows = book[SHEET].iter_rows(values_only=True)
    header = [str(h or "").strip().lower() for h in next(rows, ())]
    missing = [c for c in ("pair", "decision") if c not in header]
    if missing:
        raise InputError(
            f"the sheet {SHEET!r} has no column {', '.join(missing)}",
            where=str(path),
            fix="keep the header row as exported; columns may move, not go",
        )
    pair_at, decision_at = header.index("pair"), header.index("decision")
    decisions, problems = [], []
    for number, row in enumerate(rows, start=2):
        decision = str(row[decision_at] or "").strip().lower()
        if not decision:
            continue
        try:
            pair_id = int(row[pair_at])
        except (TypeError, ValueError):
            problems.append(f"row {number}: pair {row[pair_at]!r} is not a pair number")
            continue
        if decision not in DECISIONS:
            problems.append(f"row {number}: decision {decision!r} is not accept or reject")
        decisions.append((pair_id, decision))
    if problems:
        raise InputError(
            "; ".join(problems) + "; nothing was decided",
            where=str(path),
            fix="write accept or reject in the decision column, or leave it empty",
        )
    if not decisions:
        raise NotFoundError(
            "the workbook decides no pair", where=str(path), fix="fill the decision column"
        )
    return decisions
