"""Scenarios: what-if variants of a plan, compared side by side, publishing nothing.

A variant changes one or more of: a rule's condition (a changed threshold:
the cycle is segmented again, in memory), the strategy variant of a therapy
area, the field force (``+2``, ``-1`` reps per territory, ``+10%``, or
another capacity file), the channels' budgets, or the response curves' lift
(``response_scale``). Each variant is planned like the base (the cycles as
run, with the given capacity) and reports segment sizes, capacity use and
its pro forma; the differences are taken against the base.

Variants are written in TOML::

    [[variants]]
    name = "two more reps per territory"
    reps = "+2"

    [[variants]]
    name = "stricter champions"
    rules = [{ rule = "champion", when = "potential_decile >= 9 AND adoption = 'advocate'" }]

and loaded through the one converter, so every mistake is reported at once.
Nothing a scenario computes is stored: no cycle, no assignment, no plan.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from harmonia.errors import ConfigError, DefinitionError, Problem
from harmonia.sql import literal
from harmonia.strategy.capacity import Capacity, read_field_force
from harmonia.strategy.opportunity import segment_order
from harmonia.strategy.plan import make_plan
from harmonia.strategy.proforma import ProForma, pro_forma
from harmonia.strategy.universe import (
    PlannedCycle,
    build_units,
    planned_cycles,
    stored_assignments,
    stored_measures,
)

if TYPE_CHECKING:
    from harmonia.plugin.catalog import Catalog as Plugins
    from harmonia.store.database import Database

Stage = Callable[[str], None]


@attrs.frozen
class RuleChange:
    """A rule's new condition: ``rule`` is its id in ``dimension`` of the cycle's rule set."""

    rule: str
    when: str
    dimension: str = "segment"


@attrs.frozen
class MatrixChange:
    """New ranges for the rows (or columns) of a dimension's matrix: its thresholds."""

    dimension: str = "segment"
    rows: tuple[tuple[float, float], ...] = ()
    columns: tuple[tuple[float, float], ...] = ()


@attrs.frozen
class Variant:
    """One what-if: what it changes against the base plan."""

    name: str
    reps: str | None = None
    capacity: str | None = None
    budgets: dict[str, float] = attrs.Factory(dict)
    strategy_variant: str | None = None
    response_scale: float | None = None
    rules: tuple[RuleChange, ...] = ()
    matrix: tuple[MatrixChange, ...] = ()

    @property
    def resegments(self) -> bool:
        return bool(self.rules or self.matrix)


@attrs.frozen
class Outcome:
    """What one variant (or the base) plans."""

    name: str
    segments: pa.Table  # therapy_area, segment, customers
    calls_capacity: int
    calls_planned: int
    calls_unmet: int
    pro_forma: ProForma
    seconds: float

    def summary(self) -> dict[str, Any]:
        portfolio = self.pro_forma.as_json()["portfolio"]
        return {
            "name": self.name,
            "segments": {
                f"{row['therapy_area']} {row['segment']}": row["customers"]
                for row in self.segments.to_pylist()
            },
            "calls_capacity": self.calls_capacity,
            "calls_planned": self.calls_planned,
            "calls_unmet": self.calls_unmet,
            "capacity_used": self.calls_planned / self.calls_capacity
            if self.calls_capacity
            else None,
            **{
                key: portfolio[key]
                for key in ("contacts", "cost", "revenue", "gross_margin", "profit", "roi")
            },
            "seconds": round(self.seconds, 3),
        }


@attrs.frozen
class ScenarioResult:
    base: Outcome
    variants: tuple[Outcome, ...]

    def as_json(self) -> dict[str, Any]:
        base = self.base.summary()
        variants = []
        for outcome in self.variants:
            summary = outcome.summary()
            summary["difference"] = _difference(summary, base)
            variants.append(summary)
        return {"base": base, "variants": variants}


def _difference(summary: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    numbers = {
        key: summary[key] - base[key]
        for key in ("calls_planned", "calls_unmet", "contacts", "cost", "revenue", "profit")
    }
    segments = set(summary["segments"]) | set(base["segments"])
    numbers["segments"] = {
        s: summary["segments"].get(s, 0) - base["segments"].get(s, 0) for s in sorted(segments)
    }
    return numbers


def load_variants(path: Path) -> list[Variant]:
    """The variants of a scenario file (every mistake reported at once)."""
    from harmonia.definitions import read_toml, structure

    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("no such file", where=where, fix="check the --file path") from None
    data = read_toml(text, where=where)
    entries = data.get("variants")
    if not isinstance(entries, list) or not entries or set(data) != {"variants"}:
        raise DefinitionError(
            [Problem("", "a scenario file holds [[variants]] tables and nothing else")],
            where=where,
        )
    variants, problems = [], []
    for index, entry in enumerate(entries):
        try:
            variants.append(structure(entry, Variant, where=where))
        except DefinitionError as error:
            problems.extend(
                Problem(f"variants[{index}].{p.path}".rstrip("."), p.message)
                for p in error.problems
            )
    if problems:
        raise DefinitionError(problems, where=where)
    return variants


def run_scenario(
    database: Database,
    plugins: Plugins,
    cycle_ids: Sequence[int],
    variants: Sequence[Variant],
    base_capacity: Capacity,
    *,
    on_stage: Stage | None = None,
) -> ScenarioResult:
    """Plan the base and every variant; nothing is stored."""
    from harmonia.compute import duckdb_connection

    stage = on_stage or (lambda _: None)
    names = [v.name for v in variants]
    if len(set(names)) < len(names) or "base" in names:
        raise ConfigError("variant names must be unique and not 'base'", fix="rename the variants")
    for variant in variants:
        _check_bounds(plugins, variant)
    stage("reading the cycles")
    cycles = planned_cycles(
        database, plugins, cycle_ids, questionnaires=any(v.resegments for v in variants)
    )
    assignments = stored_assignments(database, cycles)
    metrics = stored_measures(database, cycles)
    connection = duckdb_connection()
    inputs = _Inputs(database)
    try:
        build_units(connection, cycles, assignments, metrics)
        stage("planning the base")
        base = _outcome("base", connection, cycles, base_capacity, None)
        outcomes = []
        for variant in variants:
            stage(f"variant {variant.name}")
            changed = _changed_cycles(plugins, cycles, variant)
            capacity = _capacity(base_capacity, variant)
            if variant.resegments:
                resegmented = _resegment(inputs, cycles, changed, assignments)
                with _Universe(cycles, resegmented, metrics) as variant_connection:
                    outcomes.append(
                        _outcome(variant.name, variant_connection, changed, capacity, variant)
                    )
            else:
                outcomes.append(_outcome(variant.name, connection, changed, capacity, variant))
    finally:
        connection.close()
        inputs.close()
    return ScenarioResult(base, tuple(outcomes))


class _Universe:
    """A DuckDB connection with ``plan_units`` of re-segmented cycles, closed after use."""

    def __init__(self, cycles: Sequence[PlannedCycle], assignments: pa.Table, metrics: pa.Table):
        from harmonia.compute import duckdb_connection

        self.connection = duckdb_connection()
        build_units(self.connection, cycles, assignments, metrics)

    def __enter__(self) -> Any:
        return self.connection

    def __exit__(self, *_: object) -> None:
        self.connection.close()


def _outcome(
    name: str,
    connection: Any,
    cycles: Sequence[PlannedCycle],
    capacity: Capacity,
    variant: Variant | None,
) -> Outcome:
    started = time.perf_counter()
    plan = make_plan(
        connection, cycles, capacity, response_scale=variant.response_scale if variant else None
    )
    forma = pro_forma(connection, plan)
    segments = connection.sql(
        f"WITH ranks AS ({segment_order(cycles)}) "
        "SELECT u.therapy_area, u.segment, CAST(COUNT(*) AS BIGINT) AS customers "
        "FROM plan_units u LEFT JOIN ranks r USING (therapy_area, segment) "
        "GROUP BY u.therapy_area, u.segment ORDER BY u.therapy_area, MIN(r.segment_rank), u.segment"
    ).to_arrow_table()
    territories = plan.territories
    total = {
        column: int(pc.sum(territories[column]).as_py() or 0)
        for column in ("calls_capacity", "calls_planned", "calls_unmet")
    }
    return Outcome(
        name,
        segments,
        total["calls_capacity"],
        total["calls_planned"],
        total["calls_unmet"],
        forma,
        time.perf_counter() - started,
    )


def _check_bounds(plugins: Plugins, variant: Variant) -> None:
    """A variant's response scale stays within what the global catalogue lets a market set."""
    if variant.response_scale is None:
        return
    problems = list(
        plugins.option_catalogue.option("parameters.response_scale").problems(
            variant.response_scale
        )
    )
    if problems:
        raise ConfigError(
            f"variant {variant.name!r}: response_scale {problems[0].message}",
            fix="choose a response scale within the catalogue's bounds",
        )


def _capacity(base: Capacity, variant: Variant) -> Capacity:
    force = base.field_force
    if variant.capacity:
        force = read_field_force(Path(variant.capacity), force.default)
    if variant.reps:
        force = force.scaled(variant.reps)
    budgets = {**base.budgets, **variant.budgets}
    return Capacity(force, budgets)


def _changed_cycles(
    plugins: Plugins, cycles: Sequence[PlannedCycle], variant: Variant
) -> list[PlannedCycle]:
    """The cycles with the variant's strategy variant and rule changes applied."""
    from harmonia.engine.spec import engagement_strategies

    changed = []
    unused = list(variant.rules)
    for planned in cycles:
        spec = planned.spec
        if variant.strategy_variant:
            strategies = engagement_strategies(
                plugins, spec.country, spec.rule_set, variant.strategy_variant
            )
            spec = attrs.evolve(spec, strategies=strategies)
        mine = [c for c in variant.rules if _rule(spec.rule_set, c) is not None]
        if mine:
            unused = [c for c in unused if c not in mine]
        rule_set = _changed_rule_set(spec.rule_set, mine, variant.matrix)
        if rule_set != spec.rule_set:
            problems = list(rule_set.problems()) + plugins.check_rule_set(rule_set)
            if problems:
                raise DefinitionError(
                    problems, where=f"variant {variant.name!r}, rule set {rule_set.name}"
                )
            spec = attrs.evolve(spec, rule_set=rule_set)
        changed.append(attrs.evolve(planned, spec=spec))
    if unused:
        known = {
            f"{name}.{rule.id}"
            for c in cycles
            for name, dimension in c.spec.rule_set.dimensions.items()
            for rule in dimension.rules
        }
        raise ConfigError(
            f"variant {variant.name!r}: no rule "
            + ", ".join(f"{c.dimension}.{c.rule}" for c in unused)
            + " in the cycles' rule sets",
            fix=f"name a rule the rule set declares: {', '.join(sorted(known))}",
        )
    return changed


def _rule(rule_set: Any, change: RuleChange) -> Any:
    dimension = rule_set.dimensions.get(change.dimension)
    if dimension is None:
        return None
    return next((rule for rule in dimension.rules if rule.id == change.rule), None)


def _changed_rule_set(
    rule_set: Any, changes: list[RuleChange], matrices: tuple[MatrixChange, ...]
) -> Any:
    for change in changes:
        dimension = rule_set.dimensions[change.dimension]
        rules = tuple(
            attrs.evolve(rule, when=change.when) if rule.id == change.rule else rule
            for rule in dimension.rules
        )
        rule_set = attrs.evolve(
            rule_set, **{change.dimension: attrs.evolve(dimension, rules=rules)}
        )
    for change in matrices:
        dimension = rule_set.dimensions.get(change.dimension)
        if dimension is None or dimension.matrix is None:
            continue
        matrix = dimension.matrix
        if change.rows:
            matrix = attrs.evolve(matrix, rows=attrs.evolve(matrix.rows, ranges=change.rows))
        if change.columns:
            matrix = attrs.evolve(
                matrix, columns=attrs.evolve(matrix.columns, ranges=change.columns)
            )
        rule_set = attrs.evolve(
            rule_set, **{change.dimension: attrs.evolve(dimension, matrix=matrix)}
        )
    return rule_set


class _Inputs:
    """Each cycle's inputs in a DuckDB connection of its own, read once for every
    variant that segments it again (changed rules read the same features)."""

    def __init__(self, database: Database):
        self.database = database
        #: Per cycle: its connection and the previous inputs' fields as read there.
        self.read: dict[int, tuple[Any, Any]] = {}

    def of(self, planned: PlannedCycle, query: Any) -> tuple[Any, Any]:
        """The connection holding ``planned``'s inputs, and ``query`` for them as read
        (the previous cycle's inputs compared field by field where a struct keeps them)."""
        from harmonia.compute import duckdb_connection
        from harmonia.engine.backends import read_inputs

        if planned.id not in self.read:
            connection = duckdb_connection()
            as_read = read_inputs(self.database, query, connection)
            self.read[planned.id] = (connection, as_read.previous_inputs)
        connection, previous_inputs = self.read[planned.id]
        return connection, attrs.evolve(query, previous_inputs=previous_inputs)

    def close(self) -> None:
        for connection, _ in self.read.values():
            connection.close()


def _resegment(
    inputs: _Inputs,
    cycles: Sequence[PlannedCycle],
    changed: Sequence[PlannedCycle],
    stored: pa.Table,
) -> pa.Table:
    """Assignments with the changed cycles segmented again in memory (the others as stored)."""
    from harmonia.engine.query import CycleQuery

    tables = []
    kept = stored
    for before, after in zip(cycles, changed, strict=True):
        if before.spec.rule_set == after.spec.rule_set:
            continue
        kept = kept.filter(pc.not_equal(kept["cycle_id"], before.id))
        connection, query = inputs.of(
            before, CycleQuery(after.spec, before.id, before.cycle.previous_cycle_id)
        )
        tables.append(
            connection.sql(
                "SELECT CAST(a.cycle_id AS BIGINT) AS cycle_id, "
                f"{literal(after.spec.therapy_area)} AS therapy_area, a.customer_id, c.territory, "
                f"a.final_segment AS segment FROM ({query.assignments()}) a "
                "JOIN customer c ON c.id = a.customer_id"
            ).to_arrow_table()
        )
    schema = stored.schema
    return pa.concat_tables([kept, *(t.select(schema.names).cast(schema) for t in tables)])


def quick_variants(
    reps: Sequence[str], strategy_variants: Sequence[str], response_scales: Sequence[float]
) -> list[Variant]:
    """One variant per value of the command line's shortcuts."""
    return [
        *(Variant(f"reps {change}", reps=change) for change in reps),
        *(Variant(f"strategy {name}", strategy_variant=name) for name in strategy_variants),
        *(Variant(f"response x{scale:g}", response_scale=scale) for scale in response_scales),
    ]
