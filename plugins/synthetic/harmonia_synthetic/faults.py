"""Deliberately bad rows, so that quarantine has something to find.

An ``error_rate`` share of the rows of each kind is spoiled in place, each in
one way a real extract goes wrong:

* customers: an identifier with a wrong check digit (one digit short where
  values have no check digit), or a country code that does not exist;
* metrics: a period that does not exist (``2027-Q5``), a value that is not a
  number, or a customer id that is not in the universe;
* responses: an answer the item does not offer (a code not among the options,
  a number past the bounds, ``maybe`` for a yes/no, an impossible date), or a
  customer id that is not in the universe.

Nothing in the output says which rows are bad: finding them is the core's
job. Faults draw from their own random streams, so the clean rows of a
universe are the same with and without them. With faults, the metrics'
``value`` column is text (a typed column cannot hold ``#VALUE!``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harmonia import Item
from harmonia_synthetic.columns import constant, customer_ids, numbers, pick
from harmonia_synthetic.universe import Universe

BAD_COUNTRIES = ("XX", "ZZ", "FRA")
NOT_NUMBERS = ("#VALUE!", "n.c.", "12..5", "ten")


def customer_faults(universe: Universe, table: pa.Table, rng: np.random.Generator) -> pa.Table:
    """Customers with a broken identifier (half the bad rows that have one) or country."""
    count = table.num_rows
    bad = rng.random(count) < universe.error_rate
    on_identifier = rng.random(count) < 0.5
    bump = rng.integers(1, 10, count)
    country = rng.integers(0, len(BAD_COUNTRIES), count)
    has_identifier = table["id_value"].is_valid().to_numpy(zero_copy_only=False)
    broken = bad & on_identifier & has_identifier
    table = _replace(
        table, "id_value", broken, lambda rows: _break_identifiers(universe, table, rows, bump)
    )
    return _replace(
        table, "country", bad & ~broken, lambda rows: pick(BAD_COUNTRIES, country[rows])
    )


def metric_faults(universe: Universe, table: pa.Table, rng: np.random.Generator) -> pa.Table:
    """Metrics with a bad period, a value that is not a number, or an unknown customer."""
    count = table.num_rows
    bad = rng.random(count) < universe.error_rate
    fault = rng.integers(0, 3, count)
    text = rng.integers(0, len(NOT_NUMBERS), count)
    value = table.schema.get_field_index("value")
    table = table.set_column(value, "value", numbers(table["value"].to_numpy()))
    bad_period = f"{universe.period.start.year}-Q5"
    table = _replace(
        table, "period", bad & (fault == 0), lambda rows: constant(bad_period, len(rows))
    )
    table = _replace(table, "value", bad & (fault == 1), lambda rows: pick(NOT_NUMBERS, text[rows]))
    return _replace(
        table, "customer_id", bad & (fault == 2), lambda rows: _unknown(universe, table, rows)
    )


def response_faults(universe: Universe, table: pa.Table, rng: np.random.Generator) -> pa.Table:
    """Answers the item does not accept (half the bad rows, text aside), or unknown customers."""
    if universe.questionnaire is None:  # no questionnaire, no responses
        return table
    count = table.num_rows
    bad = rng.random(count) < universe.error_rate
    on_answer = rng.random(count) < 0.5
    items = universe.questionnaire.items
    wrong = pc.take(
        pa.array([invalid_answer(item) for item in items], pa.string()),
        pc.index_in(table["question"], value_set=pa.array([item.id for item in items])),
    )
    invalid = bad & on_answer & wrong.is_valid().to_numpy(zero_copy_only=False)
    table = _replace(table, "answer", invalid, lambda rows: wrong.take(pa.array(rows)))
    return _replace(
        table, "customer_id", bad & ~invalid, lambda rows: _unknown(universe, table, rows)
    )


def invalid_answer(item: Item) -> str | None:
    """An answer ``item`` does not accept; None for free text, which accepts anything."""
    if item.type in ("single", "multiple"):
        codes = {option.code for option in item.options}
        code = "not_offered"
        while code in codes:
            code += "_"
        return code
    if item.type in ("integer", "decimal", "scale"):
        if item.max is not None:
            return f"{item.max + 1:g}"
        return f"{item.min - 1:g}" if item.min is not None else "many"
    return {"boolean": "maybe", "date": "2026-02-30"}.get(item.type)


def _break_identifiers(
    universe: Universe, table: pa.Table, rows: np.ndarray, bump: np.ndarray
) -> pa.Array:
    """Identifiers with another check digit, or one digit short for values without one."""
    values = table["id_value"].take(pa.array(rows))
    head = pc.utf8_slice_codeunits(values, 0, -1)
    last = pc.cast(pc.utf8_slice_codeunits(values, -1), pa.int64()).to_numpy()
    other_check_digit = pc.binary_join_element_wise(head, numbers((last + bump[rows]) % 10), "")
    codecs = (universe.hcp_ids, universe.hco_ids)
    checked = pa.array([c.scheme.name for c in codecs if c and c.luhn], pa.string())
    has_checksum = pc.is_in(table["id_scheme"].take(pa.array(rows)), value_set=checked)
    return pc.if_else(has_checksum, other_check_digit, head)


def _unknown(universe: Universe, table: pa.Table, rows: np.ndarray) -> pa.Array:
    """Customer ids that look real but lie past the last customer."""
    positions = table["_customer"].to_numpy()[rows]
    return customer_ids(universe.customers + positions, universe.id_width)


def _replace(
    table: pa.Table,
    column: str,
    where: np.ndarray,
    replacement: Callable[[np.ndarray], pa.Array | pa.ChunkedArray],
) -> pa.Table:
    """``column`` with the rows in ``where`` replaced; only those rows are computed."""
    rows = np.flatnonzero(where)
    if not len(rows):
        return table
    replacements = replacement(rows)
    if isinstance(replacements, pa.ChunkedArray):
        replacements = replacements.combine_chunks()
    values = pc.replace_with_mask(table[column].combine_chunks(), pa.array(where), replacements)
    return table.set_column(table.schema.get_field_index(column), column, values)
