"""Skip logic as SQL: ``enable_when`` over a response's answer rows.

:class:`SkipLogic` turns the skip logic of :mod:`harmonia.questionnaires.model`
into SQL. Response validation (:mod:`harmonia.questionnaires.validation`, over
a batch being loaded) and profile scoring (:mod:`harmonia.questionnaires.scoring`,
over the store's answers) both use it, through their own :class:`AnswerRows`,
so both judge skip logic identically.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from harmonia.questionnaires.model import NUMERIC_TYPES, EnableWhen, Item, Questionnaire
from harmonia.sql import double, quote


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


@attrs.frozen
class Flag:
    """One flag :class:`SkipLogic` needs: the rows of an item, and a test of their answer."""

    rows: str
    test: str = "1 = 1"
    #: The item whose rows these are: (questionnaire, version, item id).
    item: tuple[str, str, str] = ("", "", "")

    @property
    def predicate(self) -> str:
        return f"{self.rows} AND {self.test}"


@attrs.define
class SkipLogic:
    """``enable_when`` as SQL, in two steps.

    1. flags (:meth:`predicates`, :meth:`tests`): each ``1`` for a response
       when the answer to an item meets a test: it exists, equals a code,
       exceeds a bound. The caller aggregates them over a response's rows.
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

    def tests(self) -> dict[tuple[str, str, str], list[tuple[str, str]]]:
        """(flag column, test of an answer) of every flag, by the item whose rows it
        tests: (questionnaire, version, item id), in the order the flags were made."""
        found: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
        for flag, alias in self._flags.items():
            found.setdefault(flag.item, []).append((alias, flag.test))
        return found

    def answered(self, questionnaire: Questionnaire, item: Item) -> str:
        """SQL: the response answers ``item``."""
        rows = self.rows.of_item(questionnaire, item)
        return self._flag(Flag(rows, item=_key(questionnaire, item)))

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
        item = _key(questionnaire, source)
        answer = condition.answer
        if source.type in NUMERIC_TYPES:
            # CASE first: the cast must never see another item's text.
            value = f"CASE WHEN {rows} THEN {self.rows.number(source)} END"
            test = f"{value} {operator} {double(float(answer))}"  # type: ignore[arg-type]
        elif source.type == "date":
            value = f"CASE WHEN {rows} THEN {self.rows.text(source)} END"
            test = f"{value} {operator} {quote(answer)}"
        else:
            test = self.rows.includes(source, quote(_canonical(answer)))
        return self._flag(Flag(rows, test, item))

    def _flag(self, flag: Flag) -> str:
        if flag not in self._flags:
            self._flags[flag] = f"f{len(self._flags)}"
        return f"{self._flags[flag]} = 1"


def _key(questionnaire: Questionnaire, item: Item) -> tuple[str, str, str]:
    return (questionnaire.id, questionnaire.version, item.id)


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
