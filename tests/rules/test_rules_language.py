"""Parsing conditions: the whitelist, syntax errors and their positions, the cache."""

from __future__ import annotations

import pytest
from sqlglot import exp

from harmonia.errors import HarmoniaError
from harmonia.rules import RuleSyntaxError, parse_condition
from harmonia.rules.language import atoms, parse


def test_parses_the_documented_example() -> None:
    tree = parse_condition("potential_decile >= 8 AND adoption IN ('regular', 'advocate')")
    assert isinstance(tree, exp.And)
    assert isinstance(tree.this, exp.GTE)
    assert isinstance(tree.expression, exp.In)


@pytest.mark.parametrize(
    "text",
    [
        "a = 1",
        "a <> 'x' OR a != 'y'",
        "a < 1 AND a <= 2 AND a > 0 AND a >= 0",
        "NOT (a IN (1, -2, 3.5))",
        "a NOT IN ('x')",
        "a BETWEEN 1 AND 2.5",
        "a NOT BETWEEN -1 AND 1",
        "a IS NULL OR a IS NOT NULL",
        "(a + b) * -c / 2 - 1 >= 0",
        "is_kol",
        "NOT is_kol",
        "is_kol = TRUE OR is_kol = FALSE",
        "TRUE",
        "1 = 1",
        '"select" = 1',
        "a = 1 -- a comment",
        "a = 1\n  AND b = 2",
        "a = 1;",
    ],
)
def test_accepts_the_language(text: str) -> None:
    tree = parse_condition(text)
    assert isinstance(tree, exp.Expression)
    again = parse_condition(text)  # from the cache, as a copy callers may change
    assert again == tree and again is not tree


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("f(a) > 1", "functions such as f() are not supported", 1),
        ("a > 1 AND count(*) > 1", "functions such as COUNT() are not supported", 11),
        ("a LIKE 'x%'", "LIKE is not supported; list the accepted values with IN (...)", 3),
        ("CASE WHEN a THEN 1 END = 1", "CASE is not supported", 1),
        ("a IN (SELECT b FROM t)", "IN needs a parenthesized list of values", 3),
        ("a = (SELECT 1)", "subqueries are not supported", 6),
        ("t.a = 1", "qualified name 't.a' is not supported", 3),
        ("a IN (1, NULL)", "NULL in an IN list never matches; test it with IS NULL", 10),
        ("a IN (1, b)", "IN lists hold literal values only", 10),
        ("a = NULL", "comparing with NULL is never true; use IS NULL or IS NOT NULL", 5),
        ("a IS TRUE", "only IS NULL and IS NOT NULL are supported", 3),
        ("a % 2 = 1", "'%' is not supported", 3),
        ("CAST(a AS INT) = 1", "CAST is not supported", 1),
        ("a = ?", "placeholders are not supported", 5),
        ("a = 99999999999999999999", "out of range for a 64-bit integer", 5),
        ("a = 1e999", "out of range for a double", 5),
        ("a b", "unexpected name: is an operator (AND, OR, =) missing before it?", 3),
        ("a == 1", "'==' is not SQL; use '='", 3),
        ("a >= ", "'>=' is incomplete: something is missing after it", 3),
        ("a = 1 AND AND b", "'AND' is incomplete", 11),
        ("(a = 1", "missing ')'", 6),
        ("a = 1)", "unexpected ')'", 6),
        ("a = 'O''Brien", "unterminated quote", 5),
        ("a = 1; b = 2", "one condition only: remove ';'", 6),
        ("", "empty condition", 1),
    ],
)
def test_refuses_with_message_and_column(text: str, message: str, column: int) -> None:
    with pytest.raises(RuleSyntaxError) as raised:
        parse_condition(text)
    assert message in raised.value.message
    assert raised.value.position == column
    assert f"(column {column})" in str(raised.value)


def test_syntax_errors_are_harmonia_errors_with_line_and_column() -> None:
    with pytest.raises(HarmoniaError) as raised:
        parse_condition("a = 1\n  AND f(b)")
    error = raised.value
    assert isinstance(error, RuleSyntaxError)
    assert (error.line, error.column) == (2, 7)
    assert str(error).endswith("(line 2, column 7)")


def test_every_refusal_is_reported() -> None:
    errors = parse("f(a) = 1 OR b LIKE 'x' OR c = NULL").errors
    assert [error.position for error in errors] == [1, 15, 31]


def test_parses_each_text_once_and_hands_out_copies() -> None:
    text = "a = 1 AND b = 2"
    assert parse(text) is parse(text)
    first = parse_condition(text)
    first.set("this", exp.column("changed"))
    assert parse_condition(text).sql() == "a = 1 AND b = 2"


@pytest.mark.parametrize(
    ("text", "leaves"),
    [
        ("a = 1", ["a = 1"]),
        ("a = 1 AND (b = 2 OR NOT c)", ["a = 1", "b = 2", "NOT c"]),
        ("NOT (a = 1 AND b NOT IN (1))", ["a = 1", "NOT b IN (1)"]),
        ("a IS NOT NULL OR (x > 1)", ["NOT a IS NULL", "(x > 1)"]),
    ],
)
def test_atoms_are_the_leaf_predicates(text: str, leaves: list[str]) -> None:
    assert [leaf.sql() for leaf in atoms(parse_condition(text))] == leaves
