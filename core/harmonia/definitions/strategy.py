"""Engagement strategies: what each segment gets (channels, frequency, messages, cost).

A channel may declare how customers of the segment respond to its contacts
(a :class:`ResponseCurve`); the strategy planner then allocates contacts
between the channel's minimum and maximum frequency by marginal profit,
within the field force's capacity and the channel's budget. A channel without
a curve keeps its fixed frequency.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import ClassVar, Literal

import attrs

from harmonia.definitions.common import check_name, check_slug, check_unique
from harmonia.errors import Problem
from harmonia.provenance import Provenance, provenance_field

CHANNELS = ("face_to_face", "remote", "phone", "email", "event", "web", "sample")

#: Channels limited by the field force's time (reps x days x calls a day) and by
#: the events a territory can hold; every other channel is limited by its budget.
FIELD_CHANNELS = ("face_to_face", "event")

#: Actuals are metrics, loaded like any other (``harmonia load``, quarantined and
#: batched by the loader): the contacts each customer got per channel in a period,
#: and their sales in the pro forma's currency. Calls are the metric the
#: opportunity indices already read as activity.
ACTUAL_CONTACT_METRICS = {
    channel: "calls" if channel == "face_to_face" else f"{channel}_contacts" for channel in CHANNELS
}
ACTUAL_SALES_METRIC = "revenue"
ACTUAL_METRICS = frozenset({*ACTUAL_CONTACT_METRICS.values(), ACTUAL_SALES_METRIC})

#: A response curve's shape above which it is S-shaped (convex at first).
CONCAVE_SHAPE = 1.0


@attrs.frozen
class ResponseCurve:
    """How a customer's yearly response grows with yearly contacts on one channel.

    ``family = "adbudg"`` is Little's ADBUDG ``b + (a - b) x^c / (d + x^c)``
    with ``b = minimum``, ``a = maximum``, ``c = shape`` and
    ``d = half_saturation ^ shape``: the Hill curve of today's media-mix
    models, written so that ``half_saturation`` is the number of contacts a
    year that reaches half the lift from minimum to maximum.
    ``family = "exponential"`` is ``a - (a - b) 2^(-x / half_saturation)``
    (always concave; ``shape`` unused).

    Response is in units a therapy area chooses (treated patients a year,
    prescriptions); ``revenue_per_unit`` turns it into revenue. Responses of
    a segment's channels add up, so the response without any promotion is the
    ``minimum`` of one channel (face-to-face, by convention) and 0 elsewhere.
    A curve with ``shape <= 1`` is concave and the planner's allocation is
    exact; an S-shaped one (``shape > 1``) is planned on its concave envelope.
    """

    #: ``adbudg`` (Hill curve, S-shaped when ``shape > 1``) or ``exponential``.
    family: Literal["adbudg", "exponential"] = "adbudg"
    #: Response a year without contacts on the channel.
    minimum: float = 0.0
    #: Response a year with unlimited contacts (saturation).
    maximum: float = 1.0
    #: Steepness of the ADBUDG curve (``c``); unused by ``exponential``.
    shape: float = 1.0
    #: Contacts a year that reach half the lift from minimum to maximum.
    half_saturation: float = 1.0
    #: Revenue of one unit of response, in the pro forma's currency.
    revenue_per_unit: float = 0.0

    def problems(self) -> Iterator[Problem]:
        for name in ("minimum", "maximum", "shape", "half_saturation", "revenue_per_unit"):
            value = getattr(self, name)
            if not math.isfinite(value):
                yield Problem(name, f"{value} is not a finite number")
        if self.minimum < 0:
            yield Problem("minimum", f"{self.minimum} is negative: a response cannot be")
        if self.maximum < 0:
            yield Problem("maximum", f"{self.maximum} is negative: a response cannot be")
        elif self.maximum < self.minimum:
            yield Problem(
                "maximum",
                f"{self.maximum} is below the minimum {self.minimum}: more contacts cannot "
                "lower the response",
            )
        if self.shape <= 0 or self.shape > 5:
            yield Problem("shape", f"{self.shape} is outside (0, 5]")
        if self.half_saturation <= 0:
            yield Problem("half_saturation", f"{self.half_saturation} must be above 0 contacts")
        if self.revenue_per_unit < 0:
            yield Problem("revenue_per_unit", f"{self.revenue_per_unit} is negative")


@attrs.frozen
class ChannelPlan:
    """Contacts per year on one channel, and what one contact costs.

    ``per_year`` is the strategy's frequency. With a ``response`` curve the
    planner chooses each customer's contacts between ``min_per_year``
    (default 0) and ``max_per_year`` (default ``per_year``); without one,
    every customer of the segment gets ``per_year``.
    """

    #: One of ``face_to_face``, ``remote``, ``phone``, ``email``, ``event``, ``web``, ``sample``.
    channel: str
    #: Contacts a year per customer (scaled by the country's ``frequency_scale``).
    per_year: float
    #: Cost of one contact, in the market's currency (harmonia converts nothing:
    #: a country's pack declares its costs in its own currency).
    cost: float = 0.0
    #: Fewest contacts a year the planner may give (with a response curve).
    min_per_year: float | None = None
    #: Most contacts a year the planner may give (with a response curve).
    max_per_year: float | None = None
    #: How response grows with contacts; the strategy planner uses it.
    response: ResponseCurve | None = None

    @property
    def low(self) -> float:
        """Fewest contacts a year the planner may give a customer."""
        if self.response is None:
            return self.per_year
        return self.min_per_year if self.min_per_year is not None else 0.0

    @property
    def high(self) -> float:
        """Most contacts a year the planner may give a customer."""
        if self.response is None:
            return self.per_year
        return self.max_per_year if self.max_per_year is not None else self.per_year


@attrs.frozen
class EngagementStrategy:
    """The engagement strategy of one segment of a therapy area.

    ``variant`` lets a therapy area offer alternatives (``standard``,
    ``digital-first`` ...) among which a country chooses. Customers of a
    segment with ``target = false`` get no call plan and stay off the target
    list. Frequencies are per year; a cycle's call plan scales them to the
    cycle's period and the country's ``frequency_scale`` parameter.
    """

    #: The key of an array of them in one file (``[[strategies]]``).
    PLURAL: ClassVar[str] = "strategies"

    #: The therapy area whose segment this is.
    therapy_area: str
    #: The segment of the area's rule set the strategy serves. ``no_segment``
    #: (optional) serves the customers the rule set leaves unsegmented; without it
    #: they are not targeted, planned or costed.
    segment: str
    #: The strategy's name, shown on target lists (``Champion: partner ...``).
    name: str
    #: The contacts a year on each channel.
    channels: tuple[ChannelPlan, ...] = ()
    #: The variant it belongs to; a country chooses one per area.
    variant: str = "standard"
    #: The key messages for the segment.
    messages: tuple[str, ...] = ()
    #: The experience the customer should have, in one sentence.
    experience: str = ""
    #: Whether the segment's customers are targeted (false: no call plan, off the target list).
    target: bool = True
    #: Revenue a customer of the segment is expected to bring in a year (pro forma).
    expected_revenue: float = 0.0
    provenance: Provenance | None = provenance_field()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.therapy_area, self.variant, self.segment)

    def problems(self) -> Iterator[Problem]:
        yield from check_slug("therapy_area", self.therapy_area)
        yield from check_slug("variant", self.variant)
        yield from check_unique("channels", (plan.channel for plan in self.channels), "channel")
        for index, plan in enumerate(self.channels):
            where = f"channels[{index}]"
            yield from check_name(f"{where}.channel", plan.channel)
            if plan.channel not in CHANNELS:
                yield Problem(
                    f"{where}.channel", f"{plan.channel!r} is not one of {list(CHANNELS)}"
                )
            if plan.per_year < 0 or plan.cost < 0:
                yield Problem(where, "frequency and cost cannot be negative")
            yield from _frequency_problems(where, plan)
            if plan.response is not None:
                for problem in plan.response.problems():
                    yield Problem(f"{where}.response.{problem.path}", problem.message)
        if self.target and not self.channels:
            yield Problem("channels", "a targeted segment needs at least one channel")


def _frequency_problems(where: str, plan: ChannelPlan) -> Iterator[Problem]:
    for name in ("min_per_year", "max_per_year"):
        value = getattr(plan, name)
        if value is not None and value < 0:
            yield Problem(f"{where}.{name}", f"{value} is negative")
        if value is not None and plan.response is None:
            yield Problem(
                f"{where}.{name}",
                "only a channel with a response curve is planned between a minimum and a "
                "maximum: declare its response, or leave the bound out",
            )
    if plan.response is not None and plan.low > plan.high:
        yield Problem(
            f"{where}.min_per_year",
            f"the minimum {plan.low} is above the maximum {plan.high} contacts a year",
        )
