"""Country profiles and the global option catalogue they choose from.

The global team decides *which* choices a market may make; a country pack
makes them. A profile outside the catalogue is rejected with a message naming
the option, the value and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar

import attrs

from harmonia.definitions.common import Scalar, check_choice
from harmonia.errors import Problem
from harmonia.provenance import Provenance, provenance_field


@attrs.frozen
class CsvConventions:
    """How the market's files look: delimiter, decimal mark, encoding.

    ``fallback_encoding`` is the encoding of Excel's plain 'CSV' in the
    market (``cp1252`` in Germany, ``cp932`` in Japan): a file that is not
    valid UTF-8 is read in it instead of being refused.
    """

    #: The field delimiter of the market's CSV files (``,`` or ``;``); a file's
    #: own header decides when it is read, this decides what harmonia writes.
    delimiter: str = ","
    #: The decimal mark of numbers in the market's files: ``.`` or ``,``.
    decimal: str = "."
    #: The text encoding of the market's files (a Python codec name).
    encoding: str = "utf-8"
    #: The encoding a file that is not valid UTF-8 is read in (Excel's plain
    #: 'CSV' of the market: ``cp1252``, ``cp932``); none: such a file is refused.
    fallback_encoding: str | None = None


@attrs.frozen
class PullThrough:
    """Carry the previous final segment forward when inputs changed less than ``threshold``."""

    #: Whether customers whose inputs did not change keep last cycle's final segment.
    enabled: bool = False
    #: The relative change below which a compared metric counts as unchanged
    #: (0.1 = 10%; within the global catalogue's bounds).
    threshold: float = 0.1


@attrs.frozen
class TherapyAreaChoice:
    """A country's choices for one therapy area."""

    #: The rule set the country runs for the area (needed only when several are installed).
    rule_set: str | None = None
    #: Which variant of the area's engagement strategies the country uses.
    strategy_variant: str = "standard"


#: How a golden record picks one value of an attribute among a person's source records.
SURVIVORSHIP_RULES = ("source_priority", "most_recent", "most_frequent")
#: The customer attributes a golden record holds.
GOLDEN_ATTRIBUTES = (
    "first_name",
    "last_name",
    "specialty",
    "postal_code",
    "city",
    "territory",
    "address",
    "phone",
    "email",
)


@attrs.frozen
class Survivorship:
    """Which value a golden record keeps, per attribute; a blank never wins over a value.

    ``source_priority`` lists the market's systems, most trusted first;
    ``default`` is the rule of the attributes ``attributes`` does not name.
    Every rule breaks its ties by recency (the value a source gave last wins).
    """

    #: The market's source systems, most trusted first (``["crm", "onekey"]``).
    source_priority: tuple[str, ...] = ()
    #: The rule of every attribute ``attributes`` does not name.
    default: str = "most_recent"
    #: Per attribute, its rule: source_priority, most_recent or most_frequent.
    attributes: dict[str, str] = attrs.Factory(dict)

    def rule(self, attribute: str) -> str:
        return self.attributes.get(attribute, self.default)

    def problems(self) -> Iterator[Problem]:
        yield from check_choice("survivorship.default", self.default, SURVIVORSHIP_RULES)
        for attribute, rule in sorted(self.attributes.items()):
            if attribute not in GOLDEN_ATTRIBUTES:
                yield Problem(
                    f"survivorship.attributes.{attribute}",
                    f"is not a customer attribute; known: {', '.join(GOLDEN_ATTRIBUTES)}",
                )
            yield from check_choice(
                f"survivorship.attributes.{attribute}", rule, SURVIVORSHIP_RULES
            )
        uses_priority = "source_priority" in {self.default, *self.attributes.values()}
        if uses_priority and not self.source_priority:
            yield Problem(
                "survivorship.source_priority",
                "a rule is source_priority: list the systems, most trusted first",
            )


@attrs.frozen
class CountryProfile:
    """A market's choices among the global options."""

    #: The key of an array of them in one file (``[[countries]]``).
    PLURAL: ClassVar[str] = "countries"

    #: ISO 3166 alpha-2 code of the market (``FR``): what ``--country`` names.
    code: str
    #: The market's name, as its people write it.
    name: str
    #: The language of the field (ISO 639-1, ``fr``): rep workbooks and
    #: questionnaires are written in it when the questionnaire has it.
    language: str
    #: ``data-driven`` or ``field-involved`` (catalogue). A data-driven market
    #: has no field step, so it cannot opt in to field refinement; the mode is
    #: recorded with every cycle. It changes nothing else.
    process_mode: str
    #: The families of sources the market loads (catalogue: ``rep``,
    #: ``external``, ``local``). A load through a source of another family is
    #: refused (a rep workbook is ``rep``; CSV, Parquet and XLSX files ``local``).
    data_sources: tuple[str, ...]
    #: ``opt-in`` (reps refine the proposed segments under
    #: ``refinement_policy``) or ``opt-out`` (catalogue).
    field_refinement: str
    #: Whether and how last cycle's segments are carried forward.
    pull_through: PullThrough = PullThrough()
    #: The refinement policy reps work under (required when refinement is opt-in).
    refinement_policy: str | None = None
    #: The national identifier schemes the market's customers carry.
    identifier_schemes: tuple[str, ...] = ()
    #: How the market's files look.
    csv: CsvConventions = CsvConventions()
    #: How old a questionnaire response may be and still be scored (catalogue: 6-60).
    response_max_age_months: int = 24
    #: Per therapy area, the country's choices (``oncology = { strategy_variant = "standard" }``).
    therapy_areas: dict[str, TherapyAreaChoice] = attrs.Factory(dict)
    #: Bounded numeric parameters of the catalogue (``frequency_scale = 0.9``).
    parameters: dict[str, float] = attrs.Factory(dict)
    #: How a cycle plans its contacts (catalogue): ``fixed`` (the default: each
    #: strategy's yearly frequencies, the same for every customer of a segment) or
    #: ``capacity`` (the strategy planner's greedy marginal allocation within each
    #: territory's reps and the response curves, recorded as the cycle's plan).
    call_plan: str = "fixed"
    #: Golden records of merged customers: which source's value wins, per attribute.
    survivorship: Survivorship = Survivorship()
    #: One line saying what the market chose and why.
    description: str = ""
    provenance: Provenance | None = provenance_field()

    def choice(self, therapy_area: str) -> TherapyAreaChoice:
        return self.therapy_areas.get(therapy_area, TherapyAreaChoice())

    def parameter(self, name: str, catalogue: OptionCatalogue) -> float:
        """A bounded numeric parameter: the country's value or the catalogue default."""
        if name in self.parameters:
            return self.parameters[name]
        return float(catalogue.option(f"parameters.{name}").default)

    def problems(self) -> Iterator[Problem]:
        if not re.fullmatch(r"[A-Z]{2}", self.code):
            yield Problem("code", f"{self.code!r} is not an ISO 3166 alpha-2 code such as FR")
        if self.process_mode == "data-driven" and self.field_refinement == "opt-in":
            yield Problem(
                "field_refinement",
                "a data-driven process has no field step: set field_refinement = 'opt-out' "
                "or process_mode = 'field-involved'",
            )
        if self.field_refinement == "opt-in" and not self.refinement_policy:
            yield Problem(
                "refinement_policy", "field refinement is opt-in: name a refinement policy"
            )
        if len(self.csv.delimiter) != 1:
            yield Problem("csv.delimiter", f"{self.csv.delimiter!r} is not a single character")
        yield from check_choice("csv.decimal", self.csv.decimal, [".", ","])
        if self.csv.delimiter == self.csv.decimal:
            yield Problem("csv", "the delimiter and the decimal mark must differ")
        for field in ("encoding", "fallback_encoding"):
            name = getattr(self.csv, field)
            if name is not None and not _known_codec(name):
                yield Problem(f"csv.{field}", f"{name!r} is not a text encoding Python knows")
        yield from self.survivorship.problems()


def _known_codec(name: str) -> bool:
    import codecs

    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


@attrs.frozen
class OptionSpec:
    """One option a market may set, with what is allowed."""

    name: str
    description: str
    choices: tuple[Scalar, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    multiple: bool = False
    default: Any = None

    @property
    def _low(self) -> float:
        return self.minimum if self.minimum is not None else float("-inf")

    @property
    def _high(self) -> float:
        return self.maximum if self.maximum is not None else float("inf")

    def problems(self, value: Any) -> Iterator[Problem]:
        if self.multiple and not isinstance(value, list | tuple):
            yield Problem(self.name, f"expects a list, got {value!r}")
            return
        for item in list(value) if self.multiple else [value]:
            if self.choices and item not in self.choices:
                yield Problem(
                    self.name,
                    f"{item!r} is not allowed; the global catalogue allows {list(self.choices)}",
                )
            if self.minimum is not None or self.maximum is not None:
                if isinstance(item, bool) or not isinstance(item, int | float):
                    yield Problem(self.name, f"expects a number, got {item!r}")
                elif not self._low <= item <= self._high:
                    yield Problem(
                        self.name,
                        f"{item} is outside the range the global catalogue allows "
                        f"[{self.minimum}, {self.maximum}]",
                    )


@attrs.frozen
class OptionCatalogue:
    """The global option catalogue: every choice a country profile can make."""

    #: The key of an array of them in one file (``[[catalogues]]``).
    PLURAL: ClassVar[str] = "catalogues"

    options: tuple[OptionSpec, ...]
    provenance: Provenance | None = provenance_field()

    def option(self, name: str) -> OptionSpec:
        for option in self.options:
            if option.name == name:
                return option
        raise KeyError(name)

    def check(self, profile: CountryProfile) -> list[Problem]:
        """Every way ``profile`` leaves the catalogue (empty when it complies)."""
        values = _profile_values(profile)
        problems: list[Problem] = []
        for option in self.options:
            if option.name in values:
                problems.extend(option.problems(values[option.name]))
        for name in profile.parameters:
            if f"parameters.{name}" not in {option.name for option in self.options}:
                known = [
                    o.name.removeprefix("parameters.")
                    for o in self.options
                    if o.name.startswith("parameters.")
                ]
                problems.append(
                    Problem(
                        f"parameters.{name}", f"is not a parameter markets may set; known: {known}"
                    )
                )
        return problems


def _profile_values(profile: CountryProfile) -> dict[str, Any]:
    values: dict[str, Any] = {
        "process_mode": profile.process_mode,
        "data_sources": list(profile.data_sources),
        "field_refinement": profile.field_refinement,
        "pull_through.enabled": profile.pull_through.enabled,
        "pull_through.threshold": profile.pull_through.threshold,
        "response_max_age_months": profile.response_max_age_months,
        "call_plan": profile.call_plan,
    }
    values.update({f"parameters.{name}": value for name, value in profile.parameters.items()})
    return values
