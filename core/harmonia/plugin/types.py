"""Records that packs return from hooks: sources, sinks, identifier schemes, commands.

Definitions (rule sets, questionnaires, ...) are data a pack writes in TOML;
these records carry *behaviour* (a reader, a writer, a validator, a command)
and so are built in Python. Both are frozen attrs classes and both carry a
:class:`~harmonia.provenance.Provenance` that the plugin manager fills in.

Part of the contract layer: it imports nothing of harmonia beyond the other
contract modules (errors, provenance; definitions for type hints only).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from harmonia.errors import ConfigError
from harmonia.provenance import Provenance, provenance_field

if TYPE_CHECKING:
    import pyarrow

    from harmonia.definitions import CountryProfile
    from harmonia.questionnaires import Questionnaire


# --- canonical record kinds -------------------------------------------------


@attrs.frozen
class Column:
    name: str
    required: bool
    description: str


@attrs.frozen
class RecordKind:
    """A kind of canonical record a source can yield, with its columns."""

    name: str
    description: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.required)


CUSTOMERS = RecordKind(
    "customers",
    "Healthcare professionals (HCP) and organisations (HCO) with their national identifier.",
    (
        Column("customer_id", True, "the source system's own id for the customer"),
        Column("country", True, "ISO 3166 alpha-2 code, e.g. FR"),
        Column("type", True, "HCP or HCO"),
        Column("first_name", False, "given name (HCP)"),
        Column("last_name", False, "family name (HCP) or organisation name (HCO)"),
        Column("specialty", False, "specialty code or name, e.g. oncology"),
        Column("postal_code", False, "postal code of the main practice"),
        Column("city", False, "city of the main practice"),
        Column("territory", False, "sales territory the customer is aligned to"),
        Column("id_scheme", False, "national identifier scheme, e.g. RPPS, NPI, LANR"),
        Column("id_value", False, "national identifier value, validated by its scheme"),
        Column("address", False, "street address of the main practice (matching)"),
        Column("phone", False, "practice phone number (matching)"),
        Column("email", False, "professional e-mail address (matching)"),
        Column(
            "objection",
            False,
            "yes: the customer objects to profiling (GDPR Art. 21); no or empty otherwise",
        ),
    ),
)

METRICS = RecordKind(
    "metrics",
    "A number about a customer in a therapy area for a period (potential, sales, calls).",
    (
        Column("customer_id", True, "the source system's id for the customer"),
        Column("therapy_area", True, "therapy-area id, e.g. oncology"),
        Column("metric", True, "metric name, e.g. potential, trx, calls"),
        Column("period", True, "2027, 2027-H1, 2027-Q3 or 2027-05"),
        Column("value", True, "a number; decimal commas accepted where the file uses them"),
    ),
)

RESPONSES = RecordKind(
    "responses",
    "Answers to a profiling questionnaire, one row per answered question (long format).",
    (
        Column("customer_id", True, "the source system's id for the customer"),
        Column("questionnaire", True, "questionnaire id"),
        Column("version", True, "questionnaire version the answers were given to"),
        Column("respondent", False, "who answered: the rep's id, 'self', or a vendor"),
        Column("answered_at", True, "date (YYYY-MM-DD) or date-time of the response"),
        Column("question", True, "item id"),
        Column("answer", True, "option code(s) separated by '|', a number, a date or text"),
    ),
)

TERRITORIES = RecordKind(
    "territories",
    "The field force's units: territories, their districts, their regions.",
    (
        Column("territory", True, "the unit's code, e.g. T-PARIS-01"),
        Column("level", True, "territory, district or region"),
        Column("parent", False, "the unit above: a territory's district, a district's region"),
        Column("name", False, "the unit's name"),
        Column("country", False, "ISO 3166 alpha-2 code (default: the load's --country)"),
    ),
)

ROSTER = RecordKind(
    "roster",
    "The field force's people: reps on territories, managers of districts and regions.",
    (
        Column("person", True, "the person's id (a login, an employee number)"),
        Column("role", True, "rep or manager"),
        Column("unit", True, "a rep's territory, a manager's district or region"),
        Column("manager", False, "the person they report to"),
        Column("name", False, "the person's name"),
        Column("email", False, "where to reach them"),
        Column("country", False, "ISO 3166 alpha-2 code (default: the load's --country)"),
    ),
)

ALIGNMENT = RecordKind(
    "alignment",
    "Which territory a customer belongs to in a period.",
    (
        Column("customer_id", True, "the source system's id for the customer"),
        Column("territory", True, "the territory's code"),
        Column("period", True, "2027, 2027-H1, 2027-Q3 or 2027-05"),
    ),
)

AFFILIATIONS = RecordKind(
    "affiliations",
    "Parent/child affiliations: the organisation a physician practises at, a site's hospital.",
    (
        Column("customer_id", True, "the source system's id for the child customer"),
        Column("parent_id", True, "the source system's id for its parent customer (an HCO)"),
    ),
)

RECORD_KINDS: Mapping[str, RecordKind] = {
    kind.name: kind
    for kind in (CUSTOMERS, METRICS, RESPONSES, TERRITORIES, ROSTER, ALIGNMENT, AFFILIATIONS)
}

#: Source families a country chooses among (see the option catalogue).
SOURCE_FAMILIES = ("rep", "external", "local")


# --- data sources -----------------------------------------------------------


@attrs.frozen
class Option:
    """An option a source or sink accepts (``--option name=value``).

    ``choices``, when given, are the only values allowed; harmonia refuses any
    other before the source or sink runs. A ``secret`` one (a password, a
    token) is never kept: harmonia records a sink's options in the audit trail
    for its erasure without it, and without any whose name reads like one
    (:data:`SECRET_NAME`).
    """

    name: str
    description: str
    required: bool = False
    default: str | None = None
    choices: tuple[str, ...] = ()
    secret: bool = False


#: Option names taken for secrets even when not declared so (``db_password``,
#: ``api_token``, ``client_secret``, ``api_key``); ``account_key`` is no secret.
SECRET_NAME = re.compile(
    r"pass(word|wd)?|pwd|token|secret|credential|(api|access|private|secret)[_-]?key",
    re.IGNORECASE,
)


def check_options(owner: str, declared: Iterable[Option], given: Mapping[str, str]) -> None:
    """Refuse options a source or sink does not declare, and values outside its choices.

    ``owner`` names it in the message (``sink csv``).
    """
    by_name = {option.name: option for option in declared}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        raise ConfigError(
            f"{owner} has no option {', '.join(unknown)}",
            fix=f"its options: {', '.join(sorted(by_name)) or 'none'}",
        )
    for name, value in given.items():
        choices = by_name[name].choices
        if choices and value not in choices:
            shown = ", ".join(repr(choice) for choice in choices)
            raise ConfigError(
                f"{owner}: {name}={value!r} is not allowed", fix=f"use one of {shown}"
            )


#: The ``name`` option of sinks that write files (see :meth:`SinkRequest.path`).
FILE_NAME_OPTION = Option("name", "files are named <name>-<output> (default: <cycle>-<output>)")


@attrs.frozen
class Batch:
    """A columnar slice of canonical records yielded by a source.

    ``table`` holds the kind's columns (as text, or already typed) plus an
    optional ``_row`` column: the row number in ``location`` that each record
    came from, so that quarantined rows can be found again. It may also be a
    ``pyarrow.RecordBatchReader``, for inputs too large to hold at once.
    ``system`` names the system whose customer ids the records use, when the
    source knows it (a workbook harmonia wrote, a FHIR bundle); ``--system``
    overrides it, and the source's name stands in when neither says.
    """

    kind: str
    table: pyarrow.Table | pyarrow.RecordBatchReader
    location: str
    system: str | None = attrs.field(default=None, kw_only=True)


@attrs.frozen
class SourceRequest:
    """What a source's reader is asked for, and what it may want to know.

    ``options`` are the user's ``--option key=value`` pairs. ``profile`` is
    the country's profile when the load names a country (its CSV conventions
    and choices); ``questionnaires`` and ``identifier_schemes`` are what the
    installed packs declare, for sources that shape their output by them.
    """

    options: Mapping[str, str]
    country: str | None = None
    profile: CountryProfile | None = None
    questionnaires: tuple[Questionnaire, ...] = ()
    identifier_schemes: tuple[IdentifierScheme, ...] = ()

    def option(self, name: str, default: str | None = None) -> str | None:
        return self.options.get(name, default)


@attrs.frozen
class DataSource:
    """A data source: a named reader yielding batches of canonical records.

    ``family`` is one of :data:`SOURCE_FAMILIES`; a country profile lists the
    families it uses, and a load through a source of another family is refused.
    A source that reads files lists their ``suffixes`` (``.csv``); ``harmonia
    load PATH`` then picks it by the file's suffix and passes the path as the
    option ``path``.
    """

    name: str
    description: str
    kinds: frozenset[str] = attrs.field(converter=frozenset)
    family: str
    read: Callable[[SourceRequest], Iterable[Batch]] = attrs.field(eq=False, repr=False)
    options: tuple[Option, ...] = ()
    suffixes: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)
    provenance: Provenance | None = provenance_field()

    def __attrs_post_init__(self) -> None:
        unknown = set(self.kinds) - set(RECORD_KINDS)
        if unknown:
            raise ValueError(
                f"data source {self.name!r} yields unknown record kinds {sorted(unknown)}; "
                f"known kinds: {sorted(RECORD_KINDS)}"
            )
        if self.family not in SOURCE_FAMILIES:
            raise ValueError(
                f"data source {self.name!r} has family {self.family!r}; "
                f"choose one of {list(SOURCE_FAMILIES)}"
            )

    def check_options(self, given: Mapping[str, str]) -> None:
        """Refuse options this source does not declare, and values outside their choices
        (a :class:`~harmonia.errors.ConfigError`), as a load does before reading."""
        check_options(f"source {self.name}", self.options, given)


# --- output sinks -----------------------------------------------------------

#: What a cycle can hand to a sink.
OUTPUT_KINDS = ("target_list", "assignments", "segment_summary")


@attrs.frozen
class CycleInfo:
    """The cycle an output belongs to; sinks use it to name what they write."""

    id: int
    country: str
    therapy_area: str
    period: str

    @property
    def slug(self) -> str:
        return f"{self.country}-{self.therapy_area}-{self.period}-cycle{self.id}"


@attrs.frozen
class SinkRequest:
    """One output to write: a table of ``kind`` for ``cycle``."""

    kind: str
    table: pyarrow.Table
    cycle: CycleInfo
    directory: Path
    options: Mapping[str, str] = attrs.Factory(dict)
    delimiter: str = ","
    decimal: str = "."
    language: str = "en"

    def path(self, suffix: str) -> Path:
        """Where a file sink writes this output: ``<name>-<kind><suffix>`` in the
        directory, ``name`` being the ``name`` option or the cycle's slug, so two
        outputs never share a file. Creates the directory."""
        self.directory.mkdir(parents=True, exist_ok=True)
        stem = self.options.get("name") or self.cycle.slug
        return Path(self.directory) / f"{stem}-{self.kind}{suffix}"


@attrs.frozen
class Erasure:
    """A person being erased (GDPR Art. 17): every harmonia id they had (merged ones
    too) and every (system, source id) the sources knew them by."""

    customer_ids: tuple[int, ...]
    source_ids: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class OutputSink:
    """An output sink: a named writer for cycle outputs.

    ``write`` returns the locations it wrote (paths, table names, URLs), or
    yields each once written: a publish failing at a later one then has the
    earlier ones recorded for an erasure (the folder of a sink failing midway
    is named as one to check by hand).
    ``erase``, when given, removes a person from one location ``write``
    returned and returns how many rows it removed (0: none there), or None
    when it cannot reach that location. Without it, harmonia rewrites CSV and
    Parquet files by their ``harmonia_id`` or ``customer_id`` column and names
    every other location as one to erase by hand. An ``erase`` with a third
    parameter gets the options the location was written with (see
    :meth:`erase_location`); one with two, as before, does not.
    """

    name: str
    description: str
    accepts: frozenset[str] = attrs.field(converter=frozenset)
    write: Callable[[SinkRequest], Iterable[str]] = attrs.field(eq=False, repr=False)
    options: tuple[Option, ...] = ()
    erase: Callable[..., int | None] | None = attrs.field(
        default=None, eq=False, repr=False, kw_only=True
    )
    provenance: Provenance | None = provenance_field()

    def __attrs_post_init__(self) -> None:
        unknown = set(self.accepts) - set(OUTPUT_KINDS)
        if unknown:
            raise ValueError(
                f"output sink {self.name!r} accepts unknown outputs {sorted(unknown)}; "
                f"known outputs: {list(OUTPUT_KINDS)}"
            )

    def erase_location(
        self, location: str, erasure: Erasure, options: Mapping[str, str] | None
    ) -> int | None:
        """Call ``erase`` for one location it wrote; ``options``: those it was written
        with (None: not recorded), completed with the declared defaults."""
        if self.erase is None:
            return None
        if len(inspect.signature(self.erase).parameters) < 3:
            return self.erase(location, erasure)  # a pack written before options were passed
        if options is not None:
            options = self.resolved_options(options)
        return self.erase(location, erasure, options)

    def recorded_options(self, given: Mapping[str, str]) -> dict[str, str]:
        """The options to keep with what the sink wrote (the audit trail, for its
        erasure): all but secrets, declared so or named like one."""
        secret = {option.name for option in self.options if option.secret}
        return {
            name: value
            for name, value in given.items()
            if name not in secret and not SECRET_NAME.search(name)
        }

    def resolved_options(self, given: Mapping[str, str]) -> dict[str, str]:
        """The options as the sink writes with them: each given value, or the declared
        default where none or an empty one is given (``system=`` is the default
        system). Its ``write`` and ``erase`` read them alike through here."""
        resolved = dict(given)
        for option in self.options:
            if not given.get(option.name) and option.default is not None:
                resolved[option.name] = option.default
        return resolved

    def check_options(self, given: Mapping[str, str]) -> None:
        """Refuse options this sink does not declare, and values outside their choices
        (a :class:`~harmonia.errors.ConfigError`), as a cycle does before writing."""
        check_options(f"sink {self.name}", self.options, given)


# --- national identifiers ---------------------------------------------------

#: Check-digit algorithms the core evaluates vectorized at ingest (and in
#: Python, to explain a rejection): ``luhn`` over ``prefix`` + value (RPPS,
#: NPI with prefix 80840, Japan's medical institution codes), and
#: ``weighted-mod10``: the digits before the check digit times ``weights``,
#: summed, and the check digit is ``(10 - sum mod 10) mod 10`` (Germany's LANR:
#: weights 4 9 4 9 4 9, check digit 7th).
CHECKSUMS = ("luhn", "weighted-mod10")


class InvalidIdentifier(ValueError):
    """An identifier value fails its scheme's format or check digit."""


def luhn_valid(digits: str) -> bool:
    """Whether ``digits`` passes the Luhn check (python-stdnum's, the reference)."""
    from stdnum import luhn
    from stdnum.exceptions import ValidationError

    try:
        luhn.validate(digits)
    except ValidationError:
        return False
    return True


def weighted_mod10_digit(digits: str, weights: tuple[int, ...]) -> int:
    """The check digit of ``digits`` (one per weight): ``(10 - sum(d * w) mod 10) mod 10``."""
    total = sum(int(digit) * weight for digit, weight in zip(digits, weights, strict=True))
    return (10 - total % 10) % 10


@attrs.frozen
class IdentifierScheme:
    """A national HCP/HCO identifier scheme (NPI, RPPS, LANR, GMC ...).

    Declare the format with ``pattern`` (a full-match regular expression on
    the compact value: spaces and dashes removed) and, where the scheme has
    one, a ``checksum`` from :data:`CHECKSUMS` computed over ``prefix`` +
    value (NPI uses prefix ``80840``; ``weighted-mod10`` takes ``weights``).
    Where the value encodes the holder's specialty (the LANR's last two
    digits), ``specialty_digits`` gives their 1-based positions ``(first,
    last)`` and ``specialty_groups`` the codes each customer specialty may
    carry: a customer whose specialty is listed but whose value carries
    another code is quarantined. All of this runs vectorized over a whole load.
    A scheme with a rule that none of it expresses may pass ``validate``: a
    Python function returning the compact value or raising
    :class:`InvalidIdentifier`; it is called once per distinct value.
    """

    #: The scheme's name, as ``id_scheme`` columns write it (``NPI``).
    name: str
    #: The country whose customers carry it (ISO 3166 alpha-2).
    country: str
    #: What the identifier is and looks like; quarantine reasons quote it.
    description: str
    #: A regular expression the whole compact value must match (spaces, dots and
    #: dashes removed; RE2 syntax, no look-arounds).
    pattern: str
    #: The check-digit algorithm (see below), or none.
    checksum: str | None = None
    #: Digits written before the value when the check digit is computed (NPI: ``80840``).
    prefix: str = ""
    #: ``weighted-mod10``: one weight per digit before the check digit.
    weights: tuple[int, ...] = attrs.field(default=(), converter=tuple)
    #: 1-based ``(first, last)`` positions of a specialty code inside the value.
    specialty_digits: tuple[int, int] | None = attrs.field(
        default=None, converter=attrs.converters.optional(tuple)
    )
    #: Per customer specialty, the codes its values may carry (unlisted: unchecked).
    specialty_groups: Mapping[str, tuple[str, ...]] = attrs.field(
        factory=dict,
        converter=lambda groups: {str(k): tuple(v) for k, v in dict(groups).items()},
        eq=False,
    )
    #: A Python check for what declarations cannot say, called once per distinct value.
    validate: Callable[[str], str] | None = attrs.field(default=None, eq=False, repr=False)
    provenance: Provenance | None = provenance_field()

    def __attrs_post_init__(self) -> None:
        re.compile(self.pattern)
        if self.checksum is not None and self.checksum not in CHECKSUMS:
            raise ValueError(
                f"identifier scheme {self.name!r} uses checksum {self.checksum!r}; "
                f"choose one of {list(CHECKSUMS)} or pass validate="
            )
        if self.checksum == "weighted-mod10" and not self.weights:
            raise ValueError(
                f"identifier scheme {self.name!r}: checksum 'weighted-mod10' needs weights, "
                "one per digit before the check digit (LANR: (4, 9, 4, 9, 4, 9))"
            )
        if self.prefix and not self.prefix.isdigit():
            raise ValueError(
                f"identifier scheme {self.name!r}: prefix {self.prefix!r} is not digits"
            )
        if (self.specialty_digits is None) != (not self.specialty_groups):
            raise ValueError(
                f"identifier scheme {self.name!r}: specialty_digits and specialty_groups "
                "go together (the positions of the code, and the codes of each specialty)"
            )
        if self.specialty_digits is not None:
            first, last = self.specialty_digits
            if not 1 <= first <= last:
                raise ValueError(
                    f"identifier scheme {self.name!r}: specialty_digits {self.specialty_digits} "
                    "are not 1-based positions (first, last)"
                )

    @staticmethod
    def compact(value: str) -> str:
        """The value without spaces, dots and dashes: how it is stored."""
        return re.sub(r"[\s.\-]", "", str(value))

    def specialty_code(self, value: str) -> str | None:
        """The specialty code a compact value carries (None when the scheme has none)."""
        if self.specialty_digits is None:
            return None
        first, last = self.specialty_digits
        return value[first - 1 : last]

    def check(self, value: str, *, specialty: str | None = None) -> str:
        """Validate one value; return it compact or raise :class:`InvalidIdentifier`.

        With ``specialty`` (the customer's), a scheme that encodes specialties
        also checks that the value's code is one that specialty may carry.
        """
        compact = self.compact(value)
        if not re.fullmatch(self.pattern, compact):
            raise InvalidIdentifier(
                f"{self.name} {value!r} does not have the expected format ({self.description})"
            )
        if self.checksum is not None and not self.checksum_valid(compact):
            raise InvalidIdentifier(
                f"{self.name} {value!r} fails its check digit ({self.checksum})"
            )
        if specialty is not None and specialty in self.specialty_groups:
            code = self.specialty_code(compact)
            allowed = self.specialty_groups[specialty]
            if code not in allowed:
                raise InvalidIdentifier(
                    f"{self.name} {value!r} carries specialty group {code}, but the customer's "
                    f"specialty {specialty} has group {' or '.join(allowed)}"
                )
        if self.validate is not None:
            compact = self.validate(compact)
        return compact

    def checksum_valid(self, compact: str) -> bool:
        """Whether a value of the right format passes the declared check digit."""
        digits = self.prefix + compact
        if self.checksum == "luhn":
            return digits.isdigit() and luhn_valid(digits)
        if self.checksum == "weighted-mod10":
            size = len(self.weights)
            body = digits[: size + 1]
            return (
                len(body) == size + 1
                and body.isdigit()
                and weighted_mod10_digit(body[:size], self.weights) == int(body[size])
            )
        return True


# --- CLI commands -----------------------------------------------------------

#: What a command may be called: what a person types after ``harmonia``.
_COMMAND_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


@attrs.frozen
class Command:
    """A CLI command a pack declares, attached lazily by ``harmonia``.

    ``path`` is ``"module:attribute"`` naming a :class:`click.Command` (or
    group); it is imported only when the command runs or its own help is
    shown, never for ``harmonia --help``. ``group`` is the built-in group the
    command joins (``questionnaire``), or None for a top-level command.
    ``help`` is the one line ``harmonia --help`` shows for it.
    """

    name: str
    path: str
    help: str
    group: str | None = None
    provenance: Provenance | None = provenance_field()

    def __attrs_post_init__(self) -> None:
        if not _COMMAND_NAME.match(self.name):
            raise ValueError(f"command name {self.name!r}: use lower case letters, digits and '-'")
        module, sep, attribute = self.path.partition(":")
        if not (module and sep and attribute):
            raise ValueError(f"command {self.name!r}: path {self.path!r} is not 'module:attribute'")

    @property
    def key(self) -> tuple[str, str]:
        """``(group, name)``: where the command sits (group ``""`` for the top level)."""
        return (self.group or "", self.name)
