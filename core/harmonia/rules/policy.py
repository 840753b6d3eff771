"""The facts a refinement policy's auto rules are written over, and their check.

An auto rule's ``when`` is a condition of the rule language over one request
(see :class:`harmonia.definitions.policy.AutoRule`); the catalog checks it when
a pack loads, and the refinement layer compiles it to SQL over a whole batch.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from harmonia.definitions import RefinementPolicy
from harmonia.definitions.policy import REQUEST_KINDS
from harmonia.errors import Problem
from harmonia.rules.check import check_condition
from harmonia.rules.features import FeatureSpec

#: What an auto rule's condition can name.
REQUEST_FACTS: Mapping[str, FeatureSpec] = {
    "action": FeatureSpec("action", "text", REQUEST_KINDS, nullable=False),
    "reason": FeatureSpec("reason", "text", nullable=False),
    "old_value": FeatureSpec("old_value", "text"),
    "new_value": FeatureSpec("new_value", "text"),
    # Steps up a dimension's order (1 is one step up); of a call goal, the calls added.
    "steps": FeatureSpec("steps", "integer"),
    "to_top": FeatureSpec("to_top", "boolean", nullable=False),
    "segment": FeatureSpec("segment", "text"),
    "needs": FeatureSpec("needs", "text"),
    "tier": FeatureSpec("tier", "text"),
    "role": FeatureSpec("role", "text", ("rep", "manager"), nullable=False),
}


def auto_rule_problems(policy: RefinementPolicy) -> list[Problem]:
    """Every problem in the policy's auto rules' conditions (syntax, names, types, a
    reason the policy does not list)."""
    specs = dict(REQUEST_FACTS)
    if policy.reasons:
        specs["reason"] = attrs.evolve(specs["reason"], levels=policy.every_reason())
    return [
        Problem(f"auto_rules[{index}].when", str(problem))
        for index, rule in enumerate(policy.auto_rules)
        for problem in check_condition(rule.when, specs)
    ]
