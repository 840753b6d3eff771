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


@attrs.frozen
class CustomerDetails:
    """One customer as ``harmonia customer show`` tells it: the record, every id a
    system knows them by, their national identifiers, and their latest segments."""

    #: The customer's harmonized record (``id``, ``country``, ``type``, names, ...).
    record: dict[str, Any]
    #: ``(system, source_id)``: every id a source system knows them by.
    ids: list[tuple[str, str]]
    #: ``(scheme, value)``: their national identifiers.
    identifiers: list[tuple[str, str]]
    #: Per therapy area, the latest completed cycle's assignment (its cycle, period,
    #: status, segment, needs, tier, final segment and origin).
    segments: list[dict[str, Any]]
    #: The id asked for, when it was merged into this customer.
    merged_from: int | None = None
    #: Each attribute's value with the source system and load batch it came from: the
    #: golden record of a merged customer (with its survivorship rule), else the
    #: value its source records gave last (rule ``latest``).
    values: list[dict[str, Any]] = attrs.Factory(list)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.record,
            "ids": [{"system": system, "source_id": value} for system, value in self.ids],
            "identifiers": [{"scheme": s, "value": v} for s, v in self.identifiers],
            "segments": self.segments,
            "merged_from": self.merged_from,
            "values": self.values,
        }


class Customers:
    """``app.customers``: the customers of a market, its territories, a system's ids."""

    def __init__(self, app: Harmonia) -> None:
        self.app = app

    def id_of(self, customer: str, system: str | None = None) -> int:
        """The harmonia id ``customer`` names: a harmonia id, a source system's id
        (``system`` says whose when two systems use it), or a national identifier's value."""
        from sqlmodel import select

        from harmonia.errors import ConfigError, NotFoundError
        from harmonia.store.models import (
            HARMONIA_IDS,
            Crosswalk,
            Customer,
            CustomerRedirect,
            Identifier,
        )

        found: dict[str, int] = {}
        with self.app.existing_database.session() as session:
            if system in (None, HARMONIA_IDS) and customer.isdigit():
                known = session.get(Customer, int(customer)) or session.get(
                    CustomerRedirect, int(customer)
                )
                if known is not None or system == HARMONIA_IDS:
                    found["harmonia id"] = int(customer)
            query = select(Crosswalk.system, Crosswalk.customer_id).where(
                Crosswalk.source_id == customer
            )
            if system:
                query = query.where(Crosswalk.system == system)
            if system != HARMONIA_IDS:
                found |= {f"{name} id": id for name, id in session.exec(query).all()}
            if not system:
                schemes = select(Identifier.scheme, Identifier.customer_id).where(
                    Identifier.value == customer
                )
                found |= {f"{scheme} identifier": id for scheme, id in session.exec(schemes)}
        if len(set(found.values())) == 1:
            return next(iter(found.values()))
        if found:
            meanings = "; ".join(
                f"{name} {customer} is customer {id}" for name, id in found.items()
            )
            raise ConfigError(
                f"{customer!r} names several customers: {meanings}",
                fix="say whose id it is with --system, or give the harmonia id",
            )
        raise NotFoundError(
            f"no customer {customer!r}" + (f" in system {system}" if system else ""),
            fix="give a harmonia id (see the target list), a source system's customer_id "
            "(with --system when two systems share it) or a national identifier",
        )

    def show(self, customer: str, system: str | None = None) -> CustomerDetails:
        """One customer: record, ids, identifiers and latest segments (outside any cycle)."""
        from sqlmodel import col, select

        from harmonia.errors import NotFoundError
        from harmonia.lifecycle import COMPLETED
        from harmonia.store.identity import resolve
        from harmonia.store.models import Assignment, Crosswalk, Customer, Cycle, Identifier

        asked = self.id_of(customer, system)
        with self.app.existing_database.session() as session:
            now = resolve(session, [asked])[asked]
            record = session.get(Customer, now)
            if record is None:
                raise NotFoundError(
                    f"no customer with harmonia id {asked}",
                    fix="give a harmonia id (see the target list) or a source system's id",
                )
            ids = session.exec(
                select(Crosswalk.system, Crosswalk.source_id)
                .where(Crosswalk.customer_id == now)
                .order_by(Crosswalk.system, Crosswalk.source_id)
            ).all()
            identifiers = session.exec(
                select(Identifier.scheme, Identifier.value)
                .where(Identifier.customer_id == now)
                .order_by(Identifier.scheme)
            ).all()
            assigned = session.exec(
                select(Cycle, Assignment)
                .join(Assignment, col(Assignment.cycle_id) == Cycle.id)
                .where(Assignment.customer_id == now, col(Cycle.status).in_(COMPLETED))
                .order_by(col(Cycle.id).desc())
            ).all()
        latest: dict[str, dict[str, Any]] = {}
        for cycle, assignment in assigned:  # one per cycle the customer was in: few
            latest.setdefault(
                cycle.therapy_area,
                {
                    "therapy_area": cycle.therapy_area,
                    "cycle": cycle.id,
                    "period": cycle.period,
                    "status": cycle.status,
                    "segment": assignment.segment,
                    "needs": assignment.needs,
                    "tier": assignment.tier,
                    "final_segment": assignment.final_segment,
                    "origin": assignment.origin,
                },
            )
        from harmonia.master.golden import value_sources

        kept = ("id", "country", "type", "first_name", "last_name", "specialty")
        kept += ("postal_code", "city", "territory")
        return CustomerDetails(
            record={name: getattr(record, name) for name in kept},
            ids=[tuple(row) for row in ids],
            identifiers=[tuple(row) for row in identifiers],
            segments=sorted(latest.values(), key=lambda row: row["therapy_area"]),
            merged_from=asked if asked != now else None,
            values=value_sources(self.app.existing_database, now),
        )

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
