"""Field refinement and the cycle lifecycle (``harmonia cycle open-feedback`` …
``publish``, ``harmonia refinement``).

A cycle a run leaves as a ``draft`` goes, in a market that opted in to field
refinement, through ``feedback`` (reps ask for changes within the policy),
``review`` (managers decide what is open) and ``approved`` (every request
decided or expired) to ``published``; a market that opted out publishes the
draft directly. Each move is checked by :mod:`harmonia.lifecycle` and recorded
with who and when.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from harmonia import lifecycle
from harmonia.engine.cycle import SinkChoice, Written
from harmonia.errors import ConfigError

if TYPE_CHECKING:
    from harmonia.app.core import Harmonia
    from harmonia.definitions import RefinementPolicy
    from harmonia.refinement.carry import CarryOver
    from harmonia.refinement.policy import CallCapacity
    from harmonia.store.models import Cycle, CycleTransition, RefinementRequest


@attrs.frozen
class Moved:
    """A cycle after a lifecycle move, and what the move did on the way."""

    cycle: Cycle
    previous: str
    #: Customers without a territory (opening feedback), requests expired
    #: (approving), assignments refined (publishing).
    counts: dict[str, int] = attrs.Factory(dict)
    written: tuple[Written, ...] = ()
    superseded: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle.id,
            "from": self.previous,
            "to": self.cycle.status,
            **self.counts,
            "written": [attrs.asdict(w) for w in self.written],
            "superseded": list(self.superseded),
        }


class Refinement:
    """``app.refinement``: the cycle lifecycle and field refinement."""

    def __init__(self, app: Harmonia) -> None:
        self.app = app

    # -- what a cycle was frozen with ---------------------------------------------------

    def cycle(self, cycle_id: int) -> Cycle:
        from harmonia.engine.cycle import get_cycle

        return get_cycle(self.app.existing_database, cycle_id)

    @staticmethod
    def field_refinement(cycle: Cycle) -> bool:
        """Whether the cycle's market opted in to field refinement (as the cycle ran)."""
        country = json.loads(cycle.snapshot).get("country", {})
        return country.get("field_refinement") == "opt-in"

    def policy(self, cycle: Cycle) -> RefinementPolicy:
        """The policy reps refine the cycle under: frozen when feedback opened."""
        from harmonia.definitions import RefinementPolicy, structure

        snapshot = json.loads(cycle.snapshot)
        if "refinement_policy" in snapshot:
            return structure(
                snapshot["refinement_policy"],
                RefinementPolicy,
                where=f"cycle {cycle.id} snapshot",
            )
        name = snapshot.get("country", {}).get("refinement_policy")
        if not name:
            raise ConfigError(
                f"the market {cycle.country} names no refinement policy",
                where=f"cycle {cycle.id}",
                fix="a market that opts in to field refinement names one in its country profile",
            )
        return self.app.catalog.refinement_policies.get_or_fail(
            name, fix="install the pack that declares it"
        )

    def targeted(self, cycle: Cycle) -> list[str]:
        """The segments the cycle's plan puts on the target list (their strategies')."""
        from harmonia.engine.spec import resolve

        spec = resolve(self.app.catalog, cycle.country, cycle.therapy_area, cycle.period)
        return [s for s in spec.rule_set.segment.outcomes if spec.strategies[s].target]

    def goals(self, cycle: Cycle) -> dict[str, int]:
        """The face-to-face calls the cycle's plan gives each segment in its period
        (0 for a segment that is not targeted): a customer's call goal."""
        from harmonia.engine.query import CycleQuery
        from harmonia.engine.spec import resolve

        spec = resolve(self.app.catalog, cycle.country, cycle.therapy_area, cycle.period)
        return {
            str(row["segment"]): int(str(row.get("face_to_face") or 0))
            for row in CycleQuery(spec, 0).plan_rows()
        }

    def capacity(self, cycle: Cycle) -> CallCapacity:
        """The face-to-face calls each territory of the cycle can make in its period, as
        the planner counts them: the roster's reps (else the country's
        ``reps_per_territory``) x working days x calls a day x share of the year."""
        import numpy as np

        from harmonia.engine.spec import resolve
        from harmonia.refinement.policy import CallCapacity
        from harmonia.store.bulk import BulkConnection
        from harmonia.strategy.capacity import territory_capacity
        from harmonia.strategy.operations import field_force
        from harmonia.strategy.universe import PlannedCycle

        spec = resolve(self.app.catalog, cycle.country, cycle.therapy_area, cycle.period)
        force = field_force(self.app.database, [PlannedCycle(cycle, spec)], None)
        with BulkConnection(self.app.database, write=False) as bulk:
            scoped = bulk.read(
                "SELECT DISTINCT territory FROM refinement_scope "
                f"WHERE cycle_id = {int(cycle.id or 0)}"
            ).column("territory")
        territories = sorted({str(t) for t in scoped.to_pylist()} | set(force.reps))
        reps = force.of(np.array(territories, dtype=object))
        days, per_day = spec.parameter("working_days"), spec.parameter("calls_per_day")
        share = spec.period.months / 12
        calls = territory_capacity(
            reps, share=share, working_days=days, calls_per_day=per_day, seats=0
        )["face_to_face"]
        return CallCapacity(
            {t: int(c) for t, c in zip(territories, calls, strict=True)},
            {t: float(r) for t, r in zip(territories, reps, strict=True)},
            f"{days:g} working days x {per_day:g} calls a day x {spec.period.months}/12 "
            "of the year",
            replanned=spec.country.call_plan == "capacity",
        )

    @staticmethod
    def orders(cycle: Cycle) -> dict[str, list[str]]:
        """Each dimension's segments, highest first, as the cycle's rule set declared them."""
        return _orders(cycle)

    def transitions(self, cycle_id: int) -> list[CycleTransition]:
        """The cycle's lifecycle moves, oldest first."""
        from harmonia.store.transitions import transitions

        return transitions(self.app.existing_database, cycle_id)

    # -- the lifecycle ------------------------------------------------------------------

    def _move(self, cycle: Cycle, target: str, note: str = "") -> Cycle:
        from harmonia.store.transitions import move_cycle

        assert cycle.id is not None
        return move_cycle(
            self.app.database,
            cycle.id,
            target,
            actor=self.app.actor,
            note=note,
            field_refinement=self.field_refinement(cycle),
            expected=cycle.status,
        )

    def _check(self, cycle: Cycle, target: str) -> None:
        lifecycle.check_move(
            cycle.status,
            target,
            field_refinement=self.field_refinement(cycle),
            cycle=cycle.id or "?",
        )

    def open_feedback(self, cycle_id: int, note: str = "") -> Moved:
        """Freeze the cycle's result and territories and let reps ask for changes."""
        from harmonia.definitions import unstructure

        cycle = self.cycle(cycle_id)
        self._check(cycle, lifecycle.FEEDBACK)
        policy = unstructure(self.policy(cycle))
        return self._open(cycle, note, policy, dt.datetime.now(dt.UTC).isoformat())

    def _open(
        self,
        cycle: Cycle,
        note: str,
        policy: dict[str, Any],
        opened: str,
        without: int | None = None,
    ) -> Moved:
        """Open feedback on ``cycle``, its scope frozen now, or already (a carry-over
        froze it to make its report: ``without`` customers have no territory)."""
        from harmonia.refinement.snapshot import freeze_scope

        assert cycle.id is not None
        cycle_id = cycle.id
        if without is None:
            without = freeze_scope(self.app.database, cycle)
        self._update_snapshot(cycle_id, refinement_policy=policy, feedback_opened_at=opened)
        moved = self._move(cycle, lifecycle.FEEDBACK, note)
        return Moved(moved, cycle.status, {"customers_without_territory": without})

    def _update_snapshot(self, cycle_id: int, **values: Any) -> None:
        from harmonia.store.models import Cycle as CycleRecord

        with self.app.database.session() as session:
            record = session.get(CycleRecord, cycle_id)
            assert record is not None
            snapshot = json.loads(record.snapshot)
            snapshot.update(values)
            record.snapshot = json.dumps(snapshot, sort_keys=True)
            session.add(record)
            session.commit()

    def carry_over(self, old_cycle: int, new_cycle: int, *, dry_run: bool = False) -> CarryOver:
        """Hand a round of feedback over to a re-run of the same scope.

        ``new_cycle`` (a draft) opens feedback with the old round's policy and
        window; each open request of ``old_cycle`` is carried over, or expires
        with why (the customer is gone or moved, the re-run changed the value it
        started from, or already gives what was asked); ``old_cycle`` is
        superseded. With ``dry_run`` nothing changes: the report shows what would.
        """
        from harmonia.refinement.carry import Changed, apply_carry_over, carry_over_report
        from harmonia.refinement.snapshot import freeze_scope

        old, new = self.cycle(old_cycle), self.cycle(new_cycle)
        if old.status not in (lifecycle.FEEDBACK, lifecycle.REVIEW):
            raise ConfigError(
                f"cycle {old_cycle} is {old.status}: only a round in feedback or review is "
                "handed over to a re-run",
                fix="see harmonia cycle list",
            )
        scope = (old.country, old.therapy_area, old.period)
        if (new.country, new.therapy_area, new.period) != scope or new.status != lifecycle.DRAFT:
            raise ConfigError(
                f"cycle {new_cycle} is not a draft of {' '.join(scope)}",
                fix="re-run the same country, therapy area and period (harmonia cycle run)",
            )
        # Frozen once: the requests are carried over against the scope reps then refine.
        without = freeze_scope(self.app.database, new)
        targeted, goals = self.targeted(new), self.goals(new)
        capacity = self.capacity(new)
        report = carry_over_report(
            self.app.database, old_cycle, new_cycle, targeted, goals, capacity
        )
        if dry_run:
            return report
        self._check(new, lifecycle.FEEDBACK)
        # The requests first, in one transaction: a manager deciding one after
        # the report was made means a new report (nothing was applied).
        for attempt in range(3):
            try:
                apply_carry_over(self.app.database, report, actor=self.app.actor)
                break
            except Changed:
                if attempt == 2:
                    raise ConfigError(
                        f"the requests of cycle {old_cycle} kept changing while they were "
                        "carried over (managers deciding): nothing was carried",
                        fix="run the carry-over again once the managers are done",
                    ) from None
                report = carry_over_report(
                    self.app.database, old_cycle, new_cycle, targeted, goals, capacity
                )
        from harmonia.refinement.requests import expire_pending
        from harmonia.store.bulk import BulkConnection
        from harmonia.store.transitions import move_cycle

        note = f"re-run: its open requests went to cycle {new_cycle}"
        move_cycle(
            self.app.database,
            old_cycle,
            lifecycle.SUPERSEDED,
            actor=self.app.actor,
            note=note,
            expected=old.status,
        )
        # The old cycle now takes no request: submit checks its status under the
        # requests' lock, taken here once so that a submit which checked it before
        # the move has stored. A request made after the report may already be
        # accepted by the policy: it fares like the others (carried over, or
        # expired saying why) before the re-run opens, so none is left open in a
        # dead cycle.
        with BulkConnection(self.app.database) as bulk:
            bulk.lock("refinement_request")
        late = carry_over_report(self.app.database, old_cycle, new_cycle, targeted, goals, capacity)
        if late.requests:
            try:
                apply_carry_over(self.app.database, late, actor=self.app.actor)
                report = attrs.evolve(report, requests=report.requests + late.requests)
            except Changed:
                pass  # decided meanwhile: expired below, saying why
        expire_pending(
            self.app.database,
            old_cycle,
            actor=self.app.actor,
            message=f"expired: cycle {old_cycle} was superseded by its re-run (cycle "
            f"{new_cycle}) while this request was decided: ask again there",
            statuses=("pending", "accepted"),
        )
        # The re-run keeps the policy and the window of the round it takes over.
        taken = json.loads(old.snapshot)
        self._open(
            new,
            f"re-run of cycle {old_cycle}",
            taken["refinement_policy"],
            taken.get("feedback_opened_at") or dt.datetime.now(dt.UTC).isoformat(),
            without,
        )
        return report

    def close_feedback(self, cycle_id: int, note: str = "") -> Moved:
        """Reps are done: what is still pending waits for the managers' review."""
        cycle = self.cycle(cycle_id)
        moved = self._move(cycle, lifecycle.REVIEW, note)
        return Moved(moved, cycle.status, {"pending": self._count(cycle_id, "pending")})

    def approve(self, cycle_id: int, note: str = "") -> Moved:
        """Close the review: every request still pending expires, with the reason stated."""
        from harmonia.refinement.requests import expire_pending

        cycle = self.cycle(cycle_id)
        self._check(cycle, lifecycle.APPROVED)
        when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        expired = expire_pending(
            self.app.database,
            cycle_id,
            actor=self.app.actor,
            message=f"expired: no manager decided it before the cycle was approved on {when} "
            f"by {self.app.actor}",
        )
        moved = self._move(cycle, lifecycle.APPROVED, note)
        return Moved(moved, cycle.status, {"expired": expired})

    def publish(
        self,
        cycle_id: int,
        *,
        sinks: Sequence[SinkChoice] | None = None,
        outputs: Sequence[str] = (),
        directory: Path | None = None,
        note: str = "",
    ) -> Moved:
        """Apply the accepted requests, write the final outputs through the sinks, and
        make the cycle the one the next cycle's pull-through starts from.

        Other cycles of the same market, area and period that are still open (or
        published before) become ``superseded``.
        """
        from harmonia.engine.cycle import write_stored_outputs
        from harmonia.refinement.snapshot import apply_accepted

        cycle = self.cycle(cycle_id)
        self._check(cycle, lifecycle.PUBLISHED)
        # Claim the cycle first (a conditional move: of two publishers, one wins),
        # then write; if writing fails, the cycle goes back to where it was.
        moved = self._move(cycle, lifecycle.PUBLISHED, note)
        try:
            refined = apply_accepted(self.app.database, cycle_id)
            written = write_stored_outputs(
                self.app.database,
                self.app.catalog,
                moved,
                self.app.cycles.sink_choices(sinks, outputs),
                directory or Path(self.app.workspace.output or "out"),
                planner=self.app.cycles.planner,
            )
        except BaseException as error:
            from harmonia.store.transitions import move_cycle

            move_cycle(
                self.app.database,
                cycle_id,
                cycle.status,
                actor=self.app.actor,
                note=f"publishing failed: {error}"[:500],
                expected=lifecycle.PUBLISHED,
            )
            raise
        superseded = self._supersede_others(moved)
        return Moved(moved, cycle.status, {"refined": refined}, tuple(written), tuple(superseded))

    def _supersede_others(self, published: Cycle) -> list[int]:
        from sqlmodel import select

        from harmonia.store.models import Cycle as CycleRecord
        from harmonia.store.transitions import move_cycle

        with self.app.database.session() as session:
            others = session.exec(
                select(CycleRecord).where(
                    CycleRecord.country == published.country,
                    CycleRecord.therapy_area == published.therapy_area,
                    CycleRecord.period == published.period,
                    CycleRecord.id != published.id,
                    CycleRecord.status.in_(lifecycle.COMPLETED),  # type: ignore[attr-defined]
                )
            ).all()
        from harmonia.refinement.requests import expire_pending

        for other in others:
            assert other.id is not None
            note = f"cycle {published.id} of the same scope was published"
            move_cycle(
                self.app.database,
                other.id,
                lifecycle.SUPERSEDED,
                actor=self.app.actor,
                note=note,
                expected=other.status,
            )
            # Its round is over: what nobody decided expires, saying why.
            expire_pending(self.app.database, other.id, actor=self.app.actor, message=note)
        return [other.id for other in others if other.id is not None]

    # -- requests and decisions -------------------------------------------------------

    @staticmethod
    def allowed_moves(values: Sequence[str], current: str | None, moves: str) -> list[str]:
        """The values a rep may choose from ``current`` under a policy's ``moves``."""
        from harmonia.refinement.policy import allowed_moves

        return allowed_moves(values, current, moves)

    def issue_token(self, person: str) -> str:
        """A new sign-in token for a person of the roster (its hash is stored; the
        token is shown once). An earlier token of theirs stops working."""
        from harmonia.refinement.requests import issue_token

        return issue_token(self.app.database, person)

    def person_of_token(self, token: str) -> str | None:
        """Who signs in with ``token``, or None."""
        from harmonia.refinement.requests import person_of_token

        return person_of_token(self.app.existing_database, token)

    def is_manager(self, person: str) -> bool:
        """Whether the roster has ``person`` as a manager."""
        from harmonia.store.models import RosterEntry

        with self.app.existing_database.session() as session:
            entry = session.get(RosterEntry, person)
        return entry is not None and entry.role == "manager"

    def market_of(self, person: str) -> str | None:
        """The country of a person of the roster (None for someone not in it)."""
        from harmonia.store.models import RosterEntry

        with self.app.existing_database.session() as session:
            entry = session.get(RosterEntry, person)
        return entry.country if entry is not None else None

    def territories_of(self, person: str) -> list[str]:
        """The territories a person may act on (a rep's own, every one below a manager)."""
        from harmonia.refinement.requests import managed_territories

        return managed_territories(self.app.database, person)

    def check_round(self, cycle_id: int, opened_at: str, territory: str, person: str) -> Cycle:
        """Refuse a workbook (or page) from another round of feedback or territory.

        ``opened_at`` is when the round it was made for opened: a workbook of an
        earlier round (before a re-run took over) is stale.
        """
        from harmonia.errors import InputError
        from harmonia.refinement.requests import check_open

        cycle = self.cycle(cycle_id)
        check_open(cycle)
        current = json.loads(cycle.snapshot).get("feedback_opened_at")
        if current != opened_at:
            raise InputError(
                f"this workbook is from an earlier round of feedback of cycle {cycle_id} "
                f"(opened {opened_at}; the current one opened {current})",
                fix="write a new workbook (harmonia refinement workbook) and enter the changes there",
            )
        if territory not in self.territories_of(person):
            raise InputError(
                f"this workbook is for territory {territory}, which is not {person}'s",
                fix="submit your own territory's workbook, or the rep's manager submits it",
            )
        return cycle

    def proposal(self, cycle_id: int, territory: str | None = None, *, system: str | None = None):
        """The frozen proposal reps refine, as Arrow: one row per customer of the cycle
        (of ``territory`` only, when given) with its territory, source id (of
        ``system``, else the first), name, specialty, city and its current
        segment, needs, tier, target and call goal (accepted requests applied: an
        account accepted onto a territory is listed on it), sorted by territory and
        name."""
        from harmonia.refinement.snapshot import proposal

        cycle = self.cycle(cycle_id)
        return proposal(
            self.app.existing_database,
            cycle,
            territory,
            system,
            self.targeted(cycle),
            self.goals(cycle),
        )

    def request(
        self,
        cycle_id: int,
        customer: str,
        *,
        action: str,
        value: str,
        reason: str,
        comment: str = "",
        system: str | None = None,
        requester: str | None = None,
    ) -> Submitted:
        """One request: ``customer`` (a harmonia id or a source id) to ``value`` in ``action``."""
        from harmonia.engine.explain import customer_of_cycle

        cycle = self.cycle(cycle_id)
        from harmonia.refinement.requests import check_open

        check_open(cycle)
        customer_id = customer_of_cycle(self.app.existing_database, cycle_id, customer, system)
        return self.submit(
            cycle_id,
            [
                {
                    "_row": 1,
                    "customer_id": customer_id,
                    "requester": requester or self.app.actor,
                    "action": action,
                    "new_value": value,
                    "reason": reason,
                    "comment": comment,
                }
            ],
        )

    def submit(self, cycle_id: int, requests: Any) -> Submitted:
        """A batch of requests (rows of ``_row, customer_id, requester, action,
        new_value, reason, comment``: a list of dicts or an Arrow table), checked
        against the policy and stored, each with its decision."""
        import pyarrow as pa

        from harmonia.refinement.policy import INCOMING
        from harmonia.refinement.requests import submit

        cycle = self.cycle(cycle_id)
        table = (
            requests
            if isinstance(requests, pa.Table)
            else pa.Table.from_pylist(
                [{"refusal_rule": None, "refusal_message": None, **row} for row in requests],
                schema=INCOMING,
            )
        )
        checked = submit(
            self.app.database,
            cycle,
            self.policy(cycle),
            _orders(cycle),
            table,
            targeted=self.targeted(cycle),
            goals=self.goals(cycle),
            # Only a goal is checked against capacity (it resolves the spec and reads
            # the roster and every territory): a batch without one does not pay for it.
            capacity=self.capacity(cycle)
            if table.column("action").index("goal").as_py() >= 0
            else None,
        )
        return Submitted(checked.to_pylist())

    def decide(
        self,
        cycle_id: int,
        ids: Sequence[int],
        decision: str,
        *,
        comment: str = "",
        value: str | None = None,
        manager: str | None = None,
    ) -> list[RefinementRequest]:
        """A manager accepts, rejects or amends (``value``) pending requests, all or none."""
        from harmonia.refinement.requests import decide

        cycle = self.cycle(cycle_id)
        return decide(
            self.app.database,
            cycle,
            ids,
            decision=decision,
            actor=manager or self.app.actor,
            comment=comment,
            amended_value=value,
            orders=_orders(cycle),
        )

    def requests(
        self,
        cycle_id: int,
        *,
        statuses: Sequence[str] = (),
        person: str | None = None,
    ) -> list[RefinementRequest]:
        """A cycle's requests, oldest first; with ``person``, those of the territories
        they may act on only."""
        from harmonia.refinement.requests import managed_territories, requests_of

        territories = managed_territories(self.app.database, person) if person else None
        return requests_of(
            self.app.existing_database,
            cycle_id=cycle_id,
            statuses=statuses,
            territories=territories,
        )

    def queue(self, cycle_id: int, manager: str | None = None) -> Queue:
        """What a manager has to decide, with each territory's share used and the
        requests by reason and outcome (counted in the store)."""
        from harmonia.refinement.policy import UNCOUNTED
        from harmonia.refinement.requests import managed_territories, requests_of
        from harmonia.refinement.snapshot import planned_calls_sql
        from harmonia.sql import text_list
        from harmonia.store.bulk import BulkConnection

        manager = manager or self.app.actor
        cycle = self.cycle(cycle_id)
        territories = managed_territories(self.app.database, manager)
        pending = requests_of(
            self.app.database, cycle_id=cycle_id, statuses=["pending"], territories=territories
        )
        policy = self.policy(cycle)
        mine = f"cycle_id = {int(cycle_id)} AND territory IN ({text_list(territories)})"
        with BulkConnection(self.app.database, write=False) as bulk:
            counted = {
                row["territory"]: row
                for row in bulk.read(
                    f"""
                    SELECT s.territory, s.customers, COALESCE(o.changes, 0) AS changes
                    FROM (SELECT territory, COUNT(*) AS customers FROM refinement_scope
                        WHERE {mine} GROUP BY territory) s
                    LEFT JOIN (SELECT territory, COUNT(DISTINCT customer_id) AS changes
                        FROM refinement_request WHERE {mine}
                        AND action NOT IN ({text_list(UNCOUNTED)})
                        AND status IN ('pending', 'accepted') GROUP BY territory) o
                    ON o.territory = s.territory
                    """
                ).to_pylist()
            }
            by_reason = bulk.read(
                "SELECT reason, status, COUNT(*) AS requests FROM refinement_request "
                f"WHERE {mine} GROUP BY reason, status ORDER BY reason, status"
            ).to_pylist()
            goals = "goal" in policy.dimensions
            planned = (
                {
                    row["territory"]: int(row["calls"] or 0)
                    for row in bulk.read(
                        planned_calls_sql(
                            int(cycle_id), self.goals(cycle), territories, self.targeted(cycle)
                        )
                    ).to_pylist()
                }
                if goals
                else {}
            )
        capacity = self.capacity(cycle) if goals else None
        figures = []
        for territory in territories:
            size = int(counted.get(territory, {}).get("customers") or 0)
            changes = int(counted.get(territory, {}).get("changes") or 0)
            figures.append(
                {
                    "territory": territory,
                    "customers": size,
                    "changes": changes,
                    "share_used": round(changes / size, 4) if size else 0.0,
                    "allowed": int(policy.max_share * size + 1e-9),
                    # Where reps set call goals: the calls planned and what the reps can make.
                    **(
                        {
                            "calls_planned": planned.get(territory, 0),
                            "capacity": capacity.calls.get(territory),
                        }
                        if capacity is not None
                        else {}
                    ),
                }
            )
        for row in by_reason:
            row["requests"] = int(row["requests"])
        return Queue(manager, pending, figures, by_reason)

    def history(self, customer: str, *, system: str | None = None) -> list[dict]:
        """Every request about a customer across cycles, with its decision."""
        from harmonia.refinement.requests import requests_of

        customer_id = self._customer_id(customer, system)
        return [
            r.model_dump() for r in requests_of(self.app.existing_database, customer_id=customer_id)
        ]

    def analytics(self, cycle_id: int) -> dict[str, Any]:
        """Override analytics of a cycle: requests by reason, rule and outcome, each
        territory's share changed, the share of the universe the field changed."""
        from harmonia.refinement.analytics import override_analytics

        self.cycle(cycle_id)
        return override_analytics(self.app.existing_database, cycle_id)

    def export(self, rows: Sequence[dict[str, Any]], path: Path, *, delimiter: str = ",") -> Path:
        """Requests (as :meth:`history` or :meth:`requests` give them) as a CSV file."""
        import pyarrow as pa

        from harmonia.errors import PathError
        from harmonia.files import write_table_csv

        table = pa.Table.from_pylist([{k: _text(v) for k, v in row.items()} for row in rows])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            written = write_table_csv(table, path, delimiter=delimiter)
        except OSError as error:
            raise PathError.from_os_error(error) from None
        self.app.privacy.wrote("refinement export", [written])
        return written

    def _customer_id(self, customer: str, system: str | None) -> int:
        from sqlmodel import select

        from harmonia.errors import NotFoundError
        from harmonia.store.models import HARMONIA_IDS, Crosswalk

        if system in (None, HARMONIA_IDS) and customer.isdigit():
            return int(customer)
        with self.app.existing_database.session() as session:
            query = select(Crosswalk.customer_id).where(Crosswalk.source_id == customer)
            if system:
                query = query.where(Crosswalk.system == system)
            found = sorted(set(session.exec(query).all()))
        if len(found) != 1:
            raise NotFoundError(
                f"{'no' if not found else 'several'} customer(s) {customer!r}"
                + (f" in system {system}" if system else ""),
                fix="give a harmonia id, or the source id with --system",
            )
        return found[0]

    def _count(self, cycle_id: int, status: str) -> int:
        from sqlalchemy import func
        from sqlmodel import select

        from harmonia.store.models import RefinementRequest

        with self.app.database.session() as session:
            return int(
                session.exec(
                    select(func.count()).where(
                        RefinementRequest.cycle_id == cycle_id,
                        RefinementRequest.status == status,
                    )
                ).one()
            )


@attrs.frozen
class Submitted:
    """Requests as checked and stored: each with its id, status, rule and message."""

    requests: list[dict[str, Any]]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for request in self.requests:
            counts[request["status"]] = counts.get(request["status"], 0) + 1
        return counts


@attrs.frozen
class Queue:
    """A manager's pending requests with the policy's figures per territory."""

    manager: str
    pending: list[RefinementRequest]
    #: territory -> customers, customers with a change asked for, allowed by max_share
    territories: list[dict[str, Any]]
    #: (reason, status) -> requests
    by_reason: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "manager": self.manager,
            "pending": [request.model_dump() for request in self.pending],
            "territories": self.territories,
            "by_reason": self.by_reason,
        }


def _text(value: Any) -> Any:
    """A value as an export cell: dates as ISO text, the rest as is."""
    return value.isoformat() if isinstance(value, dt.datetime | dt.date) else value


def _orders(cycle: Cycle) -> dict[str, list[str]]:
    """Each dimension's segments, highest first, as the cycle's rule set declared them."""
    from harmonia.refinement.snapshot import TARGET_VALUES

    rule_set = json.loads(cycle.snapshot).get("rule_set", {})
    orders = {
        name: list(rule_set[name]["segments"])
        for name in ("segment", "needs", "tier")
        if rule_set.get(name)
    }
    return {**orders, "target": list(TARGET_VALUES)}
