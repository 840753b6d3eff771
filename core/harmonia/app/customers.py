"""The harmonized customers as packs read them (``app.customers``).

A pack that needs customers (the Excel pack's territory workbook, a CRM
export) reads them here instead of querying the store's tables, which may
change between releases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from harmonia.app.core import Harmonia


@attrs.frozen
class KnownCustomer:
    """A customer with one id a source system knows them by (one per id)."""

    id: int
    type: str
    first_name: str | None
    last_name: str | None
    specialty: str | None
    city: str | None
    system: str
    source_id: str


class Customers:
    """``app.customers``: the customers of a market and its territories."""

    def __init__(self, app: Harmonia) -> None:
        self.app = app

    def in_territory(self, country: str, territory: str) -> list[KnownCustomer]:
        """The territory's customers, once for every id a system knows them by, sorted by
        last name, first name, harmonia id, system and source id."""
        from sqlmodel import select

        from harmonia.store.models import Crosswalk, Customer

        query = (
            select(
                Customer.id,
                Customer.type,
                Customer.first_name,
                Customer.last_name,
                Customer.specialty,
                Customer.city,
                Crosswalk.system,
                Crosswalk.source_id,
            )
            .join(Crosswalk, Crosswalk.customer_id == Customer.id)
            .where(Customer.country == country, Customer.territory == territory)
            .order_by(
                Customer.last_name,
                Customer.first_name,
                Customer.id,
                Crosswalk.system,
                Crosswalk.source_id,
            )
        )
        with self.app.database.session() as session:
            return [KnownCustomer(*row) for row in session.exec(query)]

    def territories(self, country: str) -> list[str]:
        """The territories the market's customers are in, sorted."""
        from sqlmodel import select

        from harmonia.store.models import Customer

        query = (
            select(Customer.territory)
            .where(Customer.country == country, Customer.territory.is_not(None))  # type: ignore[union-attr]
            .distinct()
            .order_by(Customer.territory)
        )
        with self.app.database.session() as session:
            return list(session.exec(query))
