"""The field force as loadable records: territories, the roster, the alignment.

Three record kinds (see :mod:`harmonia.plugin.types`) loaded like any other,
with every rejected row quarantined with its reasons:

* ``territories``: units of the field force, each a territory, district or
  region with its parent (a territory's district, a district's region). A
  parent that is not known, a unit whose parents loop back to it, a level out
  of order (a territory under a territory) are refused.
* ``roster``: people: a rep placed on one territory, a manager on a district or
  region, each with the person they report to. A unit that is not known, a
  person placed in two places, a manager who is not known and a loop of
  managers (a reports to b reports to a) are refused.
* ``alignment``: which territory a customer belongs to in a period. An unknown
  customer or territory is refused. The cycle of a period takes each
  customer's territory from it (:mod:`harmonia.refinement.snapshot`).

The checks are SQL over the whole batch (DuckDB); the field force is small
(thousands of units and people) and is read whole to check parents and loops,
while an alignment of millions of customers is resolved in one join.
"""

from __future__ import annotations

from harmonia.ingest.checks import CheckContext
from harmonia.ingest.merge import Merger, Rejections
from harmonia.sql import quote, reasons, text_list

LEVELS = ("territory", "district", "region")

#: Columns of the field force's tables that hold integers (the rest is text).
INTEGERS = ("customer_id", "first_month", "last_month")


def _country(context: CheckContext) -> str:
    given = quote(context.country) if context.country else "NULL"
    return f"COALESCE(upper(harmonia_text(country)), {given})"


def _country_reasons(context: CheckContext) -> list[str]:
    checks = [
        "CASE WHEN country IS NULL THEN 'country is empty: give a country column "
        "or load with --country' END"
    ]
    if context.country:
        checks.append(
            f"CASE WHEN country <> {quote(context.country)} THEN 'country ''' || country || "
            f"''' is not the country of this load ({context.country})' END"
        )
    return checks


def territories_sql(context: CheckContext) -> str:
    return f"""
    WITH clean AS (
        SELECT _row,
            upper(harmonia_text(territory)) AS territory,
            {_country(context)} AS country,
            COALESCE(harmonia_text(name), '') AS name,
            lower(harmonia_text(level)) AS level,
            upper(harmonia_text(parent)) AS parent
        FROM raw
    )
    SELECT *, {
        reasons(
            "CASE WHEN territory IS NULL THEN 'territory is empty' END",
            "CASE WHEN level IS NULL THEN 'level is empty: write territory, district or region' "
            "WHEN level NOT IN ('territory', 'district', 'region') THEN 'level ''' || level || "
            "''' is not territory, district or region' END",
            "CASE WHEN parent IS NULL AND level IN ('territory', 'district') THEN 'a ' || level || "
            "' needs its parent (a territory its district, a district its region)' END",
            "CASE WHEN parent = territory THEN 'territory ''' || territory || "
            "''' is its own parent' END",
            *_country_reasons(context),
        )
    } FROM clean
    """


def roster_sql(context: CheckContext) -> str:
    return f"""
    WITH clean AS (
        SELECT _row,
            lower(harmonia_text(person)) AS person,
            {_country(context)} AS country,
            COALESCE(harmonia_text(name), '') AS name,
            lower(harmonia_text(role)) AS role,
            upper(harmonia_text(unit)) AS unit,
            lower(harmonia_text(manager)) AS manager,
            harmonia_text(email) AS email
        FROM raw
    ), places AS (
        SELECT person, string_agg(DISTINCT unit, ' and ' ORDER BY unit) AS units,
            count(DISTINCT unit) AS n
        FROM clean WHERE person IS NOT NULL AND unit IS NOT NULL GROUP BY person
    )
    SELECT clean.*, {
        reasons(
            "CASE WHEN clean.person IS NULL THEN 'person is empty' END",
            "CASE WHEN role IS NULL THEN 'role is empty: write rep or manager' "
            "WHEN role NOT IN ('rep', 'manager') THEN 'role ''' || role || "
            "''' is not rep or manager' END",
            "CASE WHEN unit IS NULL THEN 'unit is empty: a rep''s territory or a manager''s "
            "district or region' END",
            "CASE WHEN places.n > 1 THEN 'person ''' || clean.person || ''' is placed in ' || "
            "places.units || ': a person has one place in the roster' END",
            "CASE WHEN manager = clean.person THEN 'person ''' || clean.person || "
            "''' is their own manager' END",
            *_country_reasons(context),
        )
    } FROM clean LEFT JOIN places ON places.person = clean.person
    """


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


CHECKS = {"territories": territories_sql, "roster": roster_sql, "alignment": alignment_sql}

#: The natural key of each kind: a repeat within one load is a duplicate.
DUPLICATE_KEYS = {
    "territories": (("territory",),),
    "roster": (("person",),),
    "alignment": (("customer_id", "period"),),
}

DUPLICATE_MESSAGES = {
    ("territories", 0): "'territory ''' || territory || ''' is also given at row ' || first_row",
    ("roster", 0): "'person ''' || person || ''' is also given at row ' || first_row",
    ("alignment", 0): "'duplicate of row ' || first_row || ' (same customer and period)'",
}


class _Replacing(Merger):
    """Rows replace the stored row with the same key; counts new, updated, unchanged."""

    table = ""
    key: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()

    def _replace(self, rows: str) -> None:
        """Write the DuckDB relation ``rows`` (the table's columns) over the stored rows."""
        key = ", ".join(self.key)
        columns = ", ".join(self.columns)
        types = {c: "BIGINT" if c in INTEGERS else "VARCHAR" for c in self.columns}
        self._read_stored(
            "stored_rows", f"SELECT {columns} FROM {self.table} {self._stored_where(rows)}", types
        )
        compare = " AND ".join(f"s.{c} IS NOT DISTINCT FROM r.{c}" for c in self.columns)
        same_key = " AND ".join(f"s.{c} = r.{c}" for c in self.key)
        counts = self.duck.sql(
            f"""
            SELECT
                count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM stored_rows s WHERE {same_key})),
                count(*) FILTER (WHERE EXISTS (SELECT 1 FROM stored_rows s WHERE {compare}))
            FROM ({rows}) r
            """
        ).fetchall()[0]
        total = self.duck.sql(f"SELECT count(*) FROM ({rows})").fetchall()[0][0]
        self.new += int(counts[0])
        self.unchanged += int(counts[1])
        self.updated += int(total) - int(counts[0]) - int(counts[1])
        incoming = self.duck.sql(
            f"SELECT {columns}, CAST({self.batch_id} AS BIGINT) AS batch_id FROM ({rows})"
        ).to_arrow_table()
        if not incoming.num_rows:
            return
        stage = self.bulk.stage(incoming, self.table)
        updates = ", ".join(
            f"{c} = excluded.{c}" for c in (*self.columns, "batch_id") if c not in self.key
        )
        self.bulk.execute(
            f"INSERT INTO {self.table} ({columns}, batch_id) SELECT {columns}, batch_id "
            f"FROM {stage} WHERE true ON CONFLICT ({key}) DO UPDATE SET {updates}"
        )

    def _read_stored(self, name: str, sql: str, types: dict[str, str]) -> None:
        """A store query as the DuckDB table ``name`` with the given column types.

        Why the types: SQLite is typed by value, so an empty table reads back as
        anything.
        """
        self.duck.register("incoming_store", self.bulk.read(sql))
        columns = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in types.items())
        self.duck.execute(
            f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {columns} FROM incoming_store"
        )
        self.duck.unregister("incoming_store")

    def _stored_where(self, rows: str) -> str:
        """Which stored rows the relation ``rows`` may replace (default: all)."""
        return ""

    def _rejections(self, sql: str) -> Rejections:
        return [(int(row), str(reason)) for row, reason in self.duck.sql(sql).fetchall()]


class TerritoryMerger(_Replacing):
    """Territories, districts and regions; each parent known and a level above its child."""

    table = "territory"
    key = ("code",)
    columns = ("code", "country", "name", "level", "parent")

    def merge(self, valid: str) -> Rejections:
        self._read_stored(
            "stored_units",
            "SELECT code, level, parent FROM territory",
            {"code": "VARCHAR", "level": "VARCHAR", "parent": "VARCHAR"},
        )
        # The units after this load: the file's rows over the stored ones.
        self.duck.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE units AS
            SELECT territory AS code, level, parent, _row FROM {valid}
            UNION ALL
            SELECT code, level, parent, NULL FROM stored_units
            WHERE code NOT IN (SELECT territory FROM {valid})
            """
        )
        rejected = self._rejections(
            f"""
            WITH RECURSIVE up(start, code, path, depth) AS (
                SELECT territory, parent, [territory, parent], 1 FROM {valid}
                WHERE parent IS NOT NULL
                UNION ALL
                SELECT up.start, u.parent, list_append(up.path, u.parent), up.depth + 1
                FROM up JOIN units u ON u.code = up.code
                WHERE u.parent IS NOT NULL AND up.code <> up.start AND up.depth < 64
            ), loops AS (
                SELECT start, min(array_to_string(path, ' -> ')) AS path
                FROM up WHERE code = start GROUP BY start
            )
            SELECT v._row, CASE
                WHEN p.code IS NULL THEN 'parent ''' || v.parent || ''' is not a known unit: '
                    || 'load it in this file or before'
                WHEN l.start IS NOT NULL THEN 'the parents of ''' || v.territory
                    || ''' loop back to it: ' || l.path
                ELSE v.level || ' ''' || v.territory || ''' cannot be under the ' || p.level
                    || ' ''' || v.parent || ''' (territory < district < region)'
                END
            FROM {valid} v
            LEFT JOIN units p ON p.code = v.parent
            LEFT JOIN loops l ON l.start = v.territory
            WHERE v.parent IS NOT NULL AND (p.code IS NULL OR l.start IS NOT NULL
                OR list_position({list(LEVELS)}, p.level) <= list_position({list(LEVELS)}, v.level))
            ORDER BY v._row
            """
        )
        refused = ", ".join(str(row) for row, _ in rejected) or "-1"
        self._replace(
            f"SELECT territory AS code, country, name, level, parent FROM {valid} "
            f"WHERE _row NOT IN ({refused})"
        )
        return rejected


class RosterMerger(_Replacing):
    """People: each on a known unit of their role, reporting to a known manager, no loops."""

    table = "roster"
    key = ("person",)
    columns = ("person", "country", "name", "role", "unit", "manager", "email")

    def merge(self, valid: str) -> Rejections:
        self._read_stored(
            "stored_units",
            "SELECT code, level FROM territory",
            {"code": "VARCHAR", "level": "VARCHAR"},
        )
        self._read_stored(
            "stored_people",
            "SELECT person, manager FROM roster",
            {"person": "VARCHAR", "manager": "VARCHAR"},
        )
        self.duck.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE people AS
            SELECT person, manager FROM {valid}
            UNION ALL
            SELECT person, manager FROM stored_people
            WHERE person NOT IN (SELECT person FROM {valid})
            """
        )
        rejected = self._rejections(
            f"""
            WITH RECURSIVE up(start, person, path, depth) AS (
                SELECT person, manager, [person, manager], 1 FROM {valid}
                WHERE manager IS NOT NULL
                UNION ALL
                SELECT up.start, p.manager, list_append(up.path, p.manager), up.depth + 1
                FROM up JOIN people p ON p.person = up.person
                WHERE p.manager IS NOT NULL AND up.person <> up.start AND up.depth < 64
            ), loops AS (
                SELECT start, min(array_to_string(path, ' -> ')) AS path
                FROM up WHERE person = start GROUP BY start
            )
            SELECT v._row, CASE
                WHEN u.code IS NULL THEN 'unit ''' || v.unit || ''' is not a known territory, '
                    || 'district or region: load the territories first'
                WHEN v.role = 'rep' AND u.level <> 'territory' THEN 'a rep works on a territory; '
                    || '''' || v.unit || ''' is a ' || u.level
                WHEN v.role = 'manager' AND u.level = 'territory' THEN 'a manager manages a '
                    || 'district or region; ''' || v.unit || ''' is a territory'
                WHEN v.manager IS NOT NULL AND m.person IS NULL THEN 'manager ''' || v.manager
                    || ''' is not in the roster'
                ELSE 'the managers of ''' || v.person || ''' loop back to them: ' || l.path
                END
            FROM {valid} v
            LEFT JOIN stored_units u ON u.code = v.unit
            LEFT JOIN people m ON m.person = v.manager
            LEFT JOIN loops l ON l.start = v.person
            WHERE u.code IS NULL OR (v.role = 'rep' AND u.level <> 'territory')
                OR (v.role = 'manager' AND u.level = 'territory')
                OR (v.manager IS NOT NULL AND m.person IS NULL) OR l.start IS NOT NULL
            ORDER BY v._row
            """
        )
        refused = ", ".join(str(row) for row, _ in rejected) or "-1"
        self._replace(
            f"SELECT {', '.join(self.columns)} FROM {valid} WHERE _row NOT IN ({refused})"
        )
        return rejected


class AlignmentMerger(_Replacing):
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


MERGERS: dict[str, type[Merger]] = {
    "territories": TerritoryMerger,
    "roster": RosterMerger,
    "alignment": AlignmentMerger,
}
