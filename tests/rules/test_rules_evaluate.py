"""The Python evaluator (SQL three-valued logic), assign and explain."""

from __future__ import annotations

import json

import attrs
import pytest

from harmonia.definitions import RuleSet
from harmonia.rules import (
    DimensionTrace,
    LeafTrace,
    RuleEvaluationError,
    RuleTrace,
    assign,
    evaluate,
    explain,
)

N = None  # SQL NULL, short for the tables below


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        # comparisons with NULL are NULL; IS NULL never is
        ("x = 1", {"x": N}, N),
        ("x <> 1", {"x": N}, N),
        ("x IS NULL", {"x": N}, True),
        ("x IS NOT NULL", {"x": N}, False),
        ("x + 1 IS NULL", {"x": N}, True),
        # Kleene AND / OR / NOT
        ("x = 1 AND y = 1", {"x": N, "y": 2}, False),
        ("x = 1 AND y = 1", {"x": N, "y": 1}, N),
        ("x = 1 OR y = 1", {"x": N, "y": 1}, True),
        ("x = 1 OR y = 1", {"x": N, "y": 2}, N),
        ("NOT x = 1", {"x": N}, N),
        ("NOT (x = 1 OR y = 1)", {"x": N, "y": 2}, N),
        # IN
        ("x IN (1, 2)", {"x": N}, N),
        ("x IN (1, 2)", {"x": 2}, True),
        ("x NOT IN (1, 2)", {"x": 3}, True),
        ("x NOT IN (1, 2)", {"x": N}, N),
        ("x IN (1.5, 2)", {"x": 1.5}, True),
        ("s IN ('a', 'b')", {"s": "c"}, False),
        # BETWEEN is inclusive and NULL-aware like (x >= a AND x <= b)
        ("x BETWEEN 1 AND 3", {"x": 3}, True),
        ("x BETWEEN 1 AND 3", {"x": 3.5}, False),
        ("x BETWEEN y AND 3", {"x": 5, "y": N}, False),
        ("x BETWEEN y AND 3", {"x": 2, "y": N}, N),
        ("x NOT BETWEEN 3 AND 1", {"x": 2}, True),
        # arithmetic: NULL propagates, / is decimal division, x / 0 is NULL
        ("x + 1 > 1", {"x": N}, N),
        ("x / 2 = 3.5", {"x": 7}, True),
        ("x / y > 0", {"x": 1, "y": 0}, N),
        ("x / y IS NULL", {"x": 1, "y": 0.0}, True),
        ("-x * 2 - 1 = -7", {"x": 3}, True),
        ("x * 0.1 = 0.30000000000000004", {"x": 3}, True),
        # booleans, bare and compared; engines may hand them over as 0/1
        ("is_kol", {"is_kol": True}, True),
        ("is_kol", {"is_kol": N}, N),
        ("NOT is_kol", {"is_kol": 0}, True),
        ("is_kol = FALSE", {"is_kol": False}, True),
        ("TRUE", {}, True),
        ("1 = 1", {}, True),
        # text
        ("s = 'O''Brien'", {"s": "O'Brien"}, True),
        ("s <> 'a'", {"s": "A"}, True),
    ],
)
def test_three_valued_logic(text: str, values: dict, expected: bool | None) -> None:
    assert evaluate(text, values) is expected


def test_a_missing_feature_is_an_error() -> None:
    with pytest.raises(RuleEvaluationError, match="no value given for feature 'y'"):
        evaluate("x = 1 AND y = 2", {"x": 1})


def test_assign_takes_the_first_match_per_dimension(sample_rule_set: RuleSet) -> None:
    customer = {"decile": 9, "adoption": "trial", "specialty": "onc", "potential": 900.0}
    assert assign(sample_rule_set, customer) == {
        "segment": ("mid", "grow"),
        "needs": ("efficiency", "efficiency"),
        "tier": ("b", "matrix[1,2]"),
    }


def test_assign_falls_back_when_nothing_is_true(sample_rule_set: RuleSet) -> None:
    # NULLs make every rule NULL, which is not a match.
    customer = {"decile": None, "adoption": "unknown", "specialty": None, "potential": None}
    assert assign(sample_rule_set, customer) == {
        "segment": ("low", "fallback"),
        "needs": ("unknown", "fallback"),
        "tier": ("c", "fallback"),
    }


def test_explain_traces_rules_up_to_the_first_match(sample_rule_set: RuleSet) -> None:
    customer = {"decile": 5, "adoption": "regular", "specialty": "hem", "potential": None}
    segment = explain(sample_rule_set, customer)[0]
    assert segment == DimensionTrace(
        dimension="segment",
        segment="mid",
        rule_id="haem",
        fallback=False,
        rules=(
            RuleTrace(
                "segment.rules[0]",
                "champion",
                "decile >= 8 AND adoption IN ('regular', 'advocate')",
                "high",
                False,
                (
                    LeafTrace("decile >= 8", {"decile": 5}, False),
                    LeafTrace("adoption IN ('regular', 'advocate')", {"adoption": "regular"}, True),
                ),
            ),
            RuleTrace(
                "segment.rules[1]",
                "grow",
                "decile >= 8 OR potential > 1000",
                "mid",
                None,
                (
                    LeafTrace("decile >= 8", {"decile": 5}, False),
                    LeafTrace("potential > 1000", {"potential": None}, None),
                ),
            ),
            RuleTrace(
                "segment.rules[2]",
                "haem",
                "specialty = 'hem' AND decile BETWEEN 4 AND 7",
                "mid",
                True,
                (
                    LeafTrace("specialty = 'hem'", {"specialty": "hem"}, True),
                    LeafTrace("decile BETWEEN 4 AND 7", {"decile": 5}, True),
                ),
            ),
        ),
    )


def test_explain_records_the_fallback_and_dumps_as_json(sample_rule_set: RuleSet) -> None:
    customer = {"decile": 2, "adoption": "aware", "specialty": "onc", "potential": 10.0}
    traces = explain(sample_rule_set, customer)
    assert [(t.dimension, t.segment, t.rule_id, t.fallback) for t in traces] == [
        ("segment", "low", "fallback", True),
        ("needs", "unknown", "fallback", True),
        ("tier", "c", "fallback", True),
    ]
    assert [rule.id for rule in traces[0].rules] == ["champion", "grow", "haem"]
    dumped = json.loads(json.dumps([attrs.asdict(trace) for trace in traces]))
    assert dumped[1]["rules"][1]["leaves"] == [
        {
            "sql": "potential / decile >= 50",
            "values": {"potential": 10.0, "decile": 2},
            "result": False,
        }
    ]
