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
    from harmonia.store.models import Cycle, CycleTransition


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
            return structure(snapshot["refinement_policy"], RefinementPolicy)
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
        from harmonia.refinement.snapshot import freeze_scope
        from harmonia.store.models import Cycle as CycleRecord

        cycle = self.cycle(cycle_id)
        self._check(cycle, lifecycle.FEEDBACK)
        policy = self.policy(cycle)
        without = freeze_scope(self.app.database, cycle)
        with self.app.database.session() as session:
            record = session.get(CycleRecord, cycle_id)
            assert record is not None
            snapshot = json.loads(record.snapshot)
            snapshot["refinement_policy"] = unstructure(policy)
            record.snapshot = json.dumps(snapshot, sort_keys=True)
            session.add(record)
            session.commit()
        moved = self._move(cycle, lifecycle.FEEDBACK, note)
        return Moved(moved, cycle.status, {"customers_without_territory": without})

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
        refined = apply_accepted(self.app.database, cycle_id)
        written = write_stored_outputs(
            self.app.database,
            self.app.catalog,
            cycle,
            self.app.cycles.sink_choices(sinks, outputs),
            directory or Path(self.app.workspace.output or "out"),
        )
        moved = self._move(cycle, lifecycle.PUBLISHED, note)
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
        for other in others:
            assert other.id is not None
            move_cycle(
                self.app.database,
                other.id,
                lifecycle.SUPERSEDED,
                actor=self.app.actor,
                note=f"cycle {published.id} of the same scope was published",
                expected=other.status,
            )
        return [other.id for other in others if other.id is not None]

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
