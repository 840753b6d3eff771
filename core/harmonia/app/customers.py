"""The harmonized customers as packs read them (``app.customers``).

A pack that needs customers (the Excel pack's territory workbook, a CRM
export, a connector's tests) reads them here instead of querying the store's
tables, which may change between releases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from harmonia.app.core import Harmonia


@attrs.frozen
class KnownCustomer:
    """A customer with one id a source system knows them by (one per id), and their
    national identifiers as ``(scheme, value)`` pairs."""

    id: int
    type: str
    country: str
    first_name: str | None
    last_name: str | None
    specialty: str | None
    postal_code: str | None
    city: str | None
    territory: str | None
    system: str
    source_id: str
    identifiers: tuple[tuple[str, str], ...] = ()


class Customers:
    """``app.customers``: the customers of a market, its territories, a system's ids."""

    def __init__(self, app: Harmonia) -> None:
        self.app = app

    def in_territory(self, country: str, territory: str) -> list[KnownCustomer]:
        """The territory's customers a cycle may profile, once for every id a system knows
        them by, sorted by last name, first name, harmonia id, system and source id."""
        from sqlalchemy import text

        from harmonia.store.identity import profiled
        from harmonia.store.models import Customer

        # A rep's workbook profiles: customers who object, or merged into
        # another, are not in it (harmonia.store.identity).
        return self._read(
            Customer.country == country,
            Customer.territory == territory,
            text(profiled("customer.id")),
        )

    def known_by(self, system: str) -> list[KnownCustomer]:
        """Every customer ``system`` knows, by its ids (sorted as :meth:`in_territory`)."""
        from harmonia.store.models import Crosswalk

        return self._read(Crosswalk.system == system)

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

    def _read(self, *conditions: Any) -> list[KnownCustomer]:
        from sqlmodel import col, select

        from harmonia.store.models import Crosswalk, Customer, Identifier

        columns = [
            Customer.id,
            Customer.type,
            Customer.country,
            Customer.first_name,
            Customer.last_name,
            Customer.specialty,
            Customer.postal_code,
            Customer.city,
            Customer.territory,
            Crosswalk.system,
            Crosswalk.source_id,
        ]
        query = (
            select(*columns)
            .join(Crosswalk, Crosswalk.customer_id == Customer.id)
            .where(*conditions)
            .order_by(
                Customer.last_name,
                Customer.first_name,
                Customer.id,
                Crosswalk.system,
                Crosswalk.source_id,
            )
        )
        with self.app.database.session() as session:
            rows = list(session.exec(query))
            ids = sorted({row[0] for row in rows})
            identifiers: dict[int, list[tuple[str, str]]] = {}
            # In slices: a database limits the parameters of one statement.
            for start in range(0, len(ids), 10_000):
                chosen = col(Identifier.customer_id).in_(ids[start : start + 10_000])
                found = select(Identifier.customer_id, Identifier.scheme, Identifier.value)
                for customer, scheme, value in session.exec(found.where(chosen)):
                    identifiers.setdefault(customer, []).append((scheme, value))
        return [
            KnownCustomer(*row, identifiers=tuple(sorted(identifiers.get(row[0], ()))))
            for row in rows
        ]
