"""Profiling questionnaires: the model, its checks, versions, skip logic, validation,
scoring and coverage, in one place.

``model``
    What a questionnaire is and means (items, options with scores, skip
    logic, dimensions and bands) and every check of one version.
``versions``
    The order of versions, which answers compare, and how a version links to
    the one it follows.
``skiplogic``
    ``enable_when`` as SQL over a response's answers, shared by validation
    and scoring.
``validation``
    The check of a batch of responses being loaded (one DuckDB query).
``scoring``
    Responses into dimension scores and levels, inside a cycle's query.
``coverage``
    Per dimension, how many customers of a cycle were scored, and why not.

It sits below ingest and engine, which use it through these modules' public
functions; it imports only the contract (definitions, errors) and
:mod:`harmonia.sql`.
"""

from harmonia.questionnaires.model import (
    CHOICE_TYPES,
    NUMERIC_TYPES,
    AnswerOption,
    Band,
    EnableWhen,
    Group,
    Item,
    ProfileDimension,
    Questionnaire,
    VersionLink,
    describe_conditions,
    reachable_scores,
    text_in,
)
from harmonia.questionnaires.versions import (
    Comparability,
    comparable_versions,
    version_key,
    version_problems,
)

__all__ = [
    "CHOICE_TYPES",
    "NUMERIC_TYPES",
    "AnswerOption",
    "Band",
    "Comparability",
    "EnableWhen",
    "Group",
    "Item",
    "ProfileDimension",
    "Questionnaire",
    "VersionLink",
    "comparable_versions",
    "describe_conditions",
    "reachable_scores",
    "text_in",
    "version_key",
    "version_problems",
]
