"""Running a segmentation cycle end to end.

resolve the definitions -> record the cycle with a snapshot of them -> score,
derive features, apply the rules and pull-through in one query (on the chosen
engine) -> persist assignments -> plan contacts per segment -> hand the
outputs to the sinks -> record the summary and an audit event.

The engine prints nothing: progress goes through ``on_stage`` and the result
is returned for the CLI (or any caller) to render.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import pyarrow.compute as pc
from sqlmodel import select

from harmonia import lifecycle
from harmonia.engine import backends
from harmonia.engine import coverage as input_coverage
from harmonia.engine import spark as in_spark  # imports pyspark only when a cycle runs
from harmonia.engine.coverage import InputCoverage
from harmonia.engine.coverage import warnings as input_warnings
from harmonia.engine.query import CycleQuery
from harmonia.engine.spec import CycleSpec, resolve
from harmonia.errors import ConfigError, NotFoundError
from harmonia.periods import Period
from harmonia.plugin.types import OUTPUT_KINDS, CycleInfo, SinkRequest
from harmonia.questionnaires.coverage import coverage_rows
from harmonia.store import assignments as stored
from harmonia.store import golden_values, history
from harmonia.store.bulk import BulkConnection
from harmonia.store.database import Database
from harmonia.store.facts import facts_of
from harmonia.store.models import (
    AuditEvent,
    Customer,
    Cycle,
    CycleInput,
    LoadBatch,
)
from harmonia.store.recovery import this_owner
from harmonia.store.transitions import move_cycle
from harmonia.workspace import SparkSettings

if TYPE_CHECKING:
    import pyarrow as pa

    from harmonia.plugin.catalog import Catalog

DEFAULT_OUTPUTS = ("target_list", "segment_summary")


@attrs.frozen
class SinkChoice:
    """A sink to write to, the outputs it gets, and its options."""

    name: str
    outputs: tuple[str, ...] = DEFAULT_OUTPUTS
    options: dict[str, str] = attrs.Factory(dict)


@attrs.frozen
class Written:
    sink: str
    output: str
    location: str


@attrs.frozen
class CycleResult:
    cycle: Cycle
    summary: list[dict[str, Any]]
    written: tuple[Written, ...]
    seconds: float
    #: Per profile dimension: customers scored, incomplete, not comparable, stale only,
    #: unanswered (see :func:`harmonia.questionnaires.coverage.coverage_sql`).
    coverage: list[dict[str, Any]] = attrs.Factory(list)
    #: Per feature (and quantile peer group): how many customers its input covered
    #: before the cycle computed (see :mod:`harmonia.engine.coverage`).
    input_coverage: list[InputCoverage] = attrs.Factory(list)
    #: The market's ``parameters.min_input_coverage`` (0: warn only).
    threshold: float = 0.0
    #: The fact tables an ``as_of`` snapshot read as they are now (see
    #: :meth:`harmonia.store.facts.ParquetFacts.snapshot`).
    read_as_now: tuple[str, ...] = ()
    #: Customers an ``as_of`` snapshot read as they are now: changed after it, with
    #: no version of their row then (see :func:`harmonia.store.history.changed_since`).
    customers_as_now: int = 0
    #: Persons an ``as_of`` snapshot read with their golden values as they are now,
    #: some given after it (see :func:`harmonia.store.golden_values.given_later_sql`).
    golden_as_now: int = 0

    @property
    def warnings(self) -> list[str]:
        """What a person should know before trusting the segments."""
        warnings = list(input_warnings(self.input_coverage, self.threshold))
        if self.read_as_now:
            warnings.append(
                f"{' and '.join(self.read_as_now)} rows loaded before the upgrade to schema "
                "revision 0700 are read as they are now (that upgrade kept only their newest "
                "version), not as the snapshot had them"
            )
        if self.customers_as_now:
            warnings.append(
                f"{self.customers_as_now:,} customers changed after the snapshot are read as "
                "they are now: their rows then were not recorded (changed before the "
                "upgrade to schema revision 0750, which keeps each row's versions)"
            )
        if self.golden_as_now:
            warnings.append(
                f"{self.golden_as_now:,} persons are read with their golden values as they "
                "are now, some given by a load after the snapshot"
            )
        return warnings


#: Plans the contacts of a cycle whose market chose ``call_plan = "capacity"``:
#: given the store, the cycle's spec, its record (the assignments stored) and
#: the outputs with the strategies' fixed plan, returns the outputs with the
#: planned contacts. The strategy layer plans; the application passes it in.
CallPlanner = Callable[[Database, CycleSpec, Cycle, backends.CycleOutputs], backends.CycleOutputs]


def _check_planner(spec: CycleSpec, planner: CallPlanner | None) -> None:
    if spec.country.call_plan == "capacity" and planner is None:
        raise ConfigError(
            f"{spec.country.code} plans its cycles' calls within capacity (call_plan = "
            "'capacity'), which the strategy planner does",
            where=f"country profile {spec.country.code}",
            fix="run the cycle through the application (harmonia cycle run, "
            "Harmonia.cycles.run), which passes the planner",
        )


def _planned(
    planner: CallPlanner | None,
    database: Database,
    spec: CycleSpec,
    cycle: Cycle,
    outputs: backends.CycleOutputs,
) -> backends.CycleOutputs:
    """The outputs with the contacts the market's ``call_plan`` gives."""
    if spec.country.call_plan != "capacity" or planner is None:
        return outputs
    return planner(database, spec, cycle, outputs)


def _save_plan(outputs: backends.CycleOutputs) -> dict[str, Any] | None:
    """Save the plan the outputs carry (after they were written); what the cycle's
    summary records of it, its id included."""
    if outputs.call_plan is None or outputs.save_plan is None:
        return outputs.call_plan
    return {**outputs.call_plan, "plan": outputs.save_plan()}


def run_cycle(
    database: Database,
    catalog: Catalog,
    *,
    country: str,
    therapy_area: str,
    period: str | None = None,
    engine: str | None = None,
    sinks: Sequence[SinkChoice] = (SinkChoice("csv"),),
    directory: Path = Path("out"),
    actor: str = "",
    on_stage: Callable[[str], None] | None = None,
    as_of: str | None = None,
    spark: SparkSettings | None = None,
    planner: CallPlanner | None = None,
) -> CycleResult:
    """Run one cycle; returns its record, segment summary and written outputs.

    ``as_of`` reads the facts as they were: ``cycle:N`` (the batches cycle N
    read, its input snapshot) or ``batch:N`` (every batch loaded up to N).
    ``spark`` says where ``engine="spark"`` runs and finds the market's data.
    ``planner`` plans the contacts of a market that chose ``call_plan = "capacity"``.
    """
    stage = on_stage or (lambda _: None)
    started = time.perf_counter()
    stage("resolving definitions")
    spec = resolve(catalog, country, therapy_area, period)
    engine = engine or backends.default_engine(database)
    if engine not in backends.ENGINES:
        raise ConfigError(
            f"unknown engine {engine!r}", fix=f"use one of {', '.join(backends.ENGINES)}"
        )
    if engine == "spark":
        in_spark.check(spark or SparkSettings())
    _check_sinks(catalog, sinks)
    _check_planner(spec, planner)
    if engine != "spark":  # Spark's customers are in the lake: checked there
        _check_population(database, spec)
    batches = snapshot_batches(database, as_of)
    read_as_now = tuple(facts_of(database).read_as_now(batches))
    previous = previous_cycle(database, spec)
    cycle = _open_cycle(database, spec, engine, previous, actor, batches)
    assert cycle.id is not None
    threshold = spec.parameter(input_coverage.PARAMETER)
    covered: list[InputCoverage] = []

    def check(table: pa.Table) -> None:
        covered.extend(input_coverage.coverage_of(spec.rule_set, query, table))
        input_coverage.check(covered, threshold, spec.country.code)

    outputs: backends.CycleOutputs | None = None
    customers_as_now = golden_as_now = 0
    try:
        query = CycleQuery(spec, cycle.id, previous.id if previous else None)
        if engine == "spark":
            outputs = in_spark.run(database, query, stage, spark or SparkSettings(), check)
        else:
            inputs = input_snapshot(database, cycle.id) if facts_of(database).external else None
            changed = _changed_since(database, inputs, spec.country.code)
            customers_as_now = _read_as_now(changed)
            golden_as_now = _golden_as_now(database, inputs, spec.country.code)
            outputs = backends.run(engine, database, query, stage, inputs, check, changed)
        coverage = coverage_rows(spec.rule_set, outputs.coverage)
        if spec.country.call_plan == "capacity":
            stage("planning calls within capacity")
        outputs = _planned(planner, database, spec, cycle, outputs)
        stage("writing outputs")
        written = _write_outputs(database, catalog, spec, cycle, outputs, sinks, directory)
        call_plan = _save_plan(outputs)
    except BaseException as error:
        _close_cycle(database, cycle.id, status=lifecycle.FAILED, actor=actor)
        if outputs is not None and outputs.written:
            # The engine's own files (Spark's lake folders) hold every target's ids:
            # recorded even though the run failed after them, for an erasure to find.
            _audit(
                database,
                actor,
                "cycle.run",
                f"cycle:{cycle.id}",
                {
                    "engine": engine,
                    "written": _engine_written(engine, outputs),
                    "failed": f"{type(error).__name__}: {error}"[:500],
                },
            )
        raise
    summary = outputs.summary.to_pylist()
    cycle = _close_cycle(
        database,
        cycle.id,
        status=lifecycle.DRAFT,
        actor=actor,
        customers=outputs.assignments,
        summary={
            "segments": summary,
            "profile_coverage": coverage,
            "input_coverage": [row.to_json() for row in covered],
            **({"call_plan": call_plan} if call_plan else {}),
            **({"read_as_now": list(read_as_now)} if read_as_now else {}),
            **({"customers_read_as_now": customers_as_now} if customers_as_now else {}),
            **({"golden_read_as_now": golden_as_now} if golden_as_now else {}),
        },
    )
    _audit(
        database,
        actor,
        "cycle.run",
        f"cycle:{cycle.id}",
        {
            "customers": outputs.assignments,
            "engine": engine,
            "written": _engine_written(engine, outputs),
        },
    )
    return CycleResult(
        cycle,
        summary,
        tuple(written),
        time.perf_counter() - started,
        coverage,
        covered,
        threshold,
        read_as_now,
        customers_as_now,
        golden_as_now,
    )


def _changed_since(
    database: Database, batches: Sequence[int] | None, country: str
) -> pa.Table | None:
    """The customers a load after the cycle's snapshot changed (found once per run)."""
    if batches is None:
        return None
    with BulkConnection(database, write=False) as bulk:
        return history.changed_since(bulk, batches, country)


def _golden_as_now(database: Database, batches: Sequence[int] | None, country: str) -> int:
    """How many persons a snapshot reads with golden values given after it."""
    if batches is None:
        return 0
    with BulkConnection(database, write=False) as bulk:
        return int(bulk.scalar(golden_values.given_later_sql(batches, country)) or 0)


def _read_as_now(changed: pa.Table | None) -> int:
    """How many customers a snapshot reads as they are now, lacking their row then."""
    if changed is None:
        return 0
    return int(pc.sum(changed.column("read_as_now")).as_py() or 0)


def _engine_written(engine: str, outputs: backends.CycleOutputs) -> list[dict[str, str]]:
    """The ``written`` entries of what the engine itself wrote (kind: the engine)."""
    return [{"kind": engine, "location": where} for where in outputs.written]


def _check_sinks(catalog: Catalog, sinks: Sequence[SinkChoice]) -> None:
    for choice in sinks:
        sink = catalog.output_sinks.get_or_fail(choice.name)
        unknown = [output for output in choice.outputs if output not in OUTPUT_KINDS]
        if unknown:
            raise ConfigError(
                f"unknown output(s) {', '.join(unknown)}",
                fix=f"choose among {', '.join(OUTPUT_KINDS)}",
            )
        sink.check_options(choice.options)
        refused = [output for output in choice.outputs if output not in sink.accepts]
        if refused and len(refused) == len(choice.outputs):
            raise ConfigError(
                f"sink {sink.name} accepts {', '.join(sorted(sink.accepts))}, not {', '.join(refused)}",
                fix="choose other outputs for it, or another sink",
            )


def _check_population(database: Database, spec: CycleSpec) -> None:
    """A cycle of a market without customers is a mistake (wrong database or country)."""
    code = spec.country.code
    with database.session() as session:
        anyone = session.exec(select(Customer.id).where(Customer.country == code).limit(1))
        if anyone.first() is None:
            raise NotFoundError(
                f"no customers of {code} in the database",
                where=database.display_url,
                fix=f"load them first (harmonia load customers.csv --country {code}), "
                "or check --database and --country",
            )


def previous_cycle(database: Database, spec: CycleSpec) -> Cycle | None:
    """The cycle pull-through starts from: of the same country and area, the
    latest period before this one; of that period the published cycle, else
    (a market that has not published it) the latest whole one."""
    with database.session() as session:
        cycles = session.exec(
            select(Cycle).where(
                Cycle.country == spec.country.code,
                Cycle.therapy_area == spec.therapy_area,
                Cycle.status.in_(lifecycle.COMPLETED),  # type: ignore[attr-defined]
            )
        ).all()
    earlier = [c for c in cycles if Period.parse(c.period).last_month < spec.period.first_month]
    return max(
        earlier,
        key=lambda c: (
            Period.parse(c.period).first_month,
            c.status == lifecycle.PUBLISHED,
            c.id or 0,
        ),
        default=None,
    )


def snapshot_batches(database: Database, as_of: str | None) -> list[int] | None:
    """The load batches ``as_of`` names (``cycle:N`` or ``batch:N``); None for the current ones."""
    if as_of is None:
        return None
    kind, _, number = as_of.partition(":")
    if kind not in ("cycle", "batch") or not number.isdigit():
        raise ConfigError(
            f"--as-of {as_of!r} names neither a cycle nor a load batch",
            fix="give cycle:N (the inputs cycle N read) or batch:N (the data as loaded up to "
            "batch N); see `harmonia cycle list` and `harmonia cycle show N`",
        )
    if not facts_of(database).external:
        raise ConfigError(
            "this store keeps facts as tables updated in place, so it cannot be read as of "
            "an earlier load",
            where=database.display_url,
            fix="run the cycle without --as-of",
        )
    with database.session() as session:
        if kind == "cycle":
            get_cycle(database, int(number))
            rows = session.exec(
                select(CycleInput.batch_id).where(CycleInput.cycle_id == int(number))
            ).all()
            if not rows:
                raise NotFoundError(
                    f"cycle {number} has no recorded input snapshot (it ran before harmonia "
                    "recorded them)",
                    fix="use --as-of batch:N with the last batch loaded before it",
                )
            return sorted(rows)
        if session.get(LoadBatch, int(number)) is None:
            raise NotFoundError(f"no load batch {number}", fix="see `harmonia load list`")
        return sorted(
            session.exec(
                select(LoadBatch.id).where(
                    LoadBatch.status == "loaded", LoadBatch.id <= int(number)
                )
            ).all()
        )


def input_snapshot(database: Database, cycle_id: int) -> list[int]:
    """The load batches cycle ``cycle_id`` read (its input snapshot)."""
    with database.session() as session:
        return sorted(
            session.exec(select(CycleInput.batch_id).where(CycleInput.cycle_id == cycle_id)).all()
        )


def _open_cycle(
    database: Database,
    spec: CycleSpec,
    engine: str,
    previous: Cycle | None,
    actor: str,
    batches: Sequence[int] | None = None,
) -> Cycle:
    """Record the cycle, with its owner and its input snapshot (``batches``, else every
    batch loaded now), in one transaction."""
    with database.session() as session:
        cycle = Cycle(
            country=spec.country.code,
            therapy_area=spec.therapy_area,
            period=str(spec.period),
            engine=engine,
            rule_set=spec.rule_set.name,
            rule_set_version=spec.rule_set.version,
            previous_cycle_id=previous.id if previous else None,
            snapshot=json.dumps(spec.snapshot(), sort_keys=True),
            actor=actor,
            owner=this_owner(),
        )
        session.add(cycle)
        session.flush()
        if batches is None:
            batches = session.exec(select(LoadBatch.id).where(LoadBatch.status == "loaded")).all()
        session.add_all(CycleInput(cycle_id=cycle.id, batch_id=batch) for batch in batches)
        session.commit()
        session.refresh(cycle)
        return cycle


def _close_cycle(
    database: Database,
    cycle_id: int,
    *,
    status: str,
    actor: str,
    customers: int = 0,
    summary: dict[str, Any] | None = None,
) -> Cycle:
    if status == lifecycle.FAILED:
        # A failed cycle keeps its record (and audit trail), not half its
        # results: diff, explain and the next pull-through must not use them.
        stored.forget(database, [cycle_id])
    move_cycle(database, cycle_id, status, actor=actor, expected=lifecycle.RUNNING)
    with database.session() as session:
        cycle = session.get(Cycle, cycle_id)
        assert cycle is not None
        cycle.customers = customers
        cycle.summary = json.dumps(summary or {}, default=str)
        cycle.finished_at = dt.datetime.now(dt.UTC)
        session.add(cycle)
        session.commit()
        session.refresh(cycle)
        return cycle


def _audit(
    database: Database, actor: str, action: str, subject: str, details: dict[str, Any]
) -> None:
    with database.session() as session:
        session.add(
            AuditEvent(actor=actor, action=action, subject=subject, details=json.dumps(details))
        )
        session.commit()


def _write_outputs(
    database: Database,
    catalog: Catalog,
    spec: CycleSpec,
    cycle: Cycle,
    outputs: backends.CycleOutputs,
    sinks: Sequence[SinkChoice],
    directory: Path,
) -> list[Written]:
    assert cycle.id is not None
    info = CycleInfo(cycle.id, spec.country.code, spec.therapy_area, str(spec.period))
    tables: dict[str, Callable[[], pa.Table]] = {
        "target_list": lambda: outputs.target_list,
        "segment_summary": lambda: outputs.summary,
        "assignments": lambda: read_assignments(database, cycle.id or 0),
    }
    written: list[Written] = []
    recorded: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    writing: dict[str, Any] | None = None  # the sink call under way
    try:
        for choice in sinks:
            sink = catalog.output_sinks[choice.name]
            for output in choice.outputs:
                if output not in sink.accepts:
                    continue
                request = SinkRequest(
                    kind=output,
                    table=tables[output](),
                    cycle=info,
                    directory=directory,
                    options=choice.options,
                    delimiter=spec.country.csv.delimiter,
                    decimal=spec.country.csv.decimal,
                    language=spec.country.language,
                )
                # The options too: a sink's erase needs them (which ids are its accounts).
                writing = {
                    "sink": sink.name,
                    "output": output,
                    "options": sink.recorded_options(choice.options),
                }
                for location in sink.write(request):
                    written.append(Written(sink.name, output, location))
                    recorded.append({**writing, "location": location})
                writing = None
    except BaseException as error:
        details["failed"] = f"{type(error).__name__}: {error}"[:500]
        if writing is not None:
            # A sink failing midway may have written files it had not handed back
            # yet: its folder is recorded, for an erasure to name as one to check.
            recorded.append({**writing, "location": str(directory), "unfinished": True})
        raise
    finally:
        # What went out is recorded even when a later output fails: an erasure
        # finds the files of a failed publish by these entries.
        _audit(
            database,
            cycle.actor,
            "cycle.publish",
            f"cycle:{cycle.id}",
            {"written": recorded, **details},
        )
    return written


def read_assignments(database: Database, cycle_id: int) -> pa.Table:
    """A cycle's assignments as Arrow, one row per customer.

    Next to the harmonia id (``customer_id``), each row names the customer as
    the user's own systems do: one source system and its id, one national
    identifier (the first by name, as on the target list), so the output
    joins back to the user's data without an ``explain`` per customer.
    """
    from harmonia.store.bulk import BulkConnection

    cycle = f"customer_id IN (SELECT customer_id FROM assignment WHERE cycle_id = {int(cycle_id)})"
    with BulkConnection(database) as bulk:
        rows = bulk.read(
            "SELECT a.customer_id, s.system AS source_system, s.source_id, "
            "i.scheme AS id_scheme, i.value AS id_value, a.segment, a.segment_rule, a.needs, "
            "a.needs_rule, a.tier, a.tier_rule, a.final_segment, a.origin, "
            f"{'' if stored.inputs_apart(database) else 'a.inputs, '}a.refined_by "
            "FROM assignment a "
            "LEFT JOIN (SELECT customer_id, system, source_id, ROW_NUMBER() OVER ("
            "PARTITION BY customer_id ORDER BY system, source_id) AS rn FROM crosswalk "
            f"WHERE {cycle}) s ON s.customer_id = a.customer_id AND s.rn = 1 "
            "LEFT JOIN (SELECT customer_id, scheme, value, ROW_NUMBER() OVER ("
            "PARTITION BY customer_id ORDER BY scheme) AS rn FROM identifier "
            f"WHERE {cycle}) i ON i.customer_id = a.customer_id AND i.rn = 1 "
            f"WHERE a.cycle_id = {int(cycle_id)} ORDER BY a.customer_id"
        )
    rows = stored.with_inputs(database, cycle_id, rows)
    return rows.select(
        [*(name for name in rows.column_names if name != "refined_by"), "refined_by"]
    )


def get_cycle(database: Database, cycle_id: int) -> Cycle:
    with database.session() as session:
        cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFoundError(f"no cycle {cycle_id}", fix="see `harmonia cycle list`")
    return cycle


def write_stored_outputs(
    database: Database,
    catalog: Catalog,
    cycle: Cycle,
    sinks: Sequence[SinkChoice],
    directory: Path,
    planner: CallPlanner | None = None,
) -> list[Written]:
    """The outputs of a cycle as stored now (after refinement), through the sinks.

    The target list and summary are computed in the store from the cycle's
    assignments, the way a run computes them from its own (and planned
    again within capacity, on the refined segments, where the market chose it).
    """
    assert cycle.id is not None
    _check_sinks(catalog, sinks)
    spec = resolve(catalog, cycle.country, cycle.therapy_area, cycle.period)
    target_list, summary = backends.plan_stored(database, CycleQuery(spec, cycle.id))
    outputs = backends.CycleOutputs(cycle.customers, target_list, summary)
    _check_planner(spec, planner)
    outputs = _planned(planner, database, spec, cycle, outputs)
    written = _write_outputs(database, catalog, spec, cycle, outputs, sinks, directory)
    call_plan = _save_plan(outputs)
    if call_plan is not None:
        # The cycle's summary names the plan that went out, with its segments.
        with database.session() as session:
            record = session.get(Cycle, cycle.id)
            assert record is not None
            summary_json = json.loads(record.summary or "{}")
            if not isinstance(summary_json, dict):  # (a cycle of before profile coverage)
                summary_json = {"segments": summary_json}
            summary_json.update(segments=outputs.summary.to_pylist(), call_plan=call_plan)
            record.summary = json.dumps(summary_json, default=str)
            session.add(record)
            session.commit()
    return written
