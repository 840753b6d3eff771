"""Privacy by design: objections to profiling, erasure, pseudonymised exports.

Profiling physicians for direct marketing is profiling under the GDPR. An
objection (Art. 21) is absolute: the customer is left out of every cycle's
population (:mod:`harmonia.store.identity`), so no segment, target list,
workbook, sink or report ever holds them. Erasure (Art. 17) removes the
person's data from the records and facts and keeps an audit entry that
holds no personal data. A pseudonymised export replaces ids with a keyed
hash (HMAC-SHA256) computed in SQL, so vendors can join exports over time
without learning who anyone is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import duckdb
import pyarrow as pa
from sqlalchemy import text
from sqlmodel import Session, select

from harmonia.errors import ConfigError, HarmoniaError, NotFoundError
from harmonia.files import remove_rows
from harmonia.plugin.types import Erasure, OutputSink
from harmonia.sql import hmac_sql, literal
from harmonia.store import assignments as stored
from harmonia.store import feature_cache
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import Database
from harmonia.store.identity import forget_profiling, person_ids, resolve
from harmonia.store.models import UNREADABLE_LINE_KEYS, AuditEvent, Objection, unreadable_line
from harmonia.store.recovery import this_owner
from harmonia.store.suppression import suppress
from harmonia.store.writer import load_lock

#: Customer attributes that are personal data: erased (set empty) on erasure.
PERSONAL_ATTRIBUTES = (
    "first_name",
    "last_name",
    "postal_code",
    "city",
    "address",
    "phone",
    "email",
)


# --- objections ------------------------------------------------------------------------


@attrs.frozen
class ObjectionResult:
    added: tuple[int, ...]
    already: tuple[int, ...]

    def to_json(self) -> dict[str, object]:
        return attrs.asdict(self)


def object_to_profiling(
    database: Database, customer_ids: Iterable[int], *, actor: str, source: str = "command"
) -> ObjectionResult:
    """Record objections; all or nothing (an unknown id changes nothing and is named).

    A merged person's objection is recorded for every id of theirs (survivor
    and merged), so that it holds on both sides of a later unmerge.
    """
    with database.session() as session:
        survivors = _known(session, customer_ids)
        every = sorted(i for ids in person_ids(session, survivors.values()).values() for i in ids)
        already = {
            o.customer_id
            for o in session.exec(select(Objection).where(Objection.customer_id.in_(every)))
        }
        added = sorted(set(every) - already)
        for customer_id in added:
            session.add(Objection(customer_id=customer_id, source=source, actor=actor))
        if added:
            # Results of earlier cycles are profiling too: they go, so that no
            # report, export or plan read from a stored cycle shows them again.
            removed = _forget_profiling(session, added)
            session.add(_audit(actor, "privacy.object", added, {"source": source, **removed}))
        session.commit()
    # Their rows are gone: no reader finds their inputs any more, and they go too.
    stored.finish_erasures(database)
    if added:  # so do the features kept for later cycles (a cycle running now keeps none)
        feature_cache.forget(database)
    return ObjectionResult(tuple(added), tuple(sorted(already)))


def _forget_profiling(session: Session, ids: Sequence[int]) -> dict[str, int]:
    """Delete stored cycle results (assignments, plan goals) of ``ids`` and their merged ids,
    recording them for :func:`harmonia.store.assignments.finish_erasures`."""
    pending, *deletes = forget_profiling(", ".join(map(str, ids)))
    session.connection().execute(text(pending))
    return {
        f"{table}_removed": session.connection().execute(text(statement)).rowcount
        for table, statement in zip(("assignment", "plan_goal"), deletes, strict=True)
    }


def withdraw_objection(database: Database, customer_ids: Iterable[int], *, actor: str) -> list[int]:
    """Lift objections (the customer agreed again), of every id of each; returns the ids
    that had one."""
    with database.session() as session:
        survivors = _known(session, customer_ids).values()
        every = sorted(i for ids in person_ids(session, survivors).values() for i in ids)
        found = list(session.exec(select(Objection).where(Objection.customer_id.in_(every))))
        erased = [o.customer_id for o in found if o.source == "erasure"]
        if erased:
            # An erased person's tombstone must never be profiled again.
            raise ConfigError(
                f"customer(s) {', '.join(map(str, erased))} were erased: their objection stays",
                where="privacy withdraw",
                fix="leave them out; a returning person is a new customer loaded from a source",
            )
        lifted = [o.customer_id for o in found]
        for customer_id in lifted:
            session.delete(session.get(Objection, customer_id))
        if lifted:
            session.add(_audit(actor, "privacy.withdraw", lifted, {}))
        session.commit()
    return lifted


def objections(database: Database) -> list[Objection]:
    with database.session() as session:
        return list(session.exec(select(Objection).order_by(Objection.customer_id)))


def _known(session: Session, customer_ids: Iterable[int]) -> dict[int, int]:
    """Each id resolved to its customer now; refuses ids no customer has."""
    ids = sorted(set(customer_ids))
    if not ids:
        raise ConfigError("no customer ids given", fix="give one or more harmonia ids")
    found = {
        row[0]
        for row in session.connection().execute(
            text(f"SELECT id FROM customer WHERE id IN ({', '.join(str(int(i)) for i in ids)})")
        )
    }
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise NotFoundError(
            f"no customer with harmonia id {', '.join(map(str, unknown))}; nothing was changed",
            fix="harmonia ids are the numbers in target lists and `harmonia explain`",
        )
    return resolve(session, ids)


def _audit(actor: str, action: str, ids: Sequence[int], details: dict[str, object]) -> AuditEvent:
    """An audit entry names harmonia ids only: no name, no source id, no identifier."""
    subject = "customers " + " ".join(map(str, ids))
    return AuditEvent(actor=actor, action=action, subject=subject, details=json.dumps(details))


# --- files the workspace wrote ------------------------------------------------------------

#: The audit action of :func:`record_written`.
WRITTEN = "files.written"


def record_written(database: Database, kind: str, locations: Iterable[str], *, actor: str) -> None:
    """Remember files written outside a cycle's sinks, so that an erasure finds them.

    ``kind`` says what they are: ``lake`` (a folder per table) is rewritten on
    erasure; anything else (a review workbook, an export handed to people) is
    named, to erase there by hand.
    """
    written = [{"kind": kind, "location": str(location)} for location in locations]
    if not written:
        return
    with database.session() as session:
        details = json.dumps({"written": written})
        session.add(AuditEvent(actor=actor, action=WRITTEN, subject=kind, details=details))
        session.commit()


# --- erasure ------------------------------------------------------------------------------


@attrs.frozen
class ErasureResult:
    """What an erasure removed (rows per table) and from which files; the files it could
    not reach (named, to erase there by hand) and those it failed to rewrite (and why)."""

    customers: tuple[int, ...]
    removed: dict[str, int]
    files_cleaned: tuple[str, ...]
    unreachable: tuple[str, ...]
    failed: tuple[str, ...] = ()
    #: Source ids and identifiers added to the suppression list (keyed hashes).
    suppressed: int = 0

    def to_json(self) -> dict[str, object]:
        return attrs.asdict(self)


#: The erasure report's count of the customer record's earlier states (``customer_version``:
#: the states a load replaced, which ``--as-of`` reads) it emptied; 0 when it never changed.
EARLIER_STATES = "customer_version (earlier states emptied)"

#: Facts and records keyed by customer id, erased with the customer. Each
#: statement takes ``{ids}``, the erased customers' ids. Refinement requests go
#: whole: their comments are free text about the person.
_ERASE = {
    "answer": "DELETE FROM answer WHERE response_id IN "
    "(SELECT id FROM response WHERE customer_id IN ({ids}))",
    "response": "DELETE FROM response WHERE customer_id IN ({ids})",
    "metric": "DELETE FROM metric WHERE customer_id IN ({ids})",
    "assignment": "DELETE FROM assignment WHERE customer_id IN ({ids})",
    "plan_goal": "DELETE FROM plan_goal WHERE customer_id IN ({ids})",
    "identifier": "DELETE FROM identifier WHERE customer_id IN ({ids})",
    # (before the crosswalk, which names the person's source records)
    "customer_attribute_history": "DELETE FROM customer_attribute_history WHERE EXISTS ("
    "SELECT 1 FROM crosswalk x WHERE x.customer_id IN ({ids}) "
    "AND x.system = customer_attribute_history.system "
    "AND x.source_id = customer_attribute_history.source_id)",
    "crosswalk": "DELETE FROM crosswalk WHERE customer_id IN ({ids})",
    "golden_value": "DELETE FROM golden_value WHERE customer_id IN ({ids})",
    "match_pair": "DELETE FROM match_pair WHERE left_id IN ({ids}) OR right_id IN ({ids})",
    "refinement_request": "DELETE FROM refinement_request WHERE customer_id IN ({ids})",
    "refinement_scope": "DELETE FROM refinement_scope WHERE customer_id IN ({ids})",
    "alignment": "DELETE FROM alignment WHERE customer_id IN ({ids})",
    "affiliation": "DELETE FROM affiliation WHERE customer_id IN ({ids}) OR parent_id IN ({ids})",
}

#: Audit actions whose ``written`` entries name files the workspace wrote: sinks
#: (``cycle.publish``), Spark's outputs (``cycle.run``), everything else
#: (:func:`record_written`).
WRITES = ("cycle.publish", "cycle.run", WRITTEN)

#: Kinds of written location erased in place: folders of Parquet files.
_FOLDERS = ("lake", "spark")

#: Columns that hold a harmonia customer id in the files harmonia writes.
ID_COLUMNS = ("harmonia_id", "customer_id", "merged_id", "survivor_id")

#: What a rewrite of a file can fail with: said per file, the erasure goes on.
_FILE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    HarmoniaError,
    duckdb.Error,
    pa.ArrowException,
)


def erase(
    database: Database,
    customer_id: int,
    *,
    actor: str,
    sinks: Mapping[str, OutputSink] | None = None,
) -> ErasureResult:
    """Erase one person: every harmonia id they have (merged ones too), everywhere we can.

    The customer record stays as an empty tombstone with an objection, so the
    id in old audit entries names nobody and nothing profiles it again. Their
    source ids and identifiers go to the suppression list as keyed hashes
    (:mod:`harmonia.store.suppression`): a reload quarantines them.
    Rows of theirs in the quarantine go too (matched by their source ids).
    Files the workspace wrote (the ``written`` entries of :data:`WRITES` in
    the audit trail: sinks, Spark outputs, the lake, workbooks) are rewritten
    without them where harmonia can read them (``sinks`` give their own
    ``erase``); every other location is returned by name, and a file that
    cannot be rewritten is returned with the reason. The audit entry is
    written whatever happens to the files.
    """
    # The load lock: a load running meanwhile could write the person's facts
    # into a batch file after the erasure rewrote the others (or while it reads them).
    with load_lock(database, owner=this_owner(), doing="erase"), database.session() as session:
        survivor = _known(session, [customer_id])[customer_id]
        connection = session.connection()
        ids = [survivor] + [
            row[0]
            for row in connection.execute(
                text("SELECT merged_id FROM customer_redirect WHERE survivor_id = :s"),
                {"s": survivor},
            )
        ]
        id_list = ", ".join(map(str, sorted(ids)))
        country = connection.execute(
            text("SELECT country FROM customer WHERE id = :s"), {"s": survivor}
        ).scalar()
        source_ids = [
            (row[0], row[1])
            for row in connection.execute(
                text(f"SELECT system, source_id FROM crosswalk WHERE customer_id IN ({id_list})")
            )
        ]
        responses = _responses_of(database, connection, id_list)
        identifiers = [
            (row[0], row[1])
            for row in connection.execute(
                text(f"SELECT scheme, value FROM identifier WHERE customer_id IN ({id_list})")
            )
        ]
        # Before their ids go: a reload of an old file must not bring them back.
        suppressed = suppress(database, session, source_ids, identifiers)
        removed = {
            table: connection.execute(text(statement.format(ids=id_list))).rowcount
            for table, statement in _ERASE.items()
        }
        removed["quarantine"] = _erase_quarantined(session, source_ids)
        removed["quarantine"] += _erase_unreadable(session, source_ids, identifiers)
        unchecked = _unreadable_left(session, source_ids)
        for table, rows in _erase_fact_files(database, ids, responses).items():
            removed[table] = removed.get(table, 0) + rows
        blank = ", ".join(f"{column} = NULL" for column in PERSONAL_ATTRIBUTES)
        # The row's versions too: an --as-of replay reads them instead of the row.
        emptied = {
            table: connection.execute(
                text(
                    f"UPDATE {table} SET {blank}, specialty = NULL, territory = NULL "
                    f"WHERE id IN ({id_list})"
                )
            ).rowcount
            for table in ("customer", "customer_version")
        }
        removed["customer (emptied)"] = emptied["customer"]
        # Only the states a load replaced are versions: 0 for a record that never changed.
        removed[EARLIER_STATES] = emptied["customer_version"]
        # Every id of the person (merged ones too) is marked erased, an earlier
        # objection included: `withdraw` refuses erased ids, so no tombstone is
        # ever profiled again, on either side of a later unmerge.
        connection.execute(
            text(
                "UPDATE objection SET source = 'erasure', actor = :a "
                f"WHERE customer_id IN ({id_list})"
            ),
            {"a": actor},
        )
        objecting = set(
            connection.execute(
                text(f"SELECT customer_id FROM objection WHERE customer_id IN ({id_list})")
            ).scalars()
        )
        for erased_id in sorted(set(ids) - objecting):
            session.add(Objection(customer_id=erased_id, source="erasure", actor=actor))
        session.commit()
    person = Erasure(tuple(sorted(ids)), tuple(source_ids))
    files = _ErasedFiles(person, tuple(responses), sinks or {})
    try:
        files.erase(_written(database, country))
    finally:
        with database.session() as session:
            details = {
                "removed": removed,
                "suppressed": suppressed,
                "files_cleaned": files.cleaned,
                "unreachable": [*unchecked, *files.unreachable],
                "failed": files.failed,
            }
            session.add(_audit(actor, "privacy.erase", sorted(ids), details))
            session.commit()
    return ErasureResult(
        person.customer_ids,
        removed,
        tuple(files.cleaned),
        (*unchecked, *files.unreachable),
        tuple(files.failed),
        suppressed,
    )


def _responses_of(database: Database, connection: Any, id_list: str) -> list[int]:
    """Every stored response of the person, in every batch (an older version of a
    response is theirs as much as the current one): read from the files where the
    store keeps them, else from its table."""
    from harmonia.compute import duckdb_connection
    from harmonia.store.facts import facts_of

    facts = facts_of(database)
    theirs = f"SELECT DISTINCT id FROM {{}} WHERE customer_id IN ({id_list}) ORDER BY id"
    if not getattr(facts, "external", False):
        return [int(row[0]) for row in connection.execute(text(theirs.format("response")))]
    paths = sorted((facts.root / "response").glob("batch=*/part-*.parquet"))
    if not paths:
        return []
    listed = ", ".join(literal(str(path)) for path in paths)
    duck = duckdb_connection()
    try:
        rows = duck.sql(theirs.format(f"read_parquet([{listed}])")).fetchall()
    finally:
        duck.close()
    return [int(row[0]) for row in rows]


def _erase_fact_files(
    database: Database, ids: Sequence[int], responses: Sequence[int]
) -> dict[str, int]:
    """Facts held as Parquet files per load batch (SQLite stores): each file holding the
    person is rewritten without them. Batches are immutable, except to erase a person.
    One query per kind of fact finds the files that hold them: a fact names its
    customer, or (an answer) its response."""
    from harmonia.compute import duckdb_connection
    from harmonia.store.facts import FACT_TABLES, facts_of

    facts = facts_of(database)
    if not getattr(facts, "external", False):
        return {}
    wanted = {
        "customer_id": ", ".join(map(str, ids)),
        "response_id": ", ".join(map(str, responses)) or "NULL",
    }
    removed: dict[str, int] = {}
    duck = duckdb_connection()
    try:
        for table, fact in FACT_TABLES.items():
            paths = sorted((facts.root / table).glob("batch=*/part-*.parquet"))
            if not paths:
                continue
            column = "customer_id" if "customer_id" in fact.column_names else "response_id"
            theirs = f"{column} IN ({wanted[column]})"
            listed = ", ".join(literal(str(path)) for path in paths)
            holding = duck.sql(
                f"SELECT filename FROM read_parquet([{listed}], filename = true) "
                f"WHERE {theirs} GROUP BY filename"
            ).fetchall()
            for (path,) in holding:
                rows = remove_rows(Path(path), lambda _, theirs=theirs: theirs) or 0
                removed[table] = removed.get(table, 0) + rows
    finally:
        duck.close()
    if inputs := stored.erase(database, ids):
        removed["assignment_input"] = inputs
    return removed


def _erase_quarantined(session: Session, source_ids: Sequence[tuple[str, str]]) -> int:
    """Quarantined rows of the person: same system, their source id as the row's customer_id."""
    removed = 0
    for system, source_id in source_ids:
        # Records are JSON written by DuckDB ("key":"value") or by Python
        # ("key": "value"); LIKE's wildcards in an id are matched literally.
        value = json.dumps(source_id)
        for special in ("\\", "%", "_"):
            value = value.replace(special, "\\" + special)
        removed += (
            session.connection()
            .execute(
                text(
                    "DELETE FROM quarantine WHERE system = :system "
                    "AND (record LIKE :tight ESCAPE '\\' OR record LIKE :spaced ESCAPE '\\')"
                ),
                {
                    "system": system,
                    "tight": f'%"customer_id":{value}%',
                    "spaced": f'%"customer_id": {value}%',
                },
            )
            .rowcount
        )
    return removed


#: How a quarantine record holds a line that could not be read (its text, as loaded),
#: under any of the names it has had (JSON written by DuckDB or by Python).
_UNREADABLE = " OR ".join(f"record LIKE '%\"{key}\":%'" for key in UNREADABLE_LINE_KEYS)


def _unreadable(session: Session, systems: Iterable[str]) -> list[tuple[int, str, int, str]]:
    """(id, location, line, record) of the quarantined unreadable lines of these systems."""
    wanted = sorted(set(systems))
    if not wanted:
        return []
    rows = session.connection().execute(
        text(
            "SELECT id, location, row_number, record FROM quarantine "
            f"WHERE system IN ({', '.join(literal(s) for s in wanted)}) AND ({_UNREADABLE}) "
            "ORDER BY location, row_number"
        )
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _erase_unreadable(
    session: Session,
    source_ids: Sequence[tuple[str, str]],
    identifiers: Sequence[tuple[str, str]],
) -> int:
    """Unreadable quarantined lines of the person's systems whose text holds one of
    their source ids or identifier values as a whole field (not inside a date or
    another id: ``01`` is no field of ``2026-01-01``): removed.

    Their customer_id could not be read, so :func:`_erase_quarantined` cannot
    find them by it. Few rows (lines a parser gave up on), searched in Python.
    Any field counts (the line is broken, its columns unknown): a short id (``1``)
    also takes another person's line with a field ``1``; erring towards removing
    is the safe side of an erasure (docs/master.md says so).
    """
    import re

    tokens = {value for _, value in source_ids} | {value for _, value in identifiers}
    if not tokens:
        return 0
    pattern = re.compile(
        r"(?<![\w./-])(" + "|".join(re.escape(t) for t in sorted(tokens)) + r")(?![\w./-])"
    )
    theirs = [
        entry_id
        for entry_id, _, _, record in _unreadable(session, (s for s, _ in source_ids))
        if pattern.search(unreadable_line(json.loads(record)) or "")
    ]
    if not theirs:
        return 0
    listed = ", ".join(map(str, theirs))
    return (
        session.connection()
        .execute(text(f"DELETE FROM quarantine WHERE id IN ({listed})"))
        .rowcount
    )


def _unreadable_left(session: Session, source_ids: Sequence[tuple[str, str]]) -> list[str]:
    """The unreadable quarantined lines of the person's systems left after the erasure,
    named per file with their line numbers (no text of them): they may hold the
    person where harmonia cannot tell (a line broken before its customer_id, a
    name without an id), to check by hand."""
    by_location: dict[str, list[int]] = {}
    for _, location, line, _ in _unreadable(session, (s for s, _ in source_ids)):
        by_location.setdefault(location, []).append(line)
    named = []
    for location, lines in by_location.items():
        shown = ", ".join(map(str, lines[:20])) + (
            f" and {len(lines) - 20} more" if len(lines) > 20 else ""
        )
        named.append(
            f"{location} (quarantine: {len(lines)} unreadable "
            f"line{'s' if len(lines) > 1 else ''} of the person's systems, in which none "
            f"of their ids was found but which may still hold them: line {shown}; "
            "see `harmonia quarantine list`)"
        )
    return named


def _written(database: Database, country: str | None) -> list[dict[str, Any]]:
    """What the workspace wrote (newest entry per location): every ``written`` entry of
    :data:`WRITES` in the audit trail; of cycles, only those of the person's country."""
    with database.session() as session:
        cycles = {
            f"cycle:{row[0]}"
            for row in session.connection().execute(
                text("SELECT id FROM cycle WHERE country = :c"), {"c": country}
            )
        }
        events = session.exec(
            select(AuditEvent).where(AuditEvent.action.in_(WRITES)).order_by(AuditEvent.id)
        ).all()
    written: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.action.startswith("cycle.") and event.subject not in cycles:
            continue
        for entry in json.loads(event.details).get("written", []):
            written[entry["location"]] = entry
    return list(written.values())


@attrs.define
class _ErasedFiles:
    """Erases a person from the files the workspace wrote, one location at a time."""

    person: Erasure
    responses: tuple[int, ...]
    sinks: Mapping[str, OutputSink]
    cleaned: list[str] = attrs.Factory(list)
    unreachable: list[str] = attrs.Factory(list)
    failed: list[str] = attrs.Factory(list)

    def erase(self, written: Sequence[dict[str, Any]]) -> None:
        for entry in written:
            location = entry["location"]
            what = f"{entry['sink']} sink" if "sink" in entry else entry.get("kind", "file")
            if entry.get("unfinished"):
                # Files of a sink that failed before handing them back: unknown by name.
                self.unreachable.append(
                    f"{location} ({what}, failed while writing {entry.get('output')}: "
                    "files it wrote there may hold the person, check them by hand)"
                )
                continue
            try:
                removed = self._erase_one(entry)
            except _FILE_ERRORS as error:
                reason = error.render() if isinstance(error, HarmoniaError) else str(error)
                self.failed.append(
                    f"{location} ({what}): {reason.splitlines()[0] if reason else error!r}; "
                    "the records are erased: make the file writable and run the erasure again"
                )
                continue
            if removed is None:
                self.unreachable.append(f"{location} ({what})")
            elif removed:
                self.cleaned.append(location)

    def _erase_one(self, entry: dict[str, Any]) -> int | None:
        """Rows removed from one location (0: none there), None if it cannot be reached."""
        location, kind = entry["location"], entry.get("kind")
        sink = self.sinks.get(entry.get("sink", ""))
        if sink is not None and sink.erase is not None:
            return sink.erase_location(location, self.person, entry.get("options"))
        path = Path(location)
        if kind in _FOLDERS:
            return self._erase_folder(path) if path.is_dir() else None
        if kind is None and path.suffix in (".csv", ".parquet") and path.is_file():
            return remove_rows(path, self._match)
        return None  # handed to people (workbooks, exports), a URL, a table: named

    def _erase_folder(self, folder: Path) -> int:
        """A lake (one folder per table) or Spark's output: every Parquet part in it."""
        removed = 0
        for part in sorted(folder.rglob("*.parquet")):
            table = part.parent.name
            rows = remove_rows(part, lambda columns, t=table: self._match(columns, t)) or 0
            if rows:
                # Spark checks a part against its checksum file, which no longer fits.
                part.with_name(f".{part.name}.crc").unlink(missing_ok=True)
            removed += rows
        return removed

    def _match(self, columns: Sequence[str], table: str | None = None) -> str | None:
        """SQL: a row of the person, by the columns that hold their ids."""
        ids = ", ".join(map(str, self.person.customer_ids))
        tests = [f"TRY_CAST({c} AS BIGINT) IN ({ids})" for c in ID_COLUMNS if c in columns]
        if table == "customer" and "id" in columns:  # the lake's customers
            tests.append(f"id IN ({ids})")
        if "response_id" in columns and self.responses:  # the lake's answers
            tests.append(f"response_id IN ({', '.join(map(str, self.responses))})")
        return " OR ".join(tests) or None


# --- the suppression key -------------------------------------------------------------------


def rotate_suppression_key(database: Database, *, actor: str) -> str:
    """A new current key for the suppression list (:func:`harmonia.store.suppression.rotate`),
    while no load or erasure runs; audited with the new key's fingerprint, never a key.
    Returns the key file's path."""
    from harmonia.store import suppression

    with load_lock(database, owner=this_owner(), doing="rotate key"), database.session() as session:
        fingerprint = suppression.rotate(database, session)
        path = suppression.key_path(database)
        session.add(
            AuditEvent(
                actor=actor,
                action="privacy.rotate_key",
                subject="suppression",
                details=json.dumps({"fingerprint": fingerprint, "key_file": str(path)}),
            )
        )
        session.commit()
    return str(path)


# --- pseudonymised export -----------------------------------------------------------------


def read_key(path: Path) -> bytes:
    """The pseudonymisation key: a file's bytes (at least 32), kept out of the database."""
    try:
        key = path.read_bytes().strip()
    except OSError as error:
        raise ConfigError(
            f"cannot read the key file: {error.strerror}",
            where=str(path),
            fix='create it once, e.g. `python -c "import secrets; print(secrets.token_hex(32))" > KEY`, '
            "and keep it: the same key gives the same pseudonyms",
        ) from None
    if len(key) < 32:
        raise ConfigError(
            f"the key has {len(key)} bytes; a pseudonymisation key needs at least 32",
            where=str(path),
            fix='use `python -c "import secrets; print(secrets.token_hex(32))"`',
        )
    return key


def pseudonymised_assignments(database: Database, cycle_id: int, key: bytes) -> pa.Table:
    """A cycle's segmentation with a keyed hash for the id and no personal data.

    Kept per customer: pseudonym, country, type, specialty, territory,
    segment, needs, tier, final segment and origin. Objecting customers are
    not in a cycle, so not in its export.
    """
    from harmonia.compute import duckdb_connection

    with BulkConnection(database, write=False) as bulk:
        found = bulk.scalar(f"SELECT COUNT(*) FROM cycle WHERE id = {int(cycle_id)}")
        if not found:
            raise NotFoundError(f"no cycle {cycle_id}", fix="see `harmonia cycle list`")
        rows = bulk.read(
            "SELECT a.customer_id, c.country, c.type, c.specialty, c.territory, a.segment, "
            "a.needs, a.tier, a.final_segment, a.origin FROM assignment a "
            f"JOIN customer c ON c.id = a.customer_id WHERE a.cycle_id = {int(cycle_id)} "
            "AND a.customer_id NOT IN (SELECT customer_id FROM objection)"
        )
    duck = duckdb_connection()
    duck.register("rows", rows)
    return duck.sql(
        f"SELECT {hmac_sql('customer_id', key)} AS pseudonym, * EXCLUDE (customer_id) "
        "FROM rows ORDER BY pseudonym"
    ).to_arrow_table()
