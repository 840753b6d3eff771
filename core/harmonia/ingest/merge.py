"""Merging checked rows into the store, a chunk at a time.

Resolution happens in DuckDB, next to the rows: the loader reads the
crosswalk (and what else a kind needs) from the store once, resolves source
ids to harmonia ids, finds which rows are new and which change stored facts,
and then

* appends new facts to the store directly (ADBC, sorted by key), the fast
  path every first load takes;
* stages only the rows that change existing facts and upserts them with one
  SQL statement, so loading the same rows twice changes nothing.

Each merger counts the rows it merged: new to the store, changing what it
held (updated), or changing nothing (unchanged: the same file loaded again).
Rows the store must refuse (a metric for a customer this system never
loaded, an identifier that belongs to someone else) come back as
``(_row, reason)`` for the quarantine. A merger lives for one load batch, in
one store transaction, and keeps what earlier chunks added in DuckDB so that
later chunks see it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from harmonia.ingest.checks import OBJECTION_YES
from harmonia.sql import literal
from harmonia.store.bulk import BulkConnection
from harmonia.store.facts import facts_of
from harmonia.store.identity import record_objections

if TYPE_CHECKING:
    import duckdb

Rejections = list[tuple[int, str]]

_NO_IDS = pa.array([], pa.int64())


def _ids(column: pa.ChunkedArray) -> pa.Array:
    """Customer or response ids, from whichever engine, as one int64 array."""
    return column.combine_chunks().cast(pa.int64())


class Merger:
    """Merges the valid rows of one kind; one instance per load batch."""

    def __init__(
        self, bulk: BulkConnection, duck: duckdb.DuckDBPyConnection, *, system: str, batch_id: int
    ):
        self.bulk = bulk
        self.duck = duck
        self.system = system
        self.batch_id = batch_id
        self.new = 0  # rows that added facts to the store
        self.updated = 0  # rows that changed facts it held
        self.unchanged = 0  # rows whose facts it held already
        self._load_crosswalk()

    def merge(self, valid: str) -> Rejections:
        """Merge the rows of the DuckDB table ``valid``; returns the store's refusals."""
        raise NotImplementedError

    def finish(self) -> None:
        """After the last chunk: let the database catch up (sequences, statistics)."""

    # -- shared steps ----------------------------------------------------------------

    def _load_crosswalk(self) -> None:
        """This system's (source id -> harmonia id), kept current across chunks."""
        table = self.bulk.read(
            f"SELECT source_id, customer_id FROM crosswalk WHERE system = {literal(self.system)}"
        )
        self._into_duck("xwalk", table, "source_id VARCHAR, customer_id BIGINT")

    def _into_duck(self, name: str, table: pa.Table, columns: str) -> None:
        self.duck.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({columns})")
        if table.num_rows:
            self.duck.register("incoming", table)
            self.duck.execute(f"INSERT INTO {name} SELECT * FROM incoming")
            self.duck.unregister("incoming")

    def _arrow(self, sql: str) -> pa.Table:
        return self.duck.sql(sql).to_arrow_table()

    def _unknown_customers(self, resolved: str) -> Rejections:
        rows = self.duck.sql(
            f"SELECT DISTINCT _row, customer_id FROM {resolved} WHERE harmonia_id IS NULL ORDER BY _row"
        ).fetchall()
        return [
            (
                row,
                f"customer_id '{source_id}' is not a customer of system {self.system}: "
                "load it in a customers file first",
            )
            for row, source_id in rows
        ]

    def _resolve(self, valid: str, into: str) -> None:
        self.duck.execute(
            f"CREATE OR REPLACE TEMP TABLE {into} AS SELECT v.*, x.customer_id AS harmonia_id "
            f"FROM {valid} v LEFT JOIN xwalk x ON x.source_id = v.customer_id"
        )


class CustomerMerger(Merger):
    """Customers, their crosswalk entries and national identifiers.

    A row is the customer this system already knows by its id, else the
    customer another system knows by the same national identifier, else a
    new customer with the next harmonia id.
    """

    def __init__(self, *args: object, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.bulk.lock("customer", "identifier", "crosswalk")
        self.next_id = self.bulk.next_id("customer")
        identifiers = self.bulk.read("SELECT scheme, value, customer_id FROM identifier")
        self._into_duck("ids", identifiers, "scheme VARCHAR, value VARCHAR, customer_id BIGINT")

    def merge(self, valid: str) -> Rejections:
        self.duck.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE resolved AS
            WITH matched AS (
                SELECT v.*, x.customer_id AS by_source, i.customer_id AS by_identifier,
                    i.customer_id IN (SELECT customer_id FROM xwalk) AS identifier_taken
                FROM {valid} v
                LEFT JOIN xwalk x ON x.source_id = v.customer_id
                LEFT JOIN ids i ON i.scheme = v.id_scheme AND i.value = v.id_value
            )
            SELECT *,
                CASE
                    WHEN by_source IS NOT NULL AND by_identifier IS NOT NULL
                         AND by_source <> by_identifier
                    THEN 'identifier ''' || id_scheme || ' ' || id_value
                         || ''' belongs to another customer (harmonia id ' || by_identifier || ')'
                    WHEN by_source IS NULL AND identifier_taken
                    THEN 'identifier ''' || id_scheme || ' ' || id_value
                         || ''' already belongs to another customer_id of this system'
                END AS conflict,
                by_source IS NULL AND by_identifier IS NULL AS is_new
            FROM matched
            """
        )
        rejected = self.duck.sql(
            "SELECT _row, conflict FROM resolved WHERE conflict IS NOT NULL ORDER BY _row"
        ).fetchall()
        self.duck.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE accepted AS
            SELECT *, COALESCE(by_source, by_identifier,
                {self.next_id - 1} + row_number() OVER (PARTITION BY is_new ORDER BY _row)
            ) AS harmonia_id
            FROM resolved WHERE conflict IS NULL
            """
        )
        self._append_new()
        # A known customer is updated by a change of record or identifier, or
        # by being linked to this system (matched by its national identifier).
        linked = self._arrow(
            "SELECT harmonia_id FROM accepted WHERE by_source IS NULL AND NOT is_new"
        ).column(0)
        changed = pa.concat_arrays([self._update_known(), self._identifiers(), _ids(linked)])
        self._objections()
        self.duck.execute(
            "INSERT INTO xwalk SELECT customer_id, harmonia_id FROM accepted WHERE by_source IS NULL"
        )
        added, known = self.duck.sql(
            "SELECT COUNT(*) FILTER (is_new), COUNT(*) FILTER (NOT is_new) FROM accepted"
        ).fetchall()[0]
        self.next_id += added
        updated = len(pc.unique(changed))  # one row per customer: duplicates are refused
        self.new += added
        self.updated += updated
        self.unchanged += known - updated
        return [(row, reason) for row, reason in rejected]

    def _append_new(self) -> None:
        batch = self.batch_id
        self.bulk.append(
            "customer",
            self._arrow(
                "SELECT harmonia_id AS id, country, type, first_name, last_name, specialty, "
                "postal_code, city, territory, address, phone, email, "
                f"{batch} AS first_batch_id, {batch} AS batch_id "
                "FROM accepted WHERE is_new ORDER BY harmonia_id"
            ),
        )
        self.bulk.append(
            "crosswalk",
            self._arrow(
                f"SELECT {literal(self.system)} AS system, customer_id AS source_id, "
                f"harmonia_id AS customer_id, {batch} AS batch_id "
                "FROM accepted WHERE by_source IS NULL ORDER BY customer_id"
            ),
        )

    def _update_known(self) -> pa.Array:
        """Customers the store already has: update what changed, keep what a row leaves empty.

        Returns the ids of the customers that changed.
        """
        known = self._arrow(
            "SELECT harmonia_id AS id, country, type, first_name, last_name, specialty, postal_code, "
            "city, territory, address, phone, email FROM accepted WHERE NOT is_new "
            "ORDER BY harmonia_id"
        )
        if not known.num_rows:
            return _NO_IDS
        stage = self.bulk.stage(known, "customers")
        keep = "COALESCE(excluded.{0}, customer.{0})"
        changed = " OR ".join(
            f"customer.{column} IS DISTINCT FROM {keep.format(column)}"
            for column in (
                "first_name",
                "last_name",
                "specialty",
                "postal_code",
                "city",
                "territory",
                "address",
                "phone",
                "email",
            )
        )
        updated = self.bulk.read(
            f"""
            INSERT INTO customer (id, country, type, first_name, last_name, specialty, postal_code,
                                  city, territory, address, phone, email, first_batch_id, batch_id)
            SELECT id, country, type, first_name, last_name, specialty, postal_code, city,
                   territory, address, phone, email, {self.batch_id}, {self.batch_id}
            FROM {stage} WHERE true
            ON CONFLICT (id) DO UPDATE SET
                country = excluded.country, type = excluded.type,
                first_name = {keep.format("first_name")}, last_name = {keep.format("last_name")},
                specialty = {keep.format("specialty")}, postal_code = {keep.format("postal_code")},
                city = {keep.format("city")}, territory = {keep.format("territory")},
                address = {keep.format("address")}, phone = {keep.format("phone")},
                email = {keep.format("email")}, batch_id = excluded.batch_id
            WHERE customer.country <> excluded.country OR customer.type <> excluded.type
                OR {changed}
            RETURNING id
            """
        )
        return _ids(updated.column("id"))

    def _identifiers(self) -> pa.Array:
        """New identifiers: appended; a known customer's changed identifier: replaced.

        Returns the ids of the known customers whose identifier changed.
        """
        batch = self.batch_id
        fresh = self._arrow(
            "SELECT id_scheme AS scheme, id_value AS value, harmonia_id AS customer_id, "
            f"{batch} AS batch_id FROM accepted a WHERE is_new AND id_value IS NOT NULL "
            "ORDER BY id_scheme, id_value"
        )
        self.bulk.append("identifier", fresh)
        changed = self._arrow(
            "SELECT harmonia_id AS customer_id, id_scheme AS scheme, id_value AS value "
            "FROM accepted a WHERE NOT is_new AND id_value IS NOT NULL AND NOT EXISTS ("
            "SELECT 1 FROM ids i WHERE i.scheme = a.id_scheme AND i.value = a.id_value)"
        )
        if changed.num_rows:
            stage = self.bulk.stage(changed, "identifiers")
            self.bulk.execute(
                f"""
                DELETE FROM identifier WHERE EXISTS (
                    SELECT 1 FROM {stage} s
                    WHERE s.customer_id = identifier.customer_id AND s.scheme = identifier.scheme)
                """
            )
            self.bulk.execute(
                f"INSERT INTO identifier (scheme, value, customer_id, batch_id) "
                f"SELECT scheme, value, customer_id, {batch} FROM {stage}"
            )
        self.duck.execute(
            "INSERT INTO ids SELECT id_scheme, id_value, harmonia_id FROM accepted a "
            "WHERE id_value IS NOT NULL AND NOT EXISTS ("
            "SELECT 1 FROM ids i WHERE i.scheme = a.id_scheme AND i.value = a.id_value)"
        )
        return _ids(changed.column("customer_id"))

    def _objections(self) -> None:
        """Customers the source says object to profiling: recorded, their results gone.

        A source saying "no" lifts nothing: only `harmonia privacy withdraw` does.
        """
        yes = ", ".join(literal(word) for word in OBJECTION_YES)
        objecting = self._arrow(
            f"SELECT DISTINCT harmonia_id AS id FROM accepted WHERE objection IN ({yes})"
        )
        if objecting.num_rows:
            stage = self.bulk.stage(objecting, "objections")
            for statement in record_objections(f"SELECT id FROM {stage}", self.system):
                self.bulk.execute(statement)

    def finish(self) -> None:
        self.bulk.sync_sequence("customer")
        self.bulk.analyze("customer", "crosswalk", "identifier")


class MetricMerger(Merger):
    """Metrics: new (customer, area, metric, period) and changed values go to the facts store.

    Only rows that add or change a fact are written (a file loaded again writes
    nothing); the facts store keeps the newest value per key.
    """

    COLUMNS = "customer_id, therapy_area, metric, period, first_month, last_month, value"

    def __init__(self, *args: object, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.facts = facts_of(self.bulk.database)
        self.duck.execute(
            "CREATE OR REPLACE TEMP TABLE stored (customer_id BIGINT, therapy_area VARCHAR, "
            "metric VARCHAR, period VARCHAR, first_month BIGINT, last_month BIGINT, value DOUBLE)"
        )
        self.seen_pairs: set[tuple[str, str]] = set()

    def merge(self, valid: str) -> Rejections:
        self._resolve(valid, "resolved")
        rejected = self._unknown_customers("resolved")
        self._load_stored()
        batch = self.batch_id
        same_key = (
            "s.customer_id = r.harmonia_id AND s.therapy_area = r.therapy_area "
            "AND s.metric = r.metric AND s.period = r.period"
        )
        fields = (
            "r.harmonia_id AS customer_id, r.therapy_area, r.metric, r.period, "
            f"r.first_month, r.last_month, r.value, {batch} AS batch_id"
        )
        added = self.facts.write(
            self.bulk,
            self.duck,
            "metric",
            batch,
            f"SELECT {fields} FROM resolved r WHERE r.harmonia_id IS NOT NULL "
            f"AND NOT EXISTS (SELECT 1 FROM stored s WHERE {same_key})",
            new=True,
        )
        changed = self.facts.write(
            self.bulk,
            self.duck,
            "metric",
            batch,
            f"SELECT {fields} FROM resolved r JOIN stored s ON {same_key} "
            "WHERE s.value IS DISTINCT FROM r.value OR s.first_month <> r.first_month",
            new=False,
        )
        merged = self.duck.sql(
            "SELECT COUNT(*) FROM resolved WHERE harmonia_id IS NOT NULL"
        ).fetchall()[0][0]
        self.new += added
        self.updated += changed
        self.unchanged += merged - added - changed
        return rejected

    def _load_stored(self) -> None:
        """The stored metrics of every (area, metric) this load brings, once each."""
        pairs = self.duck.sql("SELECT DISTINCT therapy_area, metric FROM resolved").fetchall()
        fresh = sorted(set(pairs) - self.seen_pairs)
        if not fresh:
            return
        self.seen_pairs.update(fresh)
        where = " OR ".join(
            f"(therapy_area = {literal(area)} AND metric = {literal(metric)})"
            for area, metric in fresh
        )
        self.facts.select_into(
            self.bulk,
            self.duck,
            "stored_pairs",
            f"SELECT {self.COLUMNS} FROM metric WHERE {where}",
        )
        self.duck.execute(f"INSERT INTO stored SELECT {self.COLUMNS} FROM stored_pairs")
        self.duck.execute("DROP TABLE stored_pairs")

    def finish(self) -> None:
        self.bulk.analyze("metric")


class ResponseMerger(Merger):
    """Responses and their answers.

    A response loaded again has its answers replaced, unless they are the
    ones stored: then it is left as it was.
    """

    #: What makes a response one: who, which questionnaire, by whom, when.
    KEY = ("harmonia_id", "questionnaire", "version", "respondent", "answered_at")

    def __init__(self, *args: object, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.bulk.lock("response")
        self.next_id = self.bulk.next_id("response")
        self.duck.execute(
            "CREATE OR REPLACE TEMP TABLE known (id BIGINT, harmonia_id BIGINT, questionnaire "
            "VARCHAR, version VARCHAR, respondent VARCHAR, answered_at VARCHAR, reset BOOLEAN)"
        )
        # What became of each response this load met ('new', 'updated' or
        # 'unchanged'), and how many of its rows it has read so far.
        self.duck.execute(
            "CREATE OR REPLACE TEMP TABLE outcome (response_id BIGINT, outcome VARCHAR, rows BIGINT)"
        )
        self.seen_questionnaires: set[str] = set()

    def merge(self, valid: str) -> Rejections:
        self._resolve(valid, "resolved")
        rejected = self._unknown_customers("resolved")
        self._load_known()
        self.duck.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE heads AS
            SELECT h.*, k.id AS known_id, k.reset AS known_reset FROM (
                SELECT harmonia_id, questionnaire, version, respondent, answered_at,
                    COUNT(DISTINCT _row) AS rows
                FROM resolved WHERE harmonia_id IS NOT NULL
                GROUP BY harmonia_id, questionnaire, version, respondent, answered_at) h
            LEFT JOIN known k ON {self._same_response("k", "h")}
            """
        )
        # 'reloaded': a response stored before this load, loaded again; 'again':
        # one this load already wrote, given more answers in a later chunk.
        self.duck.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE heads_ided AS
            SELECT *, COALESCE(known_id, {self.next_id - 1} + row_number() OVER (
                PARTITION BY known_id IS NULL ORDER BY harmonia_id, questionnaire, version,
                respondent, answered_at)) AS response_id,
                CASE WHEN known_id IS NULL THEN 'new' WHEN known_reset THEN 'again'
                     ELSE 'reloaded' END AS state
            FROM heads
            """
        )
        self.duck.execute("CREATE OR REPLACE TEMP TABLE unchanged (response_id BIGINT)")
        self._write_heads()
        changed = "response_id NOT IN (SELECT response_id FROM unchanged)"
        self.bulk.append(
            "answer",
            self._arrow(
                f"SELECT response_id, question, value FROM ({self._answers()}) WHERE {changed} "
                "ORDER BY response_id, question, value"
            ),
        )
        self._record_outcomes()
        return rejected

    def _record_outcomes(self) -> None:
        """Add this chunk's rows to what became of their responses.

        A response met again in a later chunk (its rows interleaved with
        others') keeps its outcome, except that one left unchanged so far is
        updated by the answers it gains.
        """
        gained = self._arrow(
            "SELECT response_id AS id FROM heads_ided h JOIN outcome o USING (response_id) "
            "WHERE h.state = 'again' AND o.outcome = 'unchanged'"
        )
        self._take_into_batch(gained, replacing_answers=False)
        self.duck.execute(
            """
            UPDATE outcome SET rows = outcome.rows + h.rows,
                outcome = CASE WHEN outcome.outcome = 'unchanged' THEN 'updated'
                               ELSE outcome.outcome END
            FROM heads_ided h WHERE h.state = 'again' AND h.response_id = outcome.response_id
            """
        )
        self.duck.execute(
            """
            INSERT INTO outcome
            SELECT response_id, CASE
                    WHEN state = 'new' THEN 'new'
                    WHEN response_id IN (SELECT response_id FROM unchanged) THEN 'unchanged'
                    ELSE 'updated' END,
                rows
            FROM heads_ided WHERE state <> 'again'
            """
        )

    def _answers(self) -> str:
        """This chunk's answers, each with its response's id and state."""
        return (
            "SELECT h.response_id, h.state, r.question, r.value "
            f"FROM resolved r JOIN heads_ided h ON {self._same_response('h', 'r')}"
        )

    def _same_response(self, left: str, right: str) -> str:
        return " AND ".join(f"{left}.{column} = {right}.{column}" for column in self.KEY)

    def _write_heads(self) -> None:
        batch = self.batch_id
        new = self._arrow(
            "SELECT response_id AS id, harmonia_id AS customer_id, questionnaire, version, "
            f"respondent, answered_at, {batch} AS batch_id FROM heads_ided "
            "WHERE state = 'new' ORDER BY response_id"
        )
        self.bulk.append("response", new)
        self.next_id += new.num_rows
        reloaded = self._arrow("SELECT response_id AS id FROM heads_ided WHERE state = 'reloaded'")
        if reloaded.num_rows:
            self._find_unchanged(reloaded)
            changed = self._arrow(
                "SELECT response_id AS id FROM heads_ided WHERE state = 'reloaded' "
                "AND response_id NOT IN (SELECT response_id FROM unchanged)"
            )
            self._take_into_batch(changed, replacing_answers=True)
        self.duck.execute(
            "UPDATE known SET reset = TRUE WHERE id IN (SELECT known_id FROM heads_ided)"
        )
        self.duck.execute(
            "INSERT INTO known SELECT response_id, harmonia_id, questionnaire, version, respondent, "
            "answered_at, TRUE FROM heads_ided WHERE state = 'new'"
        )

    def _take_into_batch(self, responses: pa.Table, *, replacing_answers: bool) -> None:
        """Stored responses (``id``) this batch writes: their answers go first if it replaces them."""
        if not responses.num_rows:
            return
        stage = self.bulk.stage(responses, "responses")
        if replacing_answers:
            self.bulk.execute(f"DELETE FROM answer WHERE response_id IN (SELECT id FROM {stage})")
        self.bulk.execute(
            f"UPDATE response SET batch_id = {self.batch_id} WHERE id IN (SELECT id FROM {stage})"
        )

    def _find_unchanged(self, reloaded: pa.Table) -> None:
        """Fill ``unchanged``: the reloaded responses whose answers are the stored ones."""
        stage = self.bulk.stage(reloaded, "responses")
        stored = self.bulk.read(
            "SELECT response_id, question, value FROM answer "
            f"WHERE response_id IN (SELECT id FROM {stage})"
        )
        self._into_duck(
            "stored_answers", stored, "response_id BIGINT, question VARCHAR, value VARCHAR"
        )
        answers = "list_sort(list({'question': question, 'value': value})) AS answers"
        self.duck.execute(
            f"""
            INSERT INTO unchanged
            SELECT response_id FROM (
                SELECT response_id, {answers} FROM ({self._answers()})
                WHERE state = 'reloaded' GROUP BY response_id
            ) incoming JOIN (
                SELECT response_id, {answers} FROM stored_answers GROUP BY response_id
            ) stored USING (response_id)
            WHERE incoming.answers = stored.answers
            """
        )

    def _load_known(self) -> None:
        names = self.duck.sql("SELECT DISTINCT questionnaire FROM resolved").fetchall()
        for (name,) in names:
            if name in self.seen_questionnaires:
                continue
            self.seen_questionnaires.add(name)
            stored = self.bulk.read(
                "SELECT id, customer_id, questionnaire, version, respondent, answered_at, "
                f"FALSE AS reset FROM response WHERE questionnaire = {literal(name)}"
            )
            if stored.num_rows:
                self.duck.register("incoming", stored)
                self.duck.execute(
                    "INSERT INTO known SELECT id, customer_id, questionnaire, version, respondent, "
                    "answered_at, CAST(reset AS BOOLEAN) FROM incoming"
                )
                self.duck.unregister("incoming")

    def finish(self) -> None:
        counts = dict(
            self.duck.sql("SELECT outcome, SUM(rows) FROM outcome GROUP BY outcome").fetchall()
        )
        self.new, self.updated, self.unchanged = (
            int(counts.get(outcome, 0)) for outcome in ("new", "updated", "unchanged")
        )
        self.bulk.sync_sequence("response")
        self.bulk.analyze("response", "answer")


MERGERS: dict[str, type[Merger]] = {
    "customers": CustomerMerger,
    "metrics": MetricMerger,
    "responses": ResponseMerger,
}
