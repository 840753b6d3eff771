"""Profile scoring as SQL: questionnaire responses into dimension scores and levels.

For each profile feature a rule set uses, the cycle scores each customer's
latest response to the questionnaire within the country's maximum age
(:attr:`CycleQuery.response_window`), whatever its version. A response is
scored with the definition of the version it answered, and only when that
version is comparable for the dimension (:func:`scorable_versions`);
otherwise the dimension stays unknown for the customer, reported as *not
comparable*. Item scores, skip logic, the missing-answer policy and bands
follow :mod:`harmonia.definitions.questionnaire` exactly.

The SQL is DuckDB's dialect, transpiled for SQLite and PostgreSQL; the
definition tables are ``UNION ALL`` of ``SELECT`` (SQLite loses the column
names of ``VALUES ... AS t(cols)``), and booleans are 0/1 integers.

:class:`SkipLogic` turns ``enable_when`` into SQL over a response's answer
rows; ingest validation (:mod:`harmonia.ingest.responses`) uses the same
builder, so both judge skip logic identically.

:func:`coverage_sql` reports, per dimension, how many customers of the
cycle's population were scored, incomplete, not comparable, stale only (a
response older than the maximum age, reported and not used) or unanswered.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from harmonia.definitions import ProfileDimension, ProfileFeature, Questionnaire
from harmonia.definitions.questionnaire import (
    BAND_TOLERANCE,
    CHOICE_TYPES,
    NUMERIC_TYPES,
    EnableWhen,
    Item,
    comparable_versions,
)
from harmonia.engine.dialects import number, quote

if TYPE_CHECKING:
    import pyarrow as pa

    from harmonia.engine.spec import CycleSpec

#: The coverage report's statuses, in the order they are shown.
COVERAGE_STATUSES = ("scored", "incomplete", "not_comparable", "stale_only", "unanswered")

Scorable = dict[str, tuple[Questionnaire, ProfileDimension]]


# --- skip logic as SQL ---------------------------------------------------------------


class AnswerRows(Protocol):
    """How a query sees one answer row, for :class:`SkipLogic`."""

    def of_item(self, questionnaire: Questionnaire, item: Item) -> str:
        """SQL: the row answers ``item`` of this questionnaire version."""

    def includes(self, item: Item, literal: str) -> str:
        """SQL: the row's answer is (or, for multiple choice, includes) ``literal``."""

    def number(self, item: Item) -> str:
        """SQL: the row's answer as a double (only evaluated on ``item``'s rows)."""

    def text(self, item: Item) -> str:
        """SQL: the row's answer as canonical text (a date is ``YYYY-MM-DD``)."""

    def aggregate(self, rows: str, test: str) -> str:
        """SQL aggregate over a response's rows: 1 when ``item``'s answer passes ``test``."""


@attrs.frozen
class Flag:
    """One flag :class:`SkipLogic` needs: the rows of an item, and a test of their answer."""

    rows: str
    test: str = "1 = 1"

    @property
    def predicate(self) -> str:
        return f"{self.rows} AND {self.test}"


@attrs.define
class SkipLogic:
    """``enable_when`` as SQL, in two steps.

    1. :meth:`flags`: aggregates over a response's answer rows (``GROUP BY``
       the response), each ``1`` when the answer to an item meets a test: it
       exists, equals a code, exceeds a bound.
    2. :meth:`enabled`: a boolean expression over those flag columns that
       follows FHIR's rules: a condition on an unanswered or disabled item
       is false, except ``exists = false``.

    Conditions on conditional items nest (their own enablement is part of
    the expression), so chains of skip logic need one pass, not one per level.
    """

    rows: AnswerRows
    _flags: dict[Flag, str] = attrs.field(factory=dict)
    _enabled: dict[tuple[str, str, str], str | None] = attrs.field(factory=dict)

    def predicates(self) -> list[tuple[str, str]]:
        """(flag column, row predicate) of every flag the expressions refer to."""
        return [(alias, flag.predicate) for flag, alias in self._flags.items()]

    def flags(self) -> list[str]:
        """The aggregate columns (``... AS f0``) the expressions refer to."""
        return [
            f"{self.rows.aggregate(flag.rows, flag.test)} AS {alias}"
            for flag, alias in self._flags.items()
        ]

    def answered(self, questionnaire: Questionnaire, item: Item) -> str:
        """SQL: the response answers ``item``."""
        return self._flag(Flag(self.rows.of_item(questionnaire, item)))

    def enabled(self, questionnaire: Questionnaire, item: Item) -> str | None:
        """SQL: ``item`` is enabled in the response; None when it always is."""
        key = (questionnaire.id, questionnaire.version, item.id)
        if key not in self._enabled:
            self._enabled[key] = "(1 = 0)"  # a cycle (refused at load) disables, never loops
            self._enabled[key] = self._expression(questionnaire, item)
        return self._enabled[key]

    def _expression(self, questionnaire: Questionnaire, item: Item) -> str | None:
        if not item.enable_when:
            return None
        joiner = " AND " if item.enable_behavior == "all" else " OR "
        return "(" + joiner.join(self._condition(questionnaire, c) for c in item.enable_when) + ")"

    def _condition(self, questionnaire: Questionnaire, condition: EnableWhen) -> str:
        source = questionnaire.item(condition.item)
        if source is None:
            return "(1 = 0)"
        answered = self.answered(questionnaire, source)
        if condition.operator == "exists":
            held = answered
        elif condition.operator == "!=":
            held = f"{answered} AND NOT {self._compare(questionnaire, source, '=', condition)}"
        else:
            held = self._compare(questionnaire, source, condition.operator, condition)
        enabled = self.enabled(questionnaire, source)
        if enabled is not None:
            held = f"{held} AND {enabled}"
        if condition.operator == "exists" and not condition.expects_answer:
            return f"NOT ({held})"
        return f"({held})"

    def _compare(
        self, questionnaire: Questionnaire, source: Item, operator: str, condition: EnableWhen
    ) -> str:
        rows = self.rows.of_item(questionnaire, source)
        answer = condition.answer
        if source.type in NUMERIC_TYPES:
            # CASE first: the cast must never see another item's text.
            value = f"CASE WHEN {rows} THEN {self.rows.number(source)} END"
            return self._flag(Flag(rows, f"{value} {operator} {number(float(answer))}"))  # type: ignore[arg-type]
        if source.type == "date":
            value = f"CASE WHEN {rows} THEN {self.rows.text(source)} END"
            return self._flag(Flag(rows, f"{value} {operator} {quote(answer)}"))
        return self._flag(Flag(rows, self.rows.includes(source, quote(_canonical(answer)))))

    def _flag(self, flag: Flag) -> str:
        if flag not in self._flags:
            self._flags[flag] = f"f{len(self._flags)}"
        return f"{self._flags[flag]} = 1"


def _canonical(answer: object) -> str:
    """A condition's answer as stored answers spell it (booleans are ``true``/``false``)."""
    if isinstance(answer, bool):
        return "true" if answer else "false"
    return str(answer)


@attrs.frozen
class StoredAnswers:
    """Answer rows of the store (``answer a`` joined to a response with ``version``)."""

    version: str = "l.version"
    question: str = "a.question"
    value: str = "a.value"

    def of_item(self, questionnaire: Questionnaire, item: Item) -> str:
        return (
            f"{self.version} = {quote(questionnaire.version)} "
            f"AND {self.question} = {quote(item.id)}"
        )

    def includes(self, item: Item, literal: str) -> str:
        # A multiple-choice answer is stored one row per selected option.
        return f"{self.value} = {literal}"

    def number(self, item: Item) -> str:
        return f"CAST({self.value} AS DOUBLE)"

    def text(self, item: Item) -> str:
        return self.value

    def aggregate(self, rows: str, test: str) -> str:
        return f"MAX(CASE WHEN {rows} AND {test} THEN 1 ELSE 0 END)"


# --- versions ------------------------------------------------------------------------


def scorable_versions(versions: Iterable[Questionnaire], dimension: str) -> Scorable:
    """The versions whose answers score ``dimension`` comparably, with their definitions.

    See :func:`~harmonia.definitions.questionnaire.comparable_versions` for the
    rules; every other version's answers are not comparable.
    """
    versions = list(versions)
    by_version = {q.version: q for q in versions}
    return {
        version: (by_version[version], verdict.dimension)
        for version, verdict in comparable_versions(versions, dimension).items()
        if verdict.comparable and verdict.dimension is not None
    }


# --- scoring CTEs --------------------------------------------------------------------


def profile_ctes(
    feature: ProfileFeature, versions: list[Questionnaire], key: str, start: str, end: str
) -> Iterator[tuple[str, str]]:
    """The CTEs scoring ``feature``'s dimension; the last, ``key``, has one row per
    customer with a response in ``[start, end)``: ``customer_id, score, level, status``."""
    yield from dimension_ctes(feature.questionnaire, feature.dimension, versions, key, start, end)


def dimension_ctes(
    questionnaire: str,
    dimension: str,
    versions: list[Questionnaire],
    key: str,
    start: str,
    end: str,
) -> Iterator[tuple[str, str]]:
    """Score ``dimension`` from each customer's latest response in the window.

    ``status`` is ``scored`` (a level), ``incomplete`` (a comparable response
    that leaves the dimension unknown) or ``not_comparable``.
    """
    scorable = scorable_versions(versions, dimension)
    yield (
        f"{key}_latest",
        "SELECT customer_id, response_id, version FROM (SELECT r.customer_id, r.id AS response_id, "
        "r.version, ROW_NUMBER() OVER (PARTITION BY r.customer_id ORDER BY r.answered_at DESC, "
        f"r.id DESC) AS rn FROM response r WHERE r.questionnaire = {quote(questionnaire)} "
        f"AND r.answered_at >= {quote(start)} AND r.answered_at < {quote(end)}) ranked "
        "WHERE rn = 1",
    )
    yield f"{key}_scores", _union(_score_rows(scorable))
    yield f"{key}_meta", _union(_meta_rows(scorable))
    yield f"{key}_bands", _union(_band_rows(scorable))
    # No join between two derived tables: SQLite would nest-loop them. Item scores
    # and skip-logic flags meet in one UNION ALL, aggregated per customer.
    yield (
        f"{key}_items",
        "SELECT l.customer_id, l.version, s.question, SUM(CASE WHEN s.value IS NULL "
        f"THEN CAST(a.value AS DOUBLE) ELSE s.score END) AS score FROM {key}_latest l "
        "JOIN answer a ON a.response_id = l.response_id "
        f"JOIN {key}_scores s ON s.version = l.version AND s.question = a.question "
        "AND (s.value IS NULL OR s.value = a.value) "
        "GROUP BY l.customer_id, l.version, s.question",
    )
    yield from _count_ctes(scorable, key)
    yield (
        f"{key}_scored",
        f"SELECT c.customer_id, c.version, CASE WHEN m.version IS NULL THEN 0 ELSE 1 END "
        f"AS comparable, {_SCORE} AS score FROM {key}_counts c "
        f"LEFT JOIN {key}_meta m ON m.version = c.version",
    )
    tolerance = number(BAND_TOLERANCE)
    yield (
        key,
        "SELECT s.customer_id, s.score, b.level, CASE WHEN s.comparable = 0 THEN 'not_comparable' "
        "WHEN b.level IS NULL THEN 'incomplete' ELSE 'scored' END AS status "
        f"FROM {key}_scored s LEFT JOIN {key}_bands b ON b.version = s.version "
        f"AND s.score >= b.low - {tolerance} AND (b.high IS NULL "
        f"OR (b.inclusive = 1 AND s.score <= b.high + {tolerance}) "
        f"OR (b.inclusive = 0 AND s.score < b.high - {tolerance}))",
    )


#: The dimension score from ``{key}_counts c`` and ``{key}_meta m``; see the
#: module documentation of :mod:`harmonia.definitions.questionnaire`.
_APPLICABLE = "(m.items - c.disabled)"
_SCORE = (
    "CASE WHEN m.version IS NULL THEN NULL "
    f"WHEN {_APPLICABLE} <= 0 THEN NULL "
    f"WHEN m.missing = 'unknown' AND c.answered < {_APPLICABLE} THEN NULL "
    "WHEN m.missing = 'partial' AND c.answered = 0 THEN NULL "
    f"WHEN m.method = 'max' AND m.missing = 'zero' AND c.answered < {_APPLICABLE} "
    "THEN CASE WHEN c.answered = 0 OR c.top < 0 THEN CAST(0 AS DOUBLE) ELSE c.top END "
    "WHEN m.method = 'max' THEN c.top "
    "WHEN m.method = 'mean' AND m.missing = 'zero' "
    f"THEN COALESCE(c.total, CAST(0 AS DOUBLE)) / {_APPLICABLE} "
    "WHEN m.method = 'mean' THEN c.total / c.answered "
    "ELSE COALESCE(c.total, CAST(0 AS DOUBLE)) END"
)


def _count_ctes(scorable: Scorable, key: str) -> Iterator[tuple[str, str]]:
    """``{key}_counts``: per customer, items answered, their total and top score, and how
    many unanswered items skip logic disabled (``disabled``)."""
    logic = SkipLogic(StoredAnswers())
    terms = []
    for questionnaire, dimension in scorable.values():
        for item_id in dimension.items:
            item = questionnaire.item(item_id)
            enabled = logic.enabled(questionnaire, item) if item is not None else None
            if item is None or enabled is None:
                continue
            terms.append(
                f"CASE WHEN version = {quote(questionnaire.version)} AND NOT "
                f"({logic.answered(questionnaire, item)}) AND NOT {enabled} THEN 1 ELSE 0 END"
            )
    flags = logic.predicates()
    from_items = ", ".join(["0 AS " + alias for alias, _ in flags])
    from_latest = ", ".join(f"CASE WHEN {p} THEN 1 ELSE 0 END" for _, p in flags)
    maxima = "".join(f", MAX({alias}) AS {alias}" for alias, _ in flags)
    answers = " LEFT JOIN answer a ON a.response_id = l.response_id" if flags else ""
    yield (
        f"{key}_tally",
        f"SELECT customer_id, version, SUM(n) AS answered, SUM(total) AS total, "
        f"MAX(top) AS top{maxima} FROM ("
        "SELECT customer_id, version, 1 AS n, score AS total, score AS top"
        f"{', ' + from_items if flags else ''} FROM {key}_items "
        "UNION ALL SELECT l.customer_id, l.version, 0, CAST(NULL AS DOUBLE), CAST(NULL AS DOUBLE)"
        f"{', ' + from_latest if flags else ''} FROM {key}_latest l{answers}"
        ") parts GROUP BY customer_id, version",
    )
    disabled = " + ".join(terms) if terms else "0"
    yield f"{key}_counts", f"SELECT t.*, {disabled} AS disabled FROM {key}_tally t"


def _union(rows: list[str]) -> str:
    return "\nUNION ALL ".join(rows)


def _score_rows(versions: Scorable) -> list[str]:
    """(version, question, option or NULL for numbers, score) for every scored item."""
    rows = [
        "SELECT CAST(NULL AS VARCHAR) AS version, CAST(NULL AS VARCHAR) AS question, "
        "CAST(NULL AS VARCHAR) AS value, CAST(NULL AS DOUBLE) AS score"
    ]
    for version, (questionnaire, dimension) in versions.items():
        for item_id in dimension.items:
            item = questionnaire.item(item_id)
            if item is None:
                continue
            if item.type in CHOICE_TYPES:
                rows.extend(
                    _score_row(version, item.id, option.code, option.score or 0.0)
                    for option in item.options
                )
            elif item.type in NUMERIC_TYPES:
                rows.append(_score_row(version, item.id, None, None))
            elif item.type == "boolean":  # true scores 1, false 0
                rows.append(_score_row(version, item.id, "true", 1.0))
                rows.append(_score_row(version, item.id, "false", 0.0))
    return rows


def _score_row(version: str, question: str, value: str | None, score: float | None) -> str:
    value_sql = "CAST(NULL AS VARCHAR)" if value is None else quote(value)
    score_sql = "CAST(NULL AS DOUBLE)" if score is None else number(score)
    return f"SELECT {quote(version)}, {quote(question)}, {value_sql}, {score_sql}"


def _meta_rows(versions: Scorable) -> list[str]:
    rows = [
        "SELECT CAST(NULL AS VARCHAR) AS version, CAST(NULL AS BIGINT) AS items, "
        "CAST(NULL AS VARCHAR) AS method, CAST(NULL AS VARCHAR) AS missing"
    ]
    for version, (_, dimension) in versions.items():
        rows.append(
            f"SELECT {quote(version)}, CAST({len(dimension.items)} AS BIGINT), "
            f"{quote(dimension.method)}, {quote(dimension.missing)}"
        )
    return rows


def _band_rows(versions: Scorable) -> list[str]:
    rows = [
        "SELECT CAST(NULL AS VARCHAR) AS version, CAST(NULL AS VARCHAR) AS level, "
        "CAST(NULL AS DOUBLE) AS low, CAST(NULL AS DOUBLE) AS high, "
        "CAST(NULL AS BIGINT) AS inclusive"
    ]
    for version, (_, dimension) in versions.items():
        rows.extend(
            f"SELECT {quote(version)}, {quote(band.level)}, {number(band.low)}, "
            f"{'CAST(NULL AS DOUBLE)' if band.high is None else number(band.high)}, "
            f"CAST({int(band.high_inclusive)} AS BIGINT)"
            for band in dimension.band_ranges()
        )
    return rows


# --- coverage report -----------------------------------------------------------------


def coverage_sql(spec: CycleSpec, relation: str) -> str | None:
    """Per dimension the rule set reads: customers of the population by coverage status.

    Counts the ``coverage__<n>`` columns of the cycle's computed assignments
    (``relation``; see :func:`status_sql`), so the report reads a table the
    cycle already holds (one scan per dimension) instead of scoring every
    response again.
    One row per (questionnaire, dimension): ``customers`` and a count per
    status of :data:`COVERAGE_STATUSES`. None when the rule set has no
    profile feature.
    """
    selects = []
    for index, (questionnaire, dimension) in enumerate(profile_dimensions(spec)):
        counts = ", ".join(
            f"SUM(CASE WHEN {coverage_column(index)} = {quote(status)} THEN 1 ELSE 0 END) "
            f"AS {status}"
            for status in COVERAGE_STATUSES
        )
        selects.append(
            f"SELECT CAST({index} AS BIGINT) AS position, {quote(questionnaire)} AS questionnaire, "
            f"{quote(dimension)} AS dimension, COUNT(*) AS customers, {counts} FROM {relation}"
        )
    if not selects:
        return None
    return "\nUNION ALL\n".join(selects) + "\nORDER BY position"


def coverage_column(index: int) -> str:
    """The column of the cycle's computed assignments with the n-th dimension's status."""
    return f"coverage__{index}"


def status_sql(scored: str, stale: str) -> str:
    """SQL: a customer's coverage status for one dimension.

    ``scored`` is the dimension's scoring CTE (one row per customer with a
    response in the window, its ``status`` scored, incomplete or not
    comparable) and ``stale`` the customers with a response from before the
    window (:func:`stale_sql`), both left-joined to the population: a
    customer with no response in the window but an older one is ``stale_only``.
    """
    return (
        f"CASE WHEN {scored}.status IS NOT NULL THEN {scored}.status "
        f"WHEN {stale}.customer_id IS NOT NULL THEN 'stale_only' ELSE 'unanswered' END"
    )


def stale_sql(questionnaire: str, start: str) -> str:
    """The customers with a response to ``questionnaire`` from before the window."""
    return (
        "SELECT DISTINCT customer_id FROM response "
        f"WHERE questionnaire = {quote(questionnaire)} AND answered_at < {quote(start)}"
    )


def profile_dimensions(spec: CycleSpec) -> list[tuple[str, str]]:
    """The (questionnaire, dimension) pairs the rule set's features read, in feature order."""
    seen: dict[tuple[str, str], None] = {}
    for feature in spec.rule_set.features:
        if isinstance(feature, ProfileFeature):
            seen.setdefault((feature.questionnaire, feature.dimension), None)
    return list(seen)


def coverage_rows(spec: CycleSpec, table: pa.Table | None) -> list[dict[str, Any]]:
    """The coverage report's rows (see :func:`coverage_sql`), each naming the
    ``features`` that read the dimension. The engine runs the SQL on the
    cycle's computed assignments, where it holds them.
    """
    if table is None:
        return []
    features = _feature_names(spec)
    rows = []
    for row in table.to_pylist():
        pair = (row["questionnaire"], row["dimension"])
        counts = {name: int(row[name] or 0) for name in ("customers", *COVERAGE_STATUSES)}
        rows.append(
            {"questionnaire": pair[0], "dimension": pair[1], **counts, "features": features[pair]}
        )
    return rows


def _feature_names(spec: CycleSpec) -> dict[tuple[str, str], list[str]]:
    names: dict[tuple[str, str], list[str]] = {}
    for feature in spec.rule_set.features:
        if isinstance(feature, ProfileFeature):
            names.setdefault((feature.questionnaire, feature.dimension), []).append(feature.name)
    return names


def questions_read(spec: CycleSpec, dimensions: list[tuple[str, str]] | None = None) -> set[str]:
    """Every item a dimension's score or skip logic looks at, in any installed version."""
    dimensions = profile_dimensions(spec) if dimensions is None else dimensions
    questions: set[str] = set()
    for questionnaire, dimension in dimensions:
        for version in spec.questionnaires.get(questionnaire, []):
            own = version.dimension(dimension)
            pending, seen = list(own.items if own else ()), set()
            while pending:
                item = version.item(pending.pop())
                if item is not None and item.id not in seen:
                    seen.add(item.id)
                    pending.extend(condition.item for condition in item.enable_when)
            questions |= seen
    return questions
