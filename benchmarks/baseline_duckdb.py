"""The oncology-core cycle written by hand: the baseline harmonia is measured against.

This is the script a competent market analyst would write for one job, FR x
oncology x one half-year, without harmonia: read the three canonical CSV files
with DuckDB, compute the features of the ``oncology-core`` rule set, apply its
segment, needs and tier rules as CASE expressions, join the standard strategy
call plan and write the target list. It deliberately imports nothing from
harmonia: everything it knows was copied by hand from the packs.

What it reproduces (from ``rules/oncology-core.toml``, the ``oncology-profile``
questionnaires, ``strategies.toml`` and the FR country profile):

* ``potential_decile``: decile of the latest yearly potential within country x
  specialty; ``RANK()`` by value ascending (ties share the lower rank), decile
  ``1 + floor(10 * (rank - 1) / n)``; no potential -> 1.
* ``trx_decile``: the same over the sum of trx in the cycle's quarters.
* ``consistency``: share of the last four quarters with trx > 0; none -> 0.
* ``adoption`` / ``need``: of each customer's latest response (answered in
  the 24 months before the cycle starts, up to its end), the mean of the
  option scores of the dimension's items, banded; no response -> ``unknown``.
  Each version is scored with its own option scores. Version 1 answers do not
  score ``need`` (version 2 added an item to it, so they are not comparable).
* call plan: per channel, of ``per_year * 0.9`` a year, what the year reaches by
  the period's end less what it reached before, each rounded half up (as
  harmonia plans), at least one face-to-face call
  for targeted segments; ``monitor`` is not targeted.

Assumptions that hold for the synthetic data: periods are quarters (trx) and
years (potential), one identifier per customer.

The same feature and rule SQL also runs inside PostgreSQL over harmonia's
store tables (``--postgres``), for the in-database comparison: only the three
input relations (``customers``, ``metrics``, ``responses``) and ``customer_ids``
change, from CSV-backed tables to views over the store.

Usage::

    python benchmarks/baseline_duckdb.py DATA_DIR --out target_list.csv
    python benchmarks/baseline_duckdb.py --postgres postgresql://u@host/db --out tl.csv

It prints its phase timings (read, compute = features + rules, write) as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

COUNTRY = "FR"
THERAPY_AREA = "oncology"
QUESTIONNAIRE = "oncology-profile"
RESPONSE_MAX_AGE_MONTHS = 24
FREQUENCY_SCALE = 0.9
MIN_CALLS = 1
NON_PRESCRIBING = ("general_practice", "hospital_pharmacy")

#: Channels in the order harmonia's target list shows them.
CHANNELS = ("face_to_face", "remote", "phone", "email", "event", "web")

#: The ``standard`` strategies: segment -> (name, {channel: (per year, cost)}).
#: ``monitor`` is not targeted and so has no plan.
STRATEGIES: dict[str, tuple[str, dict[str, tuple[int, float]]]] = {
    "champion": (
        "Champion: scientific partnership",
        {
            "face_to_face": (18, 220),
            "remote": (4, 90),
            "email": (12, 6),
            "event": (3, 750),
            "web": (6, 12),
        },
    ),
    "grow": (
        "Grow: deepen routine use",
        {
            "face_to_face": (14, 220),
            "remote": (4, 90),
            "email": (10, 6),
            "event": (2, 750),
            "web": (4, 12),
        },
    ),
    "convert": (
        "Convert: from first experience to confidence",
        {
            "face_to_face": (10, 220),
            "remote": (3, 90),
            "email": (8, 6),
            "event": (1, 750),
            "web": (4, 12),
        },
    ),
    "maintain": (
        "Maintain: efficient, relevant contact",
        {
            "face_to_face": (4, 220),
            "remote": (3, 90),
            "phone": (2, 45),
            "email": (8, 6),
            "web": (4, 12),
        },
    ),
}

#: (version, question, option, dimension, score) of the items that score the two
#: dimensions the rules read. Version 1 has no ``need`` rows: not comparable.
SCORES: list[tuple[str, str, str, str, int]] = [
    *(
        (version, question, option, "adoption", score)
        for version in ("1", "2")
        for question, options in (
            ("novel_therapy_adoption", ("wait", "selected", "routine", "early")),
            ("biomarker_testing", ("rarely", "case_by_case", "guideline_tests", "broad_panel")),
        )
        for score, option in enumerate(options)
    ),
    ("2", "what_matters_most", "outcome_evidence", "need", 2),
    ("2", "what_matters_most", "patient_selection", "need", 1),
    ("2", "what_matters_most", "toxicity_support", "need", -1),
    ("2", "what_matters_most", "time_saving_tools", "need", -1),
    ("2", "what_matters_most", "care_pathway", "need", -2),
    ("2", "support_priority", "trial_updates", "need", 2),
    ("2", "support_priority", "real_world_data", "need", 1),
    ("2", "support_priority", "peer_exchange", "need", 0),
    ("2", "support_priority", "patient_materials", "need", -1),
    ("2", "support_priority", "care_services", "need", -2),
]

CUSTOMER_COLUMNS = {
    "customer_id": "VARCHAR",
    "country": "VARCHAR",
    "type": "VARCHAR",
    "first_name": "VARCHAR",
    "last_name": "VARCHAR",
    "specialty": "VARCHAR",
    "postal_code": "VARCHAR",
    "city": "VARCHAR",
    "territory": "VARCHAR",
    "id_scheme": "VARCHAR",
    "id_value": "VARCHAR",
    # Contact details and objections (issue 14): read, not used by the segmentation.
    "address": "VARCHAR",
    "phone": "VARCHAR",
    "email": "VARCHAR",
    "objection": "VARCHAR",
}
METRIC_COLUMNS = {
    "customer_id": "VARCHAR",
    "therapy_area": "VARCHAR",
    "metric": "VARCHAR",
    "period": "VARCHAR",
    "value": "DOUBLE",
}
RESPONSE_COLUMNS = {
    "customer_id": "VARCHAR",
    "questionnaire": "VARCHAR",
    "version": "VARCHAR",
    "respondent": "VARCHAR",
    "answered_at": "VARCHAR",
    "question": "VARCHAR",
    "answer": "VARCHAR",
}


# --- the cycle's calendar ---------------------------------------------------------------


class Calendar:
    """The periods one cycle reads, for a period ``YYYY``, ``YYYY-Hn`` or ``YYYY-Qn``."""

    def __init__(self, period: str):
        year, _, part = period.partition("-")
        self.year = int(year)
        if not part:
            first_quarter, count = 1, 4
        elif part[0] == "H" and part[1:] in ("1", "2"):
            first_quarter, count = 1 + 2 * (int(part[1:]) - 1), 2
        elif part[0] == "Q" and part[1:] in ("1", "2", "3", "4"):
            first_quarter, count = int(part[1:]), 1
        else:
            raise ValueError(f"period {period!r}: use YYYY, YYYY-H1/H2 or YYYY-Q1..Q4")
        self.first_quarter = first_quarter
        self.months = 3 * count
        self.first_month = 3 * (first_quarter - 1) + 1
        self.last_quarter = first_quarter + count - 1

    def quarter(self, offset: int) -> str:
        """The quarter ``offset`` quarters after the cycle's first one."""
        index = self.year * 4 + self.first_quarter - 1 + offset
        return f"{index // 4}-Q{index % 4 + 1}"

    @property
    def cycle_quarters(self) -> list[str]:
        return [self.quarter(i) for i in range(self.last_quarter - self.first_quarter + 1)]

    @property
    def trailing_quarters(self) -> list[str]:
        """The four quarters ending with the cycle's last one, oldest first."""
        last = self.last_quarter - self.first_quarter
        return [self.quarter(last - 3 + i) for i in range(4)]

    @property
    def potential_year(self) -> str:
        """The latest whole year that ends by the cycle's end."""
        return str(self.year if self.last_quarter == 4 else self.year - 1)

    @property
    def response_window(self) -> tuple[str, str]:
        """Responses count from 24 months before the cycle starts up to its end."""
        start = self.year * 12 + self.first_month - 1 - RESPONSE_MAX_AGE_MONTHS
        end = self.year * 12 + self.first_month - 1 + self.months
        return f"{start // 12}-{start % 12 + 1:02d}-01", f"{end // 12}-{end % 12 + 1:02d}-01"


# --- SQL -------------------------------------------------------------------------------------


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _texts(values: list[str] | tuple[str, ...]) -> str:
    return ", ".join(_text(value) for value in values)


def segmentation_sql(calendar: Calendar) -> str:
    """Features and rules: one row per customer with segment, needs and tier.

    Reads ``customers``, ``metrics`` and ``responses`` (one row per answer);
    portable between DuckDB and PostgreSQL.
    """
    scores = ",\n        ".join(
        f"({_text(v)}, {_text(q)}, {_text(o)}, {_text(d)}, {s})" for v, q, o, d, s in SCORES
    )
    start, end = calendar.response_window
    deciles = {
        "potential_rank": "potential",
        "trx_rank": "trx_cycle",
    }
    ranks = ",\n".join(
        f"""{name} AS (
    SELECT p.customer_id,
        RANK() OVER (PARTITION BY p.country, p.specialty ORDER BY m.value) AS rnk,
        COUNT(*) OVER (PARTITION BY p.country, p.specialty) AS n
    FROM population p JOIN {values} m ON m.customer_id = p.customer_id
)"""
        for name, values in deciles.items()
    )
    non_prescribing = _texts(NON_PRESCRIBING)
    return f"""
WITH population AS (
    SELECT customer_id, country, type, specialty FROM customers WHERE country = {_text(COUNTRY)}
),
potential AS (
    SELECT customer_id, value FROM metrics
    WHERE therapy_area = {_text(THERAPY_AREA)} AND metric = 'potential'
        AND period = {_text(calendar.potential_year)}
),
trx_cycle AS (
    SELECT customer_id, SUM(value) AS value FROM metrics
    WHERE therapy_area = {_text(THERAPY_AREA)} AND metric = 'trx'
        AND period IN ({_texts(calendar.cycle_quarters)})
    GROUP BY customer_id
),
activity AS (
    SELECT customer_id, COUNT(DISTINCT period) / 4.0 AS share FROM metrics
    WHERE therapy_area = {_text(THERAPY_AREA)} AND metric = 'trx' AND value > 0
        AND period IN ({_texts(calendar.trailing_quarters)})
    GROUP BY customer_id
),
{ranks},
scores(version, question, answer, dimension, score) AS (
    VALUES
        {scores}
),
per_response AS (
    SELECT r.customer_id, r.respondent, r.answered_at,
        AVG(s.score) FILTER (WHERE s.dimension = 'adoption') AS adoption_score,
        AVG(s.score) FILTER (WHERE s.dimension = 'need') AS need_score
    FROM responses r
    LEFT JOIN scores s
        ON s.version = r.version AND s.question = r.question AND s.answer = r.answer
    WHERE r.questionnaire = {_text(QUESTIONNAIRE)}
        AND r.answered_at >= {_text(start)} AND r.answered_at < {_text(end)}
    GROUP BY r.customer_id, r.version, r.respondent, r.answered_at
),
latest AS (
    SELECT customer_id, adoption_score, need_score FROM (
        SELECT per_response.*, ROW_NUMBER() OVER (
            PARTITION BY customer_id ORDER BY answered_at DESC, respondent DESC) AS recency
        FROM per_response
    ) ranked WHERE recency = 1
),
features AS (
    SELECT p.customer_id, p.type, p.specialty,
        COALESCE(1 + CAST(FLOOR(10.0 * (pr.rnk - 1) / pr.n) AS INTEGER), 1)
            AS potential_decile,
        COALESCE(1 + CAST(FLOOR(10.0 * (tr.rnk - 1) / tr.n) AS INTEGER), 1) AS trx_decile,
        COALESCE(a.share, 0) AS consistency,
        CASE WHEN l.adoption_score >= 3 THEN 'advocate'
            WHEN l.adoption_score >= 2 THEN 'regular'
            WHEN l.adoption_score >= 1 THEN 'trialist'
            WHEN l.adoption_score >= 0 THEN 'non_user'
            ELSE 'unknown' END AS adoption,
        CASE WHEN l.need_score >= 1 THEN 'outcomes'
            WHEN l.need_score >= -0.5 THEN 'balanced'
            WHEN l.need_score >= -2 THEN 'efficiency'
            ELSE 'unknown' END AS need
    FROM population p
    LEFT JOIN potential_rank pr ON pr.customer_id = p.customer_id
    LEFT JOIN trx_rank tr ON tr.customer_id = p.customer_id
    LEFT JOIN activity a ON a.customer_id = p.customer_id
    LEFT JOIN latest l ON l.customer_id = p.customer_id
)
SELECT customer_id, type, specialty, potential_decile, trx_decile, consistency, adoption, need,
    CASE WHEN type = 'HCO' THEN 'monitor'
        WHEN specialty IN ({non_prescribing}) THEN 'monitor'
        WHEN potential_decile >= 8 AND adoption IN ('advocate', 'regular') THEN 'champion'
        WHEN potential_decile >= 8 AND adoption = 'trialist' THEN 'grow'
        WHEN potential_decile >= 8 THEN 'convert'
        WHEN potential_decile >= 4 AND adoption IN ('advocate', 'regular') THEN 'grow'
        WHEN potential_decile >= 4 AND adoption = 'trialist' THEN 'convert'
        WHEN potential_decile >= 4 THEN 'maintain'
        WHEN adoption IN ('advocate', 'regular', 'trialist') THEN 'maintain'
        ELSE 'monitor' END AS segment,
    CASE need WHEN 'outcomes' THEN 'outcomes_focused'
        WHEN 'balanced' THEN 'balanced'
        WHEN 'efficiency' THEN 'efficiency_focused'
        ELSE 'unprofiled' END AS needs,
    CASE WHEN type = 'HCO' THEN 'C'
        WHEN specialty IN ({non_prescribing}) THEN 'C'
        WHEN potential_decile >= 8 AND consistency >= 0.5 THEN 'A'
        WHEN trx_decile >= 9 AND consistency >= 0.75 THEN 'A'
        WHEN potential_decile >= 8 THEN 'B'
        WHEN potential_decile >= 5 AND consistency >= 0.5 THEN 'B'
        ELSE 'C' END AS tier
FROM features
"""


def plan_rows(calendar: Calendar) -> list[dict[str, object]]:
    """The call plan of each targeted segment for the cycle, highest priority first."""
    n, k = 12 // calendar.months, (calendar.first_month - 1) // calendar.months + 1
    rows = []
    for rank, (segment, (strategy, channels)) in enumerate(STRATEGIES.items(), start=1):
        contacts = {channel: 0 for channel in CHANNELS}
        cost = 0.0
        for channel, (per_year, unit_cost) in channels.items():
            # As harmonia plans: the year's contacts reached by the period's end
            # less those reached before it, each rounded half up (4.5 are 5).
            yearly = per_year * FREQUENCY_SCALE
            count = math.floor(yearly * k / n + 0.5 + 1e-9) - math.floor(
                yearly * (k - 1) / n + 0.5 + 1e-9
            )
            if channel == "face_to_face" and per_year > 0:
                count = max(count, MIN_CALLS)
            contacts[channel] = count
            cost += count * unit_cost
        rows.append(
            {
                "segment": segment,
                "segment_rank": rank,
                "strategy": strategy,
                **contacts,
                "contacts": sum(contacts.values()),
                "cost": round(cost, 2),
            }
        )
    return rows


def target_list_sql(calendar: Calendar) -> str:
    """Targeted customers with their segments and call plan, by territory.

    Reads ``segmented`` (the result of :func:`segmentation_sql`), ``customers``
    and ``customer_ids`` (source id and national identifier per customer).
    """
    values = ",\n        ".join(
        "("
        + ", ".join(
            [
                _text(str(row["segment"])),
                str(row["segment_rank"]),
                _text(str(row["strategy"])),
                *(str(row[channel]) for channel in CHANNELS),
                str(row["contacts"]),
                repr(row["cost"]),
            ]
        )
        + ")"
        for row in plan_rows(calendar)
    )
    channels = ", ".join(CHANNELS)
    plan_channels = ", ".join(f"plan.{channel}" for channel in CHANNELS)
    return f"""
WITH plan(segment, segment_rank, strategy, {channels}, contacts, cost) AS (
    VALUES
        {values}
)
SELECT ids.source_id AS customer_id, ids.id_scheme, ids.id_value, c.type, c.first_name,
    c.last_name, c.specialty, c.postal_code, c.city, c.territory,
    s.segment, s.needs, s.tier, plan.strategy, {plan_channels}, plan.contacts,
    REPLACE(CAST(plan.cost AS VARCHAR), '.', ',') AS cost
FROM segmented s
JOIN plan ON plan.segment = s.segment
JOIN customers c ON c.customer_id = s.customer_id
LEFT JOIN customer_ids ids ON ids.customer_id = s.customer_id
ORDER BY c.territory, plan.segment_rank, ids.source_id
"""


#: How many customers the target list holds.
_TARGETED = f"SELECT COUNT(*) FROM segmented WHERE segment IN ({_texts(tuple(STRATEGIES))})"


# --- DuckDB over the CSV files ----------------------------------------------------------------


def _read_csv(path: Path, columns: dict[str, str], decimal_comma: bool) -> str:
    types = ", ".join(f"{_text(name)}: {_text(kind)}" for name, kind in columns.items())
    decimal = ", decimal_separator = ','" if decimal_comma else ""
    return (
        f"read_csv({_text(str(path))}, delim = ';', header = true, quote = '\"', "
        f"columns = {{{types}}}{decimal})"
    )


def load_csv_tables(connection, data: Path) -> None:
    """Read the three CSV files (';', decimal commas) into DuckDB tables."""
    for table, columns, decimal_comma in (
        ("customers", CUSTOMER_COLUMNS, False),
        ("metrics", METRIC_COLUMNS, True),
        ("responses", RESPONSE_COLUMNS, False),
    ):
        source = _read_csv(data / f"{table}.csv", columns, decimal_comma)
        connection.execute(f"CREATE TABLE {table} AS SELECT * FROM {source}")
    connection.execute(
        "CREATE VIEW customer_ids AS SELECT customer_id, customer_id AS source_id, id_scheme, "
        "id_value FROM customers"
    )


def run_duckdb(
    data: Path, out: Path, calendar: Calendar, features_out: Path | None
) -> dict[str, float]:
    """Read the CSV files, segment, write the target list; returns phase timings."""
    import duckdb

    timings: dict[str, float] = {}
    started = time.perf_counter()
    connection = duckdb.connect()
    load_csv_tables(connection, data)
    timings["read"] = time.perf_counter() - started

    mark = time.perf_counter()
    connection.execute("CREATE TABLE segmented AS " + segmentation_sql(calendar))
    timings["compute"] = time.perf_counter() - mark

    mark = time.perf_counter()
    connection.execute(
        f"COPY ({target_list_sql(calendar)}) TO {_text(str(out))} (HEADER, DELIMITER ';')"
    )
    timings["write"] = time.perf_counter() - mark
    timings["targeted"] = connection.execute(_TARGETED).fetchone()[0]
    if features_out is not None:
        connection.execute(
            f"COPY (SELECT * FROM segmented ORDER BY customer_id) TO {_text(str(features_out))} "
            "(HEADER, DELIMITER ';')"
        )
    connection.close()
    timings["total"] = time.perf_counter() - started
    return timings


# --- PostgreSQL over harmonia's store -------------------------------------------------------

#: The baseline's input relations as views over the store's tables.
POSTGRES_VIEWS = {
    "customers": "SELECT id AS customer_id, country, type, first_name, last_name, specialty, "
    "postal_code, city, territory FROM customer",
    "customer_ids": "SELECT c.id AS customer_id, cw.source_id, i.scheme AS id_scheme, "
    "i.value AS id_value FROM customer c "
    "LEFT JOIN crosswalk cw ON cw.customer_id = c.id AND cw.system = 'csv' "
    "LEFT JOIN identifier i ON i.customer_id = c.id",
    "metrics": "SELECT customer_id, therapy_area, metric, period, value FROM metric",
    "responses": "SELECT r.customer_id, r.questionnaire, r.version, r.respondent, "
    "r.answered_at, a.question, a.value AS answer FROM response r "
    "JOIN answer a ON a.response_id = r.id",
}


def run_postgres(
    url: str, out: Path, calendar: Calendar, features_out: Path | None
) -> dict[str, float]:
    """The same SQL inside PostgreSQL, over harmonia's loaded store; returns timings."""
    import psycopg

    timings: dict[str, float] = {"read": 0.0}
    started = time.perf_counter()
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        # The session settings harmonia's in-database engine uses (JIT costs
        # seconds of compilation on a query like this one; nested loops are
        # wrong for whole-universe joins): both sides run alike.
        cursor.execute("SET jit = off")
        cursor.execute("SET enable_nestloop = off")
        for name, sql in POSTGRES_VIEWS.items():
            cursor.execute(f"CREATE TEMPORARY VIEW {name} AS {sql}")
        mark = time.perf_counter()
        cursor.execute("CREATE TEMPORARY TABLE segmented AS " + segmentation_sql(calendar))
        cursor.execute("ANALYZE segmented")
        timings["compute"] = time.perf_counter() - mark
        mark = time.perf_counter()
        _copy_out(cursor, target_list_sql(calendar), out)
        timings["write"] = time.perf_counter() - mark
        cursor.execute(_TARGETED)
        timings["targeted"] = cursor.fetchone()[0]
        if features_out is not None:
            _copy_out(cursor, "SELECT * FROM segmented ORDER BY customer_id", features_out)
        connection.rollback()
    timings["total"] = time.perf_counter() - started
    return timings


def _copy_out(cursor, sql: str, path: Path) -> None:
    copy = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER, DELIMITER ';')"
    with path.open("wb") as file, cursor.copy(copy) as stream:
        for chunk in stream:
            file.write(chunk)


# --- command line -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", type=Path, help="folder with the three CSV files")
    parser.add_argument("--out", type=Path, required=True, help="target list CSV to write")
    parser.add_argument("--period", default="2027-H1", help="the cycle's period")
    parser.add_argument("--postgres", metavar="URL", help="run inside this PostgreSQL store")
    parser.add_argument(
        "--features-out", type=Path, help="also write every customer's features and segments"
    )
    args = parser.parse_args(argv)
    calendar = Calendar(args.period)
    if args.postgres:
        timings = run_postgres(args.postgres, args.out, calendar, args.features_out)
    elif args.data is None:
        parser.error("give the data folder, or --postgres URL")
    else:
        timings = run_duckdb(args.data, args.out, calendar, args.features_out)
    json.dump(timings, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
