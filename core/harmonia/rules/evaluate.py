"""Evaluate conditions for one customer in Python, with SQL's three-valued logic.

This is the reference the SQL compiler is tested against (a property test runs
both on random conditions and rows), so it mirrors SQL exactly:

- a comparison, ``IN``, ``BETWEEN`` or arithmetic with a NULL operand is NULL
  (``None``); ``IS NULL`` is never NULL;
- ``AND``/``OR``/``NOT`` follow Kleene logic: ``FALSE AND NULL`` is FALSE,
  ``TRUE OR NULL`` is TRUE, ``NOT NULL`` is NULL;
- ``x IN (...)`` is TRUE on a match, else FALSE (NULL lists are refused by the
  language);
- ``/`` is decimal division (as :mod:`harmonia.rules.compile` casts to DOUBLE)
  and a division by zero is NULL (as ``NULLIF(b, 0)``);
- when an integer meets a decimal, the integer becomes a double first, as in
  SQL; integers otherwise stay exact.

A rule fires only when its condition is TRUE; NULL and FALSE both fall through.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from sqlglot import exp

from harmonia.definitions import RuleSet
from harmonia.errors import HarmoniaError
from harmonia.rules.dimensions import FALLBACK, dimension_rules
from harmonia.rules.language import literal_value, parse

Value = Any  # str | int | float | bool | None, as a feature holds it

_COMPARE: dict[type[exp.Expression], Callable[[Any, Any], bool]] = {
    exp.EQ: operator.eq,
    exp.NEQ: operator.ne,
    exp.LT: operator.lt,
    exp.LTE: operator.le,
    exp.GT: operator.gt,
    exp.GTE: operator.ge,
}
_ARITHMETIC: dict[type[exp.Expression], Callable[[Any, Any], Any]] = {
    exp.Add: operator.add,
    exp.Sub: operator.sub,
    exp.Mul: operator.mul,
}


class RuleEvaluationError(HarmoniaError):
    """A condition cannot be evaluated for these values (a missing feature, a type clash)."""


def condition(expr_or_text: exp.Expression | str) -> exp.Expression:
    """The parsed condition: from the cache for text, as given for a tree."""
    if isinstance(expr_or_text, exp.Expression):
        return expr_or_text
    return parse(expr_or_text).tree()


def evaluate(expr_or_text: exp.Expression | str, values: Mapping[str, Value]) -> bool | None:
    """The condition's truth for one customer's feature ``values``: True, False or None (NULL)."""
    return truth(value(condition(expr_or_text), values))


def assign(rule_set: RuleSet, values: Mapping[str, Value]) -> dict[str, tuple[str, str]]:
    """``(segment, rule id)`` per declared dimension, by first match (``"fallback"`` if none)."""
    assigned = {}
    for name, declared in rule_set.dimensions.items():
        assigned[name] = (declared.fallback, FALLBACK)
        for _, rule in dimension_rules(declared, name):
            if evaluate(rule.when, values) is True:
                assigned[name] = (rule.segment, rule.id)
                break
    return assigned


def truth(result: Value) -> bool | None:
    """A value in a logical position as SQL sees it (engines store booleans as 0/1 too)."""
    if result is None or isinstance(result, bool):
        return result
    if isinstance(result, int) and result in (0, 1):
        return bool(result)
    raise RuleEvaluationError(f"{result!r} is not true or false")


def value(node: exp.Expression, values: Mapping[str, Value]) -> Value:
    """The value of any node of a condition (a number, a text, a truth value or None)."""
    kind = type(node)
    if kind is exp.Column:
        try:
            return values[node.name]
        except KeyError:
            raise RuleEvaluationError(f"no value given for feature {node.name!r}") from None
    if kind in (exp.Literal, exp.Boolean):
        return literal_value(node)
    if kind is exp.Paren:
        return value(node.this, values)
    if kind is exp.And:
        return _and(truth(value(node.this, values)), truth(value(node.expression, values)))
    if kind is exp.Or:
        left, right = truth(value(node.this, values)), truth(value(node.expression, values))
        return _not(_and(_not(left), _not(right)))
    if kind is exp.Not:
        return _not(truth(value(node.this, values)))
    if kind is exp.Is:  # the language allows IS NULL only
        return value(node.this, values) is None
    if kind in _COMPARE:
        return compare(kind, value(node.this, values), value(node.expression, values))
    if kind is exp.In:
        return _in(value(node.this, values), [value(item, values) for item in node.expressions])
    if kind is exp.Between:
        this = value(node.this, values)
        low = compare(exp.GTE, this, value(node.args["low"], values))
        return _and(low, compare(exp.LTE, this, value(node.args["high"], values)))
    if kind is exp.Neg:
        operand = value(node.this, values)
        return None if operand is None else _numeric(-operand)
    if kind in _ARITHMETIC or kind is exp.Div:
        return _arithmetic(kind, value(node.this, values), value(node.expression, values))
    raise RuleEvaluationError(f"{node.sql()!r} is not part of the rule language")


def compare(kind: type[exp.Expression], left: Value, right: Value) -> bool | None:
    """A SQL comparison: NULL if either side is NULL; an integer meeting a double becomes one."""
    if left is None or right is None:
        return None
    left, right = _align(left, right)
    try:
        return _COMPARE[kind](left, right)
    except TypeError:
        raise RuleEvaluationError(f"cannot compare {left!r} with {right!r}") from None


def _align(left: Value, right: Value) -> tuple[Value, Value]:
    # SQL compares BIGINT with DOUBLE as doubles; Python would compare exactly.
    if isinstance(left, float) and _is_int(right):
        return left, float(right)
    if isinstance(right, float) and _is_int(left):
        return float(left), right
    return left, right


def _is_int(candidate: Value) -> bool:
    return isinstance(candidate, int) and not isinstance(candidate, bool)


def _numeric(result: Value) -> Value:
    if isinstance(result, bool) or not isinstance(result, (int, float)):
        raise RuleEvaluationError(f"{result!r} is not a number")
    return result


def _arithmetic(kind: type[exp.Expression], left: Value, right: Value) -> Value:
    if left is None or right is None:
        return None
    left, right = _numeric(left), _numeric(right)
    if kind is exp.Div:
        # Always decimal division, NULL when dividing by zero: see compile.py.
        return None if right == 0 else float(left) / float(right)
    return _ARITHMETIC[kind](left, right)


def _in(this: Value, items: list[Value]) -> bool | None:
    if this is None:
        return None
    matches = [compare(exp.EQ, this, item) for item in items]
    if True in matches:
        return True
    return None if None in matches else False


def _and(left: bool | None, right: bool | None) -> bool | None:
    if left is False or right is False:
        return False
    if left is None or right is None:
        return None
    return True


def _not(operand: bool | None) -> bool | None:
    return None if operand is None else not operand
