"""Compile conditions and whole dimensions to SQL for any engine sqlglot speaks.

The compiled SQL must mean the same on every engine and agree with
:mod:`harmonia.rules.evaluate`, so the compiler removes what engines disagree on:

- decimal literals become ``CAST(1.5 AS DOUBLE)``: otherwise DuckDB and
  PostgreSQL compute with exact DECIMAL/NUMERIC while others use doubles;
- ``a / b`` becomes ``CAST(a AS DOUBLE) / NULLIF(b, 0)``: integer division
  truncates on some engines (PostgreSQL, SQLite) and division by zero raises on
  some (PostgreSQL) and is NULL on others (SQLite);
- integer literals stay integers, so integer features compare exactly;
- boolean literals become ``1``/``0`` for SQLite (see :func:`to_sql`).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from harmonia.definitions import RuleSet
from harmonia.rules.dimensions import FALLBACK, dimension_rules, get_dimension
from harmonia.rules.evaluate import condition
from harmonia.rules.language import is_integer_literal

ColumnFactory = Callable[[str], exp.Expression]

#: Dialects whose booleans are the integers 1 and 0.
_INTEGER_BOOLEANS = ("sqlite",)


def compile_condition(
    expr_or_text: exp.Expression | str, column: ColumnFactory = exp.column
) -> exp.Expression:
    """The condition as a sqlglot boolean expression; each feature becomes ``column(name)``.

    ``column`` decides how a feature is addressed in the engine, e.g.
    ``lambda name: exp.column(name, table="f")``.
    """

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column):
            return column(node.name)
        if isinstance(node, exp.Literal) and not node.is_string and not is_integer_literal(node):
            # repr() is the shortest text that reads back as the same double.
            return exp.cast(exp.Literal.number(repr(float(node.this))), exp.DataType.Type.DOUBLE)
        if isinstance(node, exp.Div):
            numerator = exp.cast(node.this, exp.DataType.Type.DOUBLE)
            denominator = exp.Nullif(this=node.expression, expression=exp.Literal.number(0))
            return exp.Div(this=numerator, expression=denominator)
        return node

    # Work on a copy so the cached parse stays untouched. Rewrite children before
    # their parents (reversed pre-order): a rewritten division must wrap operands
    # that are already compiled. (sqlglot's transform() skips replaced subtrees.)
    compiled = condition(expr_or_text).copy()
    for node in reversed(list(compiled.dfs())):
        # Comments belong to the pack's source, not to the engine's query.
        node.comments = None
        replacement = rewrite(node)
        if replacement is node:
            continue
        if node is compiled:
            compiled = replacement
        else:
            node.replace(replacement)
    return compiled


def compile_dimension(
    rule_set: RuleSet, dimension: str, column: ColumnFactory = exp.column
) -> tuple[exp.Expression, exp.Expression]:
    """The dimension as two SQL expressions: the segment, and the id of the rule that fired.

    Both are ``CASE WHEN <rule 1> THEN ... ELSE ... END`` in rule order (then
    matrix cells), so the first match wins exactly as in :func:`~harmonia.rules.assign`;
    the rule id is ``'fallback'`` when no rule matched.
    """
    declared = get_dimension(rule_set, dimension)
    rules = dimension_rules(declared, dimension)
    conditions = [compile_condition(rule.when, column) for _, rule in rules]

    def case(results: list[str], default: str) -> exp.Expression:
        if not results:
            return exp.Literal.string(default)
        ifs = [
            exp.If(this=when.copy(), true=exp.Literal.string(result))
            for when, result in zip(conditions, results, strict=True)
        ]
        return exp.Case(ifs=ifs, default=exp.Literal.string(default))

    segment = case([rule.segment for _, rule in rules], declared.fallback)
    rule_id = case([rule.id for _, rule in rules], FALLBACK)
    return segment, rule_id


def to_sql(expression: exp.Expression, dialect: str) -> str:
    """SQL text for any sqlglot ``dialect``: duckdb, sqlite, postgres, trino, spark ..."""
    if dialect.lower() in _INTEGER_BOOLEANS:
        expression = expression.transform(_integer_boolean)
    return expression.sql(dialect=dialect)


def _integer_boolean(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Boolean):
        return exp.Literal.number(1 if node.this else 0)
    return node
