"""The ``affiliations`` kind: a customer's parent customer (a physician's hospital).

Both ends are the source system's ids, resolved through its crosswalk: a
child or a parent the system never loaded is refused, as is a customer
affiliated with itself. A pair loaded again changes nothing; the store keeps
harmonia ids, so an affiliation survives whichever source names it.

A file names all the parents a system knows for each child it lists: the
child's pairs that the same system gave before and the file no longer
gives are removed (a changed primary parent replaces the old one), while a
child the file does not list, and the pairs other systems gave, stay. Only
the stored pairs of the children being loaded are read, never the table.
"""

from __future__ import annotations

from harmonia.ingest.checks import CheckContext
from harmonia.ingest.fieldforce import ReplacingMerger
from harmonia.ingest.kind import DuplicateKey, Kind
from harmonia.ingest.merge import Rejections
from harmonia.sql import literal, reasons


def affiliations_sql(context: CheckContext) -> str:
    return f"""
    WITH clean AS (
        SELECT _row, harmonia_text(customer_id) AS customer_id,
            harmonia_text(parent_id) AS parent_id
        FROM raw
    )
    SELECT *, {
        reasons(
            "CASE WHEN customer_id IS NULL THEN 'customer_id is empty' END",
            "CASE WHEN parent_id IS NULL THEN 'parent_id is empty' END",
            "CASE WHEN customer_id = parent_id THEN 'customer ''' || customer_id || "
            "''' is given as its own parent' END",
        )
    } FROM clean
    """


class AffiliationMerger(ReplacingMerger):
    """(child, parent) pairs of harmonia ids; both must be customers of the system."""

    table = "affiliation"
    key = ("customer_id", "parent_id")
    columns = ("customer_id", "parent_id")
    integers = ("customer_id", "parent_id")

    def _stored_where(self, rows: str) -> str:
        """The stored pairs of this chunk's children only (staged in the store, by id)."""
        children = self.duck.sql(f"SELECT DISTINCT customer_id FROM ({rows})").to_arrow_table()
        self._children = self.bulk.stage(children, "children", key="customer_id")
        return f"WHERE customer_id IN (SELECT customer_id FROM {self._children})"

    def _drop_replaced(self) -> None:
        """The pairs of this chunk's children that this system gave in an earlier load
        and no longer gives: every pair it gives now was just written with this batch's
        id, and another batch of the same load (a Veeva extract's primary parents, then
        its child accounts) adds to it."""
        self.bulk.execute(
            f"DELETE FROM affiliation WHERE customer_id IN "
            f"(SELECT customer_id FROM {self._children}) AND batch_id < {self.since} "
            f"AND batch_id IN (SELECT id FROM load_batch WHERE system = {literal(self.system)})"
        )

    def merge(self, valid: str) -> Rejections:
        self._resolve(valid, "resolved")
        rejected = self._unknown_customers("resolved")
        self.duck.execute(
            "CREATE OR REPLACE TEMP TABLE affiliated AS SELECT r.*, x.customer_id AS parent, "
            "min(r._row) OVER (PARTITION BY r.harmonia_id, x.customer_id) AS first_row "
            "FROM resolved r LEFT JOIN xwalk x ON x.source_id = r.parent_id "
            "WHERE r.harmonia_id IS NOT NULL"
        )
        rejected += self._rejections(
            "SELECT _row, 'parent_id ''' || parent_id || ''' is not a customer of system "
            f"{self.system}: load it in a customers file first' FROM affiliated "
            "WHERE parent IS NULL ORDER BY _row"
        )
        # Two source ids of one customer (merged) must not make it its own parent.
        rejected += self._rejections(
            "SELECT _row, 'customer_id ''' || customer_id || ''' and parent_id ''' || parent_id "
            "|| ''' are the same customer' FROM affiliated WHERE parent = harmonia_id "
            "ORDER BY _row"
        )
        # Two source ids of one customer (merged duplicates) name one pair twice.
        rejected += self._rejections(
            "SELECT _row, 'the same affiliation as row ' || first_row || ' (its customers "
            "were merged)' FROM affiliated WHERE parent IS NOT NULL AND parent <> harmonia_id "
            "AND _row <> first_row ORDER BY _row"
        )
        self._replace(
            "SELECT harmonia_id AS customer_id, parent AS parent_id FROM affiliated "
            "WHERE parent IS NOT NULL AND parent <> harmonia_id AND _row = first_row"
        )
        self._drop_replaced()
        return sorted(rejected)


KIND = Kind(
    "affiliations",
    check=affiliations_sql,
    merger=AffiliationMerger,
    # A child's rows in one chunk, so that its pairs are replaced all at once.
    whole=("customer_id",),
    keys=(
        DuplicateKey(
            ("customer_id", "parent_id"),
            "'duplicate of row ' || first_row || ' (same customer and parent)'",
        ),
    ),
)
