"""Check conditions against a rule set's features, and whole rule sets at load time.

:func:`check_condition` finds everything wrong in one condition: syntax and
whitelist (from :mod:`~harmonia.rules.language`), unknown feature names,
type mismatches and unknown levels. :func:`check_rule_set` runs it on every
rule of every dimension and adds what only the whole dimension shows: rules
that can never be the first match (:mod:`~harmonia.rules.reachability`) and
declared segments that no rule can assign.

The type rules:

- text: ``=``, ``<>``, ``IN`` and ``IS NULL`` only (no ordering: levels have no
  order SQL knows, so list the ones that qualify with ``IN``); a literal
  compared with a feature whose levels are known must be one of them;
- integer and number: comparisons, ``BETWEEN``, ``IN`` numbers, arithmetic;
  ``/`` always gives a number;
- boolean: bare (``is_kol``), ``NOT``, ``= TRUE``/``= FALSE``, ``IS NULL``;
- ``AND``, ``OR``, ``NOT`` and the whole condition take true/false values.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

from sqlglot import exp

from harmonia.definitions import Dimension, MatrixAxis, RuleSet
from harmonia.errors import Problem
from harmonia.rules.dimensions import FALLBACK, dimension_rules
from harmonia.rules.features import FeatureSpec, feature_specs
from harmonia.rules.language import (
    ARITHMETIC,
    COMPARISONS,
    CONNECTIVES,
    ORDERINGS,
    ConditionProblem,
    Parsed,
    describe_position,
    literal_value,
    parse,
)
from harmonia.rules.reachability import Unreachable, unreachable_rules

NUMERIC = ("integer", "number")


def check_condition(text: str, specs: Mapping[str, FeatureSpec]) -> list[ConditionProblem]:
    """Every problem in one condition, given the features it may use."""
    parsed = parse(text)
    if not parsed.ok:
        return list(parsed.errors)
    return _TypeCheck(parsed, specs).run()


def check_rule_set(
    rule_set: RuleSet, levels: Mapping[str, Sequence[str]] | None = None
) -> list[Problem]:
    """Every problem in every dimension's conditions, each at its path.

    ``levels`` gives the levels of profile features (see
    :func:`~harmonia.rules.feature_specs`). Problems that
    :meth:`RuleSet.problems` already reports (undeclared segments, malformed
    matrices) are not repeated.
    """
    specs = feature_specs(rule_set, levels)
    problems: list[Problem] = []
    for name, declared in rule_set.dimensions.items():
        problems.extend(_check_dimension(name, declared, specs))
    return problems


def _check_dimension(
    name: str, declared: Dimension, specs: Mapping[str, FeatureSpec]
) -> list[Problem]:
    problems: list[Problem] = []
    for index, rule in enumerate(declared.rules):
        path = f"{name}.rules[{index}]"
        if rule.id == FALLBACK:
            problems.append(
                Problem(f"{path}.id", f"{FALLBACK!r} is the id of the fallback; rename the rule")
            )
        for found in check_condition(rule.when, specs):
            where = describe_position(rule.when, found.position)
            problems.append(Problem(f"{path}.when", f"rule {rule.id!r}, {where}: {found.message}"))
    if declared.matrix is not None:
        for axis_name in ("rows", "columns"):
            axis = getattr(declared.matrix, axis_name)
            problems.extend(_check_axis(f"{name}.matrix.{axis_name}", axis, specs))
    try:
        located = dimension_rules(declared, name)
    except IndexError:
        return problems  # a malformed matrix, which RuleSet.problems reports
    conditions = [_checked(rule.when, specs) for _, rule in located]
    dead = {found.index: found for found in unreachable_rules(conditions, specs)}
    for index, found in dead.items():
        path, rule = located[index]
        if index < len(declared.rules):
            path += ".when"
        problems.append(Problem(path, _unreachable_message(rule.id, found, located)))
    problems.extend(_unassigned_segments(name, declared, located, dead))
    return problems


def _check_axis(path: str, axis: MatrixAxis, specs: Mapping[str, FeatureSpec]) -> list[Problem]:
    """A matrix axis, checked once per entry rather than once per cell."""
    if axis.feature not in specs:
        return [Problem(f"{path}.feature", _unknown_feature(axis.feature, specs))]
    kind = "ranges" if axis.ranges else "levels"
    problems = []
    for index in range(axis.size):
        condition = axis.condition(index)
        for found in check_condition(condition, specs):
            problems.append(Problem(f"{path}.{kind}[{index}]", f"{condition}: {found.message}"))
    return problems


def _checked(text: str, specs: Mapping[str, FeatureSpec]) -> exp.Expression | None:
    """The parsed condition if it has no problem at all, else ``None``."""
    if check_condition(text, specs):
        return None
    return parse(text).expression


def _unreachable_message(rule_id: str, found: Unreachable, located: Sequence) -> str:
    if found.never_true:
        return f"rule {rule_id!r} can never match: no customer satisfies its condition"
    earlier = [repr(located[index][1].id) for index in found.covered_by]
    covered = (
        f"earlier rule {earlier[0]} already matches"
        if len(earlier) == 1
        else f"earlier rules {', '.join(earlier)} together match"
    )
    return (
        f"rule {rule_id!r} is never the first match: {covered} every customer it matches; "
        "remove it or move it up"
    )


def _unassigned_segments(
    name: str, declared: Dimension, located: Sequence, dead: Mapping[int, Unreachable]
) -> list[Problem]:
    assigned = {rule.segment for index, (_, rule) in enumerate(located) if index not in dead}
    problems = []
    for segment in declared.segments:
        if segment == declared.fallback or segment in assigned:
            continue
        targeting = [repr(rule.id) for _, rule in located if rule.segment == segment]
        if not targeting:
            why = "no rule assigns it"
        elif len(targeting) == 1:
            why = f"its only rule {targeting[0]} is unreachable"
        else:
            why = f"its rules {', '.join(targeting)} are all unreachable"
        problems.append(
            Problem(
                f"{name}.segments",
                f"segment {segment!r} is never assigned: {why} and it is not the fallback",
            )
        )
    return problems


def _unknown_feature(name: str, specs: Mapping[str, FeatureSpec]) -> str:
    by_lower = {known.lower(): known for known in specs}
    close = difflib.get_close_matches(name, list(specs), n=1) or (
        [by_lower[name.lower()]] if name.lower() in by_lower else []
    )
    if close:
        return f"unknown feature {name!r}; did you mean {close[0]!r}?"
    declared = ", ".join(sorted(specs)) or "none"
    return f"unknown feature {name!r}; the rule set declares: {declared}"


class _TypeCheck:
    """Infers the type of every node, collecting problems; ``None`` is "already reported"."""

    def __init__(self, parsed: Parsed, specs: Mapping[str, FeatureSpec]):
        self.parsed = parsed
        self.specs = specs
        self.problems: list[ConditionProblem] = []

    def run(self) -> list[ConditionProblem]:
        root = self.parsed.expression
        assert root is not None
        kind = self.infer(root)
        if kind not in ("boolean", None):
            self.report(
                root,
                f"a condition must be true or false, but {self.describe(root, kind)} is not; "
                "compare it (=, <, IN ...)",
            )
        return sorted(self.problems, key=lambda problem: problem.position)

    def report(self, node: exp.Expression, message: str) -> None:
        self.problems.append(ConditionProblem(message, self.parsed.locator.position(node)))

    def describe(self, node: exp.Expression, kind: str | None) -> str:
        if isinstance(node, exp.Column):
            return f"{kind} feature {node.name!r}"
        if isinstance(node, exp.Literal):
            return f"the {kind} {node.sql()}"
        return f"{node.sql()!r} ({kind})"

    def infer(self, node: exp.Expression) -> str | None:
        if isinstance(node, exp.Column):
            spec = self.specs.get(node.name)
            if spec is None:
                self.report(node, _unknown_feature(node.name, self.specs))
                return None
            return spec.type
        if isinstance(node, exp.Literal):
            if node.is_string:
                return "text"
            return "integer" if isinstance(literal_value(node), int) else "number"
        if isinstance(node, exp.Boolean):
            return "boolean"
        if isinstance(node, exp.Paren):
            return self.infer(node.this)
        if isinstance(node, (*CONNECTIVES, exp.Not)):
            return self._logical(node)
        if isinstance(node, exp.Is):
            self.infer(node.this)
            return "boolean"
        if isinstance(node, tuple(COMPARISONS)):
            return self._comparison(node)
        if isinstance(node, exp.In):
            return self._in(node)
        if isinstance(node, exp.Between):
            return self._between(node)
        if isinstance(node, exp.Neg):
            return self._arithmetic(node, [node.this], "-")
        return self._arithmetic(node, [node.this, node.expression], ARITHMETIC[type(node)])

    def _logical(self, node: exp.Expression) -> str:
        word = type(node).__name__.upper()
        for operand in (node.this, node.args.get("expression")):
            if operand is None:
                continue
            kind = self.infer(operand)
            if kind not in ("boolean", None):
                self.report(
                    operand,
                    f"{word} combines conditions, but {self.describe(operand, kind)} is not "
                    "true or false; compare it (=, <, IN ...)",
                )
        return "boolean"

    def _arithmetic(self, node: exp.Expression, operands: list, symbol: str) -> str | None:
        kinds = [self.infer(operand) for operand in operands]
        for operand, kind in zip(operands, kinds, strict=True):
            if kind not in (*NUMERIC, None):
                self.report(
                    node,
                    f"'{symbol}' needs numbers, but {self.describe(operand, kind)} is not a number",
                )
                return None
        if None in kinds:
            return None
        if isinstance(node, exp.Div) or "number" in kinds:
            return "number"
        return "integer"

    def _comparison(self, node: exp.Expression) -> str:
        symbol = COMPARISONS[type(node)]
        left, right = node.this, node.expression
        left_kind, right_kind = self.infer(left), self.infer(right)
        if left_kind is None or right_kind is None:
            return "boolean"
        if _family(left_kind) != _family(right_kind):
            self.report(
                node,
                f"cannot compare {self.describe(left, left_kind)} "
                f"with {self.describe(right, right_kind)}",
            )
        elif isinstance(node, ORDERINGS) and left_kind == "text":
            self.report(
                node,
                f"'{symbol}' cannot order text ({self.describe(left, left_kind)}); "
                "use IN (...) to list the levels that qualify",
            )
        elif isinstance(node, ORDERINGS) and left_kind == "boolean":
            self.report(
                node,
                f"'{symbol}' cannot order true/false ({self.describe(left, left_kind)}); "
                "use = TRUE or = FALSE",
            )
        elif left_kind == "text":
            self._level(left, right)
            self._level(right, left)
        return "boolean"

    def _in(self, node: exp.In) -> str:
        kind = self.infer(node.this)
        if kind == "boolean":
            self.report(node, "IN does not apply to true/false; use = TRUE or = FALSE")
            return "boolean"
        for item in node.expressions:
            item_kind = self.infer(item)
            if kind is None or item_kind is None:
                continue
            if _family(item_kind) != _family(kind):
                self.report(
                    item,
                    f"{self.describe(item, item_kind)} cannot be a value of "
                    f"{self.describe(node.this, kind)}",
                )
            elif kind == "text":
                self._level(node.this, item)
        return "boolean"

    def _between(self, node: exp.Between) -> str:
        operands = [node.this, node.args["low"], node.args["high"]]
        kinds = [self.infer(operand) for operand in operands]
        for operand, kind in zip(operands, kinds, strict=True):
            if kind == "text":
                self.report(
                    node,
                    f"BETWEEN cannot order text ({self.describe(operand, kind)}); "
                    "use IN (...) to list the levels that qualify",
                )
                break
            if kind not in (*NUMERIC, None):
                self.report(
                    node, f"BETWEEN needs numbers, but {self.describe(operand, kind)} is not"
                )
                break
        return "boolean"

    def _level(self, feature: exp.Expression, literal: exp.Expression) -> None:
        """A text literal compared with a feature of known levels must be one of them."""
        if not isinstance(feature, exp.Column) or not isinstance(literal, exp.Literal):
            return
        levels = self.specs[feature.name].levels
        level = literal.this
        if not levels or level in levels:
            return
        listed = ", ".join(sorted(levels))
        message = f"{level!r} is not a level of {feature.name}: {listed}"
        close = difflib.get_close_matches(level, levels, n=1)
        if close:
            message += f"; did you mean {close[0]!r}?"
        self.report(literal, message)


def _family(kind: str) -> str:
    return "numeric" if kind in NUMERIC else kind
