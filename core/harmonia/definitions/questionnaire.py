"""Profiling questionnaires: items, options with scores, skip logic, scoring.

A questionnaire version is complete on its own: its items, the option scores,
and the profile dimensions scored from them. A later version names the
version before it and maps its items to that version's items; answers given
to an older version are scored with the older version's definition, and a
dimension whose items do not all map is *not comparable* for those answers
(never silently mis-scored).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import attrs

from harmonia.definitions.common import (
    Scalar,
    Translated,
    check_name,
    check_slug,
    check_translations,
    check_unique,
)
from harmonia.errors import Problem
from harmonia.records import Provenance, provenance_field

ITEM_TYPES = ("single", "multiple", "integer", "decimal", "scale", "boolean", "date", "text")
#: Item types whose answers are option codes.
CHOICE_TYPES = ("single", "multiple")
#: Item types whose answers are numbers (and score as themselves).
NUMERIC_TYPES = ("integer", "decimal", "scale")
OPERATORS = ("=", "!=", ">", ">=", "<", "<=", "exists")


@attrs.frozen
class AnswerOption:
    """An option of a choice item; ``score`` feeds profile dimensions."""

    code: str
    text: Translated
    score: float | None = None


@attrs.frozen
class EnableWhen:
    """Skip logic: the item is enabled when ``item``'s answer meets the condition."""

    item: str
    operator: str = "="
    answer: Scalar | None = None


@attrs.frozen
class Item:
    """One question. Choice items have ``options``; numeric items may have bounds."""

    id: str
    type: str
    text: Translated
    help: Translated | None = None
    group: str | None = None
    required: bool = False
    options: tuple[AnswerOption, ...] = ()
    min: float | None = None
    max: float | None = None
    unit: str | None = None
    enable_when: tuple[EnableWhen, ...] = ()
    enable_behavior: Literal["all", "any"] = "all"

    def option(self, code: str) -> AnswerOption | None:
        return next((option for option in self.options if option.code == code), None)


@attrs.frozen
class Group:
    id: str
    title: Translated


@attrs.frozen
class Band:
    """Scores from ``min`` to ``max`` (both inclusive) map to ``level``."""

    level: str
    min: float
    max: float


@attrs.frozen
class ProfileDimension:
    """A profile dimension scored from items, e.g. adoption stage.

    ``method`` combines item scores (``sum``, ``mean`` or ``max``). The
    ``missing`` policy says what an unanswered item does: ``unknown`` makes
    the whole dimension unknown, ``zero`` counts it as 0, ``partial`` scores
    over the answered items (unknown when none is answered).
    """

    name: str
    items: tuple[str, ...]
    bands: tuple[Band, ...]
    method: Literal["sum", "mean", "max"] = "sum"
    missing: Literal["unknown", "zero", "partial"] = "partial"
    description: str = ""

    @property
    def levels(self) -> tuple[str, ...]:
        return tuple(band.level for band in self.bands)

    def level(self, score: float | None) -> str | None:
        if score is None:
            return None
        return next((band.level for band in self.bands if band.min <= score <= band.max), None)


@attrs.frozen
class VersionLink:
    """How this version's items map to the previous version's (new id -> old id)."""

    version: str
    items: dict[str, str] = attrs.Factory(dict)


@attrs.frozen
class Questionnaire:
    """A profiling questionnaire version of a therapy area."""

    id: str
    therapy_area: str
    version: str
    languages: tuple[str, ...]
    title: Translated
    items: tuple[Item, ...]
    dimensions: tuple[ProfileDimension, ...] = ()
    groups: tuple[Group, ...] = ()
    previous: VersionLink | None = None
    description: str = ""
    provenance: Provenance | None = provenance_field()

    @property
    def key(self) -> tuple[str, str]:
        return (self.id, self.version)

    def item(self, item_id: str) -> Item | None:
        return next((item for item in self.items if item.id == item_id), None)

    def dimension(self, name: str) -> ProfileDimension | None:
        return next((dimension for dimension in self.dimensions if dimension.name == name), None)

    def problems(self) -> Iterator[Problem]:
        yield from check_slug("id", self.id)
        yield from check_slug("therapy_area", self.therapy_area)
        if not self.languages:
            yield Problem("languages", "declare at least one language")
        yield from check_translations("title", self.title, self.languages)
        yield from check_unique("items", (item.id for item in self.items), "item")
        groups = {group.id for group in self.groups}
        for index, group in enumerate(self.groups):
            yield from check_translations(f"groups[{index}].title", group.title, self.languages)
        items = {item.id: item for item in self.items}
        for index, item in enumerate(self.items):
            yield from _item_problems(f"items[{index}]", item, items, groups, self.languages)
        yield from check_unique(
            "dimensions", (dimension.name for dimension in self.dimensions), "dimension"
        )
        for index, dimension in enumerate(self.dimensions):
            yield from _dimension_problems(f"dimensions[{index}]", dimension, items)
        if self.previous is not None:
            for new_id in self.previous.items:
                if new_id not in items:
                    yield Problem(
                        f"previous.items.{new_id}", f"{new_id!r} is not an item of this version"
                    )


def _item_problems(
    path: str, item: Item, items: dict[str, Item], groups: set[str], languages: tuple[str, ...]
) -> Iterator[Problem]:
    yield from check_name(f"{path}.id", item.id)
    if item.type not in ITEM_TYPES:
        yield Problem(f"{path}.type", f"{item.type!r} is not one of {list(ITEM_TYPES)}")
    yield from check_translations(f"{path}.text", item.text, languages)
    if item.help is not None:
        yield from check_translations(f"{path}.help", item.help, languages)
    if item.group is not None and item.group not in groups:
        yield Problem(f"{path}.group", f"group {item.group!r} is not declared in groups")
    if item.type in CHOICE_TYPES and not item.options:
        yield Problem(f"{path}.options", f"a {item.type} item needs options")
    if item.type not in CHOICE_TYPES and item.options:
        yield Problem(f"{path}.options", f"a {item.type} item takes no options")
    yield from check_unique(f"{path}.options", (option.code for option in item.options), "option")
    for index, option in enumerate(item.options):
        yield from check_translations(f"{path}.options[{index}].text", option.text, languages)
    if item.type == "scale" and (item.min is None or item.max is None):
        yield Problem(path, "a scale item needs min and max, e.g. 1 and 5")
    if item.min is not None and item.max is not None and item.min > item.max:
        yield Problem(path, f"min {item.min} is above max {item.max}")
    for index, condition in enumerate(item.enable_when):
        where = f"{path}.enable_when[{index}]"
        if condition.item not in items:
            yield Problem(
                f"{where}.item", f"{condition.item!r} is not an item of this questionnaire"
            )
        elif condition.item == item.id:
            yield Problem(f"{where}.item", "an item cannot depend on itself")
        if condition.operator not in OPERATORS:
            yield Problem(
                f"{where}.operator", f"{condition.operator!r} is not one of {list(OPERATORS)}"
            )
        source = items.get(condition.item)
        if (
            source is not None
            and source.type in CHOICE_TYPES
            and condition.operator in ("=", "!=")
            and source.option(str(condition.answer)) is None
        ):
            yield Problem(
                f"{where}.answer",
                f"{condition.answer!r} is not an option of {condition.item!r} "
                f"{[option.code for option in source.options]}",
            )


def _dimension_problems(
    path: str, dimension: ProfileDimension, items: dict[str, Item]
) -> Iterator[Problem]:
    yield from check_name(f"{path}.name", dimension.name)
    if not dimension.items:
        yield Problem(f"{path}.items", "a dimension needs at least one item")
    for index, item_id in enumerate(dimension.items):
        item = items.get(item_id)
        if item is None:
            yield Problem(
                f"{path}.items[{index}]", f"{item_id!r} is not an item of this questionnaire"
            )
        elif item.type in ("date", "text"):
            yield Problem(f"{path}.items[{index}]", f"{item.type} item {item_id!r} has no score")
        elif item.type in CHOICE_TYPES and any(option.score is None for option in item.options):
            yield Problem(f"{path}.items[{index}]", f"item {item_id!r} has options without a score")
    if not dimension.bands:
        yield Problem(f"{path}.bands", "a dimension needs bands mapping scores to levels")
    yield from check_unique(f"{path}.bands", dimension.levels, "level")
    ordered = sorted(dimension.bands, key=lambda band: band.min)
    for band in ordered:
        if band.min > band.max:
            yield Problem(
                f"{path}.bands", f"band {band.level!r} has min {band.min} above max {band.max}"
            )
    for lower, upper in zip(ordered, ordered[1:], strict=False):
        if upper.min <= lower.max:
            yield Problem(f"{path}.bands", f"bands {lower.level!r} and {upper.level!r} overlap")
