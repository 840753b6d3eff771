"""Refinement policies: what reps may change in a proposed segmentation, and who approves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Literal

import attrs

from harmonia.definitions.common import check_slug, check_unique
from harmonia.errors import Problem
from harmonia.provenance import Provenance, provenance_field


@attrs.frozen
class AutoRule:
    """A decision the policy takes without a manager, and the message the rep sees.

    ``when`` is a condition in the rule language (as segmentation rules) over a
    request: ``action`` (segment, needs, tier, target, goal, add, keep),
    ``reason``, ``old_value``, ``new_value``, ``steps`` (of a segment, needs
    or tier move, how far up the dimension's order: 1 is one step up, -1 one
    step down), ``to_top`` (of such a move, the new value is the highest),
    ``calls_added`` (of a call goal, the calls added), the customer's current
    ``segment``, ``needs`` and ``tier``, and ``role`` (rep or manager). Rules
    are tried in order; the first that holds decides.

    A rule decides only the kinds of request it can describe: those of
    ``actions`` when declared, else those every fact it reads describes (a rule
    reading ``steps`` decides segment, needs and tier moves, never a goal or an
    account), among the policy's dimensions.
    """

    #: The rule's id, shown as ``auto:<name>`` with each request it decides.
    name: str
    #: The condition over the request, in the rule language.
    when: str
    #: ``accept`` or ``reject`` the request when the condition holds.
    decision: Literal["accept", "reject"]
    #: What the rep is shown, in the field's language.
    message: str
    #: The kinds of request it decides (``segment``, ``goal`` …); empty: every kind
    #: the facts it reads describe.
    actions: tuple[str, ...] = ()


#: The kinds of request a policy may let reps make (its ``dimensions``).
REQUEST_KINDS = ("segment", "needs", "tier", "target", "goal", "add", "keep")


@attrs.frozen
class RefinementPolicy:
    """The limits of field refinement in a market.

    ``moves`` is ``adjacent`` (one step up or down the dimension's segment
    order) or ``any``. ``max_share`` caps the share of a rep's customers whose
    segment may change in one cycle. Every request names one of ``reasons``;
    when ``requires_approval`` the rep's manager decides.
    """

    #: The key of an array of them in one file (``[[policies]]``).
    PLURAL: ClassVar[str] = "policies"

    #: The policy's id, named by country profiles (``refinement_policy``).
    name: str
    #: What reps may do, in one sentence a rep understands.
    description: str
    #: Which results reps may change: ``segment``, ``needs``, ``tier``, ``target``
    #: (add a customer to the target list, ``yes``, or remove one, ``no``),
    #: ``goal`` (the face-to-face calls planned for a customer, within capacity),
    #: ``add`` (an account of another territory to the rep's) and ``keep`` (an
    #: account the cycle's alignment moved away from the rep's territory).
    dimensions: tuple[str, ...] = ("segment",)
    #: ``adjacent``: one step up or down the dimension's order; ``any``: anywhere.
    moves: Literal["adjacent", "any"] = "adjacent"
    #: The largest share (0 to 1) of a rep's customers whose result may change in a cycle
    #: (call goals and accounts are not counted: they change the work, not the result).
    max_share: float = 0.2
    #: The reasons a rep picks from, in the field's language.
    reasons: tuple[str, ...] = ("new information", "access", "relationship", "data error")
    #: The reasons of a kind of request where they differ from ``reasons``
    #: (``[policies.reasons_by_action]``: ``tier = ["...", ...]``).
    reasons_by_action: dict[str, tuple[str, ...]] = attrs.Factory(dict)
    #: Whether the rep's manager approves or rejects each request.
    requires_approval: bool = True
    #: How many days the field has to refine once a cycle opens for feedback.
    window_days: int = 14
    #: Decisions taken without a manager, tried in order (``[[policies.auto_rules]]``).
    auto_rules: tuple[AutoRule, ...] = ()
    provenance: Provenance | None = provenance_field()

    def reasons_of(self, action: str) -> tuple[str, ...]:
        """The reasons a request of this kind (``segment``, ``tier`` …) may give."""
        return self.reasons_by_action.get(action, self.reasons)

    def every_reason(self) -> tuple[str, ...]:
        """Every reason of the policy, each once, in the order declared."""
        every = [*self.reasons, *(r for rs in self.reasons_by_action.values() for r in rs)]
        return tuple(dict.fromkeys(every))

    def problems(self) -> Iterator[Problem]:
        yield from check_slug("name", self.name)
        if not 0 <= self.max_share <= 1:
            yield Problem("max_share", f"{self.max_share} is not a share between 0 and 1")
        if not self.reasons:
            yield Problem("reasons", "declare at least one reason a rep can give")
        yield from check_unique("reasons", self.reasons, "reason")
        for action, reasons in self.reasons_by_action.items():
            if action not in self.dimensions:
                yield Problem(
                    f"reasons_by_action.{action}",
                    f"{action!r} is not one of the policy's dimensions "
                    f"({', '.join(self.dimensions)})",
                )
            if not reasons:
                yield Problem(f"reasons_by_action.{action}", "declare at least one reason")
            yield from check_unique(f"reasons_by_action.{action}", reasons, "reason")
        for index, dimension in enumerate(self.dimensions):
            if dimension not in REQUEST_KINDS:
                yield Problem(
                    f"dimensions[{index}]",
                    f"{dimension!r} is not one of {', '.join(REQUEST_KINDS)}",
                )
        if self.window_days < 1:
            yield Problem("window_days", "the refinement window must be at least one day")
        yield from check_unique("auto_rules", (rule.name for rule in self.auto_rules), "rule name")
        for index, rule in enumerate(self.auto_rules):
            if not rule.message.strip():
                yield Problem(f"auto_rules[{index}].message", "say what the rep is shown")
