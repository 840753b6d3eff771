"""The customers of a territory, as the harmonized database knows them.

Read through the application (``current_app().customers``), never from the
store's tables: they are harmonia's to change.
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
    customers: Any,
    country: str,
    territory: str,
    system: str | None = None,
    customer_type: str | None = None,
) -> Territory:
    """The territory's customers sorted by name; ids from ``system`` (default: the usual one).

    ``customers`` is the application's ``app.customers``.

    Without ``system``, the system that knows most of the territory's
    customers is used, so that the workbook's ids are the ones its responses
    load back with. Customers that system does not know are counted, not listed.
    ``customer_type`` (HCP or HCO) keeps one type only.
    """
    rows = [
        row
        for row in customers.in_territory(country, territory)
        if customer_type is None or row.type == customer_type
    ]
    if not rows:
        raise NotFoundError(
            f"no {customer_type or 'customer'} of {country} is in territory {territory!r}",
            fix=f"choose one of: {', '.join(customers.territories(country)) or 'none loaded'}",
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


def _name(row: Any) -> str:
    return " ".join(part for part in (row.first_name, row.last_name) if part)
