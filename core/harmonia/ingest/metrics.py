"""The ``metrics`` kind: a number about a customer in a therapy area for a period.

Checks each row (names, the period and how far ahead it may be, the value in
the market's decimal convention, the bounds a pack declares), keys a repeat
by customer, area, metric and period, watches for names no installed pack
expects, and merges new and changed values into the facts store.
"""

from __future__ import annotations

from harmonia.ingest.checks import CheckContext
from harmonia.ingest.kind import DuplicateKey, Kind, Watch
from harmonia.ingest.merge import Merger, Rejections
from harmonia.ingest.plausibility import bounds_reason
from harmonia.sql import literal, quote, reasons
from harmonia.store.facts import facts_of


def metrics_sql(context: CheckContext) -> str:
    comma = "TRUE" if context.decimal_comma else "FALSE"
    mark = "decimal comma" if context.decimal_comma else "decimal point"
    own = "," if context.decimal_comma else "."
    other = "." if context.decimal_comma else ","
    expected = context.expectations
    # Periods, areas and metric names repeat across millions of rows: each
    # distinct value as written is cleaned, parsed and checked once, and the
    # rows take the results by a join on what they hold (no per-row trimming
    # or case folding of those columns: a fifth less CPU for the whole check).
    return f"""
    WITH marks AS (
        -- The chunk's values decide what its other mark means (see the macro);
        -- only values with that mark can tell, and most have none.
        SELECT COALESCE(bool_or(harmonia_other_mark_decimal(harmonia_text(value), {comma})), FALSE)
            AS other_is_decimal
        FROM raw WHERE contains(value, {quote(other)})
    ), periods AS (
        SELECT written, period, harmonia_period_first(period) AS first_month,
            harmonia_period_first(period) + harmonia_period_months(period) - 1 AS last_month
        FROM (SELECT written, upper(harmonia_text(written)) AS period
              FROM (SELECT DISTINCT period AS written FROM raw))
    ), names AS (
        SELECT d.area_written, d.metric_written, d.therapy_area, d.metric,
            regexp_full_match(d.therapy_area, '[a-z0-9][a-z0-9_.-]*') AS _area_ok,
            regexp_full_match(d.metric, '[a-z][a-z0-9_]*') AS _metric_ok,
            bounds.low, bounds.high, bounds.declared_by
        FROM (SELECT area_written, metric_written,
                  lower(harmonia_text(area_written)) AS therapy_area,
                  lower(harmonia_text(metric_written)) AS metric
              FROM (SELECT DISTINCT therapy_area AS area_written, metric AS metric_written
                    FROM raw)) d
        LEFT JOIN {expected.bounds_table()}
            ON bounds.therapy_area = d.therapy_area AND bounds.metric = d.metric
    ), clean AS (
        SELECT raw._row, harmonia_text(raw.customer_id) AS customer_id,
            names.therapy_area, names.metric, periods.period,
            harmonia_text(raw.value) AS value_text,
            periods.first_month, periods.last_month, names._area_ok, names._metric_ok,
            names.low, names.high, names.declared_by
        FROM raw
        LEFT JOIN periods ON periods.written IS NOT DISTINCT FROM raw.period
        LEFT JOIN names ON names.area_written IS NOT DISTINCT FROM raw.therapy_area
            AND names.metric_written IS NOT DISTINCT FROM raw.metric
    ), joined AS (
        SELECT _row, customer_id, therapy_area, metric, period, value_text,
            harmonia_number(value_text, CASE
                WHEN other_is_decimal AND NOT contains(value_text, {quote(own)}) THEN NOT {comma}
                ELSE {comma} END) AS value,
            first_month, last_month, _area_ok, _metric_ok, low, high, declared_by
        FROM clean, marks
    )
    SELECT * EXCLUDE (value_text, _area_ok, _metric_ok, low, high, declared_by),
        {
        reasons(
            "CASE WHEN customer_id IS NULL THEN 'customer_id is empty' END",
            "CASE WHEN therapy_area IS NULL THEN 'therapy_area is empty' "
            "WHEN NOT _area_ok THEN 'therapy_area ''' || "
            "therapy_area || ''' is not an id (lower case letters, digits, - _ .)' END",
            "CASE WHEN metric IS NULL THEN 'metric is empty' "
            "WHEN NOT _metric_ok THEN 'metric ''' || metric || "
            "''' is not a name (lower case letters, digits and _)' END",
            "CASE WHEN period IS NULL THEN 'period is empty' WHEN first_month IS NULL THEN 'period ''' "
            "|| period || ''' is not a period: write 2027, 2027-H1, 2027-Q3 or 2027-05' END",
            expected.future_period_reason("period", "first_month"),
            "CASE WHEN value_text IS NULL THEN 'value is empty' "
            "WHEN value IS NULL AND regexp_matches(value_text, '[0-9]') AND isinf(COALESCE("
            "TRY_CAST(value_text AS DOUBLE), TRY_CAST(replace(value_text, ',', '.') AS DOUBLE))) "
            "THEN 'value ''' || value_text || ''' is out of range: no metric is that large' "
            "WHEN value IS NULL THEN 'value ''' || "
            f"value_text || ''' is not a number (this file is read with a {mark})' END",
            bounds_reason("value", "value_text", "metric"),
        )
    }
    FROM joined
    """


class UnexpectedNames(Watch):
    """Counts the valid rows per therapy area and metric, for the warning on names
    no installed pack segments, reads or bounds.

    Its table ``loaded_names`` is also the merger's list of the pairs the load
    brings (:meth:`MetricMerger._load_stored`): it must keep counting every
    valid row, and the loader counts a chunk before merging it. Without the
    pairs, a reload would write every fact again (the reload tests of
    tests/test_ingest.py fail then).
    """

    def __init__(self, *args: object):
        super().__init__(*args)  # type: ignore[arg-type]
        self.duck.execute("CREATE TEMP TABLE loaded_names (area VARCHAR, metric VARCHAR, n BIGINT)")

    def count(self, table: str) -> None:
        self.duck.execute(
            f"INSERT INTO loaded_names SELECT therapy_area, metric, count(*) FROM {table} "
            "WHERE len(_reasons) = 0 GROUP BY ALL"
        )

    def warnings(self) -> list[str]:
        counts = self.duck.sql(
            "SELECT area, metric, sum(n) FROM loaded_names GROUP BY ALL"
        ).fetchall()
        return self.expected.metric_warnings((a, m, int(n)) for a, m, n in counts)


# --- merging --------------------------------------------------------------------


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

    def resolving(self, check: str) -> str:
        # The crosswalk's ids in the check's own pass: no second copy of the chunk.
        return self._resolving_ids(check)

    def merge(self, valid: str) -> Rejections:
        rejected = self._unknown_customers(valid)
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
            f"SELECT {fields} FROM {valid} r WHERE r.harmonia_id IS NOT NULL "
            f"AND NOT EXISTS (SELECT 1 FROM stored s WHERE {same_key})",
            new=True,
        )
        changed = self.facts.write(
            self.bulk,
            self.duck,
            "metric",
            batch,
            f"SELECT {fields} FROM {valid} r JOIN stored s ON {same_key} "
            "WHERE s.value IS DISTINCT FROM r.value OR s.first_month <> r.first_month",
            new=False,
        )
        merged = self.duck.sql(
            f"SELECT COUNT(*) FROM {valid} WHERE harmonia_id IS NOT NULL"
        ).fetchall()[0][0]
        self.new += added
        self.updated += changed
        self.unchanged += merged - added - changed
        return rejected

    def _load_stored(self) -> None:
        """The stored metrics of every (area, metric) this load brings, once each.

        Which pairs it brings, the load's watch (:class:`UnexpectedNames`) has
        just counted from the same valid rows into ``loaded_names``, this
        chunk's with the earlier ones': its few rows tell without a second pass
        over the chunk. The loader counts a chunk before merging it.
        """
        pairs = self.duck.sql("SELECT DISTINCT area, metric FROM loaded_names").fetchall()
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


KIND = Kind(
    "metrics",
    check=metrics_sql,
    merger=MetricMerger,
    keys=(
        DuplicateKey(
            ("customer_id", "therapy_area", "metric", "period"),
            "'duplicate of row ' || first_row || ' (same customer, therapy area, metric and period)'",
        ),
    ),
    watch=UnexpectedNames,
)
