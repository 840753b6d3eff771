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

Every figure is one aggregate query over the store, but conflicts: counted in
DuckDB over the persons' attribute history, read once.
"""

from __future__ import annotations

from typing import Any

import attrs

from harmonia.definitions.country import GOLDEN_ATTRIBUTES
from harmonia.master.golden import candidates_sql, golden_ids_sql, persons_history
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
        conflicts, conflict_sources = _conflicts(bulk, f"SELECT c.id FROM customer c {where}")
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


def _conflicts(bulk: BulkConnection, candidates: str) -> tuple[list[Any], list[Any]]:
    """Conflicts per (country, attribute), and per source and batch, among the persons with
    a golden record among ``candidates`` (SQL giving harmonia ids).

    Each source record counts with its last value of each attribute
    (:func:`~harmonia.master.golden.candidates_sql`); the persons' history is
    read once and counted in DuckDB (per-attribute probes in SQLite took 50 s
    for 25k linked persons of 1M).
    """
    from harmonia.compute import duckdb_connection

    persons = bulk.read(golden_ids_sql(candidates))
    if not persons.num_rows:
        return [], []
    stage = bulk.stage(persons.select(["id"]), "quality", key="id")
    history = persons_history(bulk, f"SELECT id FROM {stage}")
    if not history.num_rows:
        return [], []
    kept = bulk.read(
        "SELECT customer_id, attribute, value, system, batch_id FROM golden_value "
        f"WHERE customer_id IN (SELECT id FROM {stage})"
    )
    duck = duckdb_connection()
    duck.register("history", history)
    duck.register("persons", persons)
    duck.execute(
        "CREATE TEMP TABLE kept (customer_id BIGINT, attribute VARCHAR, value VARCHAR, "
        "system VARCHAR, batch_id BIGINT)"
    )
    if kept.num_rows:
        duck.register("kept_read", kept)
        duck.execute("INSERT INTO kept SELECT * FROM kept_read")
    duck.execute(
        "CREATE TEMP TABLE given AS SELECT p.country, k.golden_id AS survivor_id, k.system, "
        f"k.attribute, k.value, k.batch_id FROM ({candidates_sql('history')}) k "
        "JOIN persons p ON p.id = k.golden_id"
    )
    conflicts = duck.sql(
        """
        WITH counted AS (
            SELECT country, attribute, survivor_id, COUNT(DISTINCT value) AS n
            FROM given GROUP BY country, attribute, survivor_id
        )
        SELECT country, attribute, COUNT(*) AS merged_customers,
            SUM(CASE WHEN n > 1 THEN 1 ELSE 0 END) AS conflicting
        FROM counted GROUP BY country, attribute ORDER BY country, attribute
        """
    ).to_arrow_table()
    sources = duck.sql(
        """
        WITH conflicting AS (
            SELECT survivor_id, attribute FROM given GROUP BY survivor_id, attribute
            HAVING COUNT(DISTINCT value) > 1
        )
        SELECT g.country, g.attribute, g.system, g.batch_id, COUNT(*) AS values_given,
            SUM(CASE WHEN v.customer_id IS NULL THEN 0 ELSE 1 END) AS kept
        FROM given g
        JOIN conflicting k ON k.survivor_id = g.survivor_id AND k.attribute = g.attribute
        LEFT JOIN kept v ON v.customer_id = g.survivor_id
            AND v.attribute = g.attribute AND v.value = g.value
            AND v.system = g.system AND v.batch_id = g.batch_id
        GROUP BY g.country, g.attribute, g.system, g.batch_id
        ORDER BY g.country, g.attribute, g.system, g.batch_id
        """
    ).to_arrow_table()
    return (
        [
            {
                **row,
                "merged_customers": int(row["merged_customers"]),
                "conflicting": int(row["conflicting"]),
            }
            for row in conflicts.to_pylist()
        ],
        [
            {**row, "values_given": int(row["values_given"]), "batch_id": int(row["batch_id"])}
            for row in sources.to_pylist()
        ],
    )
