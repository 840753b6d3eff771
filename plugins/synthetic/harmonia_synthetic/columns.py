"""Building Arrow text columns from numpy indices, without a Python loop per row."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def pick(
    values: Sequence[str] | pa.Array, index: np.ndarray, valid: np.ndarray | None = None
) -> pa.Array:
    """``values[index]`` as a text column; rows where ``valid`` is false are null."""
    dictionary = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    mask = None if valid is None else ~valid
    return pc.take(dictionary, pa.array(index, pa.int64(), mask=mask))


def constant(value: str, length: int) -> pa.Array:
    """The same text on every row."""
    return pick((value,), np.zeros(length, dtype=np.int64))


def numbers(values: np.ndarray) -> pa.Array:
    """Numbers as text: ``3`` for whole numbers, ``1234.57`` otherwise."""
    return pc.cast(pa.array(values), pa.string())


def customer_ids(positions: np.ndarray, width: int) -> pa.Array:
    """Source ids ``C0000001``...: position 0 is ``C`` followed by 1, zero-padded."""
    return pc.binary_join_element_wise("C", pc.utf8_lpad(numbers(positions + 1), width, "0"), "")


def dates(days: np.ndarray) -> pa.Array:
    """ISO dates (``2026-05-04``) from numpy ``datetime64[D]`` values."""
    return pc.cast(pa.array(days.astype("datetime64[D]")), pa.string())


def choose(rng: np.random.Generator, weights: Sequence[float], size: int) -> np.ndarray:
    """Indices drawn with the given (unnormalised) weights."""
    cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
    draws = rng.random(size) * cumulative[-1]
    return np.minimum(np.searchsorted(cumulative, draws, side="right"), len(cumulative) - 1)


def sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-values))
