"""The facts a refinement policy's auto rules are written over, and their check.

An auto rule's ``when`` is a condition of the rule language over one request
(see :class:`harmonia.definitions.policy.AutoRule`); the catalog checks it when
a pack loads, and the refinement layer compiles it to SQL over a whole batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs
from sqlglot import exp

from harmonia.definitions import RefinementPolicy
from harmonia.definitions.policy import REQUEST_KINDS, AutoRule
from harmonia.errors import Problem
from harmonia.rules.check import check_condition
from harmonia.rules.features import FeatureSpec
from harmonia.rules.language import features_in, literal_value, parse_condition

#: What an auto rule's condition can name.
REQUEST_FACTS: Mapping[str, FeatureSpec] = {
    "action": FeatureSpec("action", "text", REQUEST_KINDS, nullable=False),
    "reason": FeatureSpec("reason", "text", nullable=False),
    "old_value": FeatureSpec("old_value", "text"),
    "new_value": FeatureSpec("new_value", "text"),
    # Of a move along a dimension's order: steps up it (1 is one step up), to its top.
    "steps": FeatureSpec("steps", "integer"),
    "to_top": FeatureSpec("to_top", "boolean", nullable=False),
    # Of a call goal: the calls added (fewer: negative).
    "calls_added": FeatureSpec("calls_added", "integer"),
    "segment": FeatureSpec("segment", "text"),
    "needs": FeatureSpec("needs", "text"),
    "tier": FeatureSpec("tier", "text"),
    "role": FeatureSpec("role", "text", ("rep", "manager"), nullable=False),
}


#: Moves along a dimension's order (what ``steps`` and ``to_top`` describe).
MOVES = ("segment", "needs", "tier")

#: The kinds of request a fact means something for; a fact not named here describes
#: every kind. ``steps`` of a goal or an account would be a number of calls or
#: nothing: a rule such as "one step down for access" must not decide those.
DESCRIBES: Mapping[str, tuple[str, ...]] = {
    "steps": MOVES,
    "to_top": MOVES,
    "calls_added": ("goal",),
}


def auto_rule_problems(policy: RefinementPolicy) -> list[Problem]:
    """Every problem in the policy's auto rules (syntax, names and types of their
    conditions, a reason the policy does not list, kinds of request a rule cannot
    decide)."""
    specs = dict(REQUEST_FACTS)
    if policy.reasons:
        specs["reason"] = attrs.evolve(specs["reason"], levels=policy.every_reason())
    problems = []
    for index, rule in enumerate(policy.auto_rules):
        found = check_condition(rule.when, specs)
        problems += [Problem(f"auto_rules[{index}].when", str(problem)) for problem in found]
        if not found:
            problems += _kind_problems(f"auto_rules[{index}]", rule, policy)
    return problems


def decided_kinds(rule: AutoRule, policy: RefinementPolicy) -> tuple[str, ...]:
    """The kinds of request ``rule`` decides: its ``actions`` when declared, else the
    policy's dimensions that every fact its condition reads describes."""
    declared = rule.actions or _described(features_in(parse_condition(rule.when)))
    return tuple(kind for kind in declared if kind in policy.dimensions)


def _described(facts: Iterable[str]) -> list[str]:
    """The kinds of request every one of ``facts`` describes."""
    facts = list(facts)
    return [
        kind
        for kind in REQUEST_KINDS
        if all(kind in DESCRIBES.get(fact, REQUEST_KINDS) for fact in facts)
    ]


def _kind_problems(where: str, rule: AutoRule, policy: RefinementPolicy) -> list[Problem]:
    """A declared kind the policy does not have, or that a fact of the rule does not
    describe; a rule naming kinds of request (``action = 'goal'``) it never decides."""
    condition = parse_condition(rule.when)
    problems = [
        Problem(
            f"{where}.actions",
            f"{kind!r} is not one of the policy's dimensions ({', '.join(policy.dimensions)})",
        )
        for kind in rule.actions
        if kind not in policy.dimensions
    ]
    for fact in features_in(condition):
        kinds = DESCRIBES.get(fact, REQUEST_KINDS)
        problems += [
            Problem(
                f"{where}.actions",
                f"{fact} describes {', '.join(kinds)} requests, not {kind} ({_hint(kind)})",
            )
            for kind in rule.actions
            if kind not in kinds and kind in policy.dimensions
        ]
    if problems:
        return problems
    decided = decided_kinds(rule, policy)
    named = [kind for kind in _named_kinds(condition) if kind in policy.dimensions]
    if named and not set(named) & set(decided):
        read = ", ".join(fact for fact in features_in(condition) if fact in DESCRIBES)
        why = f"reads {read}" if read else f"decides {', '.join(decided) or 'nothing'}"
        problems.append(
            Problem(
                f"{where}.when",
                f"the rule names {', '.join(named)} requests but {why}, so it never "
                f"decides one ({_hint(named[0])})",
            )
        )
    elif not decided:
        # Else the rule would load and never fire: every request it was meant for
        # would wait for a manager while the market believes it decided.
        problems.append(Problem(f"{where}.when", _decides_nothing(condition, policy)))
    return problems


def _decides_nothing(condition: exp.Expression, policy: RefinementPolicy) -> str:
    """Why a rule without declared actions decides no kind of request of the policy,
    and what to do instead."""
    read = [fact for fact in features_in(condition) if fact in DESCRIBES]
    if not read:
        return "the policy has no dimensions, so no rule decides anything: give it some"
    facts = " and ".join(read)
    described = _described(read)
    if not described:
        which = "; ".join(f"{fact}: {', '.join(DESCRIBES[fact])}" for fact in read)
        return (
            f"the rule reads {facts}, which no kind of request has all of ({which}), "
            "so it decides nothing: split it into one rule per kind of request"
        )
    dimensions = ", ".join(policy.dimensions) or "none"
    return (
        f"the rule reads {facts}, which only {', '.join(described)} requests have, and "
        f"the policy's dimensions ({dimensions}) have none of them, so it decides "
        f"nothing: drop the rule, or add {described[0]} to the dimensions"
    )


def _hint(kind: str) -> str:
    """What a rule reads of a request of ``kind`` instead."""
    if kind == "goal":
        return "a call goal's change is calls_added"
    if kind in MOVES:
        return "a move's size is steps"
    return f"a {kind} request has neither steps nor calls_added"


def _named_kinds(condition: exp.Expression) -> list[str]:
    """The kinds of request the condition compares ``action`` with (``action = 'goal'``,
    ``action IN ('segment', 'tier')``)."""
    named: list[str] = []
    for node in condition.find_all(exp.EQ, exp.In):
        sides = [node.this, *(node.args.get("expressions") or [node.expression])]
        if not any(isinstance(side, exp.Column) and side.name == "action" for side in sides):
            continue
        named += [str(literal_value(side)) for side in sides if isinstance(side, exp.Literal)]
    return list(dict.fromkeys(named))
