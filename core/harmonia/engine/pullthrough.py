"""Pull-through: which inputs are compared with the previous cycle, in SQL and for one customer.

A customer keeps the previous cycle's final segment, where the country
enables pull-through, when the comparisons its rule set's
:class:`~harmonia.definitions.ruleset.PullThroughTest` declares all find it
unchanged. The raw inputs compared (a metric's own value, a customer
attribute, the national identifiers) are stored with every assignment, next
to the features, under keys no feature can have (``metric__potential``), so
the next cycle compares its values with the ones the previous cycle saw.

The cycle compares in SQL for the whole universe (:func:`carried_sql`);
:func:`explain_pull_through` makes the same comparisons for one customer in
Python, with the figures, to show in ``harmonia explain``. A test holds the
two to the same answers.

The *previous cycle* is the latest completed cycle of the same country and
therapy area whose period ends before this one's begins (see
:func:`harmonia.engine.cycle.previous_cycle`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from harmonia.definitions import Feature, MetricFeature, ProfileFeature, QuantileFeature
from harmonia.definitions.ruleset import PullThroughTest, RuleSet
from harmonia.sql import double, identifier, quote

#: Stored raw inputs are named ``<kind>__<name>``; features cannot contain ``__``.
RAW = "__"
#: The key of the customer's national identifiers (``count lowest highest``).
IDENTIFIERS = "identifiers__"
#: Relative slack on equality: engines print doubles in JSON with different precision.
PRECISION = 1e-9

#: The fields of a previous cycle's inputs kept as a struct: (name, DuckDB type) each.
PreviousInputs = tuple[tuple[str, str], ...]


def metric_key(metric: str) -> str:
    return f"metric__{metric}"


def attribute_key(column: str) -> str:
    return f"attribute__{column}"


def is_raw(key: str) -> bool:
    """Whether an assignment's input is a stored raw input rather than a feature."""
    return RAW in key


def metric_feature(rule_set: RuleSet, metric: str) -> MetricFeature | QuantileFeature:
    """The feature whose reading of ``metric`` (window, aggregate) pull-through compares."""
    return next(
        feature
        for feature in rule_set.features
        if isinstance(feature, MetricFeature | QuantileFeature) and feature.metric == metric
    )


# --- SQL -----------------------------------------------------------------------------


def identifiers_sql() -> str:
    """Per customer: its national identifiers as one comparable text."""
    return (
        "SELECT customer_id, CAST(COUNT(*) AS VARCHAR) || ' ' || MIN(scheme || ':' || value) "
        "|| ' ' || MAX(scheme || ':' || value) AS value FROM identifier GROUP BY customer_id"
    )


def _previous(key: str) -> str:
    """SQL: the previous cycle's value of ``key``, a column of ``prev`` (see :func:`previous_sql`)."""
    return f"prev.{identifier(_previous_column(key))}"


def _previous_column(key: str) -> str:
    return f"previous__{key}"  # no feature name has "__": cannot clash with one


def compared_keys(rule_set: RuleSet) -> list[str]:
    """The keys of the previous assignment's inputs that :func:`carried_sql` compares."""
    test = rule_set.pull_through
    if test is None:
        return [feature.name for feature in rule_set.features]
    keys = [metric_key(m) for m in test.metrics]
    keys += [
        feature.name
        for feature in rule_set.features
        if test.profile and isinstance(feature, ProfileFeature)
    ]
    keys += [attribute_key(column) for column in test.attributes]
    return keys + ([IDENTIFIERS] if test.identifiers else [])


def previous_sql(rule_set: RuleSet, assignments: str, fields: PreviousInputs | None = None) -> str:
    """SQL: the previous ``assignments`` (customer_id, final_segment, inputs) with the
    inputs :func:`carried_sql` compares as columns, each as the text its JSON holds.

    ``fields``: the inputs are a struct of these fields (name, DuckDB type), as the
    embedded engine reads an inputs file that keeps them so; else they are JSON text.
    Why: each is read from the JSON text once per customer; compared in place,
    the same document was parsed for every mention of every key (1M customers:
    about 8 s of CPU, twice the segmentation itself). A struct's fields are read
    as they are, without building and parsing a JSON text at all.
    """
    columns = "".join(
        f", {_previous_text(key, fields)} AS {identifier(_previous_column(key))}"
        for key in dict.fromkeys(compared_keys(rule_set))
    )
    return (
        "SELECT previous_assignment.customer_id, previous_assignment.final_segment"
        f"{columns} FROM ({assignments}) previous_assignment"
    )


def _previous_text(key: str, fields: PreviousInputs | None) -> str:
    """SQL: input ``key`` of ``previous_assignment.inputs`` as the text ``->> '$.<key>'``
    gives of their JSON (a string unquoted, a number or boolean as written, a
    missing key or null NULL), whether they are that JSON or a struct of ``fields``.

    A field other than text is read through its own JSON, by the same ``->>``:
    the JSON's text itself would keep a date's or a UUID's quotes and a decimal's
    trailing zeros (``"2027-01-01"``, ``1.500``), which ``->>`` drops."""
    inputs = "previous_assignment.inputs"
    if fields is None:
        return f"(CAST({inputs} AS JSON) ->> {quote('$.' + key)})"
    kind = dict(fields).get(key)
    value = f"struct_extract({inputs}, {quote(key)})"
    if kind is None:
        return "CAST(NULL AS VARCHAR)"
    if kind == "VARCHAR":
        return value
    return f"(to_json({value}) ->> '$')"


def _number_unchanged(current: str, previous_text: str, threshold: float, strict: bool) -> str:
    now, then = f"CAST({current} AS DOUBLE)", f"CAST({previous_text} AS DOUBLE)"
    equal = f"ABS({now} - {then}) <= {double(PRECISION)} * ABS({then})"
    within = f"ABS({now} - {then}) {'<' if strict else '<='} {double(threshold)} * ABS({then})"
    return f"(({now} IS NULL AND {then} IS NULL) OR {equal} OR {within})"


def _text_unchanged(current: str, previous_text: str) -> str:
    now, then = f"CAST({current} AS VARCHAR)", f"CAST({previous_text} AS VARCHAR)"
    return f"(({now} IS NULL AND {then} IS NULL) OR {now} = {then})"


def carried_sql(rule_set: RuleSet, threshold: float) -> str:
    """SQL over ``r`` (this cycle's row) and ``prev`` (the previous assignment): unchanged."""
    test = rule_set.pull_through
    if test is None:
        return " AND ".join(_feature_unchanged(f, threshold) for f in rule_set.features) or "TRUE"
    checks = [
        _number_unchanged(
            f"r.{identifier(metric_key(m))}", _previous(metric_key(m)), threshold, True
        )
        for m in test.metrics
    ]
    checks += [
        _feature_unchanged(feature, threshold)
        for feature in rule_set.features
        if test.profile and isinstance(feature, ProfileFeature)
    ]
    keys = [attribute_key(column) for column in test.attributes]
    keys += [IDENTIFIERS] if test.identifiers else []
    checks += [_text_unchanged(f"r.{identifier(key)}", _previous(key)) for key in keys]
    return " AND ".join(checks) or "TRUE"


def _feature_unchanged(feature: Feature, threshold: float) -> str:
    current, previous = f"r.{identifier(feature.name)}", _previous(feature.name)
    if feature.type == "number":
        return _number_unchanged(current, previous, threshold, strict=False)
    return _text_unchanged(current, previous)


def raw_keys(test: PullThroughTest | None) -> list[str]:
    """The raw inputs an assignment stores for the next cycle's comparison."""
    if test is None:
        return []
    keys = [metric_key(metric) for metric in test.metrics]
    keys += [attribute_key(column) for column in test.attributes]
    return keys + ([IDENTIFIERS] if test.identifiers else [])


# --- one customer, in Python -----------------------------------------------------------


@attrs.frozen
class Comparison:
    """One input compared: its value then and now, the test, and whether it held."""

    input: str
    before: Any
    now: Any
    test: str
    unchanged: bool


@attrs.frozen
class PullThroughCheck:
    """Pull-through for one customer: eligibility, every comparison, the outcome."""

    enabled: bool
    previous_cycle: int | None
    previous_segment: str | None
    threshold: float
    comparisons: tuple[Comparison, ...] = ()
    #: Why the customer could not be pulled through at all (None when it could).
    ineligible: str | None = None

    @property
    def carried(self) -> bool:
        return self.ineligible is None and all(c.unchanged for c in self.comparisons)

    @property
    def outcome(self) -> str:
        if self.ineligible is not None:
            return f"not pulled through: {self.ineligible}"
        changed = [c.input for c in self.comparisons if not c.unchanged]
        if changed:
            return "segmented again: changed " + ", ".join(changed)
        return f"pulled through: kept {self.previous_segment} from cycle {self.previous_cycle}"

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "previous_cycle": self.previous_cycle,
            "previous_segment": self.previous_segment,
            "threshold": self.threshold,
            "comparisons": [attrs.asdict(c) for c in self.comparisons],
            "carried": self.carried,
            "outcome": self.outcome,
        }


def explain_pull_through(
    rule_set: RuleSet,
    threshold: float,
    *,
    enabled: bool,
    inputs: dict[str, Any],
    previous_cycle: int | None,
    previous: dict[str, Any] | None,
    previous_segment: str | None,
) -> PullThroughCheck:
    """The comparisons :func:`carried_sql` makes, for one customer, with their figures."""
    check = PullThroughCheck(enabled, previous_cycle, previous_segment, threshold)
    if not enabled:
        return attrs.evolve(check, ineligible="the country does not enable pull-through")
    if previous_cycle is None:
        return attrs.evolve(check, ineligible="there is no previous cycle")
    if previous is None:
        return attrs.evolve(check, ineligible=f"the customer was not in cycle {previous_cycle}")
    comparisons = tuple(_comparisons(rule_set, threshold, inputs, previous))
    check = attrs.evolve(check, comparisons=comparisons)
    if previous_segment not in rule_set.segment.outcomes:
        return attrs.evolve(
            check, ineligible=f"the previous segment {previous_segment} is no longer declared"
        )
    return check


def _comparisons(
    rule_set: RuleSet, threshold: float, inputs: dict[str, Any], previous: dict[str, Any]
) -> Iterable[Comparison]:
    test = rule_set.pull_through
    if test is None:
        for feature in rule_set.features:
            yield _feature(feature, inputs, previous, threshold)
        return
    for metric in test.metrics:
        key = metric_key(metric)
        yield _number(metric, previous.get(key), inputs.get(key), threshold, True)
    if test.profile:
        for feature in rule_set.features:
            if isinstance(feature, ProfileFeature):
                yield _feature(feature, inputs, previous, threshold)
    for column in test.attributes:
        key = attribute_key(column)
        yield _text(column, previous.get(key), inputs.get(key))
    if test.identifiers:
        yield _text("identifiers", previous.get(IDENTIFIERS), inputs.get(IDENTIFIERS))


def _feature(
    feature: Feature, inputs: dict[str, Any], previous: dict[str, Any], threshold: float
) -> Comparison:
    before, now = previous.get(feature.name), inputs.get(feature.name)
    if feature.type == "number":
        return _number(feature.name, before, now, threshold, strict=False)
    return _text(feature.name, before, now)


def number_unchanged(before: Any, now: Any, threshold: float, strict: bool = True) -> bool:
    """Python's reading of :func:`_number_unchanged`."""
    if before is None or now is None:
        return before is None and now is None
    before, now = float(before), float(now)
    change = abs(now - before)
    if change <= PRECISION * abs(before):
        return True
    return change < threshold * abs(before) if strict else change <= threshold * abs(before)


def _number(name: str, before: Any, now: Any, threshold: float, strict: bool) -> Comparison:
    sign = "<" if strict else "≤"
    if before is not None and now is not None and float(before) != 0:
        change = (float(now) - float(before)) / abs(float(before))
        test = f"change {change:+.1%}, unchanged when |change| {sign} {threshold:.0%}"
    else:
        test = f"relative change {sign} {threshold:.0%}; a value that appears or disappears changed"
    return Comparison(name, before, now, test, number_unchanged(before, now, threshold, strict))


def _text(name: str, before: Any, now: Any) -> Comparison:
    same = (before is None and now is None) or (
        before is not None and now is not None and str(before) == str(now)
    )
    return Comparison(name, before, now, "unchanged when equal", same)
