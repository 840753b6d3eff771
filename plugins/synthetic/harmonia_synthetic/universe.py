"""The parameters of one synthetic universe, validated once and shared by every block.

A universe is generated in fixed blocks of :data:`BLOCK_SIZE` customers, each
with its own random streams derived from ``(seed, block)``. That is what makes
the output a function of the parameters alone: the same seed and size give
the same rows whatever ``chunk_size`` the caller asks for, and a block can be
generated without knowing any other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from harmonia import IdentifierScheme, Period, Questionnaire
from harmonia_synthetic import reference
from harmonia_synthetic.identifiers import IdentifierCodec, codecs_for

#: Customers per generation block: big enough for numpy, small enough for memory.
BLOCK_SIZE = 50_000
#: One territory per this many customers (at least :data:`MIN_TERRITORIES`).
CUSTOMERS_PER_TERRITORY = 400
MIN_TERRITORIES = 5
#: Random streams of a block, one per concern, so that adding a questionnaire or
#: faults never changes the customers or metrics of the same seed.
STREAMS = (
    "customers",
    "metrics",
    "responses",
    "customer_faults",
    "metric_faults",
    "response_faults",
)


@dataclass(frozen=True)
class Universe:
    """Validated parameters of a universe and the constants derived from them."""

    customers: int
    seed: int
    country: str
    therapy_area: str
    period: Period
    questionnaire: Questionnaire | None
    hcp_ids: IdentifierCodec | None
    hco_ids: IdentifierCodec | None
    coverage: float
    error_rate: float

    @classmethod
    def build(
        cls,
        customers: int,
        *,
        seed: int,
        country: str,
        therapy_area: str,
        period: str,
        questionnaire: Questionnaire | None,
        identifier_schemes: Sequence[IdentifierScheme],
        coverage: float,
        error_rate: float,
    ) -> Universe:
        """Check the parameters; raises ``ValueError`` saying what is wrong and what is allowed."""
        if customers < 1:
            raise ValueError(f"customers must be at least 1, got {customers}")
        if seed < 0:
            raise ValueError(f"seed must be zero or positive, got {seed}")
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise ValueError(f"country {country!r} is not an ISO 3166 alpha-2 code such as FR")
        for name, share in (("coverage", coverage), ("error_rate", error_rate)):
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} is a share between 0 and 1, got {share}")
        # HCPs get the first scheme the generator can fill, HCOs the second.
        codecs = codecs_for(identifier_schemes, seed=seed, capacity=customers, limit=2)
        return cls(
            customers=customers,
            seed=seed,
            country=country,
            therapy_area=therapy_area,
            period=Period.parse(period),
            questionnaire=questionnaire,
            hcp_ids=codecs[0] if codecs else None,
            hco_ids=codecs[1] if len(codecs) > 1 else None,
            coverage=coverage,
            error_rate=error_rate,
        )

    # -- derived constants ----------------------------------------------------------

    @property
    def language(self) -> str:
        return reference.language(self.country)

    @property
    def mix(self) -> reference.TherapyAreaMix:
        return reference.therapy_area_mix(self.therapy_area)

    @property
    def id_width(self) -> int:
        """Digits of a customer id: ``C0000001``, one more digit past 9,999,999."""
        return max(7, len(str(self.customers)))

    @cached_property
    def territories(self) -> tuple[str, ...]:
        count = max(MIN_TERRITORIES, round(self.customers / CUSTOMERS_PER_TERRITORY))
        width = max(3, len(str(count)))
        return tuple(f"{self.country}-T{number:0{width}d}" for number in range(1, count + 1))

    @property
    def potential_period(self) -> str:
        """Potential describes the full year before the cycle's period."""
        return str(self.period.start.year - 1)

    @property
    def trx_periods(self) -> tuple[str, ...]:
        """The last 8 quarters up to the cycle's period, oldest first."""
        return tuple(str(quarter) for quarter in self.period.trailing("quarter", 8))

    @property
    def call_periods(self) -> tuple[str, ...]:
        return self.trx_periods[-4:]

    def block_range(self, block: int) -> tuple[int, int]:
        """Positions ``[start, stop)`` of the customers in ``block``."""
        return block * BLOCK_SIZE, min(self.customers, (block + 1) * BLOCK_SIZE)

    def streams(self, block: int) -> dict[str, np.random.Generator]:
        """The independent random streams of one block."""
        sequence = np.random.SeedSequence([self.seed, 0, block])
        return {
            name: np.random.default_rng(child)
            for name, child in zip(STREAMS, sequence.spawn(len(STREAMS)), strict=True)
        }
