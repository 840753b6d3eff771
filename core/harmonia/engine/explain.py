"""Why a customer got its segment: the inputs a cycle saw, each rule tried.

The explanation re-evaluates the cycle's own rule set (from its snapshot, not
whatever is installed now) in Python on the feature values stored with the
assignment, and checks that it lands where the engine did.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
from sqlmodel import select

from harmonia.definitions import RuleSet, structure
from harmonia.engine.cycle import get_cycle
from harmonia.errors import NotFoundError
from harmonia.store.database import Database
from harmonia.store.models import Assignment, Crosswalk, Customer, Cycle, Identifier


@attrs.frozen
class Explanation:
    cycle: Cycle
    customer: Customer
    source_ids: list[tuple[str, str]]
    identifiers: list[tuple[str, str]]
    assignment: Assignment
    inputs: dict[str, Any]
    traces: list[Any]

    @property
    def agrees(self) -> bool:
        """Whether Python's evaluation lands where the engine did, per dimension."""
        stored = {
            "segment": (self.assignment.segment, self.assignment.segment_rule),
            "needs": (self.assignment.needs, self.assignment.needs_rule),
            "tier": (self.assignment.tier, self.assignment.tier_rule),
        }
        return all(
            stored[trace.dimension] == (trace.segment, trace.rule_id) for trace in self.traces
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle.id,
            "customer": self.customer.model_dump(),
            "source_ids": [{"system": s, "id": i} for s, i in self.source_ids],
            "identifiers": [{"scheme": s, "value": v} for s, v in self.identifiers],
            "inputs": self.inputs,
            "final_segment": self.assignment.final_segment,
            "origin": self.assignment.origin,
            "dimensions": [attrs.asdict(trace) for trace in self.traces],
            "engine_and_python_agree": self.agrees,
        }


def explain_assignment(database: Database, cycle_id: int, customer: str) -> Explanation:
    from harmonia.rules import explain

    cycle = get_cycle(database, cycle_id)
    snapshot = json.loads(cycle.snapshot)
    rule_set = structure(snapshot["rule_set"], RuleSet, where=f"cycle {cycle_id} snapshot")
    with database.session() as session:
        customer_id = _customer_id(session, cycle_id, customer)
        assignment = session.get(Assignment, (cycle_id, customer_id))
        record = session.get(Customer, customer_id)
        sources = session.exec(select(Crosswalk).where(Crosswalk.customer_id == customer_id)).all()
        identifiers = session.exec(
            select(Identifier).where(Identifier.customer_id == customer_id)
        ).all()
    if assignment is None or record is None:
        raise NotFoundError(
            f"customer {customer} is not in cycle {cycle_id} ({cycle.country}, {cycle.therapy_area})",
            fix="check the cycle and the customer's country",
        )
    inputs = json.loads(assignment.inputs)
    return Explanation(
        cycle=cycle,
        customer=record,
        source_ids=[(s.system, s.source_id) for s in sources],
        identifiers=[(i.scheme, i.value) for i in identifiers],
        assignment=assignment,
        inputs=inputs,
        traces=explain(rule_set, inputs),
    )


def _customer_id(session: Any, cycle_id: int, customer: str) -> int:
    """A harmonia id, or a source system's id for the customer."""
    if customer.isdigit() and session.get(Assignment, (cycle_id, int(customer))) is not None:
        return int(customer)
    matches = session.exec(select(Crosswalk).where(Crosswalk.source_id == customer)).all()
    ids = {match.customer_id for match in matches}
    if len(ids) == 1:
        return ids.pop()
    if len(ids) > 1:
        systems = ", ".join(sorted(f"{m.system} -> {m.customer_id}" for m in matches))
        raise NotFoundError(
            f"source id {customer!r} names several customers ({systems})",
            fix="give the harmonia id instead",
        )
    raise NotFoundError(
        f"no customer {customer!r} in cycle {cycle_id}",
        fix="give a harmonia id (see the target list) or a source system's customer_id",
    )
