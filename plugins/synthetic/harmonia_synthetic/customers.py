"""Customers of one block, with the latent traits metrics and answers are drawn from.

Two hidden traits drive everything a customer does: a yearly *potential*
(heavy-tailed: a fifth of the customers hold most of it) and an *adoption*
propensity (standard normal). Prescriptions, calls and questionnaire answers
all follow from them, so that the segmentation has something real to find.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harmonia_synthetic import reference
from harmonia_synthetic.columns import choose, constant, customer_ids, pick
from harmonia_synthetic.universe import Universe

HCO_SHARE = 0.05
#: Spread of log-potential within a specialty; with the specialty mix this puts
#: roughly three quarters of the potential in the top fifth of customers.
POTENTIAL_SIGMA = 1.2
#: How much of a customer's potential goes with their adoption propensity.
POTENTIAL_ADOPTION_CORRELATION = 0.35
#: Centre and scale of log-potential where it drives calls and answers.
LOG_POTENTIAL_CENTRE = np.log(800.0)
LOG_POTENTIAL_SCALE = 1.6


@dataclass(frozen=True)
class CustomerBlock:
    """The customers of one block: their table and the traits behind it."""

    positions: np.ndarray
    ids: pa.Array
    hco: np.ndarray
    territory: np.ndarray
    prescribes: np.ndarray
    adoption: np.ndarray
    potential: np.ndarray
    table: pa.Table

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def relative_potential(self) -> np.ndarray:
        """Log-potential on a fixed scale (about -2 to 3), the same in every block."""
        return (np.log(self.potential + 1.0) - LOG_POTENTIAL_CENTRE) / LOG_POTENTIAL_SCALE

    @property
    def affinity(self) -> np.ndarray:
        """How favourable a customer's answers lean: adoption and potential together."""
        return 0.6 * self.adoption + 0.4 * self.relative_potential


def customer_block(
    universe: Universe, start: int, stop: int, rng: np.random.Generator
) -> CustomerBlock:
    """Customers at positions ``[start, stop)``; every draw covers the whole block."""
    count = stop - start
    positions = np.arange(start, stop, dtype=np.int64)
    mix = universe.mix
    hco = rng.random(count) < HCO_SHARE
    specialty = np.where(
        hco,
        len(mix.hcp) + choose(rng, [s.share for s in mix.hco], count),
        choose(rng, [s.share for s in mix.hcp], count),
    )
    specialties = mix.hcp + mix.hco
    adoption = rng.standard_normal(count)
    potential = _potential(rng, adoption, np.array([s.potential for s in specialties])[specialty])
    territory = rng.integers(0, len(universe.territories), count)
    ids = customer_ids(positions, universe.id_width)
    columns = {
        "customer_id": ids,
        "country": constant(universe.country, count),
        "type": pick(("HCP", "HCO"), hco.astype(np.int64)),
        **_names_and_places(universe, rng, hco),
        "specialty": pick([s.code for s in specialties], specialty),
        "territory": pick(universe.territories, territory),
        **_identifiers(universe, positions, hco),
        # Contact details and objections are left empty: one source has no
        # duplicates to find (benchmarks/bench_master.py makes two sources).
        **{
            column: pa.nulls(count, pa.string())
            for column in ("address", "phone", "email", "objection")
        },
        "_customer": pa.array(positions),
    }
    return CustomerBlock(
        positions=positions,
        ids=ids,
        hco=hco,
        territory=territory,
        prescribes=np.array([s.prescribes for s in specialties])[specialty],
        adoption=adoption,
        potential=potential,
        table=pa.table(columns),
    )


def _potential(rng: np.random.Generator, adoption: np.ndarray, median: np.ndarray) -> np.ndarray:
    """Lognormal around the specialty's median, partly driven by adoption, to the cent."""
    rho = POTENTIAL_ADOPTION_CORRELATION
    spread = rho * adoption + np.sqrt(1 - rho**2) * rng.standard_normal(len(adoption))
    return np.round(median * np.exp(POTENTIAL_SIGMA * spread), 2)


def _names_and_places(
    universe: Universe, rng: np.random.Generator, hco: np.ndarray
) -> dict[str, pa.Array]:
    count = len(hco)
    language = universe.language
    if language == "fr":
        first_names, last_names = reference.FRENCH_FIRST_NAMES, reference.FRENCH_LAST_NAMES
    else:
        first_names, last_names = reference.ENGLISH_FIRST_NAMES, reference.ENGLISH_LAST_NAMES
    places = reference.cities(universe.country)
    place = choose(rng, [weight for _, _, weight in places], count)
    city = pick([name for _, name, _ in places], place)
    first = rng.integers(0, len(first_names), count)
    last = rng.integers(0, len(last_names), count)
    template = rng.integers(0, len(reference.HCO_TEMPLATES[language]), count)
    before, after = zip(*(t.split("{}") for t in reference.HCO_TEMPLATES[language]), strict=True)
    organisation = pc.binary_join_element_wise(
        pick(before, template), city, pick(after, template), ""
    )
    return {
        "first_name": pick(first_names, first, valid=~hco),
        "last_name": pc.if_else(pa.array(hco), organisation, pick(last_names, last)),
        "postal_code": pick([code for code, _, _ in places], place),
        "city": city,
    }


def _identifiers(universe: Universe, positions: np.ndarray, hco: np.ndarray) -> dict[str, pa.Array]:
    """HCPs get the first fillable scheme, HCOs the second; the others stay empty."""
    names: list[str] = []
    pieces: list[pa.Array] = []
    # Each row points into the concatenated pieces; rows without a scheme at the final null.
    pointer = np.full(len(positions), -1, dtype=np.int64)
    scheme = np.full(len(positions), -1, dtype=np.int64)
    filled = 0
    for codec, members in ((universe.hcp_ids, ~hco), (universe.hco_ids, hco)):
        if codec is None:
            continue
        rows = np.flatnonzero(members)
        pieces.append(codec.values(positions[rows]))
        pointer[rows] = filled + np.arange(len(rows))
        scheme[rows] = len(names)
        names.append(codec.scheme.name)
        filled += len(rows)
    values = pa.concat_arrays([*pieces, pa.nulls(1, pa.string())])
    pointer[pointer < 0] = filled
    known = scheme >= 0
    return {
        "id_scheme": pick(names or [""], np.maximum(scheme, 0), valid=known),
        "id_value": values.take(pa.array(pointer)),
    }
