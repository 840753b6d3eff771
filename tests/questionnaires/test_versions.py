"""Versions: items map implicitly or by rename; answers are comparable or marked not comparable."""

from __future__ import annotations

from typing import Any

import pytest
from qhelpers import build, option, questionnaire_data

import harmonia_oncology
from harmonia.questionnaires import (
    Questionnaire,
    comparable_versions,
    version_key,
    version_problems,
)
from harmonia.questionnaires.scoring import scorable_versions

BANDS = [{"level": "low", "min": 0}, {"level": "high", "min": 1}]


def choice(item_id: str, scores: tuple[float, float] = (0, 1), **fields: Any) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "single",
        "text": {"en": item_id},
        "options": [option("x", scores[0]), option("y", scores[1])],
        **fields,
    }


def version(
    number: str,
    items: list[dict[str, Any]],
    dimension_items: list[str] | None,
    previous: dict[str, Any] | None = None,
    **dimension: Any,
) -> Questionnaire:
    fields: dict[str, Any] = {"version": number, "items": items}
    if dimension_items is not None:
        fields["dimensions"] = [
            {"name": "dim", "items": dimension_items, "bands": BANDS, "method": "mean", **dimension}
        ]
    if previous is not None:
        fields["previous"] = previous
    return build(questionnaire_data(**fields))


def verdicts(*versions: Questionnaire) -> dict[str, bool]:
    return {v: c.comparable for v, c in comparable_versions(versions, "dim").items()}


def test_unchanged_ids_map_implicitly():
    v1 = version("1", [choice("a"), choice("b")], ["a", "b"])
    v2 = version("2", [choice("a"), choice("b"), choice("c")], ["a", "b"], {"version": "1"})
    assert verdicts(v1, v2) == {"1": True, "2": True}
    assert v2.counterpart("a", v1) == "a"
    assert v2.counterpart("c", v1) is None


def test_renamed_items_map_through_previous_items():
    v1 = version("1", [choice("a"), choice("b")], ["a", "b"])
    v2 = version(
        "2",
        [choice("first"), choice("b"), choice("a")],
        ["first", "b"],
        {"version": "1", "items": {"first": "a"}},
    )
    assert v2.counterpart("first", v1) == "a"
    # The new "a" is not the old "a": that one was renamed to "first".
    assert v2.counterpart("a", v1) is None
    assert verdicts(v1, v2) == {"1": True, "2": True}


def test_unmapped_items_break_comparability():
    v1 = version("1", [choice("a"), choice("b")], ["a", "b"])
    v2 = version("2", [choice("a"), choice("b")], ["a", "b"], {"version": "1", "unmapped": ["b"]})
    result = comparable_versions([v1, v2], "dim")
    assert not result["1"].comparable
    assert "b of version 2 have no counterpart in version 1" in result["1"].reason


def test_a_new_item_in_the_dimension_makes_older_answers_not_comparable():
    """The oncology case: ``need`` gained ``support_priority`` in version 2."""
    versions = harmonia_oncology.harmonia_questionnaires()
    assert verdicts(*versions) == {"1": False, "2": False}  # no version declares "dim"
    need = comparable_versions(versions, "need")
    assert need["2"].comparable and not need["1"].comparable
    assert "support_priority" in need["1"].reason
    assert set(scorable_versions(versions, "adoption")) == {"1", "2"}
    assert set(scorable_versions(versions, "scientific_engagement")) == {"1", "2"}
    assert set(scorable_versions(versions, "need")) == {"2"}


@pytest.mark.parametrize(
    ("older", "fragment"),
    [
        ({"dimension_items": ["a"]}, "scores 'dim' from a, not from the counterparts a, b"),
        ({"dimension_items": None}, "has no dimension 'dim'"),
        ({"method": "sum"}, "combines by sum, not mean"),
    ],
)
def test_older_definitions_must_match(older, fragment):
    dimension_items = older.pop("dimension_items", ["a", "b"])
    v1 = version("1", [choice("a"), choice("b")], dimension_items, **older)
    v2 = version("2", [choice("a"), choice("b")], ["a", "b"], {"version": "1"})
    result = comparable_versions([v1, v2], "dim")
    assert not result["1"].comparable and fragment in result["1"].reason, result["1"].reason


def test_levels_must_match():
    v1 = build(
        questionnaire_data(
            items=[choice("a")],
            dimensions=[{"name": "dim", "items": ["a"], "bands": [{"level": "low", "min": 0}]}],
        )
    )
    v2 = version("2", [choice("a")], ["a"], {"version": "1"})
    result = comparable_versions([v1, v2], "dim")
    assert "levels ['low'], not ['low', 'high']" in result["1"].reason


def test_older_answers_are_scored_with_their_own_definition():
    v1 = version("1", [choice("a", (0, 5))], ["a"])
    v2 = version("2", [choice("a", (0, 1))], ["a"], {"version": "1"})
    scorable = scorable_versions([v1, v2], "dim")
    assert scorable["1"][0].item("a").option("y").score == 5
    assert scorable["2"][0].item("a").option("y").score == 1


def test_a_broken_or_missing_chain_is_not_comparable():
    v1 = version("1", [choice("a")], ["a"])
    v3 = version("3", [choice("a")], ["a"], {"version": "2"})  # version 2 is not installed
    result = comparable_versions([v1, v3], "dim")
    assert result["3"].comparable and not result["1"].comparable
    assert "not linked to version 3" in result["1"].reason


def test_a_chain_with_a_version_lacking_the_item_breaks_it():
    v1 = version("1", [choice("a")], ["a"])
    v2 = version("2", [choice("b")], None, {"version": "1"})
    v3 = version("3", [choice("a")], ["a"], {"version": "2"})
    assert verdicts(v1, v2, v3) == {"3": True, "2": False, "1": False}


def test_a_cycle_of_previous_links_terminates():
    v1 = version("1", [choice("a")], ["a"], {"version": "2"})
    v2 = version("2", [choice("a")], ["a"], {"version": "1"})
    assert verdicts(v1, v2) == {"2": True, "1": True}


def test_a_newer_version_without_the_dimension_is_not_comparable():
    v1 = version("1", [choice("a")], ["a"])
    v2 = version("2", [choice("a")], None, {"version": "1"})
    result = comparable_versions([v1, v2], "dim")
    assert result["1"].comparable
    assert not result["2"].comparable and "does not declare" in result["2"].reason


def test_version_order_is_numeric():
    assert sorted(["10", "2", "1.1", "1"], key=version_key) == ["1", "1.1", "2", "10"]
    assert version_key("2") < version_key("2b")


def test_cross_version_problems():
    v1 = version("1", [choice("a"), choice("b")], None)
    v2 = version(
        "2",
        [
            choice("a", type="multiple"),
            choice("c"),
            choice("d"),
        ],
        None,
        {"version": "1", "items": {"c": "zz"}, "unmapped": ["d"]},
    )
    found = {(p.path, p.message.split(":")[0]) for p in version_problems(v2, v1)}
    assert ("previous.items.c", "'zz' is not an item of version 1") in found
    assert ("previous.unmapped[0]", "version 1 has no item 'd'") in found
    assert any(path == "items[0].type" for path, _ in found), found
