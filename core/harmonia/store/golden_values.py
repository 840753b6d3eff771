"""A customer's attributes as everything downstream reads them: golden where there is one.

A person with more than one source record (merged, or linked at load by a
shared identifier) has a golden record (:mod:`harmonia.master.golden`): one
value per attribute, chosen by the country's survivorship rules and kept in
``golden_value``. The ``customer`` row holds something else for them (the
survivor's own record, or the value given last), so a cycle, a sink or an
export that read the row would ignore the rules. They read
:func:`customer_values_sql` instead: the row with the golden values laid
over it, in one statement any engine runs (DuckDB, SQLite, PostgreSQL,
Spark SQL), no customer passing through Python.
"""

from __future__ import annotations

from collections.abc import Sequence

from harmonia.definitions.country import GOLDEN_ATTRIBUTES
from harmonia.sql import literal

#: The customer columns a cycle reads and sinks show, in order.
CUSTOMER_COLUMNS = (
    "id",
    "country",
    "type",
    "first_name",
    "last_name",
    "specialty",
    "postal_code",
    "city",
    "territory",
)
#: Those of them a golden record holds.
OVERLAID = tuple(column for column in CUSTOMER_COLUMNS if column in GOLDEN_ATTRIBUTES)


def customer_values_sql(
    where: str = "TRUE", *, customer: str = "customer", golden: str = "golden_value"
) -> str:
    """SQL: :data:`CUSTOMER_COLUMNS` of the customers matching ``where`` (over ``c``),
    each golden attribute (:data:`OVERLAID`) the person's golden value where they have
    one, else the row's.

    Only persons with a golden record have ``golden_value`` rows (a few in a
    hundred): their pivot is small, and the join leaves every other row as it is.
    """
    pivot = ", ".join(
        f"MAX(CASE WHEN g.attribute = {literal(a)} THEN g.value END) AS {a}" for a in OVERLAID
    )
    values = ", ".join(
        f"COALESCE(golden.{a}, c.{a}) AS {a}" if a in OVERLAID else f"c.{a}"
        for a in CUSTOMER_COLUMNS
    )
    return (
        f"SELECT {values} FROM {customer} c LEFT JOIN ("
        f"SELECT g.customer_id, {pivot} FROM {golden} g GROUP BY g.customer_id"
        f") golden ON golden.customer_id = c.id WHERE {where}"
    )


def given_later_sql(batches: Sequence[int], country: str) -> str:
    """SQL: how many persons of ``country`` have a golden value given by a load batch
    outside ``batches`` (an input snapshot's).

    Why: a run as of a snapshot reads golden values as they are now (ranking
    the history of the snapshot's batches for each person would double a
    cycle's reading); these persons' values may not be the snapshot's, and
    the run says how many.
    """
    snapshot = ", ".join(str(int(b)) for b in batches) or "NULL"
    return (
        "SELECT COUNT(DISTINCT g.customer_id) AS n FROM golden_value g "
        f"JOIN customer c ON c.id = g.customer_id WHERE c.country = {literal(country)} "
        f"AND g.batch_id NOT IN ({snapshot})"
    )
