"""Response curves as numbers: responses, and the gain of each further contact.

A curve describes a yearly response to yearly contacts. A cycle plans one
period (``share`` of a year): ``x`` contacts in the period are ``x / share``
a year, and the period earns ``share`` of the yearly revenue. Customers are
weighted (their potential relative to their segment's average), and a
customer's revenue is ``weight x share x revenue_per_unit x R(x / share)``.
"""

from __future__ import annotations

import numpy as np

from harmonia.definitions.strategy import ResponseCurve


def response(curve: ResponseCurve, yearly: np.ndarray | float, scale: float = 1.0) -> np.ndarray:
    """Response to ``yearly`` contacts; ``scale`` multiplies the lift above the minimum
    (a market's ``response_scale``)."""
    x = np.asarray(yearly, dtype=float)
    if curve.family == "exponential":
        fraction = 1.0 - np.exp2(-x / curve.half_saturation)
    else:
        powered = x**curve.shape
        fraction = powered / (curve.half_saturation**curve.shape + powered)
    return curve.minimum + scale * (curve.maximum - curve.minimum) * fraction


def revenue(
    curve: ResponseCurve, contacts: np.ndarray, share: float, scale: float = 1.0
) -> np.ndarray:
    """Revenue in the period, per unit of customer weight, of ``contacts`` in the period."""
    return share * curve.revenue_per_unit * response(curve, np.asarray(contacts) / share, scale)


def gains(
    curve: ResponseCurve, low: int, high: int, share: float, scale: float = 1.0
) -> np.ndarray:
    """Revenue each contact from ``low`` to ``high`` adds, per unit of weight, made
    non-increasing.

    ``gains[j]`` is what contact ``low + j + 1`` adds. A concave curve's gains
    already fall; an S-shaped curve's first gains rise, and are replaced by
    their concave envelope (equal gains over the rising stretch and the
    contacts that pay it back) so that greedy allocation stays well defined.
    """
    steps = revenue(curve, np.arange(low, high + 1, dtype=float), share, scale)
    return non_increasing(np.diff(steps))


def non_increasing(values: np.ndarray) -> np.ndarray:
    """The increments of the least concave majorant of their running sum.

    Pool-adjacent-violators: neighbouring blocks whose mean rises are merged
    into their mean. The arrays are short (contacts of one period), so a loop
    is fine here.
    """
    blocks: list[list[float]] = []  # [mean, length]
    for value in values.tolist():
        blocks.append([value, 1.0])
        while len(blocks) > 1 and blocks[-2][0] < blocks[-1][0]:
            mean, length = blocks.pop()
            before = blocks[-1]
            total = before[0] * before[1] + mean * length
            before[1] += length
            before[0] = total / before[1]
    return np.array(
        [mean for mean, length in blocks for _ in range(int(length))], dtype=float
    ).reshape(-1)
