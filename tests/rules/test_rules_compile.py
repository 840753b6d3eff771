"""Compiling conditions and dimensions to SQL, for several dialects."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from harmonia.definitions import RuleSet
from harmonia.errors import NotFoundError
from harmonia.rules import (
    RuleSyntaxError,
    assign,
    compile_condition,
    compile_dimension,
    feature_specs,
    to_sql,
)


def duckdb_sql(text: str) -> str:
    return to_sql(compile_condition(text), "duckdb")


@pytest.mark.parametrize(
    ("text", "sql"),
    [
        (
            "potential_decile >= 8 AND adoption IN ('regular', 'advocate')",
            "potential_decile >= 8 AND adoption IN ('regular', 'advocate')",
        ),
        ("potential > 1.5", "potential > CAST(1.5 AS DOUBLE)"),
        ("potential > 1.", "potential > CAST(1.0 AS DOUBLE)"),
        ("x IN (1, -2.5)", "x IN (1, -CAST(2.5 AS DOUBLE))"),
        ("a / b > 1", "CAST(a AS DOUBLE) / NULLIF(b, 0) > 1"),
        (
            "a / (b / c) = 1",
            "CAST(a AS DOUBLE) / NULLIF((CAST(b AS DOUBLE) / NULLIF(c, 0)), 0) = 1",
        ),
        ("- -a > -1", "- -a > -1"),
        ("a IS NOT NULL AND NOT is_kol", "NOT a IS NULL AND NOT is_kol"),
        ("x NOT BETWEEN 1 AND 2", "NOT x BETWEEN 1 AND 2"),
        ("a = 1 /* why */ -- and more", "a = 1"),
        ("name = 'O''Brien'", "name = 'O''Brien'"),
    ],
)
def test_compiles_to_engine_independent_sql(text: str, sql: str) -> None:
    assert duckdb_sql(text) == sql


def test_features_are_addressed_through_the_column_factory() -> None:
    compiled = compile_condition(
        "a / (b + c) > 0.5 AND d IN (1)", lambda name: exp.column(name, table="f", quoted=True)
    )
    assert to_sql(compiled, "postgres") == (
        'CAST("f"."a" AS DOUBLE PRECISION) / NULLIF(("f"."b" + "f"."c"), 0) '
        '> CAST(0.5 AS DOUBLE PRECISION) AND "f"."d" IN (1)'
    )


def test_compiling_leaves_the_parsed_condition_alone() -> None:
    text = "a / b > 1.5"
    compile_condition(text)
    assert compile_condition(text).sql() == "CAST(a AS DOUBLE) / NULLIF(b, 0) > CAST(1.5 AS DOUBLE)"


def test_compiling_refuses_conditions_outside_the_language() -> None:
    with pytest.raises(RuleSyntaxError):
        compile_condition("f(a) > 1")


@pytest.mark.parametrize(
    ("dialect", "sql"),
    [
        ("sqlite", "is_kol = 1 OR NOT 0"),
        ("duckdb", "is_kol = TRUE OR NOT FALSE"),
        ("postgres", "is_kol = TRUE OR NOT FALSE"),
    ],
)
def test_boolean_literals_per_dialect(dialect: str, sql: str) -> None:
    assert to_sql(compile_condition("is_kol = TRUE OR NOT FALSE"), dialect) == sql


CONDITION = (
    "decile >= 8 AND adoption IN ('regular', 'O''Brien') OR NOT is_kol "
    "OR potential / decile BETWEEN -1.5 AND 2 OR specialty IS NULL OR is_kol = TRUE"
)


@pytest.mark.parametrize(
    "dialect", ["trino", "spark", "databricks", "snowflake", "bigquery", "tsql"]
)
def test_compiled_sql_parses_back_in_its_dialect(dialect: str) -> None:
    sql = to_sql(compile_condition(CONDITION), dialect)
    again = sqlglot.parse_one(sql, read=dialect)
    assert again.sql(dialect=dialect) == sql


def test_dimension_compiles_to_two_case_expressions(sample_rule_set: RuleSet) -> None:
    segment, rule_id = compile_dimension(sample_rule_set, "needs")
    assert to_sql(segment, "duckdb") == (
        "CASE WHEN adoption = 'advocate' THEN 'outcome' "
        "WHEN CAST(potential AS DOUBLE) / NULLIF(decile, 0) >= 50 THEN 'efficiency' "
        "ELSE 'unknown' END"
    )
    assert to_sql(rule_id, "duckdb") == (
        "CASE WHEN adoption = 'advocate' THEN 'outcome' "
        "WHEN CAST(potential AS DOUBLE) / NULLIF(decile, 0) >= 50 THEN 'efficiency' "
        "ELSE 'fallback' END"
    )


def test_matrix_cells_follow_the_rules(sample_rule_set: RuleSet) -> None:
    _, rule_id = compile_dimension(sample_rule_set, "tier")
    assert to_sql(rule_id, "duckdb") == (
        "CASE WHEN decile BETWEEN 8 AND 10 AND adoption IN ('regular', 'advocate') "
        "THEN 'matrix[1,1]' WHEN decile BETWEEN 8 AND 10 AND adoption IN ('aware', 'trial') "
        "THEN 'matrix[1,2]' WHEN decile BETWEEN 1 AND 7 AND adoption IN ('regular', 'advocate') "
        "THEN 'matrix[2,1]' ELSE 'fallback' END"
    )


def test_unknown_dimension(sample_rule_set: RuleSet) -> None:
    with pytest.raises(NotFoundError, match="has no dimension 'priority'"):
        compile_dimension(sample_rule_set, "priority")


def _customers() -> list[dict[str, Any]]:
    """Every combination of a few values per feature, NULLs included."""
    grid = {
        "decile": [None, 1, 4, 7, 8, 10],
        "adoption": ["aware", "regular", "advocate", "unknown"],
        "specialty": [None, "onc", "hem"],
        "potential": [None, 0.0, 250.5, 1000.0, 1000.25],
    }
    return [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]


def test_sql_assignment_agrees_with_assign(sample_rule_set: RuleSet, engine: Any) -> None:
    customers = _customers()
    types = {name: spec.type for name, spec in feature_specs(sample_rule_set).items()}
    engine.load(types, customers)
    for dimension in sample_rule_set.dimensions:
        segment, rule_id = compile_dimension(
            sample_rule_set, dimension, lambda name: exp.column(name, table="features")
        )
        in_sql = list(
            zip(
                engine.column(to_sql(segment, engine.name)),
                engine.column(to_sql(rule_id, engine.name)),
                strict=True,
            )
        )
        in_python = [assign(sample_rule_set, customer)[dimension] for customer in customers]
        assert in_sql == in_python
