"""The ``roster`` kind: the field force's people.

A rep is placed on one territory, a manager on a district or region, each
with the person they report to. A unit that is not known, a person placed in
two places, a manager who is not known and a loop of managers (a reports to
b reports to a) are refused; a person loaded again replaces the stored one
(see :mod:`harmonia.ingest.fieldforce`).
"""

from __future__ import annotations

from harmonia.ingest.checks import CheckContext
from harmonia.ingest.fieldforce import ReplacingMerger, country_column, country_reasons
from harmonia.ingest.kind import DuplicateKey, Kind
from harmonia.ingest.merge import Rejections
from harmonia.sql import reasons


def roster_sql(context: CheckContext) -> str:
    return f"""
    WITH clean AS (
        SELECT _row,
            lower(harmonia_text(person)) AS person,
            {country_column(context)} AS country,
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
            *country_reasons(context),
        )
    } FROM clean LEFT JOIN places ON places.person = clean.person
    """


class RosterMerger(ReplacingMerger):
    """People: each on a known unit of their role, reporting to a known manager, no loops."""

    table = "roster"
    key = ("person",)
    columns = ("person", "country", "name", "role", "unit", "manager", "email")

    def merge(self, valid: str) -> Rejections:
        self._read_stored(
            "stored_units",
            "SELECT country, code, level FROM territory",
            {"country": "VARCHAR", "code": "VARCHAR", "level": "VARCHAR"},
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
            LEFT JOIN stored_units u ON u.country = v.country AND u.code = v.unit
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


KIND = Kind(
    "roster",
    check=roster_sql,
    merger=RosterMerger,
    keys=(
        DuplicateKey(
            ("person",), "'person ''' || person || ''' is also given at row ' || first_row"
        ),
    ),
)
