"""Data quality of the customer master, per source and country.

* **completeness**: the share of each source's customer records with each
  attribute filled (and with a national identifier);
* **validity**: the customer rows each source sent that were quarantined,
  and how many for an identifier the country's schemes refused (every
  identifier in the store passed its scheme's checks at load);
* **duplicates**: pairs the matcher found, by status (to review, merged,
  rejected), and merged customers;
* **conflicts**: among customers with a golden record (merged, or linked at
  load by a shared national identifier), how many disagree between their
  source records on each attribute (what survivorship had to decide), and
  which source and load batch gave the disagreeing values, with how many of
  them the golden record kept. Each source record counts with its own last
  value (:class:`~harmonia.store.models.CustomerAttributeHistory`), not with
  the customer row another system may have overwritten.

Every figure is one aggregate query over the store.
"""

from __future__ import annotations

from typing import Any

import attrs

from harmonia.definitions.country import GOLDEN_ATTRIBUTES
from harmonia.master.golden import golden_ids_sql
from harmonia.sql import literal
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import Database


@attrs.frozen
class QualityReport:
    sources: list[dict[str, Any]]  # one per (country, system)
    duplicates: list[dict[str, Any]]  # one per country
    conflicts: list[dict[str, Any]]  # one per (country, attribute)
    #: one per (country, attribute, system, batch): the values that source's load gave
    #: to merged customers whose sources disagree, and how many the golden record kept
    conflict_sources: list[dict[str, Any]] = attrs.Factory(list)

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def quality(database: Database, country: str | None = None) -> QualityReport:
    where = f"WHERE c.country = {literal(country.upper())}" if country else ""
    filled = ", ".join(
        f"AVG(CASE WHEN c.{a} IS NULL OR c.{a} = '' THEN 0.0 ELSE 1.0 END) AS {a}"
        for a in GOLDEN_ATTRIBUTES
    )
    with BulkConnection(database, write=False) as bulk:
        sources = bulk.read(
            f"""
            SELECT c.country, x.system, COUNT(*) AS records, {filled},
                AVG(CASE WHEN EXISTS (SELECT 1 FROM identifier i WHERE i.customer_id = c.id)
                    THEN 1.0 ELSE 0.0 END) AS identifier
            FROM crosswalk x JOIN customer c ON c.id = x.customer_id {where}
            GROUP BY c.country, x.system ORDER BY c.country, x.system
            """
        ).to_pylist()
        rejected = bulk.read(
            """
            SELECT b.country, q.system, COUNT(*) AS quarantined,
                SUM(CASE WHEN q.reasons LIKE '%is not valid%' OR q.reasons LIKE '%identifier%'
                    THEN 1 ELSE 0 END) AS invalid_identifier
            FROM quarantine q JOIN load_batch b ON b.id = q.batch_id
            WHERE q.kind = 'customers' AND q.resolved_batch_id IS NULL
            GROUP BY b.country, q.system
            """
        ).to_pylist()
        duplicates = bulk.read(
            f"""
            SELECT c.country,
                SUM(CASE WHEN p.status = 'review' THEN 1 ELSE 0 END) AS to_review,
                SUM(CASE WHEN p.status = 'merged' THEN 1 ELSE 0 END) AS pairs_merged,
                SUM(CASE WHEN p.status = 'rejected' THEN 1 ELSE 0 END) AS rejected,
                (SELECT COUNT(*) FROM customer_redirect r JOIN customer m ON m.id = r.merged_id
                 WHERE m.country = c.country) AS customers_merged
            FROM match_pair p JOIN customer c ON c.id = p.left_id {where}
            GROUP BY c.country ORDER BY c.country
            """
        ).to_pylist()
        given = _values_given(f"SELECT c.id FROM customer c {where}")
        conflicts = bulk.read(
            f"""
            WITH {given}, counted AS (
                SELECT country, attribute, survivor_id, COUNT(DISTINCT value) AS n
                FROM given GROUP BY country, attribute, survivor_id
            )
            SELECT country, attribute, COUNT(*) AS merged_customers,
                SUM(CASE WHEN n > 1 THEN 1 ELSE 0 END) AS conflicting
            FROM counted GROUP BY country, attribute ORDER BY country, attribute
            """
        ).to_pylist()
        conflict_sources = bulk.read(
            f"""
            WITH {given}, conflicting AS (
                SELECT survivor_id, attribute FROM given GROUP BY survivor_id, attribute
                HAVING COUNT(DISTINCT value) > 1
            )
            SELECT g.country, g.attribute, g.system, g.batch_id, COUNT(*) AS values_given,
                SUM(CASE WHEN v.customer_id IS NULL THEN 0 ELSE 1 END) AS kept
            FROM given g
            JOIN conflicting k ON k.survivor_id = g.survivor_id AND k.attribute = g.attribute
            LEFT JOIN golden_value v ON v.customer_id = g.survivor_id
                AND v.attribute = g.attribute AND v.value = g.value
                AND v.system = g.system AND v.batch_id = g.batch_id
            GROUP BY g.country, g.attribute, g.system, g.batch_id
            ORDER BY g.country, g.attribute, g.system, g.batch_id
            """
        ).to_pylist()
    by_source = {(r["country"], r["system"]): r for r in rejected}
    for row in sources:
        found = by_source.get((row["country"], row["system"]), {})
        row["quarantined"] = int(found.get("quarantined") or 0)
        row["invalid_identifier"] = int(found.get("invalid_identifier") or 0)
        for a in (*GOLDEN_ATTRIBUTES, "identifier"):
            row[a] = round(float(row[a] or 0), 4)
    for row in conflict_sources:
        row["kept"] = int(row["kept"] or 0)
    return QualityReport(sources, duplicates, conflicts, conflict_sources)


def _values_given(candidates: str) -> str:
    """CTEs ending in ``given``: for every person with a golden record among
    ``candidates`` (SQL giving harmonia ids; under ``survivor_id``), each source
    record's last value of each attribute, with its system and batch.

    The last value is the latest row of the record's attribute history
    holding one (portable SQL: no later row holds one; the history's key
    leads with the record, so each check is an index probe).
    """
    last = "\nUNION ALL\n".join(
        f"SELECT r.country, r.survivor_id, r.system, {literal(a)} AS attribute, "
        f"h.{a} AS value, h.batch_id FROM records r "
        "JOIN customer_attribute_history h ON h.system = r.system AND h.source_id = r.source_id "
        f"WHERE h.{a} IS NOT NULL AND h.{a} <> '' AND NOT EXISTS ("
        "SELECT 1 FROM customer_attribute_history l WHERE l.system = h.system "
        f"AND l.source_id = h.source_id AND l.batch_id > h.batch_id "
        f"AND l.{a} IS NOT NULL AND l.{a} <> '')"
        for a in GOLDEN_ATTRIBUTES
    )
    return f"""golden AS ({golden_ids_sql(candidates)}
            ), person AS (
                SELECT r.survivor_id, r.merged_id AS customer_id, g.country
                FROM customer_redirect r JOIN golden g ON g.id = r.survivor_id
                UNION ALL
                SELECT id, id, country FROM golden
            ), records AS (
                SELECT p.survivor_id, p.country, x.system, x.source_id
                FROM person p JOIN crosswalk x ON x.customer_id = p.customer_id
            ), given AS ({last})"""
