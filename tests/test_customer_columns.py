"""The customer's attributes are kept three times: the row itself (``customer``), what
each source record said of them (``customer_attribute_history``) and each state the row
took (``customer_version``). A customer column added to the first alone would be lost to
provenance, golden records and ``--as-of``."""

from __future__ import annotations

from harmonia.store.models import Customer, CustomerAttributeHistory, CustomerVersion

#: The customer's own bookkeeping, not attributes: its id and the batches that made it.
BOOKKEEPING = ("id", "first_batch_id", "batch_id")
#: What a source record cannot change once the customer exists: its market and kind.
IDENTITY = ("country", "type")


def _columns(model: type) -> dict[str, str]:
    return {column.name: str(column.type) for column in model.__table__.columns}  # type: ignore[attr-defined]


def test_every_customer_attribute_is_versioned_with_its_type() -> None:
    customer, version = _columns(Customer), _columns(CustomerVersion)
    attributes = {name: kind for name, kind in customer.items() if name not in BOOKKEEPING}
    assert {name: version.get(name) for name in attributes} == attributes


def test_every_customer_attribute_a_source_gives_has_its_history() -> None:
    customer, history = _columns(Customer), _columns(CustomerAttributeHistory)
    given = {name: kind for name, kind in customer.items() if name not in (*BOOKKEEPING, *IDENTITY)}
    assert {name: history.get(name) for name in given} == given
