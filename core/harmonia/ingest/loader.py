"""Loading batches into the harmonized database, quarantining what is wrong.

For each batch a source yields: record a load batch, then chunk by chunk
(a large file never sits in memory whole) check every row in one vectorized
pass, flag repeats of a key seen earlier in the load, merge the good rows
and keep every rejected row whole with all its reasons in the quarantine.
What is particular to a kind (its checks, keys, warnings and merger) is in
the kind's module (:mod:`harmonia.ingest.kind`); the steps here are the same
for every kind. One store transaction covers the batch. Rows read = rows
loaded + rows quarantined, always.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from harmonia.compute import duckdb_connection
from harmonia.errors import ConfigError
from harmonia.ingest import (
    affiliations,
    alignment,
    customers,
    metrics,
    responses,
    roster,
    territories,
)
from harmonia.ingest.checks import MACROS, CheckContext
from harmonia.ingest.kind import DuplicateKey, Kind
from harmonia.ingest.merge import Merger
from harmonia.ingest.plausibility import Expectations
from harmonia.plugin.types import RECORD_KINDS, Batch, DataSource, SourceRequest
from harmonia.sql import QUOTED_VALUE, key_hashes, literal, quote
from harmonia.store import assignments as stored
from harmonia.store import suppression
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import Database
from harmonia.store.facts import facts_of
from harmonia.store.models import HARMONIA_IDS, AuditEvent, LoadBatch
from harmonia.store.recovery import this_owner
from harmonia.store.writer import load_lock

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from harmonia.definitions import CountryProfile
    from harmonia.plugin.catalog import Catalog

#: Every record kind the loader runs, each declared by its module.
KINDS: Mapping[str, Kind] = {
    kind.name: kind
    for kind in (
        customers.KIND,
        metrics.KIND,
        responses.KIND,
        territories.KIND,
        roster.KIND,
        alignment.KIND,
        affiliations.KIND,
    )
}

#: Rows checked and merged at a time: large enough to amortize each step,
#: small enough that a 10M-customer load stays within a few GB.
CHUNK_ROWS = 1_000_000


@attrs.frozen
class LoadResult:
    """What happened to one batch: counts, and the commonest reasons for rejection.

    Rows read = rows loaded + rows quarantined, and the loaded rows are new to
    the store, changed what it held (updated), or changed nothing (unchanged:
    a file loaded again).
    """

    batch_id: int
    kind: str
    location: str
    source: str
    system: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_new: int
    rows_updated: int
    rows_unchanged: int
    reasons: tuple[tuple[str, int], ...] = ()
    ignored_columns: tuple[str, ...] = ()
    #: Set when the same file was loaded before and nothing it depends on has
    #: changed since: the batch that loaded it (``batch_id``), nothing was written.
    skipped: bool = False
    #: What loaded but looks unexpected: names no installed pack declares,
    #: answers dated after today (see :mod:`harmonia.ingest.plausibility`).
    warnings: tuple[str, ...] = ()


@attrs.define
class Loader:
    """Loads batches for one market (or none) and one source system."""

    database: Database
    catalog: Catalog
    country: str | None = None
    system: str | None = None
    decimal: str | None = None
    actor: str = ""
    on_stage: Callable[[str], None] | None = None
    #: The first batch of the run under way: a source may yield several batches
    #: of a kind, and what one of them replaces is what earlier runs stored.
    _run_first: int | None = attrs.field(default=None, init=False, repr=False)
    #: Every batch this loader opened, in order (:meth:`committed` says which the store kept).
    batches_opened: list[int] = attrs.field(factory=list, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.decimal not in (None, ".", ","):
            raise ConfigError(
                f"decimal mark {self.decimal!r} is not '.' or ','", fix="use --decimal , or ."
            )

    @property
    def profile(self) -> CountryProfile | None:
        if self.country is None:
            return None
        return self.catalog.country_profiles.get_or_fail(
            self.country, fix="install the country's pack, or load without --country"
        )

    def request(self, options: dict[str, str]) -> SourceRequest:
        """What a source is told about this load."""
        return SourceRequest(
            options=options,
            country=self.country,
            profile=self.profile,
            questionnaires=tuple(self.catalog.questionnaires.values()),
            identifier_schemes=tuple(self.catalog.identifier_schemes.values()),
        )

    def run(self, source: DataSource, options: dict[str, str]) -> Iterator[LoadResult]:
        """Read everything ``source`` yields for ``options`` and load it batch by batch."""
        self._check_family(source)
        digest = self._content_hash(source, options)
        if digest is not None and (earlier := self._unchanged_since(digest)):
            with self.database.session() as session:
                session.add(
                    AuditEvent(
                        actor=self.actor,
                        action="load.skipped",
                        subject=", ".join(f"load_batch:{result.batch_id}" for result in earlier),
                        details=json.dumps({"location": options.get("path"), "sha256": digest}),
                    )
                )
                session.commit()
            yield from earlier
            return
        batches = source.read(self.request(options))
        try:
            for batch in batches:
                yield self.load_batch(batch, source, digest)
        finally:
            # Its file and DuckDB connection released now, not when collected (a Ctrl-C).
            close = getattr(batches, "close", None)
            if close is not None:
                close()
            self._run_first = None

    def committed(self, batch_ids: Collection[int]) -> list[int]:
        """Those of ``batch_ids`` the store holds as loaded, in order.

        Why: a batch is loaded at its commit, before its result reaches the caller
        (closing it, its audit event, the lock's release come after); a Ctrl-C in
        between must not be told that the batch was not stored.
        """
        from sqlmodel import select

        if not batch_ids:
            return []
        with self.database.session() as session:
            loaded = session.exec(
                select(LoadBatch.id).where(
                    LoadBatch.id.in_(sorted(batch_ids)),  # type: ignore[union-attr]
                    LoadBatch.status == "loaded",
                )
            ).all()
        return sorted(batch_id for batch_id in loaded if batch_id is not None)

    def _check_family(self, source: DataSource) -> None:
        profile = self.profile
        if profile is not None and source.family not in profile.data_sources:
            raise ConfigError(
                f"{profile.code} does not use {source.family} data sources "
                f"(its profile allows: {', '.join(profile.data_sources)})",
                where=f"source {source.name}",
                fix="use a source of an allowed family, or change the country profile",
            )

    def _content_hash(self, source: DataSource, options: dict[str, str]) -> str | None:
        """SHA-256 of the file to load and of everything that decides how it is read."""
        path = Path(options.get("path", ""))
        if not options.get("path") or not path.is_file():
            return None
        digest = hashlib.sha256()
        # Where the file is does not change how it is read: the same file by a
        # relative path, or moved, is the same load.
        how = sorted((key, value) for key, value in options.items() if key != "path")
        settings = [source.name, self.country, self.system, self.decimal, how]
        digest.update(repr(settings).encode())
        with path.open("rb") as file:
            while block := file.read(1 << 20):
                digest.update(block)
        return digest.hexdigest()

    def _unchanged_since(self, digest: str) -> list[LoadResult]:
        """The results of the last load of the same content, if loading it again changes nothing.

        Nothing changes when, for each kind it held, that load is the latest
        of its kind, and no batch at all came after a load that quarantined
        rows (a later load may have made them loadable).
        """
        from sqlmodel import select

        with self.database.session() as session:
            earlier = session.exec(
                select(LoadBatch)
                .where(LoadBatch.content_hash == digest, LoadBatch.status == "loaded")
                .order_by(LoadBatch.id)
            ).all()
            if not earlier:
                return []
            latest = {batch.kind: batch for batch in earlier}
            for batch in latest.values():
                later = select(LoadBatch.id).where(
                    LoadBatch.status == "loaded", LoadBatch.id > batch.id
                )
                if not batch.rows_quarantined:
                    later = later.where(LoadBatch.kind == batch.kind)
                if session.exec(later.limit(1)).first() is not None:
                    return []
        return [
            LoadResult(
                batch_id=batch.id or 0,
                kind=batch.kind,
                location=batch.location,
                source=batch.source,
                system=batch.system,
                rows_read=batch.rows_read,
                rows_loaded=batch.rows_loaded,
                rows_quarantined=batch.rows_quarantined,
                rows_new=0,
                rows_updated=0,
                rows_unchanged=batch.rows_loaded,
                skipped=True,
            )
            for batch in sorted(latest.values(), key=lambda batch: batch.id or 0)
        ]

    # -- one batch -----------------------------------------------------------------

    def load_batch(
        self, batch: Batch, source: DataSource, content_hash: str | None = None
    ) -> LoadResult:
        if batch.kind not in RECORD_KINDS:
            raise ConfigError(f"source {source.name} yielded unknown record kind {batch.kind!r}")
        system = self.system or batch.system or source.name
        if system == HARMONIA_IDS:
            raise ConfigError(
                f"{HARMONIA_IDS!r} names harmonia's own customer ids, not a source system",
                where=f"source {source.name}, {batch.location}",
                fix="give the source system another name with --system",
            )
        # The lock first, then the batch id: batches commit in the order of their ids.
        with load_lock(self.database, owner=this_owner(), on_wait=self._stage):
            batch_id = self._open_batch(batch, source.name, system, content_hash)
            self.batches_opened.append(batch_id)
            if self._run_first is None:
                self._run_first = batch_id
            try:
                result = self._load(batch, source, system, batch_id)
            except BaseException:
                self._fail_batch(batch_id)
                raise
            self._close_batch(result)
            # Objectors it recorded: their rows went with its commit, their inputs now.
            stored.finish_erasures(self.database)
        return result

    def _load(self, batch: Batch, source: DataSource, system: str, batch_id: int) -> LoadResult:
        duck = duckdb_connection()
        try:
            self._prepare(duck)
            kind = KINDS[batch.kind]
            context = self._context(batch)
            kind.prepare(duck, context)
            unexpected = kind.watch(duck, context.expectations)
            read = quarantined = 0
            with BulkConnection(self.database) as bulk:
                merger = kind.merger(
                    bulk, duck, system=system, batch_id=batch_id, since=self._run_first
                )
                duplicates = _Duplicates(duck, kind.keys)
                # Rows quarantined earlier may load now: only then is it worth
                # fingerprinting every good row (asked once, not per chunk, so
                # the background writes keep running).
                resolvable = self._open_quarantine(bulk, duck, batch.kind, system)
                for number, chunk in enumerate(_chunks(batch.table, kind.whole), start=1):
                    self._stage(f"checking rows {read + 1:,} to {read + chunk.num_rows:,}")
                    raw = _canonical(
                        chunk, batch.kind, first_row=read + 1, decimal=self._decimal(batch)
                    )
                    duck.register("raw", raw)
                    passed = self._pass_over(duck, merger, raw, context)
                    # One pass over the chunk: the check, its keys' hashes and the
                    # merger's own columns (a metric's harmonia id), materialized once.
                    checked = merger.resolving(duplicates.hashing(kind.check(context)))
                    duck.execute(f"CREATE OR REPLACE TEMP TABLE checked AS {checked}")
                    if passed:
                        # The rows passed over join the checked ones as valid, with
                        # their keys: a repeat of one of them is still a repeat.
                        duck.register("raw", raw)
                        duck.execute(
                            "INSERT INTO checked BY NAME "
                            + duplicates.hashing("SELECT *, [] AS _reasons FROM unchanged")
                        )
                    if "_original_line" in raw.column_names:
                        duck.execute(UNCHECKED_LINES)
                    duplicates.flag("checked")
                    unexpected.count("checked")
                    # A view over the checked chunk, without the key hashes: what mergers read.
                    changed = "WHERE _row NOT IN (SELECT _row FROM unchanged)" if passed else ""
                    duck.execute(
                        "CREATE OR REPLACE TEMP VIEW valid AS "
                        f"SELECT * EXCLUDE ({duplicates.hash_columns}) FROM ({kind.valid_rows}) "
                        + changed
                    )
                    if passed:
                        merger.unchanged += duck.sql(
                            "SELECT count(*) FROM checked WHERE len(_reasons) = 0 "
                            "AND _row IN (SELECT _row FROM unchanged)"
                        ).fetchall()[0][0]
                    self._stage(f"storing chunk {number}")
                    refused = merger.merge("valid")
                    quarantined += self._quarantine(
                        bulk, duck, batch, system, batch_id, refused, ()
                    )
                    if resolvable:
                        self._resolve(bulk, duck, batch.kind, batch_id, refused)
                    read += raw.num_rows
                    duck.unregister("raw")
                rejected_lines = _rejected_lines(batch)
                if rejected_lines:
                    quarantined += self._quarantine(
                        bulk, duck, batch, system, batch_id, [], rejected_lines
                    )
                    read += len(rejected_lines)
                merger.finish()
                # The commit: in the same transaction as the batch's records, and
                # what makes its facts visible to readers.
                files = facts_of(self.database).files_written(batch.kind, batch_id)
                if files:
                    bulk.execute(
                        "INSERT INTO fact_files (batch_id, fact_table, files) VALUES "
                        + ", ".join(
                            f"({batch_id}, {literal(table)}, {count})"
                            for table, count in files.items()
                        )
                    )
                bulk.execute(
                    f"UPDATE load_batch SET status = 'loaded', rows_read = {read}, "
                    f"rows_loaded = {read - quarantined}, rows_quarantined = {quarantined}, "
                    # Cleared by the refresh of its golden records (app.loads).
                    f"golden_owed = {'TRUE' if batch.kind == 'customers' else 'FALSE'} "
                    f"WHERE id = {batch_id}"
                )
            reasons = _top_reasons(duck)
            warnings = unexpected.warnings()
        finally:
            duck.close()
        result = LoadResult(
            batch_id=batch_id,
            kind=batch.kind,
            location=batch.location,
            source=source.name,
            system=system,
            rows_read=read,
            rows_loaded=read - quarantined,
            rows_quarantined=quarantined,
            rows_new=merger.new,
            rows_updated=merger.updated,
            rows_unchanged=merger.unchanged,
            reasons=reasons,
            ignored_columns=tuple(getattr(batch, "ignored_columns", ())),
            warnings=tuple(warnings),
        )
        return result

    def _pass_over(
        self,
        duck: duckdb.DuckDBPyConnection,
        merger: Merger,
        raw: pa.Table,
        context: CheckContext,
    ) -> int:
        """Take the rows the merger finds unchanged (``unchanged``) out of the chunk
        the check reads (``raw``); returns how many there are."""
        import pyarrow.compute as pc

        unchanged = merger.unchanged_sql("raw", context)
        if unchanged is None:
            return 0
        duck.execute(f"CREATE OR REPLACE TEMP TABLE unchanged AS {unchanged}")
        rows = duck.sql("SELECT _row FROM unchanged").to_arrow_table().column(0)
        if not len(rows):
            return 0
        duck.register("raw", raw.filter(pc.invert(pc.is_in(raw.column("_row"), rows))))
        return len(rows)

    def _stage(self, name: str) -> None:
        if self.on_stage is not None:
            self.on_stage(name)

    def _prepare(self, duck: duckdb.DuckDBPyConnection) -> None:
        duck.execute(MACROS)
        duck.execute("CREATE TEMP TABLE quarantined_reasons (reason VARCHAR)")

    def _context(self, batch: Batch) -> CheckContext:
        import pycountry

        return CheckContext(
            countries=frozenset(country.alpha_2 for country in pycountry.countries),
            country=self.country,
            decimal_comma=self._decimal(batch) == ",",
            identifier_schemes=dict(self.catalog.identifier_schemes),
            questionnaires=dict(self.catalog.questionnaires),
            expectations=Expectations.of(self.catalog),
        )

    def _decimal(self, batch: Batch) -> str:
        """The decimal mark: as told, else the market's, else guessed from the delimiter."""
        if self.decimal:
            return self.decimal
        profile = self.profile
        if profile is not None:
            return profile.csv.decimal
        return "," if getattr(batch, "delimiter", None) == ";" else "."

    def _open_batch(
        self, batch: Batch, source: str, system: str, content_hash: str | None = None
    ) -> int:
        with self.database.session() as session:
            record = LoadBatch(
                source=source,
                system=system,
                kind=batch.kind,
                location=batch.location,
                country=self.country,
                actor=self.actor,
                owner=this_owner(),
                content_hash=content_hash,
            )
            session.add(record)
            session.commit()
            assert record.id is not None
            return record.id

    def _fail_batch(self, batch_id: int) -> None:
        """A load that failed keeps its record, marked, and nothing of its facts."""
        with self.database.session() as session:
            record = session.get(LoadBatch, batch_id)
            if record is None or record.status != "running":
                return  # committed before the failure: it stands
            record.status = "failed"
            record.finished_at = dt.datetime.now(dt.UTC)
            session.add(record)
            session.commit()
        facts_of(self.database).abandon([batch_id])

    def _close_batch(self, result: LoadResult) -> None:
        with self.database.session() as session:
            record = session.get(LoadBatch, result.batch_id)
            assert record is not None
            record.finished_at = dt.datetime.now(dt.UTC)
            session.add(record)
            session.add(
                AuditEvent(
                    actor=self.actor,
                    action="load",
                    subject=f"load_batch:{result.batch_id}",
                    details=json.dumps(
                        {
                            "kind": result.kind,
                            "location": result.location,
                            "source": result.source,
                            "system": result.system,
                            "read": result.rows_read,
                            "loaded": result.rows_loaded,
                            "new": result.rows_new,
                            "updated": result.rows_updated,
                            "unchanged": result.rows_unchanged,
                            "quarantined": result.rows_quarantined,
                        }
                    ),
                )
            )
            session.commit()

    def _quarantine(
        self,
        bulk: BulkConnection,
        duck: duckdb.DuckDBPyConnection,
        batch: Batch,
        system: str,
        batch_id: int,
        refused: list[tuple[int, str]],
        rejected_lines: tuple[Any, ...],
    ) -> int:
        """Keep this chunk's rejected rows (or unreadable lines); returns how many."""
        rows, count = _quarantine_rows(duck, batch, system, batch_id, refused, rejected_lines)
        if rows.num_rows:
            bulk.append("quarantine", _without_duplicates(bulk, rows))
            duck.execute("INSERT INTO quarantined_reasons SELECT unnest(_list) FROM quarantined")
            if not rejected_lines and "_quarantine_id" in duck.sql("FROM raw LIMIT 0").columns:
                self._supersede(bulk, duck, batch_id)
        return count

    def _supersede(
        self, bulk: BulkConnection, duck: duckdb.DuckDBPyConnection, batch_id: int
    ) -> None:
        """Entries whose exported row came back changed but still wrong are replaced by
        the new entry (marked resolved by this load), so each row is open once."""
        ids = duck.sql(
            "SELECT DISTINCT raw._quarantine_id AS id FROM rejected JOIN raw USING (_row) "
            "WHERE raw._quarantine_id IS NOT NULL"
        ).to_arrow_table()
        if not ids.num_rows:
            return
        stage = bulk.stage(ids, "superseded")
        bulk.execute(
            f"UPDATE quarantine SET resolved_batch_id = {batch_id} "
            f"WHERE id IN (SELECT id FROM {stage}) AND batch_id <> {batch_id} "
            "AND resolved_batch_id IS NULL"
        )

    def _open_quarantine(
        self, bulk: BulkConnection, duck: duckdb.DuckDBPyConnection, kind: str, system: str
    ) -> bool:
        """Quarantined rows of this kind and system that a row of this load may fix.

        Asked once per load, not per chunk, so the background writes keep running.
        """
        rows = bulk.read(
            "SELECT id, record FROM quarantine WHERE resolved_batch_id IS NULL "
            f"AND kind = {literal(kind)} AND system = {literal(system)}"
        )
        if not rows.num_rows:
            return False
        duck.register("open_rows", rows)
        key = _key_hash(kind, lambda column: f"json_extract_string(record, '$.{column}')")
        duck.execute(
            f"CREATE OR REPLACE TEMP TABLE open_quarantine AS SELECT id, {key} FROM open_rows"
        )
        duck.unregister("open_rows")
        return True

    def _resolve(
        self,
        bulk: BulkConnection,
        duck: duckdb.DuckDBPyConnection,
        kind: str,
        batch_id: int,
        refused: list[tuple[int, str]],
    ) -> None:
        """Mark quarantined rows resolved when a row with the same key now loads.

        The key (the kind's natural key, its first ``keys``) and not the whole
        content: a row fixed in a spreadsheet and loaded again resolves its entry.
        """
        refused_rows = ", ".join(str(row) for row, _ in refused)
        not_refused = f"AND _row NOT IN ({refused_rows})" if refused_rows else ""
        key = _key_hash(kind, lambda column: column)
        loaded = f"_row IN (SELECT _row FROM checked WHERE len(_reasons) = 0) {not_refused}"
        explicit = (
            f"UNION SELECT id FROM open_quarantine WHERE id IN "
            f"(SELECT _quarantine_id FROM raw WHERE {loaded})"
            if "_quarantine_id" in duck.sql("SELECT * FROM raw LIMIT 0").columns
            else ""
        )
        fixed = duck.sql(
            f"""
            SELECT DISTINCT q.id FROM open_quarantine q JOIN (
                SELECT {key} FROM raw WHERE {loaded}
            ) loaded USING (h1, h2)
            {explicit}
            """
        ).to_arrow_table()
        if not fixed.num_rows:
            return
        stage = bulk.stage(fixed, "resolved")
        # Rows this very load quarantined again are not fixed by it.
        bulk.execute(
            f"UPDATE quarantine SET resolved_batch_id = {batch_id} "
            f"WHERE id IN (SELECT id FROM {stage}) AND batch_id <> {batch_id}"
        )


def _key_hash(kind: str, column: Callable[[str], str]) -> str:
    """Two hashes of a raw row's natural key, trimmed and case-folded."""
    natural = KINDS[kind].keys[0].columns
    return _two_hashes([f"lower(trim({column(name)}))" for name in natural])


def _two_hashes(values: Iterable[str], prefix: str = "") -> str:
    """``h1, h2`` (after ``prefix``): two independent 64-bit hashes of a key, so a false
    match needs both to collide (:func:`~harmonia.sql.key_hashes`)."""
    return key_hashes(values, f"{prefix}h1", f"{prefix}h2")


class _Duplicates:
    """Flags valid rows whose key was already seen on a valid row earlier in the same load.

    A row rejected for its own reasons does not count: the valid row after it
    with the same key loads.

    Keys are remembered as two independent 64-bit hashes (so a false repeat
    would need both to collide) with the row that first carried them, across
    all the chunks of a batch. The hashes are columns of the checked chunk,
    computed in the check's own pass (:meth:`hashing`).
    """

    def __init__(self, duck: duckdb.DuckDBPyConnection, keys: tuple[DuplicateKey, ...]):
        self.duck = duck
        self.keys = keys
        for index in range(len(self.keys)):
            duck.execute(
                f"CREATE OR REPLACE TEMP TABLE seen_{index} (h1 UBIGINT, h2 UBIGINT, first_row BIGINT)"
            )

    @property
    def hash_columns(self) -> str:
        """The hash columns :meth:`hashing` adds, as a list of names (never empty)."""
        return ", ".join(f"_key{index}_h1, _key{index}_h2" for index in range(len(self.keys)))

    def hashing(self, check: str) -> str:
        """SQL: the rows of the check ``check`` with each key's two hashes."""
        hashes = ", ".join(
            _two_hashes(key.columns, prefix=f"_key{index}_")
            if key.hashes is None
            else f"{key.hashes[0]} AS _key{index}_h1, {key.hashes[1]} AS _key{index}_h2"
            for index, key in enumerate(self.keys)
        )
        return f"SELECT *, {hashes} FROM ({check})"

    def flag(self, table: str) -> None:
        for index, key in enumerate(self.keys):
            columns = key.columns
            present = " AND ".join(f"{column} IS NOT NULL" for column in columns)
            keyed = (
                f"SELECT _row, _key{index}_h1 AS h1, _key{index}_h2 AS h2 "
                f"FROM {table} WHERE {present} AND len(_reasons) = 0"
            )
            seen = f"seen_{index}"
            # Most loads repeat nothing: as many distinct first hashes as rows and
            # one probe of what earlier chunks saw prove it (no grouping of the
            # pairs), and only a load that does repeat pays for finding which rows.
            # The probe looks for the first hash alone (a match of both is one of
            # it; a match of the first only costs the exact search below): the
            # earlier keys are its probe side, growing with every chunk, and a
            # semi-join on one column probes them at half the CPU of the join on
            # both (1M chunk against 30M earlier keys: 0.27 s instead of 0.56 s).
            repeated = self.duck.sql(
                f"SELECT (SELECT count(DISTINCT h1) < count(*) FROM ({keyed})) "
                f"OR EXISTS (SELECT 1 FROM {seen} WHERE h1 IN (SELECT h1 FROM ({keyed})))"
            ).fetchall()[0][0]
            if not repeated:
                self.duck.execute(f"INSERT INTO {seen} SELECT h1, h2, _row FROM ({keyed})")
                continue
            self.duck.execute(
                "CREATE OR REPLACE TEMP TABLE firsts AS SELECT h1, h2, min(_row) AS first_row "
                f"FROM ({keyed}) GROUP BY h1, h2"
            )
            self._flag_repeats(table, keyed, seen, key.message)
            self.duck.execute(
                f"INSERT INTO {seen} SELECT h1, h2, first_row FROM firsts f "
                f"WHERE NOT EXISTS (SELECT 1 FROM {seen} s WHERE s.h1 = f.h1 AND s.h2 = f.h2)"
            )

    def _flag_repeats(self, table: str, keyed: str, seen: str, message: str) -> None:
        """Give every row after the first with its key the reason naming that first row."""
        self.duck.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE repeats AS
            SELECT k._row, COALESCE(s.first_row, f.first_row) AS first_row
            FROM ({keyed}) k JOIN firsts f USING (h1, h2)
            LEFT JOIN {seen} s USING (h1, h2)
            WHERE k._row <> COALESCE(s.first_row, f.first_row)
            """
        )
        self.duck.execute(
            f"""
            UPDATE {table} SET _reasons = list_append(_reasons, {message})
            FROM repeats WHERE repeats._row = {table}._row
            """
        )


#: A row of a ``quarantine export`` file that still carries the text of a line
#: that could not be read: its columns were filled in from that text, from the
#: left, and nothing may load until a person has checked them.
UNCHECKED_LINES = """
    UPDATE checked SET _reasons = list_append(_reasons,
        'original_line holds a line that could not be read, and this row''s columns were '
        || 'filled in from it: check them against it, then empty original_line')
    FROM raw WHERE raw._row = checked._row AND raw._original_line IS NOT NULL
"""


def _chunks(table: pa.Table | pa.RecordBatchReader, whole: tuple[str, ...]) -> Iterator[pa.Table]:
    """The batch's rows in chunks of about CHUNK_ROWS, never splitting the rows that
    have ``whole`` in common (a response's answers are checked together)."""
    import pyarrow as pa

    pending: list[pa.Table] = []
    size = 0
    batches = table.to_batches(max_chunksize=CHUNK_ROWS) if isinstance(table, pa.Table) else table
    for record_batch in batches:
        pending.append(pa.Table.from_batches([record_batch]))
        size += record_batch.num_rows
        if size >= CHUNK_ROWS:
            chunk, rest = _split_whole(pa.concat_tables(pending), whole)
            yield chunk
            pending, size = [rest], rest.num_rows
    if size or (not isinstance(table, pa.RecordBatchReader) and table.num_rows == 0):
        yield pa.concat_tables(pending) if pending else table.schema.empty_table()


def _split_whole(chunk: pa.Table, key: tuple[str, ...]) -> tuple[pa.Table, pa.Table]:
    """The chunk without its trailing rows that share the last row's key, and those rows.

    Rows of one response come together in every format harmonia reads; a
    response interleaved with others across a chunk boundary is checked in parts.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not key or not chunk.num_rows:
        return chunk, chunk.slice(0, 0)
    last = chunk.num_rows - 1
    same = None
    for column in key:
        # NULL is a value here (an empty respondent is one respondent).
        values = pc.fill_null(chunk.column(column).cast(pa.string()), "\x00")
        equal = pc.equal(values, values[last])
        same = equal if same is None else pc.and_(same, equal)
    differing = np.flatnonzero(~same.to_numpy(zero_copy_only=False))
    cut = int(differing[-1]) + 1 if len(differing) else 0
    if cut == 0:  # one response fills the whole chunk: keep it whole
        return chunk, chunk.slice(0, 0)
    return chunk.slice(0, cut), chunk.slice(cut)


def _rejected_lines(batch: Batch) -> tuple[Any, ...]:
    lines = getattr(batch, "rejected_lines", ())
    return tuple(lines() if callable(lines) else lines)


def _canonical(table: pa.Table, kind: str, *, first_row: int, decimal: str = ".") -> pa.Table:
    """The kind's columns as text, plus ``_row`` (counted on from ``first_row`` when absent).

    Typed numbers (from Parquet, or a source yielding floats) are written with
    the decimal mark the text columns are read with, so 1.234 stays 1.234.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = {}
    for name in RECORD_KINDS[kind].column_names:
        if name in table.column_names:
            column = table.column(name)
            if not pa.types.is_string(column.type):
                floating = pa.types.is_floating(column.type) or pa.types.is_decimal(column.type)
                column = column.cast(pa.string())
                if floating and decimal != ".":
                    column = pc.replace_substring(column, ".", decimal)
            columns[name] = column
        else:
            columns[name] = pa.nulls(table.num_rows, pa.string())
    if "quarantine_id" in table.column_names:  # a fixed `quarantine export` file
        ids = pc.utf8_trim_whitespace(table.column("quarantine_id").cast(pa.string()))
        numeric = pc.match_substring_regex(ids, r"^\d+$")
        columns["_quarantine_id"] = pc.if_else(numeric, ids, None).cast(pa.int64())
    if "original_line" in table.column_names:  # an unreadable line, exported to fix
        text = pc.utf8_trim_whitespace(table.column("original_line").cast(pa.string()))
        columns["_original_line"] = pc.if_else(pc.equal(text, ""), None, text)
    if "_line" in table.column_names:  # where to report a row, when not at `_row`
        columns["_line"] = table.column("_line").cast(pa.int64())
    if "_row" in table.column_names:
        columns["_row"] = table.column("_row").cast(pa.int64())
    else:
        columns["_row"] = pa.array(range(first_row, first_row + table.num_rows), pa.int64())
    return pa.table(columns)


def _quarantine_rows(
    duck: duckdb.DuckDBPyConnection,
    batch: Batch,
    system: str,
    batch_id: int,
    refused: list[tuple[int, str]],
    rejected_lines: tuple[Any, ...],
) -> tuple[pa.Table, int]:
    """This chunk's rejected rows as quarantine entries, and how many rows were rejected.

    Rows with the same content are one entry (their fingerprint is the
    quarantine's key), so there can be fewer entries than rejected rows.
    """
    import pyarrow as pa

    duck.register(
        "refused",
        pa.table(
            {
                "_row": pa.array([row for row, _ in refused], pa.int64()),
                "reason": pa.array([reason for _, reason in refused], pa.string()),
            }
        ),
    )
    duck.register(
        "rejected_lines",
        pa.table(
            {
                "_row": pa.array([line.line for line in rejected_lines], pa.int64()),
                "record": pa.array(
                    [_unreadable_record(batch, line) for line in rejected_lines], pa.string()
                ),
                "reason": pa.array(
                    [f"unreadable line: {line.reason}" for line in rejected_lines], pa.string()
                ),
            }
        ),
    )
    fields = ", ".join(f"{name} := raw.{name}" for name in RECORD_KINDS[batch.kind].column_names)
    kind, location = literal(batch.kind), literal(batch.location)
    if rejected_lines:
        rows = "SELECT _row, _row AS _line, record, [reason] AS reasons FROM rejected_lines"
    else:
        # A source may report rows at a line of its own (a sheet row for many answers).
        raw_columns = duck.sql("SELECT * FROM raw LIMIT 0").columns
        line = "raw._line" if "_line" in raw_columns else "bad._row"
        record = f"to_json(struct_pack({fields}))"
        if "_original_line" in raw_columns:  # the unreadable line's text stays with its row
            record = (
                f"CASE WHEN raw._original_line IS NULL THEN {record} ELSE to_json(struct_pack("
                f"{fields}, original_line := raw._original_line)) END"
            )
        rows = f"""
            WITH extra AS (
                SELECT _row, list(reason ORDER BY reason) AS reasons FROM refused GROUP BY _row
            ), bad AS (
                SELECT c._row, list_concat(c._reasons, COALESCE(e.reasons, [])) AS reasons
                FROM checked c LEFT JOIN extra e ON e._row = c._row
                WHERE len(c._reasons) > 0 OR e._row IS NOT NULL
            )
            SELECT bad._row, {line} AS _line,
                -- an erased person's row keeps nothing of them: not the record, nor
                -- the line's text, nor a fingerprint of them (GDPR Art. 17)
                CASE WHEN erased THEN to_json(struct_pack(erased := true,
                    location := {location}, row := {line})) ELSE {record} END AS record,
                CASE WHEN erased THEN [{literal(suppression.REASON)}] ELSE bad.reasons END
                    AS reasons
            FROM (SELECT *, list_contains(reasons, {literal(suppression.REASON)}) AS erased
                  FROM bad) bad
            JOIN raw ON raw._row = bad._row
        """
    terms, options = getattr(batch, "terms", ()), getattr(batch, "options", ())
    if terms or options:
        seen = _in_their_words("reasons", terms, options)
        rows = f"SELECT _row, _line, record, {seen} AS reasons FROM ({rows})"
    duck.execute(
        f"""
        CREATE OR REPLACE TEMPORARY TABLE rejected AS
        SELECT md5({kind} || '|' || {literal(system)} || '|' || record) AS fingerprint,
            CAST({batch_id} AS BIGINT) AS batch_id, {kind} AS kind, {literal(system)} AS system,
            {location} AS location,
            _line AS row_number, CAST(record AS VARCHAR) AS record,
            CAST(to_json(reasons) AS VARCHAR) AS reasons, reasons AS _list, _row
        FROM ({rows})
        """
    )
    count = duck.sql("SELECT COUNT(*) FROM rejected").fetchall()[0][0]
    duck.execute(
        "CREATE OR REPLACE TEMPORARY TABLE quarantined AS SELECT * FROM rejected "
        "QUALIFY row_number() OVER (PARTITION BY fingerprint ORDER BY row_number) = 1"
    )
    return duck.sql("SELECT * EXCLUDE (_list, _row) FROM quarantined").to_arrow_table(), int(count)


def _in_their_words(
    reasons: str,
    terms: tuple[tuple[str, str], ...],
    options: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (),
) -> str:
    """SQL: the list ``reasons`` with each code a source showed people differently named as
    they saw it, the code kept (a rep's workbook: ``«Patients par mois»
    (patients_per_month)``), so the person who filled it in finds what is meant.

    A question's allowed options are named by the texts of its drop-down list,
    in that question's "is not an option of" reason only: option codes are short
    common words, never replaced anywhere else."""
    import re

    # Two passes, through placeholders, so a question's or an option's text that
    # holds another code (French "comment" is also an item) is never replaced in its turn.
    text = "r"
    shown = []
    for question, choices in options:
        pattern = r"(\bis not an option of " + re.escape(question) + r" \(options: )[^)]*\)"
        placeholder = f"\\1⟪{len(shown)}⟫)"  # ⟪⟫: no code's word boundary inside
        text = f"regexp_replace({text}, {literal(pattern)}, {literal(placeholder)})"
        shown.append(", ".join(f"«{label}» ({code})" for code, label in choices))
    for index, (code, _) in enumerate(terms):
        word = r"\b" + re.escape(code) + r"\b"
        text = f"regexp_replace({text}, {literal(word)}, {literal(f'⟦{index}⟧')}, 'g')"
    for index, (code, seen) in enumerate(terms):
        text = f"replace({text}, {literal(f'⟦{index}⟧')}, {literal(f'«{seen}» ({code})')})"
    for index, labels in enumerate(shown):
        text = f"replace({text}, {literal(f'⟪{index}⟫')}, {literal(labels)})"
    return f"list_transform({reasons}, lambda r: {text})"


def _unreadable_record(batch: Batch, line: Any) -> str:
    """A line that could not be read, as a quarantine record: its text, and its fields
    under the header's names as far as they go (to fix in a ``quarantine export``)."""
    fields_of = getattr(batch, "fields_of", None)
    fields = fields_of(line) if fields_of is not None else {}
    record = {
        name: fields[name] for name in RECORD_KINDS[batch.kind].column_names if name in fields
    }
    record["original_line"] = line.text.rstrip("\r\n")
    return json.dumps(record, ensure_ascii=False)


def _without_duplicates(bulk: BulkConnection, rows: pa.Table) -> pa.Table:
    """Rows whose fingerprint is already quarantined are updated, not added again."""
    stage = bulk.stage(rows, "quarantine")
    bulk.execute(
        f"""
        UPDATE quarantine SET
            batch_id = (SELECT s.batch_id FROM {stage} s WHERE s.fingerprint = quarantine.fingerprint),
            location = (SELECT s.location FROM {stage} s WHERE s.fingerprint = quarantine.fingerprint),
            row_number = (SELECT s.row_number FROM {stage} s WHERE s.fingerprint = quarantine.fingerprint),
            reasons = (SELECT s.reasons FROM {stage} s WHERE s.fingerprint = quarantine.fingerprint),
            resolved_batch_id = NULL
        WHERE fingerprint IN (SELECT fingerprint FROM {stage})
        """
    )
    known = bulk.read(
        f"SELECT fingerprint FROM quarantine WHERE fingerprint IN (SELECT fingerprint FROM {stage})"
    )
    if not known.num_rows:
        return rows
    import pyarrow.compute as pc

    return rows.filter(pc.invert(pc.is_in(rows.column("fingerprint"), known.column(0))))


def _top_reasons(duck: duckdb.DuckDBPyConnection, shown: int = 5) -> tuple[tuple[str, int], ...]:
    """Every reason, grouped: alike reasons (their quoted values masked) count together,
    each group with the values it held, the commonest first (``shown`` of them, and
    how many more), e.g. ``type '…' is not HCP or HCO: 'DOC' (1), 'VET' (1)``."""
    pattern = quote(QUOTED_VALUE)
    rows = duck.sql(
        f"""
        WITH exact AS (
            SELECT reason, COUNT(*) AS n FROM quarantined_reasons GROUP BY reason
        ), kinds AS (
            SELECT regexp_replace(regexp_replace(reason, {pattern}, '''…''', 'g'),
                                  'row [0-9]+', 'row …', 'g') AS kind,
                   reason, array_to_string(regexp_extract_all(reason, {pattern}), ', ') AS value, n
            FROM exact
        )
        SELECT kind, SUM(n) AS total, COUNT(*) AS variants, any_value(reason) AS one,
               list(value || ' (' || n || ')' ORDER BY n DESC, value)
                   FILTER (WHERE value <> '')[1:{shown}] AS shown
        FROM kinds GROUP BY kind ORDER BY total DESC, kind
        """
    ).fetchall()
    grouped = []
    for kind, total, variants, one, values in rows:
        if variants == 1:
            grouped.append((one, int(total)))  # one value: the reason as it was
            continue
        if not values:  # alike but for row numbers: the count says it all
            grouped.append((kind, int(total)))
            continue
        more = f" and {variants - shown:,} more" if variants > shown else ""
        grouped.append((f"{kind}: {', '.join(values)}{more}", int(total)))
    return tuple(grouped)
