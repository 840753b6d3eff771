"""The ``territories`` kind: the field force's units, each a territory, district or region.

A unit names its parent (a territory its district, a district its region). A
parent that is not known, parents that loop back to a unit and a level out
of order (a territory under a territory) are refused; a unit loaded again
replaces the stored one (see :mod:`harmonia.ingest.fieldforce`).
"""

from __future__ import annotations

from harmonia.ingest.checks import CheckContext
from harmonia.ingest.fieldforce import LEVELS, ReplacingMerger, country_column, country_reasons
from harmonia.ingest.kind import DuplicateKey, Kind
from harmonia.ingest.merge import Rejections
from harmonia.sql import reasons


def territories_sql(context: CheckContext) -> str:
    return f"""
    WITH clean AS (
        SELECT _row,
            upper(harmonia_text(territory)) AS territory,
            {country_column(context)} AS country,
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
            *country_reasons(context),
        )
    } FROM clean
    """


class TerritoryMerger(ReplacingMerger):
    """Territories, districts and regions; each parent known and a level above its child."""

    table = "territory"
    key = ("country", "code")
    columns = ("code", "country", "name", "level", "parent")

    def merge(self, valid: str) -> Rejections:
        self._read_stored(
            "stored_units",
            "SELECT country, code, level, parent FROM territory",
            {"country": "VARCHAR", "code": "VARCHAR", "level": "VARCHAR", "parent": "VARCHAR"},
        )
        # The units after this load: the file's rows over the stored ones.
        self.duck.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE units AS
            SELECT country, territory AS code, level, parent, _row FROM {valid}
            UNION ALL
            SELECT country, code, level, parent, NULL FROM stored_units s
            WHERE NOT EXISTS (SELECT 1 FROM {valid} v
                WHERE v.country = s.country AND v.territory = s.code)
            """
        )
        rejected = self._rejections(
            f"""
            WITH RECURSIVE up(country, start, code, path, depth) AS (
                SELECT country, territory, parent, [territory, parent], 1 FROM {valid}
                WHERE parent IS NOT NULL
                UNION ALL
                SELECT up.country, up.start, u.parent, list_append(up.path, u.parent),
                    up.depth + 1
                FROM up JOIN units u ON u.country = up.country AND u.code = up.code
                WHERE u.parent IS NOT NULL AND up.code <> up.start AND up.depth < 64
            ), loops AS (
                SELECT country, start, min(array_to_string(path, ' -> ')) AS path
                FROM up WHERE code = start GROUP BY country, start
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
            LEFT JOIN units p ON p.country = v.country AND p.code = v.parent
            LEFT JOIN loops l ON l.country = v.country AND l.start = v.territory
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


KIND = Kind(
    "territories",
    check=territories_sql,
    merger=TerritoryMerger,
    keys=(
        DuplicateKey(
            ("country", "territory"),
            "'territory ''' || territory || ''' is also given at row ' || first_row",
        ),
    ),
)
