"""Profiling questionnaires: items, options with scores, skip logic, scoring, versions.

This module is the reference for what a questionnaire *means*; response
validation (:mod:`harmonia.questionnaires.validation`), skip logic
(:mod:`harmonia.questionnaires.skiplogic`) and profile scoring
(:mod:`harmonia.questionnaires.scoring`) implement exactly these rules in SQL,
and :mod:`harmonia.questionnaires.versions` decides which versions compare.

Items
    ``single`` and ``multiple`` choice (option codes; a multiple-choice answer
    is ``a|b``), ``integer``, ``decimal`` and ``scale`` (numbers within
    ``min``/``max``; integers and scales take whole numbers only), ``boolean``,
    ``date`` and free ``text``. Every text (title, group titles, item text and
    help, option texts, and a ``unit`` given per language) exists in each
    declared language; a missing or undeclared translation is a load error.

Skip logic (``enable_when``, as FHIR's ``enableWhen``)
    An item with conditions is *enabled* in a response when all (or, with
    ``enable_behavior = "any"``, any) of them hold over that response's other
    answers. A condition on an item that is unanswered or itself disabled is
    false, except ``exists = false``, which is then true. On a multiple-choice
    item ``=`` means "this code is among the selected" and ``!=`` "it is not"
    (the item being answered). ``>``, ``>=``, ``<`` and ``<=`` compare numbers
    and dates only. Conditions may not form a cycle.

Required
    ``required`` applies only while the item is enabled (as in FHIR): a
    disabled item is never missing, and an answer to it is an error. A
    response lacking a required enabled item is quarantined whole at ingest,
    so every stored response has its required items.

Scores
    An answered item scores: the option's score (single), the sum of the
    selected options' scores (multiple), the number itself (integer, decimal,
    scale), 1 for true and 0 for false (boolean). Date and text items have no
    score and cannot be in a dimension.

Dimensions
    A dimension combines the scores of its items by ``method`` (``sum``,
    ``mean``, ``max``). Items disabled by skip logic are *not applicable*:
    they are left out (not missing, not zero). An enabled item without an
    answer is *missing*, and the ``missing`` policy decides: ``unknown`` makes
    the dimension unknown, ``zero`` counts the item as 0 (in a mean, over the
    applicable items), ``partial`` scores over the answered items (unknown when
    none is). A response with no applicable item leaves the dimension unknown.

Bands
    A band covers scores from its ``min`` (inclusive) up to the next band's
    ``min`` (exclusive); the highest band has no upper limit. ``max`` (inclusive)
    ends a band earlier; the scores between it and the next band then have no
    level. Bands may not overlap, and every score the items can produce must
    fall in a band: the loader computes the reachable scores (exactly for
    options, booleans and small integer ranges, as intervals otherwise) and
    reports any that fall between or outside the bands. Scores are compared
    with a tolerance of 1e-9, so ``0.1 + 0.2`` lands where the author expects.

Versions
    A questionnaire version is complete on its own, and answers are scored
    with the definition of the version they were given to. A later version
    names the previous one in ``previous``; an item keeps its counterpart in
    the previous version when its id is unchanged (implicitly), or through an
    explicit rename in ``previous.items`` (new id -> old id). An item that
    keeps its id but not its meaning is listed in ``previous.unmapped``. An
    older version's answers score a dimension comparably with the newest
    version declaring it only when each of its items maps, one to one, onto
    the older version's own dimension, with the same levels and method (see
    :func:`~harmonia.questionnaires.versions.comparable_versions`); otherwise they are *not comparable* and the
    dimension stays unknown for them, never silently mis-scored.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from fractions import Fraction
from typing import ClassVar, Literal

import attrs

from harmonia.definitions.common import (
    UNKNOWN,
    Scalar,
    Translated,
    check_name,
    check_slug,
    check_translations,
    check_unique,
)
from harmonia.errors import Problem
from harmonia.provenance import Provenance, provenance_field

ITEM_TYPES = ("single", "multiple", "integer", "decimal", "scale", "boolean", "date", "text")
#: Item types whose answers are option codes.
CHOICE_TYPES = ("single", "multiple")
#: Item types whose answers are numbers (and score as themselves).
NUMERIC_TYPES = ("integer", "decimal", "scale")
#: Item types whose answers are whole numbers.
WHOLE_TYPES = ("integer", "scale")
#: Item types that have a score and may be in a dimension.
SCORED_TYPES = (*CHOICE_TYPES, *NUMERIC_TYPES, "boolean")
OPERATORS = ("=", "!=", ">", ">=", "<", "<=", "exists")
#: Operators that compare order: only numbers and dates have one.
ORDERING_OPERATORS = (">", ">=", "<", "<=")
ORDERED_TYPES = (*NUMERIC_TYPES, "date")
#: The separator of the codes of a multiple-choice answer, never part of a code.
CODE_SEPARATOR = "|"
#: Scores within this distance of a band's edge count as on the edge.
BAND_TOLERANCE = 1e-9

_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def text_in(text: Translated | str | None, language: str | None = None) -> str | None:
    """``text`` in ``language`` (or its first language); a plain string is every language's."""
    if text is None or isinstance(text, str):
        return text
    if language is not None and language in text:
        return text[language]
    return next(iter(text.values()), None)


@attrs.frozen
class AnswerOption:
    """An option of a choice item; ``score`` feeds profile dimensions."""

    code: str
    text: Translated
    score: float | None = None


@attrs.frozen
class EnableWhen:
    """Skip logic: the item is enabled when ``item``'s answer meets the condition.

    ``answer`` is what the answer is compared with: an option code, a number,
    ``true``/``false`` or an ISO date (``"2024-01-31"``); for ``exists`` it is
    ``true`` (answered, the default) or ``false`` (not answered).
    """

    item: str
    operator: str = "="
    answer: Scalar | None = None

    @property
    def expects_answer(self) -> bool:
        """For ``exists``: whether the condition holds when the item *is* answered."""
        return self.answer is None or self.answer is True


@attrs.frozen
class Item:
    """One question. Choice items have ``options``; numeric items may have bounds.

    ``unit`` is one text for every language (``"%"``) or a text per language
    (``{en = "patients/month", fr = "patients/mois"}``).
    """

    id: str
    type: str
    text: Translated
    help: Translated | None = None
    group: str | None = None
    required: bool = False
    options: tuple[AnswerOption, ...] = ()
    min: float | None = None
    max: float | None = None
    unit: str | Translated | None = None
    enable_when: tuple[EnableWhen, ...] = ()
    enable_behavior: Literal["all", "any"] = "all"

    def option(self, code: str) -> AnswerOption | None:
        return next((option for option in self.options if option.code == code), None)

    def unit_text(self, language: str | None = None) -> str | None:
        """The unit in ``language`` (None when the item has no unit)."""
        return text_in(self.unit, language)

    @property
    def scored(self) -> bool:
        return self.type in SCORED_TYPES


@attrs.frozen
class Group:
    id: str
    title: Translated


@attrs.frozen
class Band:
    """Scores from ``min`` (inclusive) up to the next band's ``min`` map to ``level``.

    ``max`` (inclusive) ends the band before the next one starts; on the
    highest band it caps the scores that have a level.
    """

    level: str
    min: float
    max: float | None = None


@attrs.frozen
class BandRange:
    """A band with its effective upper edge: ``max`` (inclusive) or the next ``min``."""

    level: str
    low: float
    high: float | None
    high_inclusive: bool

    def contains(self, score: float) -> bool:
        if score < self.low - BAND_TOLERANCE:
            return False
        if self.high is None:
            return True
        if self.high_inclusive:
            return score <= self.high + BAND_TOLERANCE
        return score < self.high - BAND_TOLERANCE


@attrs.frozen
class ProfileDimension:
    """A profile dimension scored from items, e.g. adoption stage.

    ``method`` combines item scores (``sum``, ``mean`` or ``max``); ``missing``
    says what an enabled but unanswered item does (``unknown``, ``zero`` or
    ``partial``); items disabled by skip logic are left out. See the module
    documentation for the exact rules.
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

    def band_ranges(self) -> tuple[BandRange, ...]:
        """The bands, lowest first, each with the edge where it ends."""
        ordered = sorted(self.bands, key=lambda band: band.min)
        ranges = []
        for index, band in enumerate(ordered):
            following = ordered[index + 1] if index + 1 < len(ordered) else None
            if band.max is not None:
                ranges.append(BandRange(band.level, band.min, band.max, True))
            elif following is not None:
                ranges.append(BandRange(band.level, band.min, following.min, False))
            else:
                ranges.append(BandRange(band.level, band.min, None, True))
        return tuple(ranges)

    def level(self, score: float | None) -> str | None:
        """The level of ``score``, exactly as scoring SQL bands it."""
        if score is None:
            return None
        return next((band.level for band in self.band_ranges() if band.contains(score)), None)


@attrs.frozen
class VersionLink:
    """How this version's items map to the previous version's items.

    Items map implicitly to the previous version's item of the same id;
    ``items`` lists renames only (new id -> old id), and ``unmapped`` the items
    that keep an old id but changed meaning, so that they map to nothing.
    """

    version: str
    items: dict[str, str] = attrs.Factory(dict)
    unmapped: tuple[str, ...] = ()


@attrs.frozen
class Questionnaire:
    """A profiling questionnaire version of a therapy area."""

    #: The key of an array of them in one file (``[[questionnaires]]``).
    PLURAL: ClassVar[str] = "questionnaires"

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

    def counterpart(self, item_id: str, older: Questionnaire) -> str | None:
        """The id of ``item_id``'s counterpart in ``older``, the previous version, if any."""
        link = self.previous
        if link is None or link.version != older.version or item_id in link.unmapped:
            return None
        if item_id in link.items:
            old = link.items[item_id]
        elif item_id in link.items.values():
            return None  # its old namesake was renamed to another item of this version
        else:
            old = item_id
        return old if older.item(old) is not None else None

    def problems(self) -> Iterator[Problem]:
        yield from check_slug("id", self.id)
        yield from check_slug("therapy_area", self.therapy_area)
        yield from _language_problems(self.languages)
        yield from _translations("title", self.title, self.languages)
        yield from check_unique("items", (item.id for item in self.items), "item")
        yield from check_unique("groups", (group.id for group in self.groups), "group")
        for index, group in enumerate(self.groups):
            yield from check_name(f"groups[{index}].id", group.id)
            yield from _translations(f"groups[{index}].title", group.title, self.languages)
        groups = {group.id for group in self.groups}
        items = {item.id: item for item in self.items}
        for index, item in enumerate(self.items):
            yield from _item_problems(f"items[{index}]", item, items, groups, self.languages)
        yield from _cycle_problems(self.items)
        yield from check_unique(
            "dimensions", (dimension.name for dimension in self.dimensions), "dimension"
        )
        for index, dimension in enumerate(self.dimensions):
            yield from _dimension_problems(f"dimensions[{index}]", dimension, items)
        if self.previous is not None:
            yield from _link_problems(self.previous, self.version, items)


# --- checks of one version --------------------------------------------------------


def _language_problems(languages: tuple[str, ...]) -> Iterator[Problem]:
    if not languages:
        yield Problem("languages", "declare at least one language")
    yield from check_unique("languages", languages, "language")
    for index, language in enumerate(languages):
        if not _LANGUAGE.match(language):
            yield Problem(
                f"languages[{index}]", f"{language!r} is not a language tag such as en, fr or pt-BR"
            )


def _translations(path: str, text: Translated, languages: tuple[str, ...]) -> Iterator[Problem]:
    """Each declared language has a text, and no text is in an undeclared language."""
    yield from check_translations(path, text, languages)
    for language in text:
        if language not in languages:
            yield Problem(
                path,
                f"translation {language!r} is not a declared language {list(languages)}: "
                "declare it or remove it",
            )


def _item_problems(
    path: str, item: Item, items: dict[str, Item], groups: set[str], languages: tuple[str, ...]
) -> Iterator[Problem]:
    yield from check_name(f"{path}.id", item.id)
    if item.type not in ITEM_TYPES:
        yield Problem(f"{path}.type", f"{item.type!r} is not one of {list(ITEM_TYPES)}")
    yield from _translations(f"{path}.text", item.text, languages)
    if item.help is not None:
        yield from _translations(f"{path}.help", item.help, languages)
    if item.group is not None and item.group not in groups:
        yield Problem(f"{path}.group", f"group {item.group!r} is not declared in groups")
    yield from _option_problems(path, item, languages)
    yield from _number_problems(path, item, languages)
    for index, condition in enumerate(item.enable_when):
        yield from _condition_problems(f"{path}.enable_when[{index}]", item, condition, items)


def _option_problems(path: str, item: Item, languages: tuple[str, ...]) -> Iterator[Problem]:
    if item.type in CHOICE_TYPES and not item.options:
        yield Problem(f"{path}.options", f"a {item.type} item needs options")
    if item.type not in CHOICE_TYPES and item.options:
        yield Problem(f"{path}.options", f"a {item.type} item takes no options")
    yield from check_unique(f"{path}.options", (option.code for option in item.options), "option")
    for index, option in enumerate(item.options):
        where = f"{path}.options[{index}]"
        if not option.code.strip() or option.code != option.code.strip():
            yield Problem(f"{where}.code", f"{option.code!r}: a code has no surrounding blanks")
        if CODE_SEPARATOR in option.code:
            yield Problem(
                f"{where}.code",
                f"{option.code!r}: a code may not contain {CODE_SEPARATOR!r}, which separates "
                "the codes of a multiple-choice answer",
            )
        yield from _translations(f"{where}.text", option.text, languages)


def _number_problems(path: str, item: Item, languages: tuple[str, ...]) -> Iterator[Problem]:
    bounded = item.min is not None or item.max is not None
    if bounded and item.type not in NUMERIC_TYPES:
        yield Problem(path, f"min and max apply to {list(NUMERIC_TYPES)} items, not {item.type}")
    if item.unit is not None and item.type not in NUMERIC_TYPES:
        yield Problem(f"{path}.unit", f"a unit applies to {list(NUMERIC_TYPES)} items only")
    if isinstance(item.unit, dict):
        yield from _translations(f"{path}.unit", item.unit, languages)
    elif isinstance(item.unit, str) and not item.unit.strip():
        yield Problem(f"{path}.unit", "the unit is empty: remove it or give a text")
    if item.type == "scale" and (item.min is None or item.max is None):
        yield Problem(path, "a scale item needs min and max, e.g. 1 and 5")
    if item.min is not None and item.max is not None and item.min > item.max:
        yield Problem(path, f"min {item.min} is above max {item.max}")
    if item.type in WHOLE_TYPES:
        for name in ("min", "max"):
            bound = getattr(item, name)
            if bound is not None and not float(bound).is_integer():
                yield Problem(f"{path}.{name}", f"a {item.type} item takes whole numbers: {bound}")


def _condition_problems(
    path: str, item: Item, condition: EnableWhen, items: dict[str, Item]
) -> Iterator[Problem]:
    source = items.get(condition.item)
    if source is None:
        yield Problem(f"{path}.item", f"{condition.item!r} is not an item of this questionnaire")
    elif condition.item == item.id:
        yield Problem(f"{path}.item", "an item cannot depend on itself")
    if condition.operator not in OPERATORS:
        yield Problem(f"{path}.operator", f"{condition.operator!r} is not one of {list(OPERATORS)}")
        return
    if condition.operator == "exists":
        if condition.answer is not None and not isinstance(condition.answer, bool):
            yield Problem(f"{path}.answer", "exists takes answer = true or answer = false")
        return
    if condition.answer is None:
        yield Problem(f"{path}.answer", f"give the answer that {condition.operator} compares with")
        return
    if source is not None:
        if condition.operator in ORDERING_OPERATORS and source.type not in ORDERED_TYPES:
            yield Problem(
                f"{path}.operator",
                f"{condition.operator} compares numbers and dates; {source.id!r} is a "
                f"{source.type} item: use = or !=",
            )
            return
        problem = _answer_problem(source, condition)
        if problem:
            yield Problem(f"{path}.answer", problem)


def _answer_problem(source: Item, condition: EnableWhen) -> str | None:
    """Why ``condition``'s answer cannot be compared with ``source``'s answers (None if it can)."""
    answer, kind = condition.answer, source.type
    if kind in CHOICE_TYPES and source.option(str(answer)) is None:
        return (
            f"{answer!r} is not an option of {source.id!r} "
            f"{[option.code for option in source.options]}"
        )
    if kind in NUMERIC_TYPES and (isinstance(answer, bool) or not isinstance(answer, int | float)):
        return f"{source.id!r} is a {kind} item: compare it with a number, not {answer!r}"
    if kind == "boolean" and not isinstance(answer, bool):
        return f"{source.id!r} is a boolean item: compare it with true or false, not {answer!r}"
    if kind == "date" and not (isinstance(answer, str) and _DATE.match(answer)):
        return f'{source.id!r} is a date item: compare it with a date such as "2024-01-31"'
    if kind == "text" and not isinstance(answer, str):
        return f"{source.id!r} is a text item: compare it with a text, not {answer!r}"
    return None


def _cycle_problems(items: tuple[Item, ...]) -> Iterator[Problem]:
    """Skip logic that depends on itself, e.g. a enabled by b and b enabled by a."""
    sources = {item.id: [c.item for c in item.enable_when] for item in items}
    index = {item.id: position for position, item in enumerate(items)}
    reported: set[frozenset[str]] = set()
    for start in sources:
        path = _cycle_from(start, sources)
        if path and frozenset(path) not in reported:
            reported.add(frozenset(path))
            yield Problem(
                f"items[{index[start]}].enable_when",
                "skip logic depends on itself: " + " -> ".join([*path, path[0]]),
            )


def _cycle_from(start: str, sources: dict[str, list[str]]) -> list[str] | None:
    """The items of a dependency cycle through ``start``, if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        current, path = stack.pop()
        for source in sources.get(current, ()):
            if source == start and len(path) > 1:
                return path
            if source not in seen and source != start:
                seen.add(source)
                stack.append((source, [*path, source]))
    return None


def _dimension_problems(
    path: str, dimension: ProfileDimension, items: dict[str, Item]
) -> Iterator[Problem]:
    yield from check_name(f"{path}.name", dimension.name)
    if not dimension.items:
        yield Problem(f"{path}.items", "a dimension needs at least one item")
    yield from check_unique(f"{path}.items", dimension.items, "item")
    scorable = True
    for index, item_id in enumerate(dimension.items):
        item = items.get(item_id)
        where = f"{path}.items[{index}]"
        if item is None:
            scorable = False
            yield Problem(where, f"{item_id!r} is not an item of this questionnaire")
        elif not item.scored:
            scorable = False
            yield Problem(where, f"{item.type} item {item_id!r} has no score")
        elif item.type in CHOICE_TYPES and any(option.score is None for option in item.options):
            scorable = False
            yield Problem(where, f"item {item_id!r} has options without a score")
    yield from _band_problems(f"{path}.bands", dimension)
    if scorable and dimension.bands:
        yield from _coverage_problems(f"{path}.bands", dimension, items)


def _band_problems(path: str, dimension: ProfileDimension) -> Iterator[Problem]:
    if not dimension.bands:
        yield Problem(path, "a dimension needs bands mapping scores to levels")
        return
    yield from check_unique(path, dimension.levels, "level")
    for index, band in enumerate(dimension.bands):
        yield from check_name(f"{path}[{index}].level", band.level)
        if band.level == UNKNOWN:
            yield Problem(
                f"{path}[{index}].level",
                f"{UNKNOWN!r} is reserved for customers without a level: choose another name",
            )
        if band.max is not None and band.min > band.max:
            yield Problem(f"{path}[{index}]", f"min {band.min} is above max {band.max}")
    ordered = sorted(dimension.bands, key=lambda band: band.min)
    for lower, upper in itertools.pairwise(ordered):
        if upper.min == lower.min or (lower.max is not None and upper.min <= lower.max):
            yield Problem(path, f"bands {lower.level!r} and {upper.level!r} overlap")


def _link_problems(link: VersionLink, version: str, items: dict[str, Item]) -> Iterator[Problem]:
    if link.version == version:
        yield Problem("previous.version", "a version cannot be its own previous version")
    for new_id in link.items:
        if new_id not in items:
            yield Problem(f"previous.items.{new_id}", f"{new_id!r} is not an item of this version")
    for old_id, count in _counts(link.items.values()).items():
        if count > 1:
            yield Problem(
                "previous.items", f"{count} items map to the same previous item {old_id!r}"
            )
    for index, item_id in enumerate(link.unmapped):
        if item_id not in items:
            yield Problem(
                f"previous.unmapped[{index}]", f"{item_id!r} is not an item of this version"
            )
        elif item_id in link.items:
            yield Problem(
                f"previous.unmapped[{index}]",
                f"{item_id!r} is also mapped in previous.items: keep one of the two",
            )


def _counts(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[value] += 1
    return counts


# --- reachable scores and band coverage -----------------------------------------------

#: A closed range of scores; a single reachable score is ``(x, x)``.
Interval = tuple[Fraction | float, Fraction | float]
#: Past this many distinct scores an analysis falls back to their hull (conservative).
_EXACT_LIMIT = 4096
#: Integer items with more values than this are analysed as a range.
_WHOLE_LIMIT = 200
#: Multiple-choice items with more options than this are analysed as a range.
_SUBSET_LIMIT = 12


def _exact(value: float) -> Fraction:
    """A decimal as written (``0.1`` is one tenth, not the nearest double)."""
    return Fraction(repr(float(value)))


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    ordered = sorted(intervals)
    merged: list[Interval] = []
    for low, high in ordered:
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    if len(merged) > _EXACT_LIMIT:
        return [(merged[0][0], max(high for _, high in merged))]
    return merged


def item_scores(item: Item) -> list[Interval]:
    """The scores an answer to ``item`` can have."""
    if item.type == "single":
        return _merge((_exact(o.score or 0), _exact(o.score or 0)) for o in item.options)
    if item.type == "multiple":
        scores = [_exact(option.score or 0) for option in item.options]
        if len(scores) > _SUBSET_LIMIT:
            low = sum(s for s in scores if s < 0) if any(s < 0 for s in scores) else min(scores)
            high = sum(s for s in scores if s > 0) if any(s > 0 for s in scores) else max(scores)
            return [(low, high)]
        sums: set[Fraction] = set()
        for score in scores:  # every non-empty selection
            sums |= {total + score for total in sums} | {score}
        return _merge((total, total) for total in sums)
    if item.type == "boolean":
        return [(Fraction(0), Fraction(0)), (Fraction(1), Fraction(1))]
    low = -math.inf if item.min is None else _exact(item.min)
    high = math.inf if item.max is None else _exact(item.max)
    if item.type in WHOLE_TYPES and math.isfinite(low) and math.isfinite(high):
        first, last = math.ceil(low), math.floor(high)
        if last - first <= _WHOLE_LIMIT:
            return [(Fraction(n), Fraction(n)) for n in range(first, last + 1)]
    return [(low, high)]


def reachable_scores(dimension: ProfileDimension, items: Mapping[str, Item]) -> list[Interval]:
    """Every score ``dimension`` can take, as ranges (exact points where they are few).

    Follows the scoring rules: an item with skip logic may be left out; an
    optional item may be missing (left out under ``partial``, 0 under
    ``zero``, no score at all under ``unknown``); required items are always
    answered when enabled, because ingest quarantines responses without them.
    """
    members = [items[item_id] for item_id in dimension.items]
    if dimension.method == "max":
        return _reachable_max(dimension, members)
    states: dict[int, list[Interval]] = {0: [(Fraction(0), Fraction(0))]}
    for item in members:
        values = item_scores(item)
        left_out, zero = _absences(dimension, item)
        following: dict[int, list[Interval]] = defaultdict(list)
        for count, totals in states.items():
            following[count + 1].extend(
                (low + value_low, high + value_high)
                for low, high in totals
                for value_low, value_high in values
            )
            if left_out:
                following[count].extend(totals)
            if zero:
                following[count + 1].extend(totals)
        states = {count: _merge(totals) for count, totals in following.items()}
    scores: list[Interval] = []
    for count, totals in states.items():
        if count == 0:
            continue  # nothing to score: the dimension is unknown
        if dimension.method == "mean":
            scores.extend((low / count, high / count) for low, high in totals)
        else:
            scores.extend(totals)
    return _merge(scores)


def _reachable_max(dimension: ProfileDimension, members: list[Item]) -> list[Interval]:
    states: list[Interval | None] = [None]  # None: no item scored yet
    for item in members:
        values = item_scores(item)
        left_out, zero = _absences(dimension, item)
        following: list[Interval | None] = []
        for state in states:
            following.extend(_max_of(state, value) for value in values)
            if left_out:
                following.append(state)
            if zero:
                following.append(_max_of(state, (Fraction(0), Fraction(0))))
        known = _merge(state for state in following if state is not None)
        states = [*known, None] if None in following else list(known)
    return _merge(state for state in states if state is not None)


def _max_of(state: Interval | None, value: Interval) -> Interval:
    if state is None:
        return value
    return (max(state[0], value[0]), max(state[1], value[1]))


def _absences(dimension: ProfileDimension, item: Item) -> tuple[bool, bool]:
    """Whether ``item`` can be left out of a score, and whether it can count as 0."""
    missing = not item.required
    left_out = bool(item.enable_when) or (missing and dimension.missing == "partial")
    return left_out, missing and dimension.missing == "zero"


def _coverage_problems(
    path: str, dimension: ProfileDimension, items: Mapping[str, Item]
) -> Iterator[Problem]:
    reachable = reachable_scores(dimension, items)
    for gap_low, gap_high, fix in _gaps(dimension.band_ranges()):
        uncovered = [
            _describe(max(low, gap_low), min(high, gap_high), low == high)
            for low, high in reachable
            if low < gap_high and high > gap_low
        ]
        if uncovered:
            more = f" and {len(uncovered) - 3} more" if len(uncovered) > 3 else ""
            yield Problem(
                path,
                f"no band covers {', '.join(uncovered[:3])}{more}, which the items can "
                f"produce: {fix}",
            )


def _gaps(ranges: tuple[BandRange, ...]) -> list[tuple[Fraction | float, Fraction | float, str]]:
    """The open ranges of scores no band covers, each with how to cover it."""
    if not ranges:
        return [(-math.inf, math.inf, "add bands")]
    first, last = ranges[0], ranges[-1]
    gaps = [(-math.inf, _exact(first.low), f"lower the min of band {first.level!r}")]
    for band, following in itertools.pairwise(ranges):
        if band.high is not None and band.high_inclusive and band.high < following.low:
            gaps.append(
                (
                    _exact(band.high),
                    _exact(following.low),
                    f"leave out the max of band {band.level!r}, so that it runs up to "
                    f"band {following.level!r}",
                )
            )
    if last.high is not None:
        gaps.append(
            (_exact(last.high), math.inf, f"raise or leave out the max of band {last.level!r}")
        )
    return gaps


def _describe(low: Fraction | float, high: Fraction | float, point: bool) -> str:
    if point:
        return f"the score {_number(low)}"
    return f"scores between {_number(low)} and {_number(high)}"


def _number(value: Fraction | float) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "-infinity" if value < 0 else "infinity"
    if isinstance(value, Fraction) and value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.4g}"


def describe_conditions(item: Item) -> str:
    """``enable_when`` as a person reads it: ``clinical_trials = true``."""
    joiner = " and " if item.enable_behavior == "all" else " or "
    return joiner.join(_describe_condition(condition) for condition in item.enable_when)


def _describe_condition(condition: EnableWhen) -> str:
    if condition.operator == "exists":
        return f"{condition.item} is {'' if condition.expects_answer else 'not '}answered"
    answer = condition.answer
    shown = ("true" if answer else "false") if isinstance(answer, bool) else str(answer)
    return f"{condition.item} {condition.operator} {shown}"
