"""Metrics of one block: potential, prescriptions (``trx``) and calls.

Every customer has a fixed set of *slots* (one potential, 8 quarters of trx,
4 quarters of calls). Values and presence are drawn as ``customers x slots``
matrices and flattened row-major, so rows come out customer by customer
without sorting.

* ``potential`` for the year before the cycle: every customer.
* ``trx``: prescribers (more likely with adoption and in prescribing
  specialties) have a row most quarters, zero in quarters they did not
  prescribe, with gaps where the data is missing; some non-prescribers report
  explicit zeros. The quarterly rate grows with potential and adoption, and
  the share of active quarters with adoption, so engagement consistency varies.
* ``nrx``: new prescriptions (starts and switches), only in therapy areas
  whose mix declares them (``nrx_share``, e.g. diabetes): in the quarters a
  customer prescribed, at a rate that grows with their patients on treatment
  and their adoption.
* ``calls``: the customers currently called on (more likely with potential),
  one row per quarter for the last four, zeros included.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from harmonia_synthetic.columns import constant, pick, sigmoid
from harmonia_synthetic.customers import CustomerBlock
from harmonia_synthetic.universe import Universe

#: Quarterly prescriptions of a customer at potential 1 (rate = scale * potential^0.9).
TRX_SCALE = 0.016
TRX_ELASTICITY = 0.9
#: Share of quarters a prescriber's data is simply missing.
TRX_GAP = 0.08
#: Share of non-prescribers whose data shows explicit zeros rather than nothing.
ZERO_REPORTERS = 0.4


def metric_rows(universe: Universe, block: CustomerBlock, rng: np.random.Generator) -> pa.Table:
    """The metrics table of a block, customer-major, with a ``_customer`` position column."""
    trx_values, trx_present = _trx(block, rng, len(universe.trx_periods))
    call_values, call_present = _calls(block, rng, len(universe.call_periods))
    values = np.hstack([block.potential[:, None], trx_values, call_values])
    present = np.hstack([np.ones((len(block), 1), dtype=bool), trx_present, call_present])
    metric_names = (
        ["potential"] + ["trx"] * len(universe.trx_periods) + ["calls"] * len(universe.call_periods)
    )
    periods = [universe.potential_period, *universe.trx_periods, *universe.call_periods]
    if universe.mix.nrx_share:
        # Drawn last, so the other metrics of a seed do not change with it.
        nrx_values = _nrx(block, rng, trx_values, universe.mix.nrx_share)
        values = np.hstack([values, nrx_values])
        present = np.hstack([present, trx_present])
        metric_names += ["nrx"] * len(universe.trx_periods)
        periods += universe.trx_periods
    slots = values.shape[1]
    cells = np.flatnonzero(present.ravel())
    customer, slot = np.divmod(cells, slots)
    return pa.table(
        {
            "customer_id": block.ids.take(pa.array(customer)),
            "therapy_area": constant(universe.therapy_area, len(cells)),
            "metric": pick(metric_names, slot),
            "period": pick(periods, slot),
            "value": pa.array(values.ravel()[cells]),
            "_customer": pa.array(block.positions[customer]),
        }
    )


def _trx(
    block: CustomerBlock, rng: np.random.Generator, quarters: int
) -> tuple[np.ndarray, np.ndarray]:
    count = len(block)
    adoption = block.adoption[:, None]
    prescriber = ~block.hco & (rng.random(count) < sigmoid(block.prescribes + 1.2 * block.adoption))
    # Early adopters grow over the two years, late adopters fade.
    trend = np.exp(0.06 * adoption * (np.arange(quarters) - quarters + 1))
    level = TRX_SCALE * block.potential**TRX_ELASTICITY * np.exp(0.5 * block.adoption)
    prescribing = prescriber[:, None] & (
        rng.random((count, quarters)) < sigmoid(0.3 + 1.3 * adoption)
    )
    values = np.zeros((count, quarters))
    # Poisson draws are the costly part: draw only where something was prescribed.
    values[prescribing] = rng.poisson((level[:, None] * trend)[prescribing])
    reports_zeros = ~block.hco & ~prescriber & (rng.random(count) < ZERO_REPORTERS)
    gaps = rng.random((count, quarters)) < TRX_GAP
    present = (prescriber[:, None] & ~gaps) | reports_zeros[:, None]
    return values, present


def _nrx(
    block: CustomerBlock, rng: np.random.Generator, trx: np.ndarray, share: float
) -> np.ndarray:
    """New prescriptions a quarter: ``share`` of the patients on treatment, tilted by adoption."""
    rate = share / 4 * block.potential * np.exp(0.5 * block.adoption - 0.5)
    values = np.zeros(trx.shape)
    prescribed = trx > 0
    values[prescribed] = rng.poisson(np.broadcast_to(rate[:, None], trx.shape)[prescribed])
    return values


def _calls(
    block: CustomerBlock, rng: np.random.Generator, quarters: int
) -> tuple[np.ndarray, np.ndarray]:
    count = len(block)
    relative = block.relative_potential
    called = rng.random(count) < sigmoid(-0.6 + 1.2 * relative)
    rate = 0.4 + 2.5 * sigmoid(relative + 0.3 * block.adoption)
    present = np.broadcast_to(called[:, None], (count, quarters))
    values = np.zeros((count, quarters))
    values[present] = rng.poisson(np.broadcast_to(rate[:, None], (count, quarters))[present])
    return values, present
