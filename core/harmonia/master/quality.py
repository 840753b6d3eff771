"""Data quality of the customer master, per source and country.

* **completeness**: the share of each source's customer records with each
  attribute filled (and with a national identifier);
* **validity**: the customer rows each source sent that were quarantined,
  and how many for an identifier the country's schemes refused (every
  identifier in the store passed its scheme's checks at load);
* **duplicates**: pairs the matcher found, by status (to review, merged,
  rejected), and merged customers;
* **conflicts**: among merged customers, how many disagree between their
  sources on each attribute (what survivorship had to decide).

Every figure is one aggregate query over the store.
"""

from __future__ import annotations

from typing import Any

import attrs

from harmonia.definitions.country import GOLDEN_ATTRIBUTES
from harmonia.sql import literal
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import Database


@attrs.frozen
class QualityReport:
    sources: list[dict[str, Any]]  # one per (country, system)
    duplicates: list[dict[str, Any]]  # one per country
    conflicts: list[dict[str, Any]]  # one per (country, attribute)

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
        disagreeing = "\nUNION ALL\n".join(
            f"SELECT country, {literal(a)} AS attribute, survivor_id, COUNT(DISTINCT {a}) AS n "
            f"FROM members WHERE {a} IS NOT NULL AND {a} <> '' GROUP BY country, survivor_id"
            for a in GOLDEN_ATTRIBUTES
        )
        conflicts = bulk.read(
            f"""
            WITH members AS (
                SELECT r.survivor_id, c.* FROM customer_redirect r
                JOIN customer c ON c.id = r.merged_id {where}
                UNION ALL
                SELECT c.id, c.* FROM customer c
                WHERE c.id IN (SELECT survivor_id FROM customer_redirect)
                {"AND" if where else ""} {where.removeprefix("WHERE ")}
            ), counted AS ({disagreeing})
            SELECT country, attribute, COUNT(*) AS merged_customers,
                SUM(CASE WHEN n > 1 THEN 1 ELSE 0 END) AS conflicting
            FROM counted GROUP BY country, attribute ORDER BY country, attribute
            """
        ).to_pylist()
    by_source = {(r["country"], r["system"]): r for r in rejected}
    for row in sources:
        found = by_source.get((row["country"], row["system"]), {})
        row["quarantined"] = int(found.get("quarantined") or 0)
        row["invalid_identifier"] = int(found.get("invalid_identifier") or 0)
        for a in (*GOLDEN_ATTRIBUTES, "identifier"):
            row[a] = round(float(row[a] or 0), 4)
    return QualityReport(sources, duplicates, conflicts)
