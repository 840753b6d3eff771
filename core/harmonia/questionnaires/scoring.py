"""Profile scoring as SQL: questionnaire responses into dimension scores and levels.

For each profile feature a rule set uses, the cycle scores each customer's
latest response to the questionnaire within the country's maximum age,
whatever its version. A response is scored with the definition of the
version it answered, and only when that version is comparable for the
dimension (:func:`scorable_versions`); otherwise the dimension stays unknown
for the customer, reported as *not comparable*. Item scores, skip logic, the
missing-answer policy and bands follow :mod:`harmonia.questionnaires.model`
exactly.

The SQL is DuckDB's dialect, transpiled for SQLite and PostgreSQL; the
definition tables are ``UNION ALL`` of ``SELECT`` (SQLite loses the column
names of ``VALUES ... AS t(cols)``), and booleans are 0/1 integers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from harmonia.definitions import ProfileFeature
from harmonia.questionnaires.model import (
    BAND_TOLERANCE,
    CHOICE_TYPES,
    NUMERIC_TYPES,
    ProfileDimension,
    Questionnaire,
)
from harmonia.questionnaires.skiplogic import SkipLogic, StoredAnswers
from harmonia.questionnaires.versions import comparable_versions
from harmonia.sql import double, quote

Scorable = dict[str, tuple[Questionnaire, ProfileDimension]]


def scorable_versions(versions: Iterable[Questionnaire], dimension: str) -> Scorable:
    """The versions whose answers score ``dimension`` comparably, with their definitions.

    See :func:`~harmonia.questionnaires.versions.comparable_versions` for the
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
    feature: ProfileFeature,
    versions: list[Questionnaire],
    key: str,
    start: str,
    end: str,
    responses: str = "response",
) -> Iterator[tuple[str, str]]:
    """The CTEs scoring ``feature``'s dimension; the last, ``key``, has one row per
    customer with a response in ``[start, end)``: ``customer_id, score, level, status``.

    ``responses`` is the table (or parenthesised query) the responses come from."""
    yield from dimension_ctes(
        feature.questionnaire, feature.dimension, versions, key, start, end, responses
    )


def dimension_ctes(
    questionnaire: str,
    dimension: str,
    versions: list[Questionnaire],
    key: str,
    start: str,
    end: str,
    responses: str = "response",
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
        f"r.id DESC) AS rn FROM {responses} r WHERE r.questionnaire = {quote(questionnaire)} "
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
    tolerance = double(BAND_TOLERANCE)
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
#: module documentation of :mod:`harmonia.questionnaires.model`.
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
    score_sql = "CAST(NULL AS DOUBLE)" if score is None else double(score)
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
            f"SELECT {quote(version)}, {quote(band.level)}, {double(band.low)}, "
            f"{'CAST(NULL AS DOUBLE)' if band.high is None else double(band.high)}, "
            f"CAST({int(band.high_inclusive)} AS BIGINT)"
            for band in dimension.band_ranges()
        )
    return rows
