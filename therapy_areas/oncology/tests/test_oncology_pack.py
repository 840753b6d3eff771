"""The oncology pack: its data loads, its hooks answer, and its parts fit together.

The rule set, the questionnaire and the strategies are written separately but
only work together: profile features must name real dimensions and levels,
and every segment needs a strategy in every variant. These tests hold them
together as the files change.
"""

from __future__ import annotations

from importlib.resources import files

import duckdb
import pytest
import sqlglot
from sqlglot import exp

import harmonia_oncology
from harmonia import (
    AttributeFeature,
    EngagementStrategy,
    ProfileFeature,
    Questionnaire,
    RuleSet,
    load_definitions,
)

DATA = files("harmonia_oncology")

DATA_FILES = {
    "questionnaires/oncology-profile-v1.toml": Questionnaire,
    "questionnaires/oncology-profile-v2.toml": Questionnaire,
    "rules/oncology-core.toml": RuleSet,
    "strategies.toml": EngagementStrategy,
}

VARIANTS = ("standard", "digital-first")


@pytest.fixture(scope="module")
def rule_set() -> RuleSet:
    (rule_set,) = harmonia_oncology.harmonia_segmentation_rules()
    return rule_set


@pytest.fixture(scope="module")
def questionnaires() -> dict[str, Questionnaire]:
    return {q.version: q for q in harmonia_oncology.harmonia_questionnaires()}


@pytest.fixture(scope="module")
def strategies() -> list[EngagementStrategy]:
    return harmonia_oncology.harmonia_engagement_strategies()


def _toml_files(directory, prefix=""):
    for child in directory.iterdir():
        if child.is_dir():
            yield from _toml_files(child, f"{prefix}{child.name}/")
        elif child.name.endswith(".toml"):
            yield f"{prefix}{child.name}"


# --- every file loads -------------------------------------------------------


@pytest.mark.parametrize("path", sorted(DATA_FILES))
def test_data_file_loads(path):
    assert load_definitions(DATA_FILES[path], DATA / path)


def test_every_data_file_is_tested():
    """A new TOML file in the package must be added to DATA_FILES above."""
    assert sorted(_toml_files(DATA)) == sorted(DATA_FILES)


# --- hooks ------------------------------------------------------------------


def test_hooks_return_the_expected_definitions(rule_set, questionnaires, strategies):
    assert sorted(questionnaires) == ["1", "2"]
    assert {q.id for q in questionnaires.values()} == {"oncology-profile"}
    assert (rule_set.name, rule_set.therapy_area) == ("oncology-core", "oncology")
    assert len(strategies) == len(rule_set.segment.segments) * len(VARIANTS)
    definitions = [*questionnaires.values(), rule_set, *strategies]
    assert {d.therapy_area for d in definitions} == {harmonia_oncology.THERAPY_AREA}


def test_pack_registers_without_warnings(harmonia_plugins):
    info = harmonia_plugins.register(
        harmonia_oncology, name="oncology", distribution="harmonia-oncology"
    )
    assert info.error is None
    assert set(info.hooks) == {
        "harmonia_questionnaires",
        "harmonia_segmentation_rules",
        "harmonia_engagement_strategies",
    }
    catalog = harmonia_plugins.catalog()
    assert set(catalog.questionnaires) == {
        ("oncology-profile", "1"),
        ("oncology-profile", "2"),
    }
    assert ("oncology", "digital-first", "champion") in catalog.engagement_strategies
    assert catalog.warnings == ()


# --- questionnaire versions -------------------------------------------------


def test_version_1_stands_alone(questionnaires):
    assert questionnaires["1"].previous is None


def test_version_2_maps_every_kept_item_to_version_1(questionnaires):
    old, new = questionnaires["1"], questionnaires["2"]
    assert new.previous is not None and new.previous.version == old.version
    assert all(old.item(old_id) is not None for old_id in new.previous.items.values())
    kept = {item.id for item in new.items} & {item.id for item in old.items}
    assert kept <= set(new.previous.items)


# --- rule set x questionnaire ----------------------------------------------


def _profile_features(rule_set: RuleSet) -> list[ProfileFeature]:
    return [f for f in rule_set.features if isinstance(f, ProfileFeature)]


def _known_levels(rule_set: RuleSet, questionnaire: Questionnaire, name: str) -> set[str]:
    """The levels a categorical feature can take, ``unknown`` included where declared."""
    feature = rule_set.feature(name)
    if isinstance(feature, ProfileFeature):
        levels = set(questionnaire.dimension(feature.dimension).levels)
    elif isinstance(feature, AttributeFeature):
        levels = set(feature.levels)
    else:
        raise AssertionError(f"{name} is not a categorical feature")
    if feature.missing is not None and feature.missing.unknown:
        levels.add("unknown")
    return levels


@pytest.mark.parametrize("version", ["1", "2"])
def test_profile_features_name_dimensions_of_the_questionnaire(rule_set, questionnaires, version):
    """Both versions score the dimensions the rules read, with the same levels."""
    questionnaire = questionnaires[version]
    for feature in _profile_features(rule_set):
        assert feature.questionnaire == questionnaire.id
        dimension = questionnaire.dimension(feature.dimension)
        assert dimension is not None, f"{feature.name}: no dimension {feature.dimension!r}"
        assert dimension.levels == questionnaires["1"].dimension(feature.dimension).levels


def test_matrix_levels_are_levels_of_their_feature(rule_set, questionnaires):
    newest = questionnaires["2"]
    for name, dimension in rule_set.dimensions.items():
        if dimension.matrix is None:
            continue
        for axis in (dimension.matrix.rows, dimension.matrix.columns):
            if not axis.levels:
                continue
            used = [level for group in axis.levels for level in group]
            known = _known_levels(rule_set, newest, axis.feature)
            assert set(used) <= known, f"{name}: {axis.feature} has no levels {set(used) - known}"
            # Every level in exactly one column: no profiled customer falls through.
            assert sorted(used) == sorted(known), f"{name}: {axis.feature} levels not covered once"


def test_matrix_ranges_cover_every_decile_once(rule_set):
    rows = rule_set.segment.matrix.rows
    feature = rule_set.feature(rows.feature)
    covered = sorted(d for low, high in rows.ranges for d in range(int(low), int(high) + 1))
    assert covered == list(range(1, feature.bin_count + 1))


def test_rules_read_declared_features_only(rule_set):
    declared = {feature.name for feature in rule_set.features}
    for name, dimension in rule_set.dimensions.items():
        for path, rule in dimension.all_rules(name):
            columns = {c.name for c in sqlglot.parse_one(rule.when).find_all(exp.Column)}
            assert columns <= declared, f"{path}: unknown features {columns - declared}"


def test_every_segment_and_every_rule_is_reached(rule_set, questionnaires):
    """Evaluate each dimension over every combination of feature values.

    The grid is small (every level, every decile, every consistency a
    four-quarter window can produce), so this is exhaustive, not sampled.
    """
    newest = questionnaires["2"]
    values = {
        "customer_type": list(rule_set.feature("customer_type").levels),
        "specialty": [*rule_set.feature("specialty").levels, None],
        "potential_decile": list(range(1, 11)),
        "trx_decile": list(range(1, 11)),
        "consistency": [0.0, 0.25, 0.5, 0.75, 1.0],
        "adoption": sorted(_known_levels(rule_set, newest, "adoption")),
        "need": sorted(_known_levels(rule_set, newest, "need")),
    }
    assert set(values) == {feature.name for feature in rule_set.features}
    connection = duckdb.connect()
    axes = " CROSS JOIN ".join(
        f"(SELECT unnest(?::{_sql_type(rule_set, name)}[]) AS {name})" for name in values
    )
    connection.execute(f"CREATE TABLE grid AS SELECT * FROM {axes}", list(values.values()))
    for name, dimension in rule_set.dimensions.items():
        rules = [rule for _, rule in dimension.all_rules(name)]
        first_match = " ".join(f"WHEN {rule.when} THEN {i}" for i, rule in enumerate(rules))
        fired = {
            row[0]
            for row in connection.execute(
                f"SELECT DISTINCT CASE {first_match} ELSE -1 END FROM grid"
            ).fetchall()
        }
        unreached = [rule.id for i, rule in enumerate(rules) if i not in fired]
        assert not unreached, f"{name}: rules never reached: {unreached}"
        segments = {rules[i].segment for i in fired if i >= 0}
        if -1 in fired:
            segments.add(dimension.fallback)
        assert segments == set(dimension.segments), f"{name}: segments never assigned"


def _sql_type(rule_set: RuleSet, name: str) -> str:
    return {"text": "VARCHAR", "integer": "INTEGER", "number": "DOUBLE"}[
        rule_set.feature(name).type
    ]


def test_rule_checker_finds_no_problems(harmonia_plugins):
    """The pack loads as an installed pack does: the catalog checks every rule against the
    rules language and the questionnaires' dimensions, and rejects a rule set with problems."""
    harmonia_plugins.register(harmonia_oncology, name="oncology", distribution="harmonia-oncology")
    catalog = harmonia_plugins.catalog()
    assert "oncology-core" in catalog.rule_sets
    assert catalog.warnings == ()


# --- strategies x rule set --------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_strategies_cover_every_segment(rule_set, strategies, variant):
    segments = [s.segment for s in strategies if s.variant == variant]
    assert sorted(segments) == sorted(rule_set.segment.segments)


@pytest.mark.parametrize("variant", VARIANTS)
def test_only_the_lowest_segment_is_not_targeted(rule_set, strategies, variant):
    by_segment = {s.segment: s for s in strategies if s.variant == variant}
    lowest = rule_set.segment.segments[-1]
    assert [s for s, strategy in by_segment.items() if not strategy.target] == [lowest]


@pytest.mark.parametrize("variant", VARIANTS)
def test_investment_follows_segment_priority(rule_set, strategies, variant):
    """Higher-priority segments get more spend and are expected to return more."""
    by_segment = {s.segment: s for s in strategies if s.variant == variant}
    ordered = [by_segment[segment] for segment in rule_set.segment.segments]
    costs = [sum(plan.per_year * plan.cost for plan in s.channels) for s in ordered]
    revenues = [s.expected_revenue for s in ordered]
    assert costs == sorted(costs, reverse=True)
    assert revenues == sorted(revenues, reverse=True)


def test_digital_first_shifts_face_to_face_to_remote(strategies):
    def per_year(variant, segment, channel):
        (strategy,) = [s for s in strategies if (s.variant, s.segment) == (variant, segment)]
        return sum(p.per_year for p in strategy.channels if p.channel == channel)

    for segment in {s.segment for s in strategies if s.target}:
        assert per_year("digital-first", segment, "face_to_face") < per_year(
            "standard", segment, "face_to_face"
        )
        assert per_year("digital-first", segment, "remote") > per_year(
            "standard", segment, "remote"
        )
