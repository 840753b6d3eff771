"""``generate()``: a synthetic universe as batches of canonical records.

Blocks of :data:`~harmonia_synthetic.universe.BLOCK_SIZE` customers are
generated one at a time and cut into chunks of ``chunk_size`` customers, so
memory stays bounded by a chunk plus a block whatever the size of the
universe, and the rows do not depend on the chunk size.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa

from harmonia import RECORD_KINDS, Batch, IdentifierScheme, Questionnaire
from harmonia_synthetic.customers import customer_block
from harmonia_synthetic.faults import customer_faults, metric_faults, response_faults
from harmonia_synthetic.metrics import metric_rows
from harmonia_synthetic.responses import response_rows
from harmonia_synthetic.universe import BLOCK_SIZE, Universe

DEFAULT_CHUNK_SIZE = 250_000


def generate(
    customers: int,
    *,
    seed: int = 42,
    country: str = "FR",
    therapy_area: str = "oncology",
    period: str = "2027-H1",
    questionnaire: Questionnaire | None = None,
    identifier_schemes: Sequence[IdentifierScheme] = (),
    coverage: float = 0.3,
    error_rate: float = 0.0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[Batch]:
    """A synthetic universe of ``customers`` customers as canonical batches.

    Yields, chunk by chunk of ``chunk_size`` customers, one batch per kind:
    ``customers``, ``metrics`` and (with a ``questionnaire``) ``responses``,
    with exactly the canonical columns plus ``_row``, the 1-based row number
    within the kind over the whole universe. The same parameters give the same
    rows, whatever the ``chunk_size``.

    ``identifier_schemes``: HCPs get the first scheme the generator can fill
    (a fixed-length run of digits, see :mod:`~harmonia_synthetic.identifiers`),
    HCOs the second; ``coverage`` is the share of HCPs who answered the
    questionnaire; ``error_rate`` the share of rows spoiled on purpose.
    Raises ``ValueError`` for parameters out of range, before generating anything.
    """
    universe = Universe.build(
        customers,
        seed=seed,
        country=country,
        therapy_area=therapy_area,
        period=period,
        questionnaire=questionnaire,
        identifier_schemes=identifier_schemes,
        coverage=coverage,
        error_rate=error_rate,
    )
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    return (batch for chunk in chunks(universe, chunk_size) for batch in chunk)


def chunks(universe: Universe, chunk_size: int) -> Iterator[list[Batch]]:
    """The universe chunk by chunk: for each, one batch per kind."""
    rows = dict.fromkeys(RECORD_KINDS, 0)
    blocks = _Blocks(universe)
    for start in range(0, universe.customers, chunk_size):
        batches = []
        for kind, table in blocks.rows(start, min(universe.customers, start + chunk_size)).items():
            first = rows[kind] + 1
            rows[kind] += table.num_rows
            numbered = table.append_column("_row", pa.array(np.arange(first, rows[kind] + 1)))
            columns = [*RECORD_KINDS[kind].column_names, "_row"]
            batches.append(Batch(kind, numbered.select(columns), _location(universe, kind)))
        yield batches


def block_tables(universe: Universe, block: int) -> dict[str, pa.Table]:
    """Every kind's rows for the customers of one block, with their ``_customer`` positions."""
    streams = universe.streams(block)
    customers = customer_block(universe, *universe.block_range(block), streams["customers"])
    tables = {
        "customers": customers.table,
        "metrics": metric_rows(universe, customers, streams["metrics"]),
    }
    responses = response_rows(universe, customers, streams["responses"])
    if responses is not None:
        tables["responses"] = responses
    if universe.error_rate > 0:
        tables["customers"] = customer_faults(
            universe, tables["customers"], streams["customer_faults"]
        )
        tables["metrics"] = metric_faults(universe, tables["metrics"], streams["metric_faults"])
        if responses is not None:
            tables["responses"] = response_faults(universe, responses, streams["response_faults"])
    return tables


class _Blocks:
    """Cuts customer ranges out of blocks, keeping the last block for the next chunk."""

    def __init__(self, universe: Universe):
        self.universe = universe
        self._index = -1
        self._tables: dict[str, tuple[pa.Table, np.ndarray]] = {}

    def rows(self, start: int, stop: int) -> dict[str, pa.Table]:
        """Each kind's rows of the customers at positions ``[start, stop)``."""
        parts: dict[str, list[pa.Table]] = {}
        for block in range(start // BLOCK_SIZE, (stop - 1) // BLOCK_SIZE + 1):
            for kind, (table, positions) in self._block(block).items():
                low, high = np.searchsorted(positions, [start, stop])
                parts.setdefault(kind, []).append(table.slice(low, high - low))
        return {kind: pa.concat_tables(tables) for kind, tables in parts.items()}

    def _block(self, block: int) -> dict[str, tuple[pa.Table, np.ndarray]]:
        if block != self._index:
            tables = block_tables(self.universe, block)
            self._tables = {
                kind: (table, table["_customer"].to_numpy()) for kind, table in tables.items()
            }
            self._index = block
        return self._tables


def _location(universe: Universe, kind: str) -> str:
    return f"synthetic:{kind} (seed {universe.seed}, {universe.customers} customers)"
