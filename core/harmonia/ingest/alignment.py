"""The ``alignment`` kind: which territory a customer belongs to in a period.

An unknown customer or territory is refused, and so is a territory of another
country than the customer's (codes are a country's own); a customer's alignment for a
period loaded again replaces the stored one. The cycle of a period takes each
customer's territory from it (:mod:`harmonia.refinement.snapshot`). An
alignment of millions of customers is resolved in one join.
"""

from __future__ import annotations

from harmonia.ingest.checks import CheckContext
from harmonia.ingest.fieldforce import ReplacingMerger
from harmonia.ingest.kind import DuplicateKey, Kind
from harmonia.ingest.merge import Rejections
from harmonia.sql import reasons, text_list


def alignment_sql(context: CheckContext) -> str:
    return f"""
    WITH clean AS (
        SELECT _row,
            harmonia_text(customer_id) AS customer_id,
            upper(harmonia_text(territory)) AS territory,
            upper(harmonia_text(period)) AS period
        FROM raw
    ), periods AS (
        SELECT period, harmonia_period_first(period) AS first_month,
            harmonia_period_first(period) + harmonia_period_months(period) - 1 AS last_month
        FROM (SELECT DISTINCT period FROM clean)
    )
    SELECT clean.*, periods.first_month, periods.last_month, {
        reasons(
            "CASE WHEN customer_id IS NULL THEN 'customer_id is empty' END",
            "CASE WHEN territory IS NULL THEN 'territory is empty' END",
            "CASE WHEN clean.period IS NULL THEN 'period is empty' WHEN first_month IS NULL "
            "THEN 'period ''' || clean.period || ''' is not a period: write 2027, 2027-H1, "
            "2027-Q3 or 2027-05' END",
        )
    } FROM clean LEFT JOIN periods ON periods.period IS NOT DISTINCT FROM clean.period
    """


class AlignmentMerger(ReplacingMerger):
    """Customers on territories per period: known customers, known territories."""

    table = "alignment"
    key = ("customer_id", "period")
    columns = ("customer_id", "period", "first_month", "last_month", "territory")

    def _stored_where(self, rows: str) -> str:
        periods = [
            row[0] for row in self.duck.sql(f"SELECT DISTINCT period FROM ({rows})").fetchall()
        ]
        return f"WHERE period IN ({text_list(periods)})"

    def _read_countries(self, resolved: str) -> None:
        """The DuckDB table ``customer_countries`` (id, country) of the chunk's customers
        (staged by id: the customer table is never read whole)."""
        ids = self.duck.sql(
            f"SELECT DISTINCT harmonia_id AS id FROM {resolved} WHERE harmonia_id IS NOT NULL"
        ).to_arrow_table()
        stage = self.bulk.stage(ids, "aligned", key="id")
        self._read_stored(
            "customer_countries",
            f"SELECT id, country FROM customer WHERE id IN (SELECT id FROM {stage})",
            {"id": "BIGINT", "country": "VARCHAR"},
        )

    def merge(self, valid: str) -> Rejections:
        self._resolve(valid, "resolved")
        rejected = self._unknown_customers("resolved")
        self._read_stored(
            "stored_territories",
            "SELECT code, country FROM territory WHERE level = 'territory'",
            {"code": "VARCHAR", "country": "VARCHAR"},
        )
        self._read_countries("resolved")
        # Codes are a country's own: a customer goes on a territory of its country.
        rejected += self._rejections(
            """
            SELECT r._row, CASE WHEN NOT EXISTS (
                    SELECT 1 FROM stored_territories t WHERE t.code = r.territory)
                THEN 'territory ''' || r.territory || ''' is not a known territory: load '
                    || 'the territories first'
                ELSE 'territory ''' || r.territory || ''' is not a territory of '
                    || COALESCE(c.country, '?') || ', the customer''s country (it is one of '
                    || (SELECT string_agg(DISTINCT t.country, ', ' ORDER BY t.country)
                        FROM stored_territories t WHERE t.code = r.territory)
                    || '): align the customer on a territory of its own country' END
            FROM resolved r LEFT JOIN customer_countries c ON c.id = r.harmonia_id
            WHERE r.harmonia_id IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM stored_territories t
                WHERE t.code = r.territory AND t.country = c.country)
            ORDER BY r._row
            """
        )
        refused = ", ".join(str(row) for row, _ in rejected) or "-1"
        self._replace(
            "SELECT harmonia_id AS customer_id, period, first_month, last_month, territory "
            f"FROM resolved WHERE harmonia_id IS NOT NULL AND _row NOT IN ({refused})"
        )
        return rejected


KIND = Kind(
    "alignment",
    check=alignment_sql,
    merger=AlignmentMerger,
    keys=(
        DuplicateKey(
            ("customer_id", "period"),
            "'duplicate of row ' || first_row || ' (same customer and period)'",
        ),
    ),
)
