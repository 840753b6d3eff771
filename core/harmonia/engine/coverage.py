"""Input coverage: before a cycle computes, how much of its market each feature can see.

A rule set that reads a metric nobody loaded, or ranks within specialties the
market's customers do not have, still assigns every customer a segment: the
lowest, from the missing-value defaults. The check counts, on the inputs the
cycle has just read (one query, wherever the engine keeps them), how many
customers of the population each feature's input covers:

* an attribute with ``levels``: a value among them (else: any value);
* a metric, quantile or consistency feature: a row of its metric in the
  feature's window;
* a profile feature: a response to its questionnaire in the response window;

and, for each quantile feature, the same per peer group (``cardiology / FR``).

A market decides what is too little: ``parameters.min_input_coverage`` in its
country profile (0 to 1, within the option catalogue). Under it the cycle is
refused before anything is computed. The default, 0, refuses nothing: a feature
under :data:`WARN_BELOW` or a peer group with no input at all is reported as a
warning, since a rule set's missing-value policy may be meant for it (and a
market loading its first files runs cycles before every input arrives).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from harmonia.definitions import (
    AttributeFeature,
    ConsistencyFeature,
    Feature,
    MetricFeature,
    ProfileFeature,
    QuantileFeature,
    RuleSet,
)
from harmonia.errors import ConfigError
from harmonia.sql import identifier, quote, text_list

if TYPE_CHECKING:
    import pyarrow as pa

    from harmonia.engine.query import CycleQuery

#: Without a threshold of the market's, a feature whose input covers less than this
#: share of the population is a warning.
WARN_BELOW = 0.5

#: The country profile's parameter (option ``parameters.min_input_coverage``).
PARAMETER = "min_input_coverage"


@attrs.frozen
class InputCoverage:
    """How many customers of the population one feature's input covers (or a peer group's)."""

    feature: str
    #: What the feature reads, in words (``metric potential``, ``specialty in the levels``).
    input: str
    covered: int
    customers: int
    #: The peer group (its columns' values, ``cardiology / FR``); None for the whole population.
    peer_group: str | None = None

    @property
    def share(self) -> float:
        return self.covered / self.customers if self.customers else 1.0

    def describe(self) -> str:
        where = f" in peer group {self.peer_group}" if self.peer_group is not None else ""
        return (
            f"{self.feature} ({self.input}){where}: {self.covered:,} of {self.customers:,} "
            f"customers ({100 * self.share:.0f}%)"
        )

    def to_json(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "share": round(self.share, 4)}


def input_coverage_sql(query: CycleQuery) -> str:
    """One query over the cycle's inputs, one scan of its population: a flag per feature
    (``f<i>``: the customer has the input), summed over the population and over each
    quantile feature's peer groups (grouping sets). :func:`coverage_of` reads it."""
    features = query.spec.rule_set.features
    # Each fact table is scanned once: per customer, a 0/1 column per distinct input.
    held: dict[str, dict[str, str]] = {"metric": {}, "response": {}}  # condition -> column
    flags = []
    for index, feature in enumerate(features):
        _, condition, source = _input(query, feature)
        if source is not None:
            table, row_condition = source
            column = held[table].setdefault(row_condition, f"h{len(held[table])}")
            condition = f"COALESCE({table}_inputs.{column}, 0) = 1"
        flags.append(f"CASE WHEN {condition} THEN 1 ELSE 0 END AS f{index}")
    peers = _peer_columns(query.spec.rule_set)
    sums = "".join(f", CAST(SUM(f{index}) AS BIGINT) AS f{index}" for index in range(len(features)))
    # GROUPING SETS by hand (SQLite has none): the population whole, then per peer group,
    # each row saying which columns it groups by (``grouped``: a bit per peer column,
    # set when aggregated over, as GROUPING() would).
    selects = []
    for group in [(), *_peer_sets(features)]:
        values = "".join(
            f", CAST({column if column in group else 'NULL'} AS VARCHAR) AS {column}"
            for column in peers
        )
        by = f" GROUP BY {', '.join(group)}" if group else ""
        selects.append(
            f"SELECT {_mask(peers, group)} AS grouped{values}, "
            f"CAST(COUNT(*) AS BIGINT) AS customers{sums} FROM flagged{by}"
        )
    ctes = {"population": query.population()}
    joins = ""
    for table, columns in held.items():
        if columns:
            ctes[f"{table}_inputs"] = _holders(query, table, columns)
            joins += f" LEFT JOIN {table}_inputs ON {table}_inputs.customer_id = p.customer_id"
    ctes["flagged"] = f"SELECT p.*, {', '.join(flags) or '1 AS f'} FROM population p{joins}"
    with_clause = ",\n".join(f"{name} AS (\n{sql}\n)" for name, sql in ctes.items())
    return f"WITH {with_clause}\n" + "\nUNION ALL\n".join(selects)


def _mask(peers: Sequence[str], group: Sequence[str]) -> int:
    """GROUPING()'s value for rows grouped by ``group``: a bit per peer column (the
    first the highest), set when the column is aggregated over."""
    return sum(1 << (len(peers) - 1 - i) for i, column in enumerate(peers) if column not in group)


def _peer_columns(rule_set: RuleSet) -> list[str]:
    """Every column some quantile feature ranks within, in a fixed order."""
    columns = [c for f in rule_set.features if isinstance(f, QuantileFeature) for c in f.peer_group]
    return list(dict.fromkeys(columns))


def _peer_sets(features: Sequence[Feature]) -> list[tuple[str, ...]]:
    sets = [tuple(f.peer_group) for f in features if isinstance(f, QuantileFeature)]
    return list(dict.fromkeys(group for group in sets if group))


def _holders(query: CycleQuery, table: str, columns: dict[str, str]) -> str:
    """SQL: per customer with any row of ``table`` the cycle reads, a 0/1 column per
    input (``columns``: the row condition of each, and its column's name)."""
    from harmonia.engine.query import RESPONSES
    from harmonia.store.identity import resolved_facts

    flags = ", ".join(
        f"MAX(CASE WHEN {condition} THEN 1 ELSE 0 END) AS {column}"
        for condition, column in columns.items()
    )
    if table == "metric":
        # Whether a customer has a metric, not which row wins: no key, no duplicate check.
        metrics = resolved_facts("metric", ("therapy_area", "metric", "first_month", "last_month"))
        where = f"therapy_area = {quote(query.spec.therapy_area)}"
        return (
            f"SELECT customer_id, {flags} FROM {metrics} metric WHERE {where} GROUP BY customer_id"
        )
    return f"SELECT customer_id, {flags} FROM {RESPONSES} response GROUP BY customer_id"


def _input(query: CycleQuery, feature: Feature) -> tuple[str, str, tuple[str, str] | None]:
    """What ``feature`` reads, in words; the condition on a population row ``p`` that
    the customer has it; or instead the fact table and the condition on its rows."""
    if isinstance(feature, AttributeFeature):
        column = f"p.{identifier(feature.column)}"
        if feature.levels:
            return (
                f"{feature.column} among the rule set's levels",
                f"{column} IN ({text_list(feature.levels)})",
                None,
            )
        return f"{feature.column} given", f"{column} IS NOT NULL AND {column} <> ''", None
    period = query.spec.period
    if isinstance(feature, ProfileFeature):
        start, end = query.response_window
        # Only the versions the cycle scores: a response to one no longer installed
        # covers nothing.
        versions = query.spec.questionnaires.get(feature.questionnaire, [])
        condition = (
            f"questionnaire = {quote(feature.questionnaire)} "
            f"AND version IN ({text_list(q.version for q in versions)}) "
            f"AND answered_at >= {quote(start)} AND answered_at < {quote(end)}"
        )
        return f"a response to {feature.questionnaire}", "", ("response", condition)
    assert isinstance(feature, MetricFeature | QuantileFeature | ConsistencyFeature)
    if isinstance(feature, ConsistencyFeature):
        first = period.trailing(feature.granularity, feature.periods)[0].first_month
    else:
        first = period.first_month if feature.window == "cycle" else None
    since = f" AND first_month >= {first}" if first is not None else ""
    condition = f"metric = {quote(feature.metric)} AND last_month <= {period.last_month}{since}"
    window = " in the cycle's window" if first is not None else ""
    return f"metric {feature.metric}{window}", "", ("metric", condition)


def coverage_of(rule_set: RuleSet, query: CycleQuery, table: pa.Table) -> list[InputCoverage]:
    """The query's result as records: each feature over the population, then each
    quantile feature over each of its peer groups."""
    features = rule_set.features
    peers = _peer_columns(rule_set)
    every = _mask(peers, ())
    described = [_input(query, feature)[0] for feature in features]
    rows = table.to_pylist()
    result = []
    for total in (row for row in rows if row["grouped"] == every):
        for index, feature in enumerate(features):
            result.append(
                InputCoverage(
                    feature.name, described[index], total[f"f{index}"], total["customers"]
                )
            )
    grouped = []
    for index, feature in enumerate(features):
        if not isinstance(feature, QuantileFeature) or not feature.peer_group:
            continue
        wanted = _mask(peers, feature.peer_group)
        for row in rows:
            if row["grouped"] == wanted and wanted != every:
                label = " / ".join(
                    "(none)" if row[c] is None else str(row[c]) for c in feature.peer_group
                )
                grouped.append(
                    InputCoverage(
                        feature.name,
                        described[index],
                        row[f"f{index}"],
                        row["customers"],
                        peer_group=label,
                    )
                )
    return result + sorted(grouped, key=lambda row: (row.feature, row.peer_group or ""))


def warnings(rows: list[InputCoverage], threshold: float) -> Iterator[str]:
    """What a person should know before trusting the cycle's segments."""
    below = threshold or WARN_BELOW
    for row in rows:
        if row.peer_group is None and row.customers and row.share < below:
            yield f"input coverage: {row.describe()}"
    for feature in dict.fromkeys(row.feature for row in rows if row.peer_group is not None):
        empty = [
            row.peer_group
            for row in rows
            if row.feature == feature and row.peer_group is not None and row.covered == 0
        ]
        if empty:
            shown = ", ".join(str(group) for group in empty[:5])
            more = f" and {len(empty) - 5} more" if len(empty) > 5 else ""
            yield (
                f"input coverage: {feature}: {len(empty)} peer group(s) without any input, "
                f"ranked by their missing-value default: {shown}{more}"
            )


def check(rows: list[InputCoverage], threshold: float, country: str) -> None:
    """Refuse the cycle when a feature's input covers less than the market's threshold."""
    if not threshold:
        return
    under = [row for row in rows if row.peer_group is None and row.share < threshold]
    if under:
        listed = "; ".join(row.describe() for row in under)
        raise ConfigError(
            f"the cycle is refused: {len(under)} feature input(s) cover less than "
            f"{100 * threshold:.0f}% of {country}'s customers: {listed}",
            where=f"country profile {country}, parameters.{PARAMETER}",
            fix="load the missing inputs (see `harmonia load`), or lower "
            f"parameters.{PARAMETER} in the {country} country profile",
        )
