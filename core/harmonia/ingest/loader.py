"""Loading batches into the harmonized database, quarantining what is wrong.

For each batch a source yields: record a load batch, check every row in one
vectorized pass (:mod:`harmonia.ingest.checks`), merge the good rows into the
store (:mod:`harmonia.ingest.merge`), and keep every rejected row whole with
all its reasons in the quarantine. Rows read = rows loaded + rows
quarantined, always.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import attrs

from harmonia.errors import ConfigError
from harmonia.ingest.checks import CHECKS, MACROS, CheckContext, python_check, python_check_name
from harmonia.ingest.merge import MERGES
from harmonia.records import RECORD_KINDS, Batch, DataSource, SourceRequest
from harmonia.store.bulk import BulkConnection, literal
from harmonia.store.database import Database
from harmonia.store.models import AuditEvent, LoadBatch

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from harmonia.definitions import CountryProfile
    from harmonia.plugins import Plugins


@attrs.frozen
class LoadResult:
    """What happened to one batch: counts, and the commonest reasons for rejection."""

    batch_id: int
    kind: str
    location: str
    source: str
    system: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    reasons: tuple[tuple[str, int], ...] = ()
    ignored_columns: tuple[str, ...] = ()


@attrs.define
class Loader:
    """Loads batches for one market (or none) and one source system."""

    database: Database
    plugins: Plugins
    country: str | None = None
    system: str | None = None
    decimal: str | None = None
    actor: str = ""
    on_stage: Callable[[str], None] | None = None

    def __attrs_post_init__(self) -> None:
        if self.decimal not in (None, ".", ","):
            raise ConfigError(
                f"decimal mark {self.decimal!r} is not '.' or ','", fix="use --decimal , or ."
            )

    @property
    def profile(self) -> CountryProfile | None:
        if self.country is None:
            return None
        return self.plugins.country_profiles.get_or_fail(
            self.country, fix="install the country's pack, or load without --country"
        )

    def request(self, options: dict[str, str]) -> SourceRequest:
        """What a source is told about this load."""
        profile = self.profile
        return SourceRequest(
            options=options,
            country=self.country,
            profile=profile,
            questionnaires=tuple(self.plugins.questionnaires.values()),
            identifier_schemes=tuple(self.plugins.identifier_schemes.values()),
        )

    def run(self, source: DataSource, options: dict[str, str]) -> Iterator[LoadResult]:
        """Read everything ``source`` yields for ``options`` and load it batch by batch."""
        profile = self.profile
        if profile is not None and source.family not in profile.data_sources:
            raise ConfigError(
                f"{profile.code} does not use {source.family} data sources "
                f"(its profile allows: {', '.join(profile.data_sources)})",
                where=f"source {source.name}",
                fix="use a source of an allowed family, or change the country profile",
            )
        for batch in source.read(self.request(options)):
            yield self.load_batch(batch, source)

    # -- one batch -----------------------------------------------------------------

    def load_batch(self, batch: Batch, source: DataSource) -> LoadResult:
        import duckdb

        if batch.kind not in RECORD_KINDS:
            raise ConfigError(f"source {source.name} yielded unknown record kind {batch.kind!r}")
        system = self.system or source.name
        batch_id = self._open_batch(batch, source.name, system)
        rejected_lines = getattr(batch, "rejected_lines", ())
        connection = duckdb.connect()
        try:
            self._stage("checking")
            self._prepare(connection)
            raw = _canonical(batch.table, batch.kind)
            connection.register("raw", raw)
            checked = connection.sql(CHECKS[batch.kind](self._context(batch))).to_arrow_table()
            connection.register("checked", checked)
            valid = connection.sql(_valid_rows(batch.kind)).to_arrow_table()
            self._stage("storing")
            with BulkConnection(self.database) as bulk:
                store_rejects = MERGES[batch.kind](bulk, valid, system=system, batch_id=batch_id)
                quarantine = _quarantine_rows(
                    connection, batch, system, batch_id, store_rejects, rejected_lines
                )
                bulk.append("quarantine", _without_duplicates(bulk, quarantine))
                self._resolve(bulk, connection, batch.kind, system, batch_id, store_rejects)
            reasons = _top_reasons(connection)
        finally:
            connection.close()
        quarantined = quarantine.num_rows
        result = LoadResult(
            batch_id=batch_id,
            kind=batch.kind,
            location=batch.location,
            source=source.name,
            system=system,
            rows_read=raw.num_rows + len(rejected_lines),
            rows_loaded=raw.num_rows + len(rejected_lines) - quarantined,
            rows_quarantined=quarantined,
            reasons=reasons,
            ignored_columns=tuple(getattr(batch, "ignored_columns", ())),
        )
        self._close_batch(result)
        return result

    def _stage(self, name: str) -> None:
        if self.on_stage is not None:
            self.on_stage(name)

    def _prepare(self, connection: duckdb.DuckDBPyConnection) -> None:
        connection.execute(MACROS)
        for scheme in self.plugins.identifier_schemes.values():
            if scheme.validate is not None:
                connection.create_function(
                    python_check_name(scheme), python_check(scheme), ["VARCHAR"], "VARCHAR"
                )

    def _context(self, batch: Batch) -> CheckContext:
        import pycountry

        return CheckContext(
            countries=frozenset(country.alpha_2 for country in pycountry.countries),
            country=self.country,
            decimal_comma=self._decimal(batch) == ",",
            identifier_schemes=dict(self.plugins.identifier_schemes),
            questionnaires=dict(self.plugins.questionnaires),
        )

    def _decimal(self, batch: Batch) -> str:
        """The decimal mark: as told, else the market's, else guessed from the delimiter."""
        if self.decimal:
            return self.decimal
        profile = self.profile
        if profile is not None:
            return profile.csv.decimal
        return "," if getattr(batch, "delimiter", None) == ";" else "."

    def _open_batch(self, batch: Batch, source: str, system: str) -> int:
        with self.database.session() as session:
            record = LoadBatch(
                source=source,
                system=system,
                kind=batch.kind,
                location=batch.location,
                country=self.country,
                actor=self.actor,
            )
            session.add(record)
            session.commit()
            assert record.id is not None
            return record.id

    def _close_batch(self, result: LoadResult) -> None:
        with self.database.session() as session:
            record = session.get(LoadBatch, result.batch_id)
            assert record is not None
            record.status = "loaded"
            record.rows_read = result.rows_read
            record.rows_loaded = result.rows_loaded
            record.rows_quarantined = result.rows_quarantined
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
                            "quarantined": result.rows_quarantined,
                        }
                    ),
                )
            )
            session.commit()

    def _resolve(
        self,
        bulk: BulkConnection,
        connection: duckdb.DuckDBPyConnection,
        kind: str,
        system: str,
        batch_id: int,
        store_rejects: list[tuple[int, str]],
    ) -> None:
        """Mark quarantined rows as resolved when the same row now loads."""
        open_rows = bulk.scalar(
            f"SELECT COUNT(*) FROM quarantine WHERE kind = {literal(kind)} AND resolved_batch_id IS NULL"
        )
        if not open_rows:
            return
        refused = ", ".join(str(row) for row, _ in store_rejects) or "NULL"
        loaded = connection.sql(
            f"SELECT {_fingerprint(kind, system)} AS fingerprint FROM raw "
            f"WHERE _row IN (SELECT _row FROM checked WHERE len(_reasons) = 0) "
            f"AND _row NOT IN ({refused})"
        ).to_arrow_table()
        stage = bulk.stage(loaded, "resolved")
        bulk.execute(
            f"UPDATE quarantine SET resolved_batch_id = {batch_id} "
            f"WHERE resolved_batch_id IS NULL AND fingerprint IN (SELECT fingerprint FROM {stage})"
        )


def _canonical(table: pa.Table, kind: str) -> pa.Table:
    """The kind's columns as text, plus ``_row`` (numbered from 1 when absent)."""
    import pyarrow as pa

    columns = {}
    for name in RECORD_KINDS[kind].column_names:
        if name in table.column_names:
            column = table.column(name)
            columns[name] = column if pa.types.is_string(column.type) else column.cast(pa.string())
        else:
            columns[name] = pa.nulls(table.num_rows, pa.string())
    if "_row" in table.column_names:
        columns["_row"] = table.column("_row").cast(pa.int64())
    else:
        columns["_row"] = pa.array(range(1, table.num_rows + 1), pa.int64())
    return pa.table(columns)


def _valid_rows(kind: str) -> str:
    if kind == "responses":
        # One stored answer per option of a multiple-choice answer.
        return """
            SELECT * EXCLUDE (_reasons, answer, multiple),
                unnest(CASE WHEN multiple THEN string_split(answer, '|') ELSE [answer] END) AS value
            FROM checked WHERE len(_reasons) = 0 ORDER BY _row
        """
    return "SELECT * EXCLUDE (_reasons) FROM checked WHERE len(_reasons) = 0 ORDER BY _row"


def _fingerprint(kind: str, system: str) -> str:
    """Identifies a raw row's content, for quarantine de-duplication and resolution."""
    fields = ", ".join(f"{name} := {name}" for name in RECORD_KINDS[kind].column_names)
    return (
        f"md5({literal(kind)} || '|' || {literal(system)} || '|' || to_json(struct_pack({fields})))"
    )


def _quarantine_rows(
    connection: duckdb.DuckDBPyConnection,
    batch: Batch,
    system: str,
    batch_id: int,
    store_rejects: list[tuple[int, str]],
    rejected_lines: tuple,
) -> pa.Table:
    import pyarrow as pa

    connection.register(
        "store_rejects",
        pa.table(
            {
                "_row": pa.array([row for row, _ in store_rejects], pa.int64()),
                "reason": pa.array([reason for _, reason in store_rejects], pa.string()),
            }
        ),
    )
    connection.register(
        "rejected_lines",
        pa.table(
            {
                "_row": pa.array([line.line for line in rejected_lines], pa.int64()),
                "text": pa.array([line.text for line in rejected_lines], pa.string()),
                "reason": pa.array(
                    [f"unreadable line: {line.reason}" for line in rejected_lines], pa.string()
                ),
            }
        ),
    )
    fields = ", ".join(f"{name} := raw.{name}" for name in RECORD_KINDS[batch.kind].column_names)
    kind, location = literal(batch.kind), literal(batch.location)
    connection.execute(
        f"""
        CREATE OR REPLACE TEMPORARY TABLE quarantined AS
        WITH extra AS (
            SELECT _row, list(reason ORDER BY reason) AS reasons FROM store_rejects GROUP BY _row
        ), bad AS (
            SELECT c._row, list_concat(c._reasons, COALESCE(e.reasons, [])) AS reasons
            FROM checked c LEFT JOIN extra e ON e._row = c._row
            WHERE len(c._reasons) > 0 OR e._row IS NOT NULL
        ), rows AS (
            SELECT bad._row, to_json(struct_pack({fields})) AS record, bad.reasons
            FROM bad JOIN raw ON raw._row = bad._row
            UNION ALL
            SELECT _row, to_json(struct_pack(line := text)), [reason] FROM rejected_lines
        )
        SELECT md5({kind} || '|' || {literal(system)} || '|' || record) AS fingerprint,
            CAST({batch_id} AS BIGINT) AS batch_id, {kind} AS kind, {location} AS location,
            _row AS row_number, record, CAST(to_json(reasons) AS VARCHAR) AS reasons, reasons AS _list
        FROM rows
        """
    )
    return connection.sql(
        "SELECT * EXCLUDE (_list) FROM quarantined "
        "QUALIFY row_number() OVER (PARTITION BY fingerprint ORDER BY row_number) = 1"
    ).to_arrow_table()


def _without_duplicates(bulk: BulkConnection, rows: pa.Table) -> pa.Table:
    """Rows whose fingerprint is already quarantined are updated, not added again."""
    if not rows.num_rows:
        return rows
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


def _top_reasons(
    connection: duckdb.DuckDBPyConnection, limit: int = 5
) -> tuple[tuple[str, int], ...]:
    """The commonest reasons, with the values in them masked so alike reasons count together."""
    rows = connection.sql(
        f"""
        SELECT regexp_replace(regexp_replace(reason, '''[^'']*''', '''…''', 'g'),
                              'row [0-9]+', 'row …', 'g') AS reason, COUNT(*) AS n
        FROM (SELECT unnest(_list) AS reason FROM quarantined)
        GROUP BY 1 ORDER BY n DESC, reason LIMIT {limit}
        """
    ).fetchall()
    return tuple((reason, int(count)) for reason, count in rows)
