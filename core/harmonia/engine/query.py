"""A cycle as SQL: population, profile scoring, features, rules, pull-through, plans.

Everything a cycle computes per customer is one query over the store's own
tables (``customer``, ``metric``, ``response``, ``answer``, ``assignment``),
written in DuckDB's dialect and transpiled for the engine that runs it
(:mod:`harmonia.engine.dialects`). The embedded engine loads slices of those
tables into DuckDB under the same names; the in-database engine runs the same
query where the data lives. The target list, segment summary and profile
coverage are queries over that query's result, wherever the engine keeps it.
No customer ever passes through a Python loop.

Conventions the SQL keeps so that every engine gives the same answer:

* quantile bins compare integers (``(rank - 1) * 100 >= cut * n``), never
  a floating-point quotient;
* numeric literals are ``CAST(x AS DOUBLE)``, integer features BIGINT;
* periods are month ordinals (see :mod:`harmonia.periods`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import attrs
from sqlglot import exp

from harmonia.definitions import (
    AttributeFeature,
    ConsistencyFeature,
    Feature,
    MetricFeature,
    ProfileFeature,
    QuantileFeature,
)
from harmonia.definitions.ruleset import feature_default
from harmonia.definitions.strategy import CHANNELS
from harmonia.engine.pullthrough import (
    IDENTIFIERS,
    PreviousInputs,
    attribute_key,
    carried_sql,
    identifiers_sql,
    is_raw,
    metric_feature,
    metric_key,
    previous_sql,
    raw_keys,
)
from harmonia.engine.spec import CycleSpec
from harmonia.periods import Period, ordinal_date
from harmonia.questionnaires.coverage import (
    coverage_column,
    coverage_sql,
    profile_dimensions,
    questions_read,
    stale_sql,
    status_sql,
)
from harmonia.questionnaires.scoring import profile_ctes
from harmonia.sql import double, identifier, quote
from harmonia.store.golden_values import OVERLAID, customer_values_sql
from harmonia.store.identity import profiled_rows, resolved_facts

SQL_TYPES = {"text": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN"}

ASSIGNMENT_COLUMNS = (
    "cycle_id",
    "customer_id",
    "segment",
    "segment_rule",
    "needs",
    "needs_rule",
    "tier",
    "tier_rule",
    "final_segment",
    "origin",
    "inputs",
)


#: The key of an assignment's inputs that lists the features whose value came from
#: their missing-value policy, space-separated; no feature can be named so.
FILLED = "(missing)"

# Facts as a cycle reads them: a merged customer's under its survivor.
METRICS = resolved_facts(
    "metric",
    ("therapy_area", "metric", "period", "first_month", "last_month", "value"),
    key=("therapy_area", "metric", "period"),
)
RESPONSES = resolved_facts(
    "response", ("id", "questionnaire", "version", "respondent", "answered_at")
)


def filled_inputs(inputs: dict[str, object]) -> tuple[dict[str, object], list[str]]:
    """An assignment's stored inputs: the feature values, and the features defaulted.

    The raw inputs stored for pull-through (``metric__potential``) are left out.
    """
    values = {key: value for key, value in inputs.items() if not is_raw(key)}
    return values, str(values.pop(FILLED, None) or "").split()


@attrs.frozen
class CycleQuery:
    """The SQL of one cycle."""

    spec: CycleSpec
    cycle_id: int
    previous_cycle_id: int | None = None
    #: Where the previous cycle's inputs are read as a struct (the embedded engine, from
    #: an inputs file that keeps one: :func:`harmonia.engine.backends.read_inputs`), its
    #: fields and their DuckDB types; else (None) they are JSON text.
    previous_inputs: PreviousInputs | None = None

    # -- the inputs a cycle reads ------------------------------------------------

    @property
    def metric_names(self) -> list[str]:
        return sorted(self.metric_windows)

    @property
    def metric_windows(self) -> dict[str, int | None]:
        """Per metric, the first month any feature looks at (None: all history)."""
        windows: dict[str, int | None] = {}
        period = self.spec.period
        for feature in self.spec.rule_set.features:
            if isinstance(feature, MetricFeature | QuantileFeature):
                first = period.first_month if feature.window == "cycle" else None
            elif isinstance(feature, ConsistencyFeature):
                first = period.trailing(feature.granularity, feature.periods)[0].first_month
            else:
                continue
            known = windows.get(feature.metric, first)
            windows[feature.metric] = None if known is None or first is None else min(known, first)
        return windows

    def _metric_filter(self) -> str:
        return (
            " OR ".join(
                f"(metric = {quote(name)}"
                + (f" AND first_month >= {first})" if first is not None else ")")
                for name, first in sorted(self.metric_windows.items())
            )
            or "FALSE"
        )

    @property
    def response_window(self) -> tuple[str, str]:
        """Responses count from ``max age`` months before the cycle to its end."""
        first = self.spec.period.first_month - self.spec.country.response_max_age_months
        return ordinal_date(first).isoformat(), self.spec.period.end.isoformat()

    def other_markets(self) -> str:
        """SQL: any customer of another country (two index seeks, not a scan)."""
        country = quote(self.spec.country.code)
        return f"SELECT 1 FROM customer WHERE country < {country} OR country > {country}"

    def input_queries(self, *, market_alone: bool = False) -> dict[str, str]:
        """Per store table, the slice of it the cycle reads (store-neutral SQL).

        ``market_alone``: the store holds no other country's customers (see
        :meth:`other_markets`), so identifiers and source ids are read whole.
        Why: on SQLite, checking each row's customer against the country
        doubles the cost of reading them (1M customers: 0.55 s of CPU each
        instead of 0.25 s).
        """
        country = quote(self.spec.country.code)
        area = quote(self.spec.therapy_area)
        questionnaires = ", ".join(quote(q) for q in self.spec.questionnaires) or "NULL"
        start, end = self.response_window
        in_window = (
            f"r.questionnaire IN ({questionnaires}) AND r.answered_at >= {quote(start)} "
            f"AND r.answered_at < {quote(end)}"
        )
        questions = (
            ", ".join(
                quote(q)
                for q in sorted(questions_read(self.spec.rule_set, self.spec.questionnaires))
            )
            or "NULL"
        )
        in_country = (
            ""
            if market_alone
            else f" WHERE customer_id IN (SELECT id FROM customer WHERE country = {country})"
        )
        overlaid = ", ".join(quote(a) for a in OVERLAID)
        queries = {
            "customer": "SELECT id, country, type, first_name, last_name, specialty, postal_code, "
            f"city, territory FROM customer WHERE country = {country}",
            # A person's golden values, which the cycle reads over their row
            # (population, target list: see harmonia.store.golden_values).
            "golden_value": "SELECT customer_id, attribute, value FROM golden_value WHERE "
            f"attribute IN ({overlaid}){in_country.replace(' WHERE ', ' AND ', 1)}",
            "metric": "SELECT customer_id, therapy_area, metric, period, first_month, last_month, value "
            f"FROM metric WHERE therapy_area = {area} AND last_month <= {self.spec.period.last_month} "
            f"AND ({self._metric_filter()})",
            # Responses up to the cycle's end, stale ones included: the coverage
            # report counts them. Answers only in the window and to the items
            # scoring reads.
            "response": "SELECT r.id, r.customer_id, r.questionnaire, r.version, r.respondent, "
            f"r.answered_at FROM response r WHERE r.questionnaire IN ({questionnaires}) "
            f"AND r.answered_at < {quote(end)}",
            "answer": "SELECT a.response_id, a.question, a.value FROM answer a "
            f"JOIN response r ON r.id = a.response_id WHERE {in_window} "
            f"AND a.question IN ({questions})",
            "identifier": f"SELECT customer_id, scheme, value FROM identifier{in_country}",
            "crosswalk": f"SELECT system, source_id, customer_id FROM crosswalk{in_country}",
            # Who a cycle may not profile, and where merged ids' facts now belong.
            "customer_redirect": "SELECT merged_id, survivor_id FROM customer_redirect",
            "objection": "SELECT customer_id FROM objection",
        }
        if self.previous_cycle_id is not None:
            queries["assignment"] = (
                "SELECT cycle_id, customer_id, final_segment, inputs FROM assignment "
                f"WHERE cycle_id = {self.previous_cycle_id}"
            )
        return queries

    # -- assignments ----------------------------------------------------------------

    def _previous_assignments(self) -> str:
        """The previous cycle's assignments under the id each customer has now.

        A customer merged since then was assigned under its old id: it counts
        for its survivor. The survivor's own assignment comes first, else the
        one of the lowest merged id, so each customer has one.
        """
        cycle = f"a.cycle_id = {self.previous_cycle_id}"
        # Two parts, as identity.resolved_facts reads facts: only merged ids'
        # assignments (few) are ranked, not the whole universe's. Typed, so
        # that SQLite joins them by index.
        own = (
            f"SELECT CAST(a.customer_id AS BIGINT) AS customer_id, a.final_segment, a.inputs "
            f"FROM assignment a WHERE {cycle} AND NOT EXISTS (SELECT 1 FROM customer_redirect "
            "redirect WHERE redirect.merged_id = a.customer_id)"
        )
        merged = (
            "SELECT customer_id, final_segment, inputs FROM ("
            "SELECT CAST(redirect.survivor_id AS BIGINT) AS customer_id, a.final_segment, a.inputs, "
            "ROW_NUMBER() OVER (PARTITION BY redirect.survivor_id ORDER BY a.customer_id) AS pick "
            "FROM assignment a JOIN customer_redirect redirect ON redirect.merged_id = a.customer_id "
            f"WHERE {cycle} AND NOT EXISTS (SELECT 1 FROM assignment own WHERE "
            f"own.cycle_id = {self.previous_cycle_id} AND own.customer_id = redirect.survivor_id)"
            ") previous_merged WHERE pick = 1"
        )
        return f"{own} UNION ALL {merged}"

    def assignments(self, *, inputs_as_columns: bool = False) -> str:
        """Every customer of the population with its segments, rules fired and inputs.

        Also each profile dimension's coverage status (``coverage__<n>``
        columns, counted by :meth:`coverage`); they are not stored.

        ``inputs_as_columns``: each input in a column of its own instead of the
        ``inputs`` JSON text, which :meth:`with_inputs_json` builds over the
        result when it is stored. Why: the JSON is a fifth of the query's cost
        (1M customers: 1.4 of 6 s of CPU), and the target list, summary and
        coverage never read it.
        """
        return with_steps(*self.assignment_steps(inputs_as_columns=inputs_as_columns))

    def assignment_steps(self, *, inputs_as_columns: bool = False) -> tuple[dict[str, str], str]:
        """The same query as named steps (each a SELECT over the ones before) and a body.

        An engine whose planner joins common table expressions poorly (SQLite
        scans them without an index) runs the steps as indexed temporary tables.
        """
        steps = dict(self._feature_ctes())
        if self._pulls_through:
            # A step of its own, keyed by customer like the features' steps, so that an
            # engine may compute the rest for a part of the customers at a time.
            steps["previous"] = previous_sql(
                self.spec.rule_set, self._previous_assignments(), self.previous_inputs
            )
        steps["features"] = self._features()
        steps["ruled"] = self._ruled()
        return steps, self._final(inputs_as_columns)

    @property
    def _pulls_through(self) -> bool:
        return self.spec.country.pull_through.enabled and self.previous_cycle_id is not None

    def with_inputs_json(self, computed: str) -> str:
        """SQL: the rows of ``assignments(inputs_as_columns=True)`` kept in the table
        ``computed``, as :meth:`assignments` gives them (the inputs one JSON text)."""
        stored = ", ".join(f"c.{name}" for name in ASSIGNMENT_COLUMNS if name != "inputs")
        inputs = self._inputs_json(lambda name: f"c.{identifier(_input_column(name))}")
        coverage = self._coverage_columns("c")
        return f"SELECT {stored}, {inputs} AS inputs{coverage} FROM {computed} c"

    def features_of(self, computed: str) -> str:
        """SQL: the rows of the ``features`` step, from the table ``computed`` of
        ``assignments(inputs_as_columns=True)``, which carries every column of it (the
        features, the raw inputs and the defaulted ones as inputs, the coverage statuses)."""
        inputs = ", ".join(
            f"c.{identifier(_input_column(name))} AS {identifier(name)}"
            for name in self._input_names()
        )
        return f"SELECT c.customer_id, {inputs}{self._coverage_columns('c')} FROM {computed} c"

    def inputs_struct(self, computed: str) -> str:
        """SQL: per row of ``computed`` (as :meth:`with_inputs_json` reads it), the
        ``customer_id`` and its inputs as one struct, whose ``to_json`` is the ``inputs``
        text :meth:`with_inputs_json` builds (how an inputs file keeps them)."""
        fields = ", ".join(
            f"{identifier(name)} := c.{identifier(_input_column(name))}"
            for name in self._input_names()
        )
        return f"SELECT c.customer_id, struct_pack({fields}) AS inputs FROM {computed} c"

    def _input_names(self) -> list[str]:
        """The keys of an assignment's inputs: features, raw inputs, then the defaulted ones."""
        names = [f.name for f in self.spec.rule_set.features]
        return [*names, *raw_keys(self.spec.rule_set.pull_through), FILLED]

    def _inputs_json(self, column: Callable[[str], str]) -> str:
        """SQL: the inputs as one JSON text, each key's value from ``column(key)``."""
        pairs = ", ".join(f"{quote(name)}, {column(name)}" for name in self._input_names())
        return f"CAST(JSON_OBJECT({pairs}) AS VARCHAR)"

    def population(self) -> str:
        """SQL: the customers the cycle segments (its market's, those it may profile)."""
        market = customer_values_sql(f"c.country = {quote(self.spec.country.code)}")
        return (
            "SELECT id AS customer_id, country, type, specialty, territory, postal_code, city "
            f"FROM ({profiled_rows(market)}) customer"
        )

    def _feature_ctes(self) -> Iterator[tuple[str, str]]:
        yield "population", self.population()
        named: set[str] = set()  # features may share a metric window or a profile
        test = self.spec.rule_set.pull_through
        if test is not None and test.identifiers:
            yield "pull_identifiers", identifiers_sql()
        for feature in self.spec.rule_set.features:
            if isinstance(feature, MetricFeature | QuantileFeature):
                name = _metric_cte(feature)
                if name not in named:
                    named.add(name)
                    yield name, self._metric_values(feature)
            if isinstance(feature, QuantileFeature):
                yield f"q_{feature.name}", self._quantile(feature)
            if isinstance(feature, ConsistencyFeature):
                yield f"c_{feature.name}", self._consistency(feature)
            if isinstance(feature, ProfileFeature):
                key = _profile_cte(feature.questionnaire, feature.dimension)
                if key not in named:
                    named.add(key)
                    yield from self._profile(feature, key)
                stale = _stale_cte(feature.questionnaire)
                if stale not in named:
                    named.add(stale)
                    yield (
                        stale,
                        stale_sql(feature.questionnaire, self.response_window[0], RESPONSES),
                    )

    def _metric_values(self, feature: MetricFeature | QuantileFeature) -> str:
        base = (
            f"FROM {METRICS} metric WHERE therapy_area = {quote(self.spec.therapy_area)} "
            f"AND metric = {quote(feature.metric)}"
        )
        period = self.spec.period
        if feature.window == "cycle":
            function = {"sum": "SUM", "mean": "AVG", "max": "MAX"}[feature.aggregate]
            return (
                f"SELECT customer_id, {function}(value) AS value {base} "
                f"AND first_month >= {period.first_month} AND last_month <= {period.last_month} "
                "GROUP BY customer_id"
            )
        # The latest period ending by the cycle's end; of two ending together, the longer.
        return (
            "SELECT customer_id, value FROM (SELECT customer_id, value, ROW_NUMBER() OVER "
            "(PARTITION BY customer_id ORDER BY last_month DESC, first_month ASC) AS rn "
            f"{base} AND last_month <= {period.last_month}) ranked WHERE rn = 1"
        )

    def _quantile(self, feature: QuantileFeature) -> str:
        peers = ", ".join(f"p.{identifier(column)}" for column in feature.peer_group)
        partition = f"PARTITION BY {peers} " if peers else ""
        steps = " + ".join(
            f"CASE WHEN (rnk - 1) * 100 >= {double(cut)} * n THEN 1 ELSE 0 END"
            for cut in feature.cut_points
        )
        return (
            f"SELECT customer_id, CAST(1 + {steps} AS BIGINT) AS bin FROM ("
            f"SELECT p.customer_id, RANK() OVER ({partition}ORDER BY m.value) AS rnk, "
            f"COUNT(*) OVER ({partition.strip()}) AS n "
            f"FROM population p JOIN {_metric_cte(feature)} m ON m.customer_id = p.customer_id) ranked"
        )

    def _consistency(self, feature: ConsistencyFeature) -> str:
        periods = self.spec.period.trailing(feature.granularity, feature.periods)
        buckets = " ".join(
            f"WHEN first_month >= {p.first_month} AND last_month <= {p.last_month} THEN {index}"
            for index, p in enumerate(periods)
        )
        return (
            f"SELECT customer_id, CAST(COUNT(DISTINCT bucket) AS DOUBLE) / {len(periods)} AS share "
            f"FROM (SELECT customer_id, CASE {buckets} END AS bucket FROM {METRICS} metric "
            f"WHERE therapy_area = {quote(self.spec.therapy_area)} AND metric = {quote(feature.metric)} "
            f"AND value > {double(feature.threshold)} AND first_month >= {periods[0].first_month} "
            f"AND last_month <= {periods[-1].last_month}) active "
            "WHERE bucket IS NOT NULL GROUP BY customer_id"
        )

    def _profile(self, feature: ProfileFeature, key: str) -> Iterator[tuple[str, str]]:
        start, end = self.response_window
        versions = self.spec.questionnaires.get(feature.questionnaire, [])
        yield from profile_ctes(feature, versions, key, start, end, RESPONSES)

    def _features(self) -> str:
        columns, joins = ["p.customer_id"], []
        seen_joins: set[str] = set()

        def join(cte: str, alias: str) -> None:
            if alias not in seen_joins:
                seen_joins.add(alias)
                joins.append(f"LEFT JOIN {cte} {alias} ON {alias}.customer_id = p.customer_id")

        filled = []
        for feature in self.spec.rule_set.features:
            value = self._feature_value(feature, join)
            fill = feature_default(feature)
            if fill is not None:
                filled.append(
                    f"CASE WHEN {value} IS NULL THEN {quote(' ' + feature.name)} ELSE '' END"
                )
                value = f"COALESCE({value}, {_literal(fill, feature.type)})"
            columns.append(
                f"CAST({value} AS {SQL_TYPES[feature.type]}) AS {identifier(feature.name)}"
            )
        # Which values the missing-value policy gave (" a b"), so that explain
        # shows a default as a default, not as data.
        columns.append(
            f"CAST({' || '.join(filled) or quote('')} AS VARCHAR) AS {identifier(FILLED)}"
        )
        columns.extend(self._raw_inputs(join))
        # Each profile dimension's coverage status rides along for the report.
        for index, (questionnaire, dimension) in enumerate(profile_dimensions(self.spec.rule_set)):
            stale = _stale_cte(questionnaire)
            join(stale, stale)
            scored = _profile_cte(questionnaire, dimension)
            columns.append(f"{status_sql(scored, stale)} AS {coverage_column(index)}")
        return "SELECT " + ",\n    ".join(columns) + "\nFROM population p\n" + "\n".join(joins)

    def _raw_inputs(self, join) -> Iterator[str]:
        """The raw inputs pull-through compares, as columns (see :mod:`.pullthrough`)."""
        test = self.spec.rule_set.pull_through
        if test is None:
            return
        for metric in test.metrics:
            alias = _metric_cte(metric_feature(self.spec.rule_set, metric))
            join(alias, alias)
            yield f"CAST({alias}.value AS DOUBLE) AS {identifier(metric_key(metric))}"
        for column in test.attributes:
            yield f"CAST(p.{identifier(column)} AS VARCHAR) AS {identifier(attribute_key(column))}"
        if test.identifiers:
            join("pull_identifiers", "pull_identifiers")
            yield f"CAST(pull_identifiers.value AS VARCHAR) AS {identifier(IDENTIFIERS)}"

    def _feature_value(self, feature: Feature, join) -> str:
        if isinstance(feature, AttributeFeature):
            return f"p.{identifier(feature.column)}"
        if isinstance(feature, MetricFeature):
            alias = _metric_cte(feature)
            join(alias, alias)
            return f"{alias}.value"
        if isinstance(feature, QuantileFeature):
            join(f"q_{feature.name}", f"q_{feature.name}")
            return f"q_{feature.name}.bin"
        if isinstance(feature, ConsistencyFeature):
            join(f"c_{feature.name}", f"c_{feature.name}")
            return f"c_{feature.name}.share"
        if isinstance(feature, ProfileFeature):
            key = _profile_cte(feature.questionnaire, feature.dimension)
            join(key, key)
            return f"{key}.{'level' if feature.value == 'level' else 'score'}"
        raise TypeError(f"unknown feature kind {feature!r}")

    def _ruled(self) -> str:
        from harmonia.rules import compile_dimension, to_sql

        columns = ["f.*"]
        for name in ("segment", "needs", "tier"):
            if name in self.spec.rule_set.dimensions:
                segment, rule = compile_dimension(
                    self.spec.rule_set, name, column=lambda n: exp.column(n, table="f", quoted=True)
                )
                columns.append(f"{to_sql(segment, 'duckdb')} AS {name}__segment")
                columns.append(f"{to_sql(rule, 'duckdb')} AS {name}__rule")
            else:
                columns.append(f"CAST(NULL AS VARCHAR) AS {name}__segment")
                columns.append(f"CAST(NULL AS VARCHAR) AS {name}__rule")
        return "SELECT " + ", ".join(columns) + " FROM features f"

    def _final(self, inputs_as_columns: bool = False) -> str:
        if inputs_as_columns:
            inputs = ", ".join(
                f"r.{identifier(name)} AS {identifier(_input_column(name))}"
                for name in self._input_names()
            )
        else:
            inputs = f"{self._inputs_json(lambda name: f'r.{identifier(name)}')} AS inputs"
        if self._pulls_through:
            declared = ", ".join(quote(s) for s in self.spec.rule_set.segment.outcomes)
            threshold = self.spec.country.pull_through.threshold
            unchanged = carried_sql(self.spec.rule_set, threshold)
            carried = f"prev.customer_id IS NOT NULL AND prev.final_segment IN ({declared}) AND {unchanged}"
            final = f"CASE WHEN {carried} THEN prev.final_segment ELSE r.segment__segment END"
            origin = f"CASE WHEN {carried} THEN 'pulled-through' ELSE 'rules' END"
            previous = "LEFT JOIN previous prev ON prev.customer_id = r.customer_id"
        else:
            final, origin, previous = "r.segment__segment", "'rules'", ""
        return (
            f"SELECT CAST({self.cycle_id} AS BIGINT) AS cycle_id, CAST(r.customer_id AS BIGINT) AS customer_id, "
            "r.segment__segment AS segment, r.segment__rule AS segment_rule, "
            "r.needs__segment AS needs, r.needs__rule AS needs_rule, "
            "r.tier__segment AS tier, r.tier__rule AS tier_rule, "
            f"{final} AS final_segment, {origin} AS origin, {inputs}{self._coverage_columns('r')} "
            f"FROM ruled r {previous}"
        )

    def _coverage_columns(self, table: str) -> str:
        return "".join(
            f", {table}.{coverage_column(index)}"
            for index in range(len(profile_dimensions(self.spec.rule_set)))
        )

    # -- call plan, target list, summary -----------------------------------------------

    def plan_rows(self) -> list[dict[str, object]]:
        """Per segment: its strategy and the contacts it plans for this cycle's period."""
        scale = self.spec.parameter("frequency_scale")
        min_calls = int(self.spec.parameter("min_calls"))
        period = self.spec.period
        share = period.months / 12
        k, n = period_position(period)
        rows = []
        for rank, segment in enumerate(self.spec.rule_set.segment.outcomes, start=1):
            strategy = self.spec.strategies[segment]
            contacts = {channel: 0 for channel in self.channels}
            cost = 0.0
            for plan in strategy.channels:
                count = in_period(plan.per_year * scale, k, n) if strategy.target else 0
                if plan.channel == "face_to_face" and strategy.target and plan.per_year > 0:
                    count = max(count, min_calls)
                contacts[plan.channel] = count
                cost += count * plan.cost
            rows.append(
                {
                    "segment": segment,
                    "segment_rank": rank,
                    "strategy": strategy.name,
                    "target": strategy.target,
                    **contacts,
                    "contacts": sum(contacts.values()),
                    "cost": round(cost, 2),
                    "expected_revenue": round(strategy.expected_revenue * share, 2),
                }
            )
        return rows

    @property
    def channels(self) -> list[str]:
        used = {plan.channel for s in self.spec.strategies.values() for plan in s.channels}
        return [channel for channel in CHANNELS if channel in used]

    def _plan(self) -> str:
        selects = []
        for row in self.plan_rows():
            values = [
                f"{quote(row['segment'])} AS segment",
                f"CAST({row['segment_rank']} AS BIGINT) AS segment_rank",
                f"{quote(row['strategy'])} AS strategy",
                f"{'TRUE' if row['target'] else 'FALSE'} AS target",
                *(f"CAST({row[c]} AS BIGINT) AS {c}" for c in self.channels),
                f"CAST({row['contacts']} AS BIGINT) AS contacts",
                f"{double(row['cost'])} AS cost",
                f"{double(row['expected_revenue'])} AS expected_revenue",
            ]
            selects.append("SELECT " + ", ".join(values))
        return " UNION ALL ".join(selects)

    def coverage(self, assignments: str) -> str | None:
        """The profile coverage report's SQL over the cycle's computed ``assignments``
        (None when no feature reads a profile)."""
        return coverage_sql(self.spec.rule_set, assignments)

    def target_list(self, assignments: str, *, refined: bool = False) -> str:
        """Targeted customers with their segment, strategy and call plan, by territory.

        Reads the cycle's computed ``assignments`` (one row per customer). Each
        customer shows one national identifier and one source id (the first by
        scheme, by system and id), looked up for the targeted customers only.
        ``refined``: the stored assignments after field refinement, whose
        ``refined_target`` adds a customer to the list (``yes``) or removes one,
        whose ``refined_goal`` sets its face-to-face calls (contacts and cost
        follow), and whose ``refined_territory`` puts it on another territory;
        any other customer goes out on the territory its refinement scope froze
        (the period's alignment), else its customer record's.
        """

        def channels(table: str) -> str:
            return "".join(f"{table}.{channel}, " for channel in self.channels)

        planned = f"{channels('plan')}plan.contacts, plan.cost"
        if refined and "face_to_face" in self.channels:
            goal = "COALESCE(a.refined_goal, plan.face_to_face)"
            planned = (
                channels("plan").replace("plan.face_to_face,", f"{goal} AS face_to_face,")
                + f"plan.contacts - plan.face_to_face + {goal} AS contacts, "
                f"plan.cost + ({goal} - plan.face_to_face) * {self._call_cost('plan.segment')} "
                "AS cost"
            )
        territory = "c.territory"
        scope = ""
        if refined:
            # The territory the period's alignment gave when feedback opened (the
            # refinement scope), as the requests and the reps' authority read it.
            planned += ", a.refined_territory, NULLIF(s.territory, '') AS aligned_territory"
            territory = "COALESCE(t.refined_territory, t.aligned_territory, c.territory)"
            scope = (
                "LEFT JOIN refinement_scope s ON s.cycle_id = a.cycle_id "
                "AND s.customer_id = a.customer_id"
            )

        targeted = "customer_id IN (SELECT customer_id FROM targeted)"
        targeted_by = (
            "CASE a.refined_target WHEN 'yes' THEN TRUE WHEN 'no' THEN FALSE ELSE plan.target END"
            if refined
            else "plan.target"
        )
        return f"""
        WITH plan AS ({self._plan()}),
        targeted AS (
            SELECT a.customer_id, a.final_segment, a.origin, a.needs, a.tier,
                plan.segment_rank, plan.strategy, {planned}
            FROM {assignments} a JOIN plan ON plan.segment = a.final_segment {scope}
            WHERE {targeted_by}
        ),
        ids AS (
            SELECT customer_id, scheme, value FROM (
                SELECT customer_id, scheme, value, ROW_NUMBER() OVER (
                    PARTITION BY customer_id ORDER BY scheme) AS rn
                FROM identifier WHERE {targeted}) x WHERE rn = 1
        ),
        sources AS (
            SELECT customer_id, system, source_id FROM (
                SELECT customer_id, system, source_id, ROW_NUMBER() OVER (
                    PARTITION BY customer_id ORDER BY system, source_id) AS rn
                FROM crosswalk WHERE {targeted}) x WHERE rn = 1
        )
        SELECT t.customer_id AS harmonia_id, sources.system AS source_system,
            sources.source_id, ids.scheme AS id_scheme, ids.value AS id_value,
            c.type, c.first_name, c.last_name, c.specialty, c.postal_code, c.city,
            {territory} AS territory,
            t.final_segment AS segment, t.origin, t.needs, t.tier, t.strategy,
            {channels("t")}t.contacts, t.cost
        FROM targeted t
        JOIN ({customer_values_sql("c.id IN (SELECT customer_id FROM targeted)")}) c
            ON c.id = t.customer_id
        LEFT JOIN ids ON ids.customer_id = t.customer_id
        LEFT JOIN sources ON sources.customer_id = t.customer_id
        ORDER BY {territory}, t.segment_rank, t.customer_id
        """

    def _call_cost(self, segment: str) -> str:
        """SQL: what one face-to-face call costs in the strategy of ``segment`` (an expression)."""
        cases = " ".join(
            f"WHEN {quote(name)} THEN {double(plan.cost)}"
            for name, strategy in self.spec.strategies.items()
            for plan in strategy.channels
            if plan.channel == "face_to_face"
        )
        return f"(CASE {segment} {cases} ELSE {double(0)} END)" if cases else double(0)

    def summary(self, assignments: str, *, refined: bool = False) -> str:
        """Customers, pull-through, contacts, cost and revenue per final segment,
        from the cycle's computed ``assignments``; ``refined``: the stored
        assignments after field refinement, whose targets and call goals count
        as the target list counts them."""
        targeted, contacts, cost = "plan.target", "plan.contacts", "plan.cost"
        if refined:
            targeted = (
                "CASE a.refined_target WHEN 'yes' THEN TRUE WHEN 'no' THEN FALSE "
                "ELSE plan.target END"
            )
            if "face_to_face" in self.channels:
                added = "(COALESCE(a.refined_goal, plan.face_to_face) - plan.face_to_face)"
                contacts = f"plan.contacts + {added}"
                cost = f"plan.cost + {added} * {self._call_cost('plan.segment')}"
        return f"""
        WITH plan AS ({self._plan()})
        SELECT plan.segment, plan.strategy, plan.target,
            CAST(COUNT(a.customer_id) AS BIGINT) AS customers,
            CAST(SUM(CASE WHEN a.origin = 'pulled-through' THEN 1 ELSE 0 END) AS BIGINT)
                AS pulled_through,
            CAST(SUM(CASE WHEN a.segment <> a.final_segment THEN 1 ELSE 0 END) AS BIGINT)
                AS differs_from_rules,
            CAST(SUM(CASE WHEN {targeted} AND a.customer_id IS NOT NULL THEN {contacts}
                ELSE 0 END) AS BIGINT) AS contacts,
            CAST(SUM(CASE WHEN {targeted} AND a.customer_id IS NOT NULL THEN {cost}
                ELSE 0 END) AS DOUBLE) AS cost,
            CAST(SUM(CASE WHEN a.customer_id IS NOT NULL THEN plan.expected_revenue ELSE 0 END)
                AS DOUBLE) AS expected_revenue
        FROM plan LEFT JOIN {assignments} a ON a.final_segment = plan.segment
        GROUP BY plan.segment, plan.strategy, plan.target, plan.segment_rank
        ORDER BY plan.segment_rank
        """


def with_steps(steps: dict[str, str], body: str) -> str:
    """One statement of named steps (:meth:`CycleQuery.assignment_steps`), each a common
    table expression, and the body over them."""
    with_clause = ",\n".join(f"{name} AS (\n{sql}\n)" for name, sql in steps.items())
    return f"WITH {with_clause}\n{body}"


def half_up(value: float) -> int:
    """Contacts round half up, as planners and spreadsheets do (4.5 e-mails plan 5).

    A small tolerance keeps 0.9 * 5 = 4.499999... from rounding down.
    """
    return math.floor(value + 0.5 + 1e-9)


def period_position(period: Period) -> tuple[int, int]:
    """``(k, n)``: the period is the k-th of the year's n periods (H2: 2 of 2)."""
    n = 12 // period.months
    return (period.first_month % 12) // period.months + 1, n


def in_period(per_year: float, k: int, n: int) -> int:
    """Contacts of the k-th of a year's n periods, so that the periods add up to the year.

    Rounding each period alone would not: 2 a year would be 1 every quarter (4)
    and 0 every month. Instead each period plans what the year has reached by its
    end less what it had reached before: 2 a year is 1, 0, 1, 0 by quarter.
    """
    return half_up(per_year * k / n) - half_up(per_year * (k - 1) / n)


def _input_column(name: str) -> str:
    """The column of one input in ``assignments(inputs_as_columns=True)``: no
    feature or raw input is named with a colon, so it clashes with no other."""
    return f"input:{name}"


def _metric_cte(feature: MetricFeature | QuantileFeature) -> str:
    return f"m_{feature.metric}_{feature.window}_{feature.aggregate}"


def _profile_cte(questionnaire: str, dimension: str) -> str:
    return f"s_{_safe(questionnaire)}_{dimension}"


def _stale_cte(questionnaire: str) -> str:
    return f"stale_{_safe(questionnaire)}"


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def _literal(value: object, type_: str) -> str:
    if type_ == "text":
        return quote(value)
    if type_ == "boolean":
        return "TRUE" if value else "FALSE"
    if type_ == "integer":
        return f"CAST({int(value)} AS BIGINT)"  # type: ignore[call-overload]
    return double(float(value))  # type: ignore[arg-type]


def _union(rows: list[str]) -> str:
    return "\nUNION ALL ".join(rows)
