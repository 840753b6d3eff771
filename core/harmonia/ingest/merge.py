"""Merging checked rows into the store: one SQL statement per table.

Each ``merge_*`` function stages the kind's valid rows in a temporary table,
resolves source ids to harmonia ids through the crosswalk (and, for new
customers, through their national identifiers) and upserts, so loading the
same rows twice changes nothing. Rows the store itself must refuse (a metric
for a customer this system never loaded, an identifier that belongs to
someone else) come back as ``(_row, reason)`` for quarantine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harmonia.store.bulk import BulkConnection, literal

if TYPE_CHECKING:
    import pyarrow as pa

Rejections = list[tuple[int, str]]


def merge_customers(
    bulk: BulkConnection, rows: pa.Table, *, system: str, batch_id: int
) -> Rejections:
    import pyarrow as pa

    if not rows.num_rows:
        return []
    rows = rows.append_column("seq", pa.array(range(1, rows.num_rows + 1), pa.int64()))
    stage = bulk.stage(rows, "customers")
    bulk.lock("customer", "identifier", "crosswalk")
    base = bulk.next_id("customer") - 1
    resolved = f"{stage}_resolved"
    sys = literal(system)
    bulk.execute(
        f"""
        CREATE TEMPORARY TABLE {resolved} AS
        SELECT s.*,
            COALESCE(cw.customer_id, i.customer_id, {base} + s.seq) AS harmonia_id,
            CASE
                WHEN cw.customer_id IS NOT NULL AND i.customer_id IS NOT NULL
                     AND cw.customer_id <> i.customer_id
                THEN 'identifier ''' || s.id_scheme || ' ' || s.id_value
                     || ''' belongs to another customer (harmonia id ' || i.customer_id || ')'
                WHEN cw.customer_id IS NULL AND i.customer_id IS NOT NULL AND EXISTS (
                    SELECT 1 FROM crosswalk other
                    WHERE other.system = {sys} AND other.customer_id = i.customer_id)
                THEN 'identifier ''' || s.id_scheme || ' ' || s.id_value
                     || ''' already belongs to another customer_id of this system'
            END AS conflict
        FROM {stage} s
        LEFT JOIN crosswalk cw ON cw.system = {sys} AND cw.source_id = s.customer_id
        LEFT JOIN identifier i ON i.scheme = s.id_scheme AND i.value = s.id_value
        """
    )
    rejected = bulk.read(f"SELECT _row, conflict FROM {resolved} WHERE conflict IS NOT NULL")
    accepted = f"FROM {resolved} WHERE conflict IS NULL"
    keep = "COALESCE(excluded.{0}, customer.{0})"
    bulk.execute(
        f"""
        INSERT INTO customer (id, country, type, first_name, last_name, specialty, postal_code,
                              city, territory, first_batch_id, batch_id)
        SELECT harmonia_id, country, type, first_name, last_name, specialty, postal_code, city,
               territory, {batch_id}, {batch_id} {accepted}
        ON CONFLICT (id) DO UPDATE SET
            country = excluded.country, type = excluded.type,
            first_name = {keep.format("first_name")}, last_name = {keep.format("last_name")},
            specialty = {keep.format("specialty")}, postal_code = {keep.format("postal_code")},
            city = {keep.format("city")}, territory = {keep.format("territory")},
            batch_id = excluded.batch_id
        """
    )
    bulk.sync_sequence("customer")
    bulk.execute(
        f"""
        INSERT INTO crosswalk (system, source_id, customer_id, batch_id)
        SELECT {sys}, customer_id, harmonia_id, {batch_id} {accepted}
        ON CONFLICT (system, source_id) DO UPDATE SET batch_id = excluded.batch_id
        """
    )
    # A customer's identifier of a scheme may change; the old value goes.
    bulk.execute(
        f"""
        DELETE FROM identifier WHERE id IN (
            SELECT i.id FROM identifier i JOIN {resolved} r
              ON i.customer_id = r.harmonia_id AND i.scheme = r.id_scheme AND i.value <> r.id_value
            WHERE r.conflict IS NULL)
        """
    )
    bulk.execute(
        f"""
        INSERT INTO identifier (customer_id, scheme, value, batch_id)
        SELECT harmonia_id, id_scheme, id_value, {batch_id} {accepted} AND id_value IS NOT NULL
        ON CONFLICT (scheme, value) DO UPDATE SET batch_id = excluded.batch_id
        """
    )
    return _pairs(rejected)


def merge_metrics(
    bulk: BulkConnection, rows: pa.Table, *, system: str, batch_id: int
) -> Rejections:
    if not rows.num_rows:
        return []
    stage = bulk.stage(rows, "metrics")
    known = f"JOIN crosswalk cw ON cw.system = {literal(system)} AND cw.source_id = s.customer_id"
    rejected = _unknown_customers(bulk, stage, system)
    bulk.execute(
        f"""
        INSERT INTO metric (customer_id, therapy_area, metric, period, first_month, last_month,
                            value, batch_id)
        SELECT cw.customer_id, s.therapy_area, s.metric, s.period, s.first_month, s.last_month,
               s.value, {batch_id}
        FROM {stage} s {known} WHERE true
        ON CONFLICT (customer_id, therapy_area, metric, period) DO UPDATE SET
            value = excluded.value, first_month = excluded.first_month,
            last_month = excluded.last_month, batch_id = excluded.batch_id
        """
    )
    return rejected


def merge_responses(
    bulk: BulkConnection, rows: pa.Table, *, system: str, batch_id: int
) -> Rejections:
    """Upsert responses; a response loaded again has its answers replaced."""
    if not rows.num_rows:
        return []
    stage = bulk.stage(rows, "answers")
    known = f"JOIN crosswalk cw ON cw.system = {literal(system)} AND cw.source_id = s.customer_id"
    rejected = _unknown_customers(bulk, stage, system)
    same_response = (
        "r.customer_id = cw.customer_id AND r.questionnaire = s.questionnaire "
        "AND r.version = s.version AND r.respondent = s.respondent AND r.answered_at = s.answered_at"
    )
    bulk.execute(
        f"""
        INSERT INTO response (customer_id, questionnaire, version, respondent, answered_at, batch_id)
        SELECT DISTINCT cw.customer_id, s.questionnaire, s.version, s.respondent, s.answered_at,
               {batch_id}
        FROM {stage} s {known} WHERE true
        ON CONFLICT (customer_id, questionnaire, version, respondent, answered_at)
        DO UPDATE SET batch_id = excluded.batch_id
        """
    )
    answers = f"{stage}_ids"
    bulk.execute(
        f"""
        CREATE TEMPORARY TABLE {answers} AS
        SELECT DISTINCT r.id AS response_id, s.question, s.value
        FROM {stage} s {known} JOIN response r ON {same_response}
        """
    )
    bulk.execute(f"DELETE FROM answer WHERE response_id IN (SELECT response_id FROM {answers})")
    bulk.execute(
        f"INSERT INTO answer (response_id, question, value) "
        f"SELECT response_id, question, value FROM {answers}"
    )
    return rejected


def _unknown_customers(bulk: BulkConnection, stage: str, system: str) -> Rejections:
    rejected = bulk.read(
        f"""
        SELECT DISTINCT s._row, 'customer_id ''' || s.customer_id || ''' is not a customer of '
               || 'system {system.replace("'", "''")}: load it in a customers file first' AS reason
        FROM {stage} s
        LEFT JOIN crosswalk cw ON cw.system = {literal(system)} AND cw.source_id = s.customer_id
        WHERE cw.customer_id IS NULL
        """
    )
    return _pairs(rejected)


def _pairs(table: pa.Table) -> Rejections:
    if not table.num_rows:
        return []
    rows, reasons = table.column(0).to_pylist(), table.column(1).to_pylist()
    return list(zip(rows, reasons, strict=True))


MERGES = {"customers": merge_customers, "metrics": merge_metrics, "responses": merge_responses}
