"""Engagement strategies: what each segment gets (channels, frequency, messages, cost)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import attrs

from harmonia.definitions.common import check_name, check_slug, check_unique
from harmonia.errors import Problem
from harmonia.provenance import Provenance, provenance_field

CHANNELS = ("face_to_face", "remote", "phone", "email", "event", "web", "sample")


@attrs.frozen
class ChannelPlan:
    """Contacts per year on one channel, and what one contact costs."""

    channel: str
    per_year: float
    cost: float = 0.0


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

    therapy_area: str
    segment: str
    name: str
    channels: tuple[ChannelPlan, ...] = ()
    variant: str = "standard"
    messages: tuple[str, ...] = ()
    experience: str = ""
    target: bool = True
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
            yield from check_name(f"channels[{index}].channel", plan.channel)
            if plan.channel not in CHANNELS:
                yield Problem(
                    f"channels[{index}].channel", f"{plan.channel!r} is not one of {list(CHANNELS)}"
                )
            if plan.per_year < 0 or plan.cost < 0:
                yield Problem(f"channels[{index}]", "frequency and cost cannot be negative")
        if self.target and not self.channels:
            yield Problem("channels", "a targeted segment needs at least one channel")
