"""Which rules of a dimension can never be the first match.

Rules are tried in order and the first TRUE one wins, so a rule is dead when
earlier rules already match every customer it would match (or when nothing
satisfies it at all). The analysis tabulates the rules over a finite set of
representative customers:

- *finite* features are enumerated: booleans, text with known levels, integers
  with a known range (quantile bins), plus NULL where the feature is nullable;
- other features are *sampled* at the points where a rule's truth can change:
  every constant compared against, and a point in each gap between them
  (integers: ``floor(c) - 1 .. ceil(c) + 1``; numbers: the midpoints, one below
  the smallest, one above the largest; text: the literals and one other value).

Sampling is exact for a leaf predicate that compares one sampled feature,
bare, with constants (``x > 3``, ``x BETWEEN 1 AND 2``, ``x IN (...)``): every
customer behaves like one of the sample points. It is not exact for arithmetic
on a sampled feature (``x * 2 > y``) or for comparing two features. A rule
made only of exact predicates is *exact*: its set of matching sample points
stands for its set of matching customers. Only exact rules are judged and
only exact rules count as covering later ones, so every report is a proof,
never a guess. Inexact rules are dead only behind exact rules that leave no
customer at all (a catch-all such as ``TRUE``).

Sets of sample points are Python integers used as bit sets (bit ``i`` is
sample point ``i``); a predicate's TRUE and FALSE sets combine under Kleene
logic with ``&`` and ``|``, so even 200,000 points take milliseconds.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence

import attrs
from sqlglot import exp

from harmonia.rules.evaluate import RuleEvaluationError, truth, value
from harmonia.rules.features import FeatureSpec
from harmonia.rules.language import (
    CONNECTIVES,
    atoms,
    children,
    features_in,
    has_connective,
    strip_parens,
)

#: Above this many sample points the analysis keeps to constant rules only.
LIMIT = 200_000

#: A text value no literal equals (NUL never appears in a rule's literals).
_OTHER_TEXT = "\x00other"

_PREDICATES = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE, exp.In, exp.Between, exp.Is)


@attrs.frozen
class Unreachable:
    """Rule ``index`` is never the first match.

    ``never_true``: no customer satisfies it at all. Otherwise ``covered_by``
    lists the earlier rules that take every customer it would match.
    """

    index: int
    never_true: bool
    covered_by: tuple[int, ...] = ()


def unreachable_rules(
    conditions: Sequence[exp.Expression | None],
    specs: Mapping[str, FeatureSpec],
    limit: int = LIMIT,
) -> list[Unreachable]:
    """The rules (by index) that can never be the first match.

    ``conditions`` are the checked conditions in rule order; ``None`` marks a
    rule with problems, which is assumed reachable and covers nothing.
    """
    leaves = {
        index: atoms(condition)
        for index, condition in enumerate(conditions)
        if condition is not None
    }
    exact = {
        index for index, found in leaves.items() if all(_is_exact(leaf, specs) for leaf in found)
    }
    used = list(dict.fromkeys(name for index in sorted(exact) for name in _names(leaves[index])))
    constants = _constants([leaf for found in leaves.values() for leaf in found])
    domains = {name: _candidates(specs[name], constants.get(name, set())) for name in used}
    if math.prod(len(domain) for domain in domains.values()) > limit:
        # Too many points: keep to rules that use no feature (TRUE, 1 = 1, ...).
        exact = {index for index in exact if not _names(leaves[index])}
        domains = {}
    table = _Table(domains)

    found: list[Unreachable] = []
    remaining = table.all
    matched: dict[int, int] = {}  # exact rule -> the points where it is TRUE
    fired: dict[int, int] = {}  # exact rule -> the points where it is the first match
    for index, condition in enumerate(conditions):
        if condition is None:
            continue
        if index not in exact:
            if remaining == 0:
                found.append(Unreachable(index, False, _covering(table.all, matched, fired)))
            continue
        matches = table.true(condition)
        if matches == 0:
            found.append(Unreachable(index, True))
        elif matches & remaining == 0:
            found.append(Unreachable(index, False, _covering(matches, matched, fired)))
        matched[index], fired[index] = matches, matches & remaining
        remaining &= ~matches
    return found


def _covering(points: int, matched: Mapping[int, int], fired: Mapping[int, int]) -> tuple[int, ...]:
    """The earlier rules that take ``points``: the first that alone does, else all involved."""
    for index, matches in matched.items():
        if points & ~matches == 0:
            return (index,)
    return tuple(index for index, first in fired.items() if first & points)


def _names(leaves: list[exp.Expression]) -> list[str]:
    return list(dict.fromkeys(name for leaf in leaves for name in features_in(leaf)))


def _finite(spec: FeatureSpec) -> bool:
    if spec.type == "boolean":
        return True
    if spec.type == "text":
        return bool(spec.levels)
    return spec.type == "integer" and spec.low is not None and spec.high is not None


def _is_exact(leaf: exp.Expression, specs: Mapping[str, FeatureSpec]) -> bool:
    """Does tabulating ``leaf`` over the sample points describe every customer?"""
    names = features_in(leaf)
    sampled = [name for name in names if not _finite(specs[name])]
    if not sampled:
        return True
    if len(names) > 1:
        return False
    node = strip_parens(leaf)
    while isinstance(node, exp.Not):
        node = strip_parens(node.this)
    if not isinstance(node, _PREDICATES):
        return False
    # Every operand is the feature itself or free of features.
    return all(
        isinstance(strip_parens(operand), exp.Column) or not features_in(operand)
        for operand in children(node)
    )


def _constants(leaves: list[exp.Expression]) -> dict[str, set[str | int | float]]:
    """Per feature, the constant values it is compared against."""
    constants: dict[str, set[str | int | float]] = {}
    for leaf in leaves:
        values = set(_constant_values(leaf))
        for name in features_in(leaf):
            constants.setdefault(name, set()).update(values)
    return constants


def _constant_values(node: exp.Expression) -> Iterator[str | int | float]:
    """The values of the largest feature-free parts of ``node`` (``1 + 2`` counts as 3)."""
    if node.find(exp.Column) is None:
        try:
            result = value(node, {})
        except RuleEvaluationError:
            return
        if isinstance(result, (str, int, float)) and not isinstance(result, bool):
            yield result
        return
    for child in children(node):
        yield from _constant_values(child)


def _candidates(spec: FeatureSpec, constants: set[str | int | float]) -> list[object]:
    """The sample points of one feature (see the module docstring)."""
    points: list[object]
    numbers = sorted(c for c in constants if not isinstance(c, str))
    if spec.type == "boolean":
        points = [True, False]
    elif spec.type == "text":
        texts = sorted(c for c in constants if isinstance(c, str))
        points = list(spec.levels) if spec.levels else [*texts, _OTHER_TEXT]
    elif spec.type == "integer" and spec.low is not None and spec.high is not None:
        points = list(range(spec.low, spec.high + 1))
    elif spec.type == "integer":
        integers = set()
        for number in numbers:
            low, high = math.floor(number), math.ceil(number)
            integers.update((low - 1, low, high, high + 1))
        points = sorted(integers) or [0]
    else:
        gaps = [(a + b) / 2 for a, b in itertools.pairwise(numbers) if a != b]
        edges = [numbers[0] - 1, numbers[-1] + 1] if numbers else [0.0]
        points = sorted({*numbers, *gaps, *edges})
    return [*points, None] if spec.nullable else points


class _Table:
    """The sample points (the product of the features' candidates) and bit sets over them."""

    def __init__(self, domains: Mapping[str, list[object]]):
        self.domains = dict(domains)
        self.size = math.prod(len(domain) for domain in self.domains.values())
        self.all = (1 << self.size) - 1
        self._strides: dict[str, int] = {}
        stride = 1
        for name, domain in self.domains.items():
            self._strides[name] = stride
            stride *= len(domain)
        self._masks: dict[tuple[str, int], int] = {}
        self._leaves: dict[str, tuple[int, int]] = {}

    def true(self, condition: exp.Expression) -> int:
        """The points where ``condition`` is TRUE."""
        return self._truth(condition)[0]

    def _truth(self, node: exp.Expression) -> tuple[int, int]:
        """The points where ``node`` is TRUE, and where it is FALSE (the rest is NULL)."""
        if isinstance(node, (*CONNECTIVES, exp.Not, exp.Paren)) and has_connective(node):
            if isinstance(node, exp.Paren):
                return self._truth(node.this)
            if isinstance(node, exp.Not):
                true, false = self._truth(node.this)
                return false, true
            (true_a, false_a), (true_b, false_b) = (
                self._truth(node.this),
                self._truth(node.expression),
            )
            if isinstance(node, exp.And):
                return true_a & true_b, false_a | false_b
            return true_a | true_b, false_a & false_b
        key = node.sql()
        if key not in self._leaves:
            self._leaves[key] = self._tabulate(node)
        return self._leaves[key]

    def _tabulate(self, leaf: exp.Expression) -> tuple[int, int]:
        names = features_in(leaf)
        true = false = 0
        for indices in itertools.product(*(range(len(self.domains[name])) for name in names)):
            values = {name: self.domains[name][i] for name, i in zip(names, indices, strict=True)}
            try:
                result = truth(value(leaf, values))
            except RuleEvaluationError:
                result = None
            if result is None:
                continue
            points = self.all
            for name, i in zip(names, indices, strict=True):
                points &= self._mask(name, i)
            if result:
                true |= points
            else:
                false |= points
        return true, false

    def _mask(self, name: str, index: int) -> int:
        """The points where feature ``name`` takes its ``index``-th candidate."""
        key = (name, index)
        if key not in self._masks:
            stride, count = self._strides[name], len(self.domains[name])
            period = stride * count
            block = ((1 << stride) - 1) << (index * stride)
            # A repunit in base 2**period repeats the block over all points.
            repeat = ((1 << self.size) - 1) // ((1 << period) - 1)
            self._masks[key] = block * repeat
        return self._masks[key]
