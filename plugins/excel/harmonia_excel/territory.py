"""The customers of a territory, as the harmonized database knows them.

The one place this pack reads the database, through the engine of the CLI's
database object, so it moves in one step when the core exposes a public
reader for customers.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs

from harmonia import ConfigError, NotFoundError
from harmonia_excel.workbook import Customer


@attrs.frozen
class Territory:
    """A territory's customers, by their id in ``system``."""

    system: str
    customers: tuple[Customer, ...]
    without_id: int = 0


def territory_customers(
    database: Any,
    country: str,
    territory: str,
    system: str | None = None,
    customer_type: str | None = None,
) -> Territory:
    """The territory's customers sorted by name; ids from ``system`` (default: the usual one).

    Without ``system``, the system that knows most of the territory's
    customers is used, so that the workbook's ids are the ones its responses
    load back with. Customers that system does not know are counted, not listed.
    ``customer_type`` (HCP or HCO) keeps one type only.
    """
    rows = [
        row
        for row in _rows(database, country, territory)
        if customer_type is None or row.type == customer_type
    ]
    if not rows:
        raise NotFoundError(
            f"no {customer_type or 'customer'} of {country} is in territory {territory!r}",
            fix=f"choose one of: {', '.join(_territories(database, country)) or 'none loaded'}",
        )
    systems = Counter(row.system for row in rows)
    chosen = system or sorted(systems.items(), key=lambda pair: (-pair[1], pair[0]))[0][0]
    if chosen not in systems:
        raise ConfigError(
            f"no customer of territory {territory} is known to system {chosen!r}",
            fix=f"use --system {' or --system '.join(sorted(systems))}",
        )
    ids: dict[int, Any] = {}
    for row in rows:
        if row.system == chosen and row.id not in ids:
            ids[row.id] = row
    everyone = {row.id for row in rows}
    customers = tuple(
        Customer(row.source_id, _name(row), row.specialty or "", row.city or "")
        for row in ids.values()
    )
    return Territory(chosen, customers, len(everyone) - len(ids))


def _rows(database: Any, country: str, territory: str) -> list[Any]:
    from sqlalchemy import text

    sql = text(
        """
        SELECT c.id, c.type, c.first_name, c.last_name, c.specialty, c.city, cw.system,
               cw.source_id
        FROM customer c JOIN crosswalk cw ON cw.customer_id = c.id
        WHERE c.country = :country AND c.territory = :territory
        ORDER BY c.last_name, c.first_name, c.id, cw.system, cw.source_id
        """
    )
    with database.engine.connect() as connection:
        return list(connection.execute(sql, {"country": country, "territory": territory}))


def _territories(database: Any, country: str) -> list[str]:
    from sqlalchemy import text

    sql = text(
        "SELECT DISTINCT territory FROM customer WHERE country = :country "
        "AND territory IS NOT NULL ORDER BY territory"
    )
    with database.engine.connect() as connection:
        return [row[0] for row in connection.execute(sql, {"country": country})]


def _name(row: Any) -> str:
    return " ".join(part for part in (row.first_name, row.last_name) if part)
