"""Explain one customer's assignment: every rule tried, every leaf predicate's verdict.

The traces are frozen attrs classes of plain values, so a CLI renders them as
a table and ``attrs.asdict(trace)`` dumps them as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from harmonia.definitions import RuleSet
from harmonia.rules.dimensions import FALLBACK, dimension_rules
from harmonia.rules.evaluate import Value, condition, evaluate
from harmonia.rules.language import atoms, features_in


@attrs.frozen
class LeafTrace:
    """One leaf predicate of a condition (``decile >= 8``), what it saw and its verdict."""

    sql: str
    values: Mapping[str, Any] = attrs.field(hash=False)
    result: bool | None


@attrs.frozen
class RuleTrace:
    """One rule tried: its condition's verdict (None is SQL NULL) and its leaves."""

    path: str
    id: str
    when: str
    segment: str
    result: bool | None
    leaves: tuple[LeafTrace, ...]


@attrs.frozen
class DimensionTrace:
    """How one dimension was assigned: the rules tried in order, up to the first match.

    ``rule_id`` is ``"fallback"`` (and ``fallback`` is true) when no rule matched.
    """

    dimension: str
    segment: str
    rule_id: str
    fallback: bool
    rules: tuple[RuleTrace, ...]


def explain(rule_set: RuleSet, values: Mapping[str, Value]) -> list[DimensionTrace]:
    """Trace the first-match assignment of every declared dimension for one customer."""
    traces = []
    for name, declared in rule_set.dimensions.items():
        tried: list[RuleTrace] = []
        segment, rule_id = declared.fallback, FALLBACK
        for path, rule in dimension_rules(declared, name):
            trace = trace_rule(path, rule.id, rule.when, rule.segment, values)
            tried.append(trace)
            if trace.result is True:
                segment, rule_id = rule.segment, rule.id
                break
        traces.append(DimensionTrace(name, segment, rule_id, rule_id == FALLBACK, tuple(tried)))
    return traces


def trace_rule(
    path: str, rule_id: str, when: str, segment: str, values: Mapping[str, Value]
) -> RuleTrace:
    """Evaluate one rule's condition, leaf by leaf, for one customer."""
    leaves = tuple(
        LeafTrace(
            leaf.sql(),
            {name: values.get(name) for name in features_in(leaf)},
            evaluate(leaf, values),
        )
        for leaf in atoms(condition(when))
    )
    return RuleTrace(path, rule_id, when, segment, evaluate(when, values), leaves)
