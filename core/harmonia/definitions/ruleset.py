"""Rule sets: a therapy area's standardized segmentation, declared as data.

A rule set declares *features* (what is known about each customer) and up to
three *dimensions* (``segment``, ``needs``, ``tier``). Each dimension assigns
exactly one of its declared segments to every customer: ordered first-match
rules, then the cells of an optional matrix, then the required fallback. A
rule, a cell or the fallback may instead leave the customer unsegmented
(:data:`NO_SEGMENT`), an outcome the core declares, so a pack invents no
segment and no strategy for "not segmented".
Rule conditions are restricted SQL over the features; see
:mod:`harmonia.rules` for the language.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Literal

import attrs

from harmonia.definitions.common import (
    Missing,
    Scalar,
    check_name,
    check_slug,
    check_unique,
)
from harmonia.errors import Problem
from harmonia.provenance import Provenance, provenance_field
from harmonia.sql import text_list

#: Customer columns a rule set may use as attributes and peer groups.
CUSTOMER_ATTRIBUTES = ("country", "type", "specialty", "territory", "postal_code", "city")

#: The value types of features, as the rule checker sees them.
FEATURE_TYPES = ("text", "integer", "number", "boolean")

#: The outcome of a rule, matrix cell or fallback that leaves a customer
#: unsegmented in that dimension. The core declares it: a dimension does not list
#: it among its ``segments``, a therapy area declares no strategy for it (its
#: customers are not targeted, planned or costed), and every output shows it as
#: this value.
NO_SEGMENT = "no_segment"

Window = Literal["latest", "cycle"]
Aggregate = Literal["sum", "mean", "max"]
Granularity = Literal["month", "quarter", "half", "year"]


@attrs.frozen
class AttributeFeature:
    """A customer attribute, e.g. ``specialty``. Optional ``levels`` lists its known values."""

    #: The feature's name, as rules write it (lower case, ``_``).
    name: str
    #: The customer column: country, type, specialty, territory, postal_code or city.
    column: str
    #: The values it may take; rules comparing it with others are refused.
    levels: tuple[str, ...] = ()
    #: What the feature is for a customer without the input (see ``Missing``).
    missing: Missing | None = None
    #: What the feature means, for people reading the rules.
    description: str = ""
    #: ``kind = "attribute"`` in TOML: which kind of feature this is.
    kind: Literal["attribute"] = "attribute"

    @property
    def type(self) -> str:
        return "text"


@attrs.frozen
class MetricFeature:
    """A metric's value: the latest period up to the cycle, or aggregated over the cycle."""

    #: The feature's name, as rules write it (lower case, ``_``).
    name: str
    #: The metric's name in the metrics files (``potential``).
    metric: str
    #: ``latest``: the most recent period ending by the cycle's end; ``cycle``:
    #: the periods inside the cycle's, aggregated.
    window: Window = "latest"
    #: With ``window = "cycle"``: ``sum``, ``mean`` or ``max``.
    aggregate: Aggregate = "sum"
    #: What the feature is for a customer without the input (see ``Missing``).
    missing: Missing | None = None
    #: What the feature means, for people reading the rules.
    description: str = ""
    #: ``kind = "metric"`` in TOML: which kind of feature this is.
    kind: Literal["metric"] = "metric"

    @property
    def type(self) -> str:
        return "number"


@attrs.frozen
class QuantileFeature:
    """The quantile bin of a metric within a peer group (1 = lowest).

    Declare ``bins = 10`` for deciles, or ``cuts = [50, 80, 95]`` for custom
    percentile cut points (bins 1 to ``len(cuts) + 1``). Tie rule: customers
    with equal values share the bin of the first of them in ascending order,
    so a block of zeros lands in the lowest bin it reaches. Customers without
    the metric are left out of the ranking and take the missing policy.
    """

    #: The feature's name, as rules write it (lower case, ``_``).
    name: str
    #: The metric ranked.
    metric: str
    #: Equal bins: cut points at ``100 * k / bins`` percent (deciles: 10, 20 ... 90).
    bins: int | None = None
    #: Or explicit percentile cut points (``[50, 80, 95]``). A customer's bin is 1 +
    #: the number of cut points ``c`` with ``(rank - 1) * 100 >= c * n`` (rank by
    #: value ascending within the peer group, ties sharing the first rank; ``n``
    #: the customers of the group with the metric).
    cuts: tuple[float, ...] = ()
    #: Customer columns whose values form the groups ranked apart (``["country", "specialty"]``).
    peer_group: tuple[str, ...] = ()
    #: Which value is ranked: ``latest`` or ``cycle`` (as for a metric feature).
    window: Window = "latest"
    #: With ``window = "cycle"``: ``sum``, ``mean`` or ``max``.
    aggregate: Aggregate = "sum"
    #: What the feature is for a customer without the input (see ``Missing``).
    missing: Missing | None = None
    #: What the feature means, for people reading the rules.
    description: str = ""
    #: ``kind = "quantile"`` in TOML: which kind of feature this is.
    kind: Literal["quantile"] = "quantile"

    @property
    def type(self) -> str:
        return "integer"

    @property
    def cut_points(self) -> tuple[float, ...]:
        """Percentile cut points, whichever way they were declared."""
        if self.cuts:
            return tuple(self.cuts)
        bins = self.bins or 10
        return tuple(100 * step / bins for step in range(1, bins))

    @property
    def bin_count(self) -> int:
        return len(self.cut_points) + 1


@attrs.frozen
class ProfileFeature:
    """A profile dimension scored from a questionnaire: its level, or its score."""

    #: The feature's name, as rules write it (lower case, ``_``).
    name: str
    #: The questionnaire's id.
    questionnaire: str
    #: The profile dimension it scores (``adoption``).
    dimension: str
    #: ``level`` (the band's name, text) or ``score`` (the number).
    value: Literal["level", "score"] = "level"
    #: What the feature is for a customer without the input (see ``Missing``).
    missing: Missing | None = None
    #: What the feature means, for people reading the rules.
    description: str = ""
    #: ``kind = "profile"`` in TOML: which kind of feature this is.
    kind: Literal["profile"] = "profile"

    @property
    def type(self) -> str:
        return "text" if self.value == "level" else "number"


@attrs.frozen
class ConsistencyFeature:
    """Engagement consistency: the share of the last ``periods`` periods with activity.

    A period counts as active when the metric's value in it exceeds
    ``threshold``. The result is between 0 and 1.
    """

    #: The feature's name, as rules write it (lower case, ``_``).
    name: str
    #: The activity metric (``trx``, ``calls``).
    metric: str
    #: How many periods back, ending with the cycle's last month.
    periods: int = 4
    #: ``month``, ``quarter``, ``half`` or ``year``.
    granularity: Granularity = "quarter"
    #: A period is active when the metric's value in it exceeds this.
    threshold: float = 0.0
    #: What the feature is for a customer without the input (see ``Missing``).
    missing: Missing | None = None
    #: What the feature means, for people reading the rules.
    description: str = ""
    #: ``kind = "consistency"`` in TOML: which kind of feature this is.
    kind: Literal["consistency"] = "consistency"

    @property
    def type(self) -> str:
        return "number"


@attrs.frozen
class MetricBounds:
    """What values a metric can take: a row outside ``min``..``max`` is quarantined.

    A rule set's features name the metrics they read; ``[[metrics]]`` adds
    bounds to any of them (a potential is never negative, a share is at most
    1), so an implausible value is refused at load instead of ranked.
    """

    #: The metric's name in the metrics files.
    name: str
    #: The smallest plausible value (none: no lower bound).
    min: float | None = None
    #: The largest plausible value (none: no upper bound).
    max: float | None = None
    #: What the metric measures, in its unit.
    description: str = ""


Feature = AttributeFeature | MetricFeature | QuantileFeature | ProfileFeature | ConsistencyFeature
FEATURE_CLASSES = (
    AttributeFeature,
    MetricFeature,
    QuantileFeature,
    ProfileFeature,
    ConsistencyFeature,
)


@attrs.frozen
class Rule:
    """``when`` the condition holds (and no earlier rule matched), assign ``segment``."""

    #: The rule's id, recorded with each assignment it decides.
    id: str
    #: A restricted SQL condition over the rule set's features.
    when: str
    #: The segment it assigns: one of the dimension's, or ``no_segment`` to leave
    #: the customer unsegmented.
    segment: str
    #: Why the rule exists, for people reading it.
    description: str = ""


@attrs.frozen
class MatrixAxis:
    """One axis of a segmentation matrix: numeric ``ranges`` or groups of ``levels``."""

    #: The feature along the axis.
    feature: str
    #: Inclusive numeric ranges, one per entry (``[[8, 10], [4, 7], [1, 3]]``).
    ranges: tuple[tuple[float, float], ...] = ()
    #: Or groups of text levels, one per entry (``[["regular", "advocate"], ["trialist"]]``).
    levels: tuple[tuple[str, ...], ...] = ()
    #: Names of the entries, for people (``["high", "medium", "low"]``).
    labels: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return len(self.ranges) or len(self.levels)

    def label(self, index: int) -> str:
        if self.labels:
            return self.labels[index]
        if self.ranges:
            low, high = self.ranges[index]
            return f"{_number(low)}-{_number(high)}"
        return "+".join(self.levels[index])

    def condition(self, index: int) -> str:
        if self.ranges:
            low, high = self.ranges[index]
            return f"{self.feature} BETWEEN {_number(low)} AND {_number(high)}"
        return f"{self.feature} IN ({text_list(self.levels[index])})"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@attrs.frozen
class Matrix:
    """The shorthand commercial teams draw: rows x columns -> segment.

    Cells are tried row by row after the dimension's rules; an empty cell
    (``""``) assigns nothing and leaves the customer to the fallback; a
    ``"no_segment"`` cell leaves the customer unsegmented.
    """

    #: The axis down the matrix.
    rows: MatrixAxis
    #: The axis across the matrix.
    columns: MatrixAxis
    #: One row of segments per row entry, one per column entry (``""``: no
    #: match, on to the fallback; ``"no_segment"``: the customer is not segmented).
    cells: tuple[tuple[str, ...], ...]


@attrs.frozen
class Dimension:
    """One segmentation dimension: declared segments, ordered rules, a fallback.

    ``segments`` are listed from highest to lowest priority; that order is
    what "adjacent" means for field refinement and how reports sort.

    A rule's ``segment``, a matrix cell or the ``fallback`` may be
    ``"no_segment"``: the customer is then not segmented in this dimension
    (it is not one of ``segments``; outputs show ``no_segment``, after every
    declared segment; in the segment dimension the customer gets no strategy,
    no contacts and no cost). E.g. ``fallback = "no_segment"`` segments only
    the customers some rule matches.
    """

    #: The dimension's segments, highest priority first (never ``no_segment``).
    segments: tuple[str, ...]
    #: The segment of a customer no rule or cell matched (``no_segment``: none).
    fallback: str
    #: Rules tried in order; the first that matches decides.
    rules: tuple[Rule, ...] = ()
    #: A matrix tried after the rules, row by row.
    matrix: Matrix | None = None
    #: What the dimension decides, for people.
    description: str = ""

    @property
    def leaves_unsegmented(self) -> bool:
        """Whether a rule, a matrix cell or the fallback can assign :data:`NO_SEGMENT`."""
        cells = self.matrix.cells if self.matrix is not None else ()
        return (
            self.fallback == NO_SEGMENT
            or any(rule.segment == NO_SEGMENT for rule in self.rules)
            or any(cell == NO_SEGMENT for row in cells for cell in row)
        )

    @property
    def outcomes(self) -> tuple[str, ...]:
        """Every value the dimension can assign, in priority order: its segments,
        then :data:`NO_SEGMENT` if it can leave a customer unsegmented."""
        return self.segments + ((NO_SEGMENT,) if self.leaves_unsegmented else ())

    def all_rules(self, prefix: str) -> list[tuple[str, Rule]]:
        """The dimension's rules in the order they are tried, each with its path.

        Matrix cells become rules with ids like ``matrix[2,3]``; the fallback
        is not a rule (every engine applies it when nothing matched).
        """
        located = [(f"{prefix}.rules[{index}]", rule) for index, rule in enumerate(self.rules)]
        if self.matrix is not None:
            rows, columns = self.matrix.rows, self.matrix.columns
            for i, row in enumerate(self.matrix.cells):
                for j, segment in enumerate(row):
                    if not segment:
                        continue
                    rule = Rule(
                        id=f"matrix[{i + 1},{j + 1}]",
                        when=f"{rows.condition(i)} AND {columns.condition(j)}",
                        segment=segment,
                        description=f"{rows.feature} {rows.label(i)} x {columns.feature} "
                        f"{columns.label(j)}",
                    )
                    located.append((f"{prefix}.matrix.cells[{i}][{j}]", rule))
        return located

    def problems(self, prefix: str) -> Iterator[Problem]:
        yield from check_unique(f"{prefix}.segments", self.segments, "segment")
        if NO_SEGMENT in self.segments:
            yield Problem(
                f"{prefix}.segments",
                f"{NO_SEGMENT!r} is the core's outcome for a customer left unsegmented; "
                "do not declare it (rules, cells and the fallback may name it as they are)",
            )
        if self.fallback not in self.outcomes:
            yield Problem(
                f"{prefix}.fallback",
                f"fallback {self.fallback!r} is not a declared segment {list(self.segments)} "
                f"(or {NO_SEGMENT!r})",
            )
        if not self.rules and self.matrix is None:
            yield Problem(prefix, "declares neither rules nor a matrix")
        yield from check_unique(f"{prefix}.rules", (rule.id for rule in self.rules), "rule id")
        for path, rule in self.all_rules(prefix):
            if rule.segment not in self.outcomes:
                yield Problem(
                    f"{path}.segment",
                    f"segment {rule.segment!r} is not declared in {prefix}.segments "
                    f"{list(self.segments)} (nor is it {NO_SEGMENT!r})",
                )
        if self.matrix is not None:
            yield from _matrix_problems(f"{prefix}.matrix", self.matrix)


def _matrix_problems(prefix: str, matrix: Matrix) -> Iterator[Problem]:
    for name, axis in (("rows", matrix.rows), ("columns", matrix.columns)):
        if bool(axis.ranges) == bool(axis.levels):
            yield Problem(f"{prefix}.{name}", "declare exactly one of 'ranges' or 'levels'")
        if axis.labels and len(axis.labels) != axis.size:
            yield Problem(
                f"{prefix}.{name}.labels", f"{len(axis.labels)} labels for {axis.size} entries"
            )
        for index, (low, high) in enumerate(axis.ranges):
            if low > high:
                yield Problem(f"{prefix}.{name}.ranges[{index}]", f"range {low}..{high} is empty")
    if len(matrix.cells) != matrix.rows.size:
        yield Problem(
            f"{prefix}.cells",
            f"{len(matrix.cells)} rows of cells for {matrix.rows.size} row entries",
        )
    for index, row in enumerate(matrix.cells):
        if len(row) != matrix.columns.size:
            yield Problem(
                f"{prefix}.cells[{index}]",
                f"{len(row)} cells for {matrix.columns.size} column entries",
            )


DIMENSIONS = ("segment", "needs", "tier")


@attrs.frozen
class PullThroughTest:
    """What pull-through compares between a customer's previous cycle and this one.

    A customer keeps the previous cycle's final segment (where the country
    enables pull-through) when every comparison below finds it unchanged:

    * ``metrics``: each metric's own value (as the rule set's first feature on
      it reads it: its window and aggregate) changed by less than the
      country's ``pull_through.threshold``, relative to the previous value:
      ``|now - before| < threshold * |before|``. Equal values (both missing
      included) are unchanged; a value that appears or disappears is a change.
      Deciles and other ranks are *not* compared: they move when other
      customers' figures move.
    * ``profile``: every profile feature (questionnaire dimension) has the
      level or score it had: the customer's answers, as scoring reads them.
    * ``attributes``: these customer attributes are what they were (e.g.
      ``specialty``).
    * ``identifiers``: the customer's national identifiers are what they were.

    A rule set that declares no test compares every feature's value instead,
    numeric ones within the threshold.
    """

    #: Metrics whose own value must have moved less than the country's threshold.
    metrics: tuple[str, ...] = ()
    #: Whether every profile feature must have its previous level or score.
    profile: bool = True
    #: Customer attributes that must be unchanged (``["specialty"]``).
    attributes: tuple[str, ...] = ()
    #: Whether the customer's national identifiers must be unchanged.
    identifiers: bool = False

    def problems(self, rule_set: RuleSet) -> Iterator[Problem]:
        read = {
            feature.metric
            for feature in rule_set.features
            if isinstance(feature, MetricFeature | QuantileFeature)
        }
        for index, metric in enumerate(self.metrics):
            if metric not in read:
                yield Problem(
                    f"pull_through.metrics[{index}]",
                    f"{metric!r} is not a metric any metric or quantile feature reads "
                    f"(they read: {', '.join(sorted(read)) or 'none'})",
                )
        for index, column in enumerate(self.attributes):
            if column not in CUSTOMER_ATTRIBUTES:
                yield Problem(
                    f"pull_through.attributes[{index}]",
                    f"{column!r} is not a customer attribute; choose from {list(CUSTOMER_ATTRIBUTES)}",
                )
        yield from check_unique("pull_through.metrics", self.metrics, "metric")


@attrs.frozen
class RuleSet:
    """A therapy area's standardized rules, turning profiles into segment membership."""

    #: The key of an array of them in one file (``[[rule_sets]]``).
    PLURAL: ClassVar[str] = "rule_sets"

    #: The rule set's id (``oncology-core``).
    name: str
    #: The therapy area it segments (``oncology``).
    therapy_area: str
    #: Its version, recorded with every cycle that runs it.
    version: str
    #: The per-customer values rules read (``[[features]]``, each with a ``kind``).
    features: tuple[Feature, ...]
    #: The segment: what strategy and call plan follow from.
    segment: Dimension
    #: The needs segment (optional).
    needs: Dimension | None = None
    #: The priority tier (optional).
    tier: Dimension | None = None
    #: What pull-through compares (none: every feature).
    pull_through: PullThroughTest | None = None
    #: What the rule set does, in one line.
    description: str = ""
    #: Bounds of the metrics the features read: rows outside them are quarantined at load.
    metrics: tuple[MetricBounds, ...] = ()
    provenance: Provenance | None = provenance_field()

    def feature(self, name: str) -> Feature | None:
        return next((feature for feature in self.features if feature.name == name), None)

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Every metric the rule set reads or bounds, sorted."""
        read = {feature.metric for feature in self.features if hasattr(feature, "metric")}
        return tuple(sorted(read | {bounds.name for bounds in self.metrics}))

    @property
    def dimensions(self) -> dict[str, Dimension]:
        """The declared dimensions by name, ``segment`` first."""
        return {name: getattr(self, name) for name in DIMENSIONS if getattr(self, name) is not None}

    def problems(self) -> Iterator[Problem]:
        yield from check_slug("name", self.name)
        yield from check_slug("therapy_area", self.therapy_area)
        yield from check_unique("features", (feature.name for feature in self.features), "feature")
        for index, feature in enumerate(self.features):
            yield from _feature_problems(f"features[{index}]", feature)
        for name, dimension in self.dimensions.items():
            yield from dimension.problems(name)
        yield from check_unique("metrics", (bounds.name for bounds in self.metrics), "metric")
        for index, bounds in enumerate(self.metrics):
            yield from check_name(f"metrics[{index}].name", bounds.name)
            if None not in (bounds.min, bounds.max) and bounds.min > bounds.max:  # type: ignore[operator]
                yield Problem(f"metrics[{index}]", f"min {bounds.min} is above max {bounds.max}")
        if self.pull_through is not None:
            yield from self.pull_through.problems(self)


def _feature_problems(path: str, feature: Feature) -> Iterator[Problem]:
    yield from check_name(f"{path}.name", feature.name)
    if "__" in feature.name:
        # Why: the cycle's query names its own columns <dimension>__segment,
        # coverage__<n> and so on; a feature must not shadow them.
        yield Problem(f"{path}.name", f"{feature.name!r}: '__' is reserved; use a single '_'")
    if isinstance(feature, AttributeFeature) and feature.column not in CUSTOMER_ATTRIBUTES:
        yield Problem(
            f"{path}.column",
            f"{feature.column!r} is not a customer attribute; use one of {list(CUSTOMER_ATTRIBUTES)}",
        )
    if isinstance(feature, QuantileFeature):
        if feature.bins is not None and feature.cuts:
            yield Problem(path, "declare either 'bins' or 'cuts', not both")
        if feature.bins is not None and not 2 <= feature.bins <= 100:
            yield Problem(f"{path}.bins", f"{feature.bins} bins; use 2 to 100")
        cuts = list(feature.cuts)
        if cuts and (cuts != sorted(set(cuts)) or cuts[0] <= 0 or cuts[-1] >= 100):
            yield Problem(
                f"{path}.cuts",
                "cut points must be strictly increasing percentiles between 0 and 100",
            )
        for index, column in enumerate(feature.peer_group):
            if column not in CUSTOMER_ATTRIBUTES:
                yield Problem(
                    f"{path}.peer_group[{index}]",
                    f"{column!r} is not a customer attribute; use one of {list(CUSTOMER_ATTRIBUTES)}",
                )
    if isinstance(feature, ConsistencyFeature) and not 1 <= feature.periods <= 60:
        yield Problem(f"{path}.periods", f"{feature.periods} periods; use 1 to 60")
    if feature.missing is not None:
        yield from _missing_problems(f"{path}.missing", feature, feature.missing)


def _missing_problems(path: str, feature: Feature, missing: Missing) -> Iterator[Problem]:
    if missing.unknown and feature.type != "text":
        yield Problem(
            path,
            f"'unknown' is a level of text features; {feature.name!r} is {feature.type}: "
            "use { default = ... } or leave missing values NULL",
        )
    default = missing.default
    if default is None:
        return
    expected: dict[str, tuple[type, ...]] = {
        "text": (str,),
        "integer": (int,),
        "number": (int, float),
        "boolean": (bool,),
    }
    if (isinstance(default, bool) and feature.type != "boolean") or not isinstance(
        default, expected[feature.type]
    ):
        yield Problem(
            f"{path}.default",
            f"default {default!r} does not fit {feature.type} feature {feature.name!r}",
        )


def feature_default(feature: Feature) -> Scalar | None:
    """The value a missing input becomes for this feature (``None``: stays NULL)."""
    return feature.missing.fill if feature.missing is not None else None
