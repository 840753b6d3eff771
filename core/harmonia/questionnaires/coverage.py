"""Profile coverage: per dimension, how many customers of a cycle were scored, and why not.

:func:`coverage_sql` reports, per dimension a rule set reads, how many
customers of the cycle's population were scored, incomplete, not comparable,
stale only (a response older than the maximum age, reported and not used) or
unanswered. The cycle query computes each customer's status next to its
features (:func:`status_sql`), so the report counts a table the cycle already
holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from harmonia.definitions import ProfileFeature, RuleSet
from harmonia.questionnaires.model import Questionnaire
from harmonia.sql import quote

if TYPE_CHECKING:
    import pyarrow as pa

#: The coverage report's statuses, in the order they are shown.
COVERAGE_STATUSES = ("scored", "incomplete", "not_comparable", "stale_only", "unanswered")


def coverage_sql(rule_set: RuleSet, relation: str) -> str | None:
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
    for index, (questionnaire, dimension) in enumerate(profile_dimensions(rule_set)):
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


def stale_sql(questionnaire: str, start: str, responses: str = "response") -> str:
    """The customers with a response to ``questionnaire`` from before the window."""
    return (
        f"SELECT DISTINCT customer_id FROM {responses} response "
        f"WHERE questionnaire = {quote(questionnaire)} AND answered_at < {quote(start)}"
    )


def profile_dimensions(rule_set: RuleSet) -> list[tuple[str, str]]:
    """The (questionnaire, dimension) pairs the rule set's features read, in feature order."""
    seen: dict[tuple[str, str], None] = {}
    for feature in rule_set.features:
        if isinstance(feature, ProfileFeature):
            seen.setdefault((feature.questionnaire, feature.dimension), None)
    return list(seen)


def coverage_rows(rule_set: RuleSet, table: pa.Table | None) -> list[dict[str, Any]]:
    """The coverage report's rows (see :func:`coverage_sql`), each naming the
    ``features`` that read the dimension. The engine runs the SQL on the
    cycle's computed assignments, where it holds them.
    """
    if table is None:
        return []
    features = _feature_names(rule_set)
    rows = []
    for row in table.to_pylist():
        pair = (row["questionnaire"], row["dimension"])
        counts = {name: int(row[name] or 0) for name in ("customers", *COVERAGE_STATUSES)}
        rows.append(
            {"questionnaire": pair[0], "dimension": pair[1], **counts, "features": features[pair]}
        )
    return rows


def _feature_names(rule_set: RuleSet) -> dict[tuple[str, str], list[str]]:
    names: dict[tuple[str, str], list[str]] = {}
    for feature in rule_set.features:
        if isinstance(feature, ProfileFeature):
            names.setdefault((feature.questionnaire, feature.dimension), []).append(feature.name)
    return names


def questions_read(
    rule_set: RuleSet,
    questionnaires: Mapping[str, Sequence[Questionnaire]],
    dimensions: list[tuple[str, str]] | None = None,
) -> set[str]:
    """Every item a dimension's score or skip logic looks at, in any installed version."""
    dimensions = profile_dimensions(rule_set) if dimensions is None else dimensions
    questions: set[str] = set()
    for questionnaire, dimension in dimensions:
        for version in questionnaires.get(questionnaire, []):
            own = version.dimension(dimension)
            pending, seen = list(own.items if own else ()), set()
            while pending:
                item = version.item(pending.pop())
                if item is not None and item.id not in seen:
                    seen.add(item.id)
                    pending.extend(condition.item for condition in item.enable_when)
            questions |= seen
    return questions
