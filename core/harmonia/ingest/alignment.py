"""The ``alignment`` kind: which territory a customer belongs to in a period.

An unknown customer or territory is refused; a customer's alignment for a
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

    def merge(self, valid: str) -> Rejections:
        self._resolve(valid, "resolved")
        rejected = self._unknown_customers("resolved")
        self._read_stored(
            "stored_territories",
            "SELECT code FROM territory WHERE level = 'territory'",
            {"code": "VARCHAR"},
        )
        rejected += self._rejections(
            "SELECT _row, 'territory ''' || territory || ''' is not a known territory: load "
            "the territories first' FROM resolved WHERE harmonia_id IS NOT NULL AND "
            "territory NOT IN (SELECT code FROM stored_territories) ORDER BY _row"
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
