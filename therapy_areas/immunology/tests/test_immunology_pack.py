"""The immunology pack: its data loads, its hooks answer, and its parts fit together."""

from __future__ import annotations

from importlib.resources import files

import pytest

import harmonia_immunology
from harmonia import EngagementStrategy, Questionnaire, RuleSet, load_definitions
from harmonia.testing import pack_problems

DATA = files("harmonia_immunology")

DATA_FILES = {
    "questionnaires/immunology-profile-v1.json": Questionnaire,
    "rules/immunology-core.toml": RuleSet,
    "strategies.toml": EngagementStrategy,
}

VARIANTS = ("standard", "digital-first")


@pytest.fixture(scope="module")
def rule_set() -> RuleSet:
    (rule_set,) = harmonia_immunology.harmonia_segmentation_rules()
    return rule_set


@pytest.fixture(scope="module")
def strategies() -> list[EngagementStrategy]:
    return harmonia_immunology.harmonia_engagement_strategies()


def _toml_files(directory, prefix=""):
    for child in directory.iterdir():
        if child.is_dir():
            yield from _toml_files(child, f"{prefix}{child.name}/")
        elif child.name.endswith((".toml", ".json")):
            yield f"{prefix}{child.name}"


@pytest.mark.parametrize("path", sorted(DATA_FILES))
def test_data_file_loads(path):
    assert load_definitions(DATA_FILES[path], DATA / path)


def test_every_data_file_is_tested():
    """A new data file in the package must be added to DATA_FILES above."""
    assert sorted(_toml_files(DATA)) == sorted(DATA_FILES)


def test_pack_has_no_problems():
    """Registered alone: no rejected definition, unreachable rule or uncovered segment."""
    assert pack_problems(harmonia_immunology, name="immunology") == []


def test_questionnaire_is_fhir_and_speaks_the_markets_languages():
    (questionnaire,) = harmonia_immunology.harmonia_questionnaires()
    assert {"en", "fr", "de", "ja"} <= set(questionnaire.languages)
    assert {d.name for d in questionnaire.dimensions} == {"biologic_experience", "treatment_goal"}
    assert (
        (DATA / "questionnaires/immunology-profile-v1.json")
        .read_text(encoding="utf-8")
        .lstrip()
        .startswith('{\n  "resourceType": "Questionnaire"')
    )


def test_the_questionnaire_decides_the_needs(rule_set):
    """Needs-based: both the needs and the segment matrix read the two profile dimensions."""
    for dimension in (rule_set.needs, rule_set.segment):
        matrix = dimension.matrix
        assert (matrix.rows.feature, matrix.columns.feature) == (
            "biologic_experience",
            "treatment_goal",
        )
    assert rule_set.needs.matrix.cells == rule_set.segment.matrix.cells
    needs = set(rule_set.needs.segments) - {"unprofiled"}
    assert needs <= set(rule_set.segment.segments)
    # Potential sets the call priority only: no needs cell depends on it.
    assert all("potential" not in rule.when for rule in rule_set.needs.rules)


@pytest.mark.parametrize("variant", VARIANTS)
def test_only_the_lowest_segment_is_not_targeted(rule_set, strategies, variant):
    by_segment = {s.segment: s for s in strategies if s.variant == variant}
    assert sorted(by_segment) == sorted(rule_set.segment.segments)
    assert [s for s, strategy in by_segment.items() if not strategy.target] == ["monitor"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_investment_follows_segment_priority(rule_set, strategies, variant):
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


def test_planned_channels_declare_a_response(strategies):
    """Face-to-face is planned by the strategy layer in every targeted segment."""
    for strategy in strategies:
        if strategy.target:
            (face_to_face,) = [p for p in strategy.channels if p.channel == "face_to_face"]
            assert face_to_face.response is not None and face_to_face.response.minimum > 0
