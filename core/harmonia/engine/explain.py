"""Why a customer got its segment: the inputs a cycle saw, each rule tried.

The explanation re-evaluates the cycle's own rule set (from its snapshot, not
whatever is installed now) in Python on the feature values stored with the
assignment, and checks that it lands where the engine did.
"""

from __future__ import annotations

import json
import re
from typing import Any

import attrs
from sqlmodel import Session, select

from harmonia.definitions import CountryProfile, RuleSet, structure
from harmonia.engine.cycle import get_cycle
from harmonia.engine.pullthrough import PullThroughCheck, explain_pull_through
from harmonia.engine.query import filled_inputs
from harmonia.errors import ConfigError, NotFoundError
from harmonia.store.assignments import inputs_of
from harmonia.store.database import Database
from harmonia.store.identity import resolve
from harmonia.store.models import (
    HARMONIA_IDS,
    Assignment,
    Crosswalk,
    Customer,
    CustomerRedirect,
    Cycle,
    Identifier,
)

#: What each dimension's result is called where a user reads it.
DIMENSION_LABELS = {"segment": "segment", "needs": "needs segment", "tier": "tier"}


def _previous_assignment(session: Session, cycle_id: int, customer_id: int) -> Assignment | None:
    """The customer's assignment in ``cycle_id``: its own, else (merged since) the one of
    the lowest id merged into it, as the engine's pull-through picks it."""
    own = session.get(Assignment, (cycle_id, customer_id))
    if own is not None:
        return own
    return session.exec(
        select(Assignment)
        .join(CustomerRedirect, CustomerRedirect.merged_id == Assignment.customer_id)
        .where(Assignment.cycle_id == cycle_id, CustomerRedirect.survivor_id == customer_id)
        .order_by(Assignment.customer_id)
    ).first()


@attrs.frozen
class Explanation:
    cycle: Cycle
    customer: Customer
    source_ids: list[tuple[str, str]]
    identifiers: list[tuple[str, str]]
    assignment: Assignment
    inputs: dict[str, Any]
    traces: list[Any]
    #: The features whose value came from their missing-value policy, not from data.
    defaulted: list[str] = attrs.Factory(list)
    #: What pull-through compared for this customer, and its outcome.
    pull_through: PullThroughCheck | None = None

    @property
    def agrees(self) -> bool:
        """Whether Python's evaluation lands where the engine did, per dimension."""
        stored = {
            "segment": (self.assignment.segment, self.assignment.segment_rule),
            "needs": (self.assignment.needs, self.assignment.needs_rule),
            "tier": (self.assignment.tier, self.assignment.tier_rule),
        }
        pulled = self.assignment.origin == "pulled-through"
        return all(
            stored[trace.dimension] == (trace.segment, trace.rule_id) for trace in self.traces
        ) and (
            self.pull_through is None
            or self.assignment.origin not in ("rules", "pulled-through")
            or self.pull_through.carried == pulled
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle.id,
            "customer": self.customer.model_dump(),
            "source_ids": [{"system": s, "id": i} for s, i in self.source_ids],
            "identifiers": [{"scheme": s, "value": v} for s, v in self.identifiers],
            "inputs": self.inputs,
            "inputs_from_missing_policy": self.defaulted,
            "final_segment": self.assignment.final_segment,
            "origin": self.assignment.origin,
            "dimensions": [
                {"label": DIMENSION_LABELS.get(trace.dimension, trace.dimension)}
                | attrs.asdict(trace)
                for trace in self.traces
            ],
            "pull_through": self.pull_through.to_json() if self.pull_through else None,
            "engine_and_python_agree": self.agrees,
        }


def explain_assignment(
    database: Database, cycle_id: int, customer: str, *, system: str | None = None
) -> Explanation:
    from harmonia.rules import explain

    cycle = get_cycle(database, cycle_id)
    snapshot = json.loads(cycle.snapshot)
    rule_set = structure(snapshot["rule_set"], RuleSet, where=f"cycle {cycle_id} snapshot")
    country = structure(snapshot["country"], CountryProfile, where=f"cycle {cycle_id} snapshot")
    with database.session() as session:
        customer_id = _customer_id(session, cycle_id, customer, system)
        assignment = session.get(Assignment, (cycle_id, customer_id))
        previous = (
            _previous_assignment(session, cycle.previous_cycle_id, customer_id)
            if cycle.previous_cycle_id is not None
            else None
        )
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
    stored = json.loads(inputs_of(database, cycle_id, customer_id))
    inputs, defaulted = filled_inputs(stored)
    pull_through = explain_pull_through(
        rule_set,
        country.pull_through.threshold,
        enabled=country.pull_through.enabled,
        inputs=stored,
        previous_cycle=cycle.previous_cycle_id,
        previous=json.loads(inputs_of(database, previous.cycle_id, previous.customer_id))
        if previous is not None
        else None,
        previous_segment=previous.final_segment if previous is not None else None,
    )
    return Explanation(
        cycle=cycle,
        customer=record,
        source_ids=[(s.system, s.source_id) for s in sources],
        identifiers=[(i.scheme, i.value) for i in identifiers],
        assignment=assignment,
        inputs=inputs,
        traces=explain(rule_set, inputs),
        defaulted=defaulted,
        pull_through=pull_through,
    )


#: What can be a harmonia id: digits, within a 64-bit integer.
_NUMBER = re.compile(r"[0-9]{1,18}")


def customer_of_cycle(database: Database, cycle_id: int, customer: str, system: str | None) -> int:
    """The harmonia id of the customer of the cycle that ``customer`` names (see below)."""
    with database.session() as session:
        return _customer_id(session, cycle_id, customer, system)


def _customer_id(session: Any, cycle_id: int, customer: str, system: str | None) -> int:
    """The customer of the cycle that ``customer`` names.

    ``customer`` is a harmonia id or a source system's customer id; ``system``
    says which (a source system's name, or ``harmonia``). Without it a name
    that fits two customers is refused rather than guessed.
    """
    named: dict[str, int] = {}  # system -> harmonia id
    if system in (None, HARMONIA_IDS) and _NUMBER.fullmatch(customer):
        named[HARMONIA_IDS] = int(customer)
    if system != HARMONIA_IDS:
        matches = select(Crosswalk).where(Crosswalk.source_id == customer)
        if system is not None:
            matches = matches.where(Crosswalk.system == system)
        named |= {match.system: match.customer_id for match in session.exec(matches)}
    # A cycle run after a merge knows a merged customer by its survivor's id.
    now = resolve(session, named.values())
    in_cycle: dict[str, int] = {}
    for name, id in named.items():
        for known in (id, now[id]):
            if name not in in_cycle and session.get(Assignment, (cycle_id, known)) is not None:
                in_cycle[name] = known
    if len(set(in_cycle.values())) == 1:
        return next(iter(in_cycle.values()))
    if in_cycle:
        meanings = "; ".join(
            f"{'harmonia id' if name == HARMONIA_IDS else name + ' customer_id'} {customer} "
            f"is customer {id}"
            for name, id in sorted(in_cycle.items())
        )
        raise ConfigError(
            f"{customer!r} names several customers of cycle {cycle_id}: {meanings}",
            fix="say which with --system (" + " or ".join(sorted(in_cycle)) + ")",
        )
    raise NotFoundError(
        f"no customer {customer!r}"
        + ("" if system is None else f" (--system {system})")
        + f" in cycle {cycle_id}",
        fix=_how_to_name_a_customer(session, customer, system),
    )


def _how_to_name_a_customer(session: Any, customer: str, system: str | None) -> str:
    if system == HARMONIA_IDS and not _NUMBER.fullmatch(customer):
        return "a harmonia id is a number (see the target list); drop --system for a source id"
    systems = session.exec(select(Crosswalk.system).distinct()).all()
    if system not in (None, HARMONIA_IDS, *systems):
        known = ", ".join(sorted(systems)) or "none loaded yet"
        return f"no source system is called {system!r} (known: {known}; or {HARMONIA_IDS})"
    return "give a harmonia id (see the target list) or a source system's customer_id"
