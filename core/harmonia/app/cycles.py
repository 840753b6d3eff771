"""Segmentation cycles: run, list, show, compare, explain, and the cycle as SQL
(``harmonia cycle``, ``harmonia explain``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from harmonia.engine.cycle import SinkChoice
from harmonia.engine.explain import DIMENSION_LABELS

if TYPE_CHECKING:
    from harmonia.app.core import Harmonia
    from harmonia.engine.cycle import CycleResult
    from harmonia.engine.explain import Explanation
    from harmonia.store.models import Cycle

__all__ = ["DIMENSION_LABELS", "CycleDetails", "Cycles", "SinkChoice"]


@attrs.frozen
class CycleDetails:
    """A stored cycle: its record, segment summary, profile coverage and configuration."""

    cycle: Cycle
    segments: list[dict[str, Any]]
    coverage: list[dict[str, Any]]
    snapshot: dict[str, Any]
    #: The load batches the cycle read (its input snapshot), oldest first.
    inputs: list[int] = attrs.Factory(list)

    def to_json(self) -> dict[str, Any]:
        summary = {"segments": self.segments, "profile_coverage": self.coverage}
        return {
            **self.cycle.model_dump(exclude={"snapshot", "summary"}),
            "summary": summary,
            "snapshot": self.snapshot,
            "inputs": self.inputs,
        }


class Cycles:
    """``app.cycles``: one country x one therapy area x one period at a time."""

    def __init__(self, app: Harmonia) -> None:
        self.app = app

    def run(
        self,
        *,
        country: str,
        therapy_area: str,
        period: str | None = None,
        engine: str | None = None,
        sinks: Sequence[SinkChoice] | None = None,
        outputs: Sequence[str] = (),
        directory: Path | None = None,
        on_stage: Callable[[str], None] | None = None,
        as_of: str | None = None,
    ) -> CycleResult:
        """Score, segment, pull through, plan and publish one cycle.

        Without ``sinks`` the workspace's (``[[sinks]]`` in harmonia.toml) are
        used, else CSV; ``outputs`` choose what they get. ``directory`` and
        ``engine`` default to the workspace's, else ``./out`` and the store's
        own engine. ``as_of`` (``cycle:N`` or ``batch:N``) reads the facts as that
        cycle read them, or as loaded up to that batch.
        """
        from harmonia.engine.cycle import run_cycle

        workspace = self.app.workspace
        return run_cycle(
            self.app.database,
            self.app.catalog,
            country=country,
            therapy_area=therapy_area,
            period=period,
            engine=engine or workspace.engine,
            sinks=self.sink_choices(sinks, outputs),
            directory=directory or Path(workspace.output or "out"),
            actor=self.app.actor,
            on_stage=on_stage,
            as_of=as_of,
            spark=workspace.spark,
            planner=self.planner,
        )

    @property
    def planner(self) -> Any:
        """What plans a cycle's contacts within capacity (markets with ``call_plan =
        "capacity"``): the strategy planner, handed to the engine."""
        from harmonia.strategy.cycle_plan import plan_cycle_outputs

        return plan_cycle_outputs

    def sink_choices(
        self, sinks: Sequence[SinkChoice] | None, outputs: Sequence[str] = ()
    ) -> list[SinkChoice]:
        """The sinks a run writes to: as given, else the workspace's, else CSV."""
        from harmonia.engine.cycle import DEFAULT_OUTPUTS

        configured = self.app.workspace.sinks
        if not sinks and configured:
            return [
                SinkChoice(sink.name, tuple(outputs or sink.outputs), dict(sink.options))
                for sink in configured
            ]
        chosen = tuple(outputs or DEFAULT_OUTPUTS)
        return [attrs.evolve(sink, outputs=chosen) for sink in (sinks or [SinkChoice("csv")])]

    def cancel(self, cycle_id: int, *, reason: str = "", wait: float = 30.0) -> Cycle:
        """Stop a running cycle and mark it failed through the lifecycle, with who and why.

        The process running it (its owner, on this machine) is terminated and
        waited for; what it stored is removed, as for a run that died. A cycle on
        another machine is refused: cancel it there.
        """
        import os
        import signal
        import time

        from harmonia.engine.cycle import get_cycle
        from harmonia.errors import ConfigError
        from harmonia.lifecycle import FAILED, RUNNING
        from harmonia.store import assignments as stored
        from harmonia.store.recovery import owner_alive, owner_pid
        from harmonia.store.transitions import move_cycle

        cycle = get_cycle(self.app.existing_database, cycle_id)
        if cycle.status != RUNNING:
            raise ConfigError(
                f"cycle {cycle_id} is {cycle.status}, not running: there is nothing to cancel",
                fix="see `harmonia cycle list`; a finished cycle is left as it is",
            )
        alive = owner_alive(cycle.owner)
        if alive is None:
            raise ConfigError(
                f"cycle {cycle_id} runs on another machine ({cycle.owner})",
                fix="cancel it there (harmonia cycle cancel on that machine)",
            )
        pid = owner_pid(cycle.owner)[0] if alive else None  # type: ignore[index]
        if pid == os.getpid():
            raise ConfigError(f"cycle {cycle_id} is run by this very process")
        # Claim the cycle first, conditionally: a run that finishes meanwhile
        # keeps its results (the move is refused), and one that is cancelled
        # can no longer move itself to draft.
        note = f"cancelled by {self.app.actor}" + (f": {reason}" if reason else "")
        cancelled = move_cycle(
            self.app.database, cycle_id, FAILED, actor=self.app.actor, note=note, expected=RUNNING
        )
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + wait
            while owner_alive(cycle.owner) and time.monotonic() < deadline:
                time.sleep(0.05)
            if owner_alive(cycle.owner):
                raise ConfigError(
                    f"cycle {cycle_id} is marked failed, but the process running it "
                    f"({cycle.owner}) did not stop within {wait:.0f} s",
                    fix="end that process: the cycle is failed, so nothing it still "
                    "writes is ever used",
                )
        stored.forget(self.app.database, [cycle_id])
        return cancelled

    def list(self, *, country: str | None = None, therapy_area: str | None = None) -> list[Cycle]:
        """Cycles, newest first."""
        from sqlmodel import select

        from harmonia.store.models import Cycle

        with self.app.existing_database.session() as session:
            query = select(Cycle).order_by(Cycle.id.desc())
            if country:
                query = query.where(Cycle.country == country.upper())
            if therapy_area:
                query = query.where(Cycle.therapy_area == therapy_area)
            return list(session.exec(query).all())

    def show(self, cycle_id: int) -> CycleDetails:
        """A cycle with its summary and the configuration it ran with."""
        from harmonia.engine.cycle import get_cycle, input_snapshot

        record = get_cycle(self.app.existing_database, cycle_id)
        summary = json.loads(record.summary)
        if isinstance(summary, list):  # cycles recorded before the profile coverage report
            summary = {"segments": summary}
        return CycleDetails(
            cycle=record,
            segments=summary.get("segments", []),
            coverage=summary.get("profile_coverage", []),
            snapshot=json.loads(record.snapshot),
            inputs=input_snapshot(self.app.existing_database, cycle_id),
        )

    def diff(self, before: int, after: int, dimension: str = "segment") -> dict[str, Any]:
        """The migration matrix of a dimension (final segment, needs or tier) between two cycles."""
        from harmonia.engine.compare import migration

        return migration(self.app.existing_database, before, after, dimension)

    def dimensions(self, before: int, after: int) -> list[str]:
        """The dimensions both cycles' rule sets assign, which :meth:`diff` can compare."""
        from harmonia.engine.compare import dimensions

        return dimensions(self.app.existing_database, before, after)

    def explain(self, cycle_id: int, customer: str, *, system: str | None = None) -> Explanation:
        """Why a customer got its segment: the inputs the cycle saw and each rule tried."""
        from harmonia.engine.explain import explain_assignment

        return explain_assignment(self.app.existing_database, cycle_id, customer, system=system)

    def sql(
        self, *, country: str, therapy_area: str, period: str | None = None, dialect: str = "duckdb"
    ) -> str:
        """The cycle's segmentation as one SQL query in ``dialect``, to run in another engine."""
        from harmonia.engine.dialects import transpile
        from harmonia.engine.query import CycleQuery
        from harmonia.engine.spec import resolve

        spec = resolve(self.app.catalog, country, therapy_area, period)
        return transpile(CycleQuery(spec, cycle_id=0).assignments(), dialect, pretty=True) + ";"
