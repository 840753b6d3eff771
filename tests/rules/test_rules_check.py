"""Checking conditions and rule sets: names, types, levels, reachability, segments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest

from harmonia import hookimpl
from harmonia.definitions import (
    Dimension,
    Matrix,
    MatrixAxis,
    MetricFeature,
    Missing,
    QuantileFeature,
    Rule,
    RuleSet,
)
from harmonia.errors import Problem
from harmonia.rules import FeatureSpec, check_condition, check_rule_set, feature_specs
from harmonia.rules.language import parse
from harmonia.rules.reachability import Unreachable, unreachable_rules

ADOPTION = ("aware", "trial", "regular", "advocate")
SPECS = {
    spec.name: spec
    for spec in (
        FeatureSpec("adoption", "text", ADOPTION),
        FeatureSpec("specialty", "text"),
        FeatureSpec("decile", "integer", low=1, high=10),
        FeatureSpec("visits", "integer"),
        FeatureSpec("potential", "number"),
        FeatureSpec("is_kol", "boolean"),
    )
}
MakeRuleSet = Callable[..., RuleSet]


def problems(text: str) -> list[tuple[int, str]]:
    return [(found.position, found.message) for found in check_condition(text, SPECS)]


# --- one condition -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "decile >= 8 AND adoption IN ('regular', 'advocate')",
        "adoption <> 'aware' AND 'trial' = adoption",
        "specialty = 'anything' AND specialty IN ('a', 'b')",
        "potential / visits > 1.5 AND -potential BETWEEN -2 AND decile * 3",
        "visits IN (1, 2) AND potential IN (1.5, -2)",
        "is_kol AND NOT is_kol OR is_kol = TRUE OR is_kol <> FALSE",
        "adoption IS NULL OR potential + 1 IS NOT NULL",
        "adoption = specialty",
        "(decile > 1) = is_kol",
        "1 = 1",
    ],
)
def test_well_typed_conditions_pass(text: str) -> None:
    assert problems(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("adoptoin = 'aware'", [(1, "unknown feature 'adoptoin'; did you mean 'adoption'?")]),
        ("DECILE > 1", [(1, "unknown feature 'DECILE'; did you mean 'decile'?")]),
        (
            "zzz > 1",
            [
                (
                    1,
                    "unknown feature 'zzz'; the rule set declares: adoption, decile, is_kol, "
                    "potential, specialty, visits",
                )
            ],
        ),
        (
            "adoption = 'reguler'",
            [
                (
                    12,
                    "'reguler' is not a level of adoption: advocate, aware, regular, trial; "
                    "did you mean 'regular'?",
                )
            ],
        ),
        (
            "adoption IN ('aware', 'zz')",
            [(23, "'zz' is not a level of adoption: advocate, aware, regular, trial")],
        ),
        (
            "adoption >= 'regular'",
            [
                (
                    10,
                    "'>=' cannot order text (text feature 'adoption'); use IN (...) to list the "
                    "levels that qualify",
                )
            ],
        ),
        (
            "adoption BETWEEN 'a' AND 'b'",
            [
                (
                    10,
                    "BETWEEN cannot order text (text feature 'adoption'); use IN (...) to list "
                    "the levels that qualify",
                )
            ],
        ),
        ("decile = 'high'", [(8, "cannot compare integer feature 'decile' with the text 'high'")]),
        ("adoption = 3", [(10, "cannot compare text feature 'adoption' with the integer 3")]),
        ("is_kol = 1", [(8, "cannot compare boolean feature 'is_kol' with the integer 1")]),
        (
            "is_kol < TRUE",
            [(8, "'<' cannot order true/false (boolean feature 'is_kol'); use = TRUE or = FALSE")],
        ),
        ("is_kol IN (TRUE)", [(8, "IN does not apply to true/false; use = TRUE or = FALSE")]),
        (
            "decile IN (1, 'x')",
            [(15, "the text 'x' cannot be a value of integer feature 'decile'")],
        ),
        (
            "adoption + 1 > 2",
            [(10, "'+' needs numbers, but text feature 'adoption' is not a number")],
        ),
        (
            "decile AND is_kol",
            [
                (
                    1,
                    "AND combines conditions, but integer feature 'decile' is not true or false; "
                    "compare it (=, <, IN ...)",
                )
            ],
        ),
        (
            "potential * 2",
            [
                (
                    11,
                    "a condition must be true or false, but 'potential * 2' (number) is not; "
                    "compare it (=, <, IN ...)",
                )
            ],
        ),
    ],
)
def test_type_problems_name_the_construct_and_column(
    text: str, expected: list[tuple[int, str]]
) -> None:
    assert problems(text) == expected


def test_every_problem_of_a_condition_is_reported() -> None:
    found = problems("adoptoin = 'x' OR decile = 'y' OR adoption = 'reguler'")
    assert [position for position, _ in found] == [1, 26, 46]


def test_syntax_problems_come_through_check_condition() -> None:
    assert problems("decile >= ") == [(8, "'>=' is incomplete: something is missing after it")]


# --- feature specs -------------------------------------------------------------------


def test_feature_specs_derive_types_levels_nulls_and_ranges(make_rule_set: MakeRuleSet) -> None:
    specs = feature_specs(make_rule_set(Rule("r", "TRUE", "low")), {"adoption": ADOPTION})
    assert specs["decile"] == FeatureSpec("decile", "integer", (), True, 1, 10)
    # missing = "unknown": a level of its own, never NULL
    assert specs["adoption"] == FeatureSpec("adoption", "text", (*ADOPTION, "unknown"), False)
    assert specs["specialty"] == FeatureSpec("specialty", "text", ("onc", "hem"), True)
    assert specs["potential"] == FeatureSpec("potential", "number", (), True)


def test_feature_specs_without_known_levels_stay_open(make_rule_set: MakeRuleSet) -> None:
    # The manager passes no levels: "unknown" alone must not become the only level.
    assert feature_specs(make_rule_set(Rule("r", "TRUE", "low")))["adoption"].levels == ()


def test_feature_specs_with_defaults(make_rule_set: MakeRuleSet) -> None:
    rule_set = make_rule_set(
        Rule("r", "TRUE", "low"),
        features=(
            QuantileFeature("decile", metric="trx", cuts=(50.0, 80.0), missing=Missing(default=0)),
            MetricFeature("potential", metric="trx", missing=Missing(default=0.0)),
        ),
    )
    specs = feature_specs(rule_set)
    assert specs["decile"] == FeatureSpec("decile", "integer", (), False, 0, 3)
    assert specs["potential"].nullable is False


# --- rule sets -------------------------------------------------------------------------


def test_a_healthy_rule_set_has_no_problems(sample_rule_set: RuleSet) -> None:
    assert check_rule_set(sample_rule_set, {"adoption": ADOPTION}) == []


def test_condition_problems_carry_path_rule_and_column(make_rule_set: MakeRuleSet) -> None:
    rule_set = make_rule_set(
        Rule("top", "decile >= 8", "high"),
        Rule("engaged", "decile >= 4 AND adoption IN ('trial', 'reguler')", "mid"),
        Rule("odd", "specialty > 'a'", "mid"),
    )
    assert check_rule_set(rule_set, {"adoption": ADOPTION}) == [
        Problem(
            "segment.rules[1].when",
            "rule 'engaged', column 39: 'reguler' is not a level of adoption: advocate, aware, "
            "regular, trial, unknown; did you mean 'regular'?",
        ),
        Problem(
            "segment.rules[2].when",
            "rule 'odd', column 11: '>' cannot order text (text feature 'specialty'); use IN "
            "(...) to list the levels that qualify",
        ),
    ]


def test_profile_levels_are_checked_only_when_known(make_rule_set: MakeRuleSet) -> None:
    rule_set = make_rule_set(Rule("r", "adoption = 'zz'", "high"), Rule("m", "TRUE", "mid"))
    assert check_rule_set(rule_set) == []
    assert [p.path for p in check_rule_set(rule_set, {"adoption": ADOPTION})] == [
        "segment.rules[0].when"
    ]


def test_multi_line_conditions_report_line_and_column(make_rule_set: MakeRuleSet) -> None:
    rule_set = make_rule_set(
        Rule("r", "decile >= 8\n  AND adoptoin = 'x'", "high"), Rule("m", "TRUE", "mid")
    )
    [problem] = check_rule_set(rule_set)
    assert problem.message.startswith("rule 'r', line 2, column 7: unknown feature 'adoptoin'")


@pytest.mark.parametrize("catch_all", ["TRUE", "1 = 1", "decile IS NULL OR decile IS NOT NULL"])
def test_rules_after_a_catch_all_are_unreachable(
    make_rule_set: MakeRuleSet, catch_all: str
) -> None:
    rule_set = make_rule_set(
        Rule("top", "decile >= 8", "high"),
        Rule("rest", catch_all, "mid"),
        Rule("late", "potential * 2 > 10", "low"),
    )
    assert check_rule_set(rule_set) == [
        Problem(
            "segment.rules[2].when",
            "rule 'late' is never the first match: earlier rule 'rest' already matches every "
            "customer it matches; remove it or move it up",
        )
    ]


def test_rules_covered_by_several_earlier_rules(make_rule_set: MakeRuleSet) -> None:
    rule_set = make_rule_set(
        Rule("a", "decile >= 8 AND adoption IN ('regular', 'advocate')", "high"),
        Rule("b", "decile >= 8 AND adoption NOT IN ('regular', 'advocate')", "mid"),
        Rule("c", "decile = 9", "low"),
    )
    [problem] = check_rule_set(rule_set, {"adoption": ADOPTION})
    assert problem == Problem(
        "segment.rules[2].when",
        "rule 'c' is never the first match: earlier rules 'a', 'b' together match every "
        "customer it matches; remove it or move it up",
    )


def test_nulls_keep_rules_reachable(make_rule_set: MakeRuleSet) -> None:
    # adoption is never NULL (missing = "unknown") but the two rules miss "unknown".
    rule_set = make_rule_set(
        Rule("in", "adoption IN ('aware', 'trial')", "high"),
        Rule("out", "adoption NOT IN ('aware', 'trial')", "mid"),
        Rule("never", "adoption IS NULL", "mid"),
        Rule("nulls", "decile >= 5 OR decile < 5", "low"),
        Rule("null-decile", "decile IS NULL", "low"),
    )
    assert check_rule_set(rule_set, {"adoption": ADOPTION}) == [
        Problem(
            "segment.rules[2].when",
            "rule 'never' can never match: no customer satisfies its condition",
        ),
        Problem(
            "segment.rules[3].when",
            "rule 'nulls' is never the first match: earlier rules 'in', 'out' together match "
            "every customer it matches; remove it or move it up",
        ),
        Problem(
            "segment.rules[4].when",
            "rule 'null-decile' is never the first match: earlier rules 'in', 'out' together "
            "match every customer it matches; remove it or move it up",
        ),
    ]


def test_quantile_ranges_make_rules_never_true(make_rule_set: MakeRuleSet) -> None:
    rule_set = make_rule_set(Rule("top", "decile > 10", "high"), Rule("any", "decile >= 1", "mid"))
    assert [p.message for p in check_rule_set(rule_set)] == [
        "rule 'top' can never match: no customer satisfies its condition",
        "segment 'high' is never assigned: its only rule 'top' is unreachable and it is not "
        "the fallback",
    ]


def test_sampled_numbers_prove_unreachability(make_rule_set: MakeRuleSet) -> None:
    rule_set = make_rule_set(
        Rule("big", "potential > 100", "high"),
        Rule("bigger", "potential >= 200 AND potential < 300", "mid"),
        Rule("between", "potential > 100.25 AND potential < 100.5", "mid"),
        Rule("edge", "potential BETWEEN 99.9 AND 100", "mid"),
    )
    assert [p.path for p in check_rule_set(rule_set)] == [
        "segment.rules[1].when",
        "segment.rules[2].when",
    ]


def test_arithmetic_on_sampled_numbers_is_never_reported(make_rule_set: MakeRuleSet) -> None:
    # 'doubled' is dead (potential > 100 covers potential * 2 > 300), but sampling around
    # the literals cannot prove it once arithmetic is involved: stay silent, never guess.
    rule_set = make_rule_set(
        Rule("big", "potential > 100", "high"),
        Rule("doubled", "potential * 2 > 300", "mid"),
    )
    assert check_rule_set(rule_set) == []


def test_segments_no_rule_assigns(make_rule_set: MakeRuleSet) -> None:
    rule_set = make_rule_set(
        Rule("top", "decile >= 8", "high"), segments=("high", "orphan", "mid", "low")
    )
    assert check_rule_set(rule_set) == [
        Problem(
            "segment.segments",
            "segment 'orphan' is never assigned: no rule assigns it and it is not the fallback",
        ),
        Problem(
            "segment.segments",
            "segment 'mid' is never assigned: no rule assigns it and it is not the fallback",
        ),
    ]


def test_broken_rules_count_as_reachable(make_rule_set: MakeRuleSet) -> None:
    rule_set = make_rule_set(Rule("top", "decle >= 8", "high"), Rule("mid", "TRUE", "mid"))
    assert [p.path for p in check_rule_set(rule_set)] == ["segment.rules[0].when"]


def test_fallback_is_a_reserved_rule_id(make_rule_set: MakeRuleSet) -> None:
    rule_set = make_rule_set(Rule("fallback", "decile >= 8", "high"), Rule("m", "TRUE", "mid"))
    assert check_rule_set(rule_set) == [
        Problem("segment.rules[0].id", "'fallback' is the id of the fallback; rename the rule")
    ]


def test_matrix_axes_are_checked_once_and_cells_for_reachability(
    make_rule_set: MakeRuleSet,
) -> None:
    rule_set = make_rule_set(
        Rule("top", "decile >= 8", "high"),
        Rule("m", "TRUE", "mid"),
        tier=Dimension(
            segments=("a", "b", "c"),
            fallback="c",
            rules=(Rule("kol", "decile = 10", "a"),),
            matrix=Matrix(
                rows=MatrixAxis("decile", ranges=((10, 10), (1, 9))),
                columns=MatrixAxis("adoptoin", levels=(("regular",), ("aware",))),
                cells=(("a", "b"), ("b", "")),
            ),
        ),
        needs=Dimension(
            segments=("x", "y"),
            fallback="y",
            matrix=Matrix(
                rows=MatrixAxis("decile", ranges=((10, 10), (1, 9))),
                columns=MatrixAxis("adoption", levels=(("regular",), ("reguler",))),
                cells=(("x", "x"), ("x", "x")),
            ),
        ),
    )
    assert check_rule_set(rule_set, {"adoption": ADOPTION}) == [
        Problem(
            "needs.matrix.columns.levels[1]",
            "adoption IN ('reguler'): 'reguler' is not a level of adoption: advocate, aware, "
            "regular, trial, unknown; did you mean 'regular'?",
        ),
        Problem(
            "tier.matrix.columns.feature", "unknown feature 'adoptoin'; did you mean 'adoption'?"
        ),
    ]
    fine = make_rule_set(
        Rule("top", "decile >= 8", "high"),
        Rule("m", "TRUE", "mid"),
        tier=Dimension(
            segments=("a", "b", "c"),
            fallback="c",
            rules=(Rule("kol", "decile = 10", "a"),),
            matrix=Matrix(
                rows=MatrixAxis("decile", ranges=((10, 10), (1, 9))),
                columns=MatrixAxis("adoption", levels=(("regular",), ("aware",))),
                cells=(("a", "b"), ("b", "")),
            ),
        ),
    )
    assert check_rule_set(fine, {"adoption": ADOPTION}) == [
        Problem(
            "tier.matrix.cells[0][0]",
            "rule 'matrix[1,1]' is never the first match: earlier rule 'kol' already matches "
            "every customer it matches; remove it or move it up",
        ),
        Problem(
            "tier.matrix.cells[0][1]",
            "rule 'matrix[1,2]' is never the first match: earlier rule 'kol' already matches "
            "every customer it matches; remove it or move it up",
        ),
    ]


def test_malformed_matrices_are_left_to_the_definition_checks(make_rule_set: MakeRuleSet) -> None:
    rule_set = make_rule_set(
        Rule("m", "TRUE", "mid"),
        segments=("mid", "low"),
        tier=Dimension(
            segments=("a", "c"),
            fallback="c",
            matrix=Matrix(
                rows=MatrixAxis("decile", ranges=((1, 10),)),
                columns=MatrixAxis("adoption", levels=(("regular",),)),
                cells=(("a",), ("a",)),
            ),
        ),
    )
    assert check_rule_set(rule_set) == []


# --- the reachability analysis on its own -----------------------------------------------


def unreachable(*texts: str, specs: dict[str, FeatureSpec] = SPECS, **options: int) -> list:
    return unreachable_rules([parse(text).expression for text in texts], specs, **options)


def test_integers_without_a_range_are_sampled_exactly() -> None:
    assert unreachable(
        "visits >= 3", "visits > 2.5", "visits = 2", "visits BETWEEN 2.1 AND 2.9"
    ) == [
        Unreachable(1, False, (0,)),
        Unreachable(3, True),
    ]


def test_text_without_levels_is_sampled_exactly() -> None:
    assert unreachable(
        "specialty IN ('onc', 'hem')", "specialty = 'onc'", "specialty <> 'onc'"
    ) == [Unreachable(1, False, (0,))]


def test_comparing_two_features_is_not_judged() -> None:
    assert unreachable("potential > 1", "potential > visits AND potential > 2") == []


def test_too_many_points_keep_to_constant_rules() -> None:
    texts = ("decile >= 1", "decile = 2", "1 = 1", "decile = 3")
    assert unreachable(*texts) == [Unreachable(1, False, (0,)), Unreachable(3, False, (0,))]
    # decile alone has 11 points (1..10 and NULL): over the limit, only '1 = 1' is judged.
    assert unreachable(*texts, limit=10) == [Unreachable(3, False, (2,))]


# --- through the plugin manager ------------------------------------------------------------


class _Pack:
    """A pack declaring one rule set, registered for one test."""

    def __init__(self, rule_set: RuleSet):
        self.rule_set = rule_set

    @hookimpl
    def harmonia_segmentation_rules(self) -> list[RuleSet]:
        return [self.rule_set]


def test_the_plugin_manager_rejects_rule_sets_with_problems(
    make_rule_set: MakeRuleSet, harmonia_plugins: Any, register_pack: Callable[..., Any]
) -> None:
    features = (QuantileFeature("decile", metric="trx", bins=10),)
    good = make_rule_set(Rule("top", "decile >= 8", "high"), Rule("m", "TRUE", "mid"))
    bad = attrs.evolve(
        good,
        name="onc-bad",
        segment=attrs.evolve(
            good.segment,
            rules=(Rule("top", "decile >= 8", "high"), Rule("m", "decile > 'x'", "mid")),
        ),
    )
    register_pack(_Pack(attrs.evolve(good, features=features)), name="good")
    register_pack(_Pack(attrs.evolve(bad, features=features)), name="bad")
    catalog = harmonia_plugins.catalog()
    assert list(catalog.rule_sets) == ["onc-test"]
    rejected = catalog.rule_sets.rejected["onc-bad"]
    assert (
        "segment.rules[1].when: rule 'm', column 8: cannot compare integer feature 'decile' "
        "with the text 'x'" in rejected
    )
