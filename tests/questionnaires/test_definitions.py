"""Questionnaire definitions: every load-time check names the path it is about."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from qhelpers import build, option, questionnaire_data

import harmonia_oncology
from harmonia.errors import DefinitionError
from harmonia.questionnaires import Band, ProfileDimension, Questionnaire, reachable_scores, text_in


def problems_of(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(path, message) of every problem; [] when the definition loads."""
    try:
        build(data)
    except DefinitionError as error:
        return [(problem.path, problem.message) for problem in error.problems]
    return []


def assert_problem(data: dict[str, Any], path: str, fragment: str) -> None:
    found = problems_of(data)
    assert any(p == path and fragment in m for p, m in found), found


def item(item_id: str, type_: str = "single", **fields: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"id": item_id, "type": type_, "text": {"en": item_id.title()}}
    if type_ in ("single", "multiple") and "options" not in fields:
        found["options"] = [option("x", 0), option("y", 1)]
    found.update(fields)
    return found


def with_items(*items: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return questionnaire_data(items=list(items), **fields)


def dimension(items: list[str], bands: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {"name": "dim", "items": items, "bands": bands, **fields}


# --- the real questionnaires ---------------------------------------------------------------


def test_oncology_versions_load_with_contiguous_bands():
    versions = {q.version: q for q in harmonia_oncology.harmonia_questionnaires()}
    assert set(versions) == {"1", "2"}
    for questionnaire in versions.values():
        engagement = questionnaire.dimension("scientific_engagement")
        assert engagement.items == ("clinical_trials", "trial_role")
        assert all(band.max is None for d in questionnaire.dimensions for band in d.bands)
    assert versions["2"].item("immunotherapy_share").unit_text("fr") == "%"


# --- texts and translations ------------------------------------------------------------------


def test_a_missing_translation_names_its_path():
    data = with_items(item("a", help={"en": "Help"}), languages=["en", "fr"])
    data["title"] = {"en": "T", "fr": "T"}
    data["items"][0]["text"] = {"en": "A", "fr": "A"}
    data["items"][0]["options"] = [option("x", 0), {"code": "y", "text": {"en": "Y"}, "score": 1}]
    found = problems_of(data)
    assert ("items[0].help", "missing the 'fr' translation") in found
    assert ("items[0].options[1].text", "missing the 'fr' translation") in found


def test_an_undeclared_language_is_an_error():
    data = with_items(item("a", text={"en": "A", "es": "A"}))
    assert_problem(data, "items[0].text", "translation 'es' is not a declared language")


def test_language_tags_are_checked():
    assert_problem(questionnaire_data(languages=["en", "English"]), "languages[1]", "language tag")
    assert_problem(questionnaire_data(languages=["en", "en"]), "languages", "declared 2 times")


def test_a_unit_is_one_text_or_one_per_language():
    both = with_items(
        item("n", "integer", unit="kg"),
        item("m", "decimal", unit={"en": "patients/month", "fr": "patients/mois"}),
        languages=["en", "fr"],
        title={"en": "T", "fr": "T"},
    )
    for entry in both["items"]:
        entry["text"] = {"en": "N", "fr": "N"}
    questionnaire = build(both)
    assert questionnaire.item("n").unit_text("fr") == "kg"
    assert questionnaire.item("m").unit_text("fr") == "patients/mois"
    both["items"][1]["unit"] = {"en": "patients/month"}
    assert_problem(both, "items[1].unit", "missing the 'fr' translation")


def test_a_unit_that_is_neither_text_nor_translations_is_refused():
    found = problems_of(with_items(item("n", "integer", unit=3)))
    assert any(path == "items[0].unit" for path, _ in found), found


def test_a_unit_or_bounds_on_a_non_numeric_item_is_refused():
    assert_problem(with_items(item("a", unit="kg")), "items[0].unit", "a unit applies to")
    assert_problem(with_items(item("a", "text", min=1)), "items[0]", "min and max apply")


def test_text_in_falls_back_to_the_first_language():
    assert text_in({"en": "A", "fr": "B"}, "de") == "A"
    assert text_in("kg", "fr") == "kg"


# --- items -----------------------------------------------------------------------------------


def test_option_codes_cannot_hold_the_separator():
    data = with_items(item("a", "multiple", options=[option("x|y", 1), option(" z", 2)]))
    assert_problem(data, "items[0].options[0].code", "may not contain '|'")
    assert_problem(data, "items[0].options[1].code", "surrounding blanks")


def test_numbers_need_sound_bounds():
    assert_problem(with_items(item("s", "scale", min=1)), "items[0]", "scale item needs min")
    assert_problem(with_items(item("n", "integer", min=0.5, max=3)), "items[0].min", "whole")
    assert_problem(with_items(item("n", "decimal", min=3, max=1)), "items[0]", "above max")


def test_groups_must_be_declared_and_unique():
    data = with_items(item("a", group="g"))
    assert_problem(data, "items[0].group", "not declared")
    data["groups"] = [{"id": "g", "title": {"en": "G"}}, {"id": "g", "title": {"en": "G"}}]
    assert_problem(data, "groups", "declared 2 times")


# --- skip logic ------------------------------------------------------------------------------


def test_conditions_name_an_item_of_the_questionnaire():
    data = with_items(item("a"), item("b", enable_when=[{"item": "zz", "answer": "x"}]))
    assert_problem(data, "items[1].enable_when[0].item", "'zz' is not an item")


@pytest.mark.parametrize(
    ("source", "condition", "path", "fragment"),
    [
        (item("s"), {"operator": "=", "answer": "nope"}, ".answer", "not an option"),
        (item("s"), {"operator": ">", "answer": "x"}, ".operator", "compares numbers and dates"),
        (item("s", "boolean"), {"operator": "=", "answer": "yes"}, ".answer", "true or false"),
        (item("s", "integer"), {"operator": ">", "answer": "3"}, ".answer", "with a number"),
        (item("s", "date"), {"operator": "<", "answer": "31/01/2024"}, ".answer", "a date"),
        (item("s", "text"), {"operator": "<", "answer": "b"}, ".operator", "compares numbers"),
        (item("s"), {"operator": "exists", "answer": "x"}, ".answer", "true or answer = false"),
        (item("s"), {"operator": "="}, ".answer", "give the answer"),
        (item("s"), {"operator": "~", "answer": "x"}, ".operator", "is not one of"),
    ],
)
def test_conditions_compare_like_with_like(source, condition, path, fragment):
    data = with_items(source, item("t", enable_when=[{"item": "s", **condition}]))
    assert_problem(data, f"items[1].enable_when[0]{path}", fragment)


def test_valid_conditions_of_every_kind_load():
    built = build(
        with_items(
            item("b", "boolean"),
            item("n", "integer", min=0, max=10),
            item("d", "date"),
            item("m", "multiple"),
            item("t", enable_when=[{"item": "b", "answer": True}]),
            item("u", enable_when=[{"item": "n", "operator": ">=", "answer": 3}]),
            item("v", enable_when=[{"item": "d", "operator": "<", "answer": "2024-01-31"}]),
            item("w", enable_when=[{"item": "m", "operator": "!=", "answer": "x"}]),
            item("x", enable_when=[{"item": "t", "operator": "exists", "answer": False}]),
        )
    )
    conditions = {i.id: i.enable_when[0] for i in built.items if i.enable_when}
    assert {key: (c.item, c.operator) for key, c in conditions.items()} == {
        "t": ("b", "="),
        "u": ("n", ">="),
        "v": ("d", "<"),
        "w": ("m", "!="),
        "x": ("t", "exists"),
    }
    assert conditions["t"].answer is True and conditions["x"].expects_answer is False


def test_skip_logic_may_not_depend_on_itself():
    data = with_items(
        item("a", enable_when=[{"item": "c", "operator": "exists"}]),
        item("b", enable_when=[{"item": "a", "answer": "x"}]),
        item("c", enable_when=[{"item": "b", "answer": "y"}]),
    )
    found = problems_of(data)
    cycles = [(p, m) for p, m in found if "depends on itself" in m]
    assert cycles == [("items[0].enable_when", "skip logic depends on itself: a -> c -> b -> a")]
    assert_problem(
        with_items(item("a", enable_when=[{"item": "a", "operator": "exists"}])),
        "items[0].enable_when[0].item",
        "cannot depend on itself",
    )


def test_required_items_may_have_skip_logic():
    """Required applies only while the item is enabled (as in FHIR)."""
    built = build(
        with_items(item("a"), item("b", required=True, enable_when=[{"item": "a", "answer": "y"}]))
    )
    required = built.item("b")
    assert required is not None and required.required
    assert [(c.item, c.answer) for c in required.enable_when] == [("a", "y")]


# --- dimensions and bands --------------------------------------------------------------------


def test_dimension_items_must_be_scored():
    data = with_items(
        item("a"),
        item("t", "text"),
        item("u", options=[option("x"), option("y", 1)]),
        dimensions=[dimension(["a", "t", "u", "zz", "a"], [{"level": "low", "min": 0}])],
    )
    found = problems_of(data)
    assert ("dimensions[0].items[1]", "text item 't' has no score") in found
    assert ("dimensions[0].items[2]", "item 'u' has options without a score") in found
    assert ("dimensions[0].items[3]", "'zz' is not an item of this questionnaire") in found
    assert ("dimensions[0].items", "item 'a' is declared 2 times") in found


def test_booleans_score_one_and_zero():
    data = with_items(
        item("b", "boolean"),
        dimensions=[dimension(["b"], [{"level": "no", "min": 0}, {"level": "yes", "min": 1}])],
    )
    scores = reachable_scores(build(data).dimension("dim"), {"b": build(data).item("b")})
    assert scores == [(0, 0), (1, 1)]


@pytest.mark.parametrize(
    ("bands", "path", "fragment"),
    [
        ([{"level": "a", "min": 0}, {"level": "b", "min": 0}], "dimensions[0].bands", "overlap"),
        (
            [{"level": "a", "min": 0, "max": 1}, {"level": "b", "min": 1}],
            "dimensions[0].bands",
            "overlap",
        ),
        ([{"level": "a", "min": 2, "max": 1}], "dimensions[0].bands[0]", "above max"),
        ([{"level": "unknown", "min": 0}], "dimensions[0].bands[0].level", "reserved"),
        ([{"level": "Low", "min": 0}], "dimensions[0].bands[0].level", "not a valid name"),
        ([{"level": "a", "min": 0}, {"level": "a", "min": 1}], "dimensions[0].bands", "2 times"),
        ([], "dimensions[0].bands", "needs bands"),
    ],
)
def test_band_checks(bands, path, fragment):
    data = with_items(item("a"), dimensions=[dimension(["a"], bands)])
    assert_problem(data, path, fragment)


def test_bands_must_cover_every_reachable_score():
    """The pack author's bug: a mean of 0/1 answers over three items, closed bands."""
    items = [item(name) for name in ("a", "b", "c")]
    closed = [{"level": "low", "min": 0, "max": 0.5}, {"level": "high", "min": 1, "max": 1}]
    data = with_items(*items, dimensions=[dimension(["a", "b", "c"], closed, method="mean")])
    found = problems_of(data)
    assert found == [
        (
            "dimensions[0].bands",
            "no band covers the score 0.6667, which the items can produce: leave out the max "
            "of band 'low', so that it runs up to band 'high'",
        )
    ], found
    contiguous = [{"level": "low", "min": 0}, {"level": "high", "min": 0.5}]
    build(with_items(*items, dimensions=[dimension(["a", "b", "c"], contiguous, method="mean")]))


def test_scores_below_the_lowest_band_and_above_a_capped_top_are_reported():
    items = [item("n", "integer", min=-3, max=12)]
    bands = [{"level": "low", "min": 0}, {"level": "high", "min": 5, "max": 10}]
    found = [m for p, m in problems_of(with_items(*items, dimensions=[dimension(["n"], bands)]))]
    assert any(
        m.startswith("no band covers the score -3, the score -2, the score -1") for m in found
    )
    assert any("the score 11, the score 12" in m and "'high'" in m for m in found), found


def test_an_unbounded_number_needs_an_open_lowest_band():
    data = with_items(
        item("d", "decimal", max=10), dimensions=[dimension(["d"], [{"level": "low", "min": 0}])]
    )
    assert_problem(data, "dimensions[0].bands", "scores between -infinity and 0")


THIRDS = [Fraction(n, 6) for n in (2, 3, 4, 6, 8, 9, 10)]  # 1/3 1/2 2/3 1 4/3 3/2 5/3


@pytest.mark.parametrize(
    ("method", "missing", "expected"),
    [
        ("sum", "partial", [1, 2, 3, 4, 5]),
        ("sum", "zero", [1, 2, 3, 4, 5]),
        ("sum", "unknown", [1, 2, 3, 4, 5]),
        ("mean", "partial", THIRDS),
        ("mean", "zero", THIRDS),
        ("mean", "unknown", THIRDS),
        ("max", "partial", [1, 2]),
        ("max", "zero", [1, 2]),
    ],
)
def test_reachable_scores_follow_the_scoring_rules(method, missing, expected):
    """``r`` is required (always answered, scores 1), ``o`` optional, ``c`` asked when r = y."""
    scores = [option("x", 0), option("y", 1), option("z", 2)]
    questionnaire = build(
        with_items(
            item("r", required=True, options=[option("x", 1), option("y", 1)]),
            item("o", options=scores),
            item("c", options=scores, enable_when=[{"item": "r", "answer": "y"}]),
        )
    )
    items = {entry.id: entry for entry in questionnaire.items}
    dim = ProfileDimension("dim", ("r", "o", "c"), (Band("a", -10),), method, missing)
    reachable = reachable_scores(dim, items)
    assert all(low == high for low, high in reachable)
    assert [low for low, _ in reachable] == expected


def test_levels_follow_contiguous_bands_with_a_tolerance():
    bands = (Band("low", 0), Band("mid", 0.8), Band("top", 2, 3))
    dim = ProfileDimension("dim", ("a",), bands)
    assert [dim.level(s) for s in (0, 0.7999, 0.7 + 0.1, 1.99, 2, 3, 3.5, -0.1)] == [
        "low",
        "low",
        "mid",
        "mid",
        "top",
        "top",
        None,
        None,
    ]
    assert dim.level(None) is None


# --- version links ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "path", "fragment"),
    [
        ({"version": "1"}, "previous.version", "its own previous version"),
        ({"version": "0", "items": {"zz": "a"}}, "previous.items.zz", "not an item of this"),
        ({"version": "0", "items": {"a": "q", "b": "q"}}, "previous.items", "same previous item"),
        ({"version": "0", "unmapped": ["zz"]}, "previous.unmapped[0]", "not an item"),
        (
            {"version": "0", "items": {"a": "q"}, "unmapped": ["a"]},
            "previous.unmapped[0]",
            "also mapped",
        ),
    ],
)
def test_version_link_checks(previous, path, fragment):
    data = with_items(item("a"), item("b"), previous=previous)
    assert_problem(data, path, fragment)


def test_every_problem_is_reported_at_once():
    data = with_items(
        item("a", text={"en": ""}),
        item("b", "scale"),
        dimensions=[dimension(["zz"], [])],
    )
    assert len(problems_of(data)) >= 4


def test_questionnaires_stay_frozen():
    questionnaire: Questionnaire = build(questionnaire_data())
    with pytest.raises(AttributeError):
        questionnaire.version = "2"  # type: ignore[misc]
