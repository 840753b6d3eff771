"""Questionnaire answers: valid, within bounds, honouring skip logic and required items."""

from __future__ import annotations

import datetime as dt

import attrs
import numpy as np
import pyarrow.compute as pc
import pytest
from synthetic_checks import answer_problem, enabled, tables

from harmonia import EnableWhen
from harmonia_synthetic import generate
from harmonia_synthetic.responses import dependency_order


@pytest.fixture(scope="module")
def universe(questionnaire):
    return tables(generate(6_000, seed=11, questionnaire=questionnaire, coverage=0.3))


@pytest.fixture(scope="module")
def answers(universe) -> dict[str, dict[str, str]]:
    """Each respondent's answers by item."""
    found: dict[str, dict[str, str]] = {}
    for row in universe["responses"].to_pylist():
        found.setdefault(row["customer_id"], {})[row["question"]] = row["answer"]
    return found


def test_every_answer_is_one_the_item_accepts(universe, questionnaire):
    for row in universe["responses"].to_pylist():
        item = questionnaire.item(row["question"])
        assert answer_problem(item, row["answer"]) is None, row


def test_skip_logic_and_required_items(answers, questionnaire):
    optional_skipped = 0
    for customer, given in answers.items():
        for item in questionnaire.items:
            if not enabled(item, given, questionnaire):
                assert item.id not in given, (customer, item.id)
            elif item.required:
                assert item.id in given, (customer, item.id)
            else:
                optional_skipped += item.id not in given
    assert optional_skipped > 0  # optional items are sometimes left out
    # every branch of the skip logic is taken at least once
    assert any("trial_count" in given for given in answers.values())
    assert any(given.get("trial_site") == "no" for given in answers.values())
    assert any("last_congress" in given for given in answers.values())
    assert any("last_congress" not in given for given in answers.values())
    assert any(given.get("adoption_stage") == "aware" for given in answers.values())


def test_coverage_respondents_and_dates(universe, questionnaire):
    customers, responses = universe["customers"], universe["responses"]
    hcps = customers.filter(pc.equal(customers["type"], "HCP"))
    respondents = set(responses["customer_id"].to_pylist())
    assert respondents <= set(hcps["customer_id"].to_pylist())
    assert 0.26 < len(respondents) / hcps.num_rows < 0.34
    territory = dict(
        zip(*(customers[c].to_pylist() for c in ("customer_id", "territory")), strict=True)
    )
    per_customer = {}
    for row in responses.to_pylist():
        assert row["respondent"].rsplit("-R", 1)[0] == territory[row["customer_id"]]
        assert row["version"] == questionnaire.version and row["questionnaire"] == questionnaire.id
        answered_at = dt.date.fromisoformat(row["answered_at"])
        assert dt.date(2025, 7, 1) <= answered_at < dt.date(2027, 1, 1)
        per_customer.setdefault(row["customer_id"], set()).add(
            (row["respondent"], row["answered_at"])
        )
    assert all(len(visits) == 1 for visits in per_customer.values())  # one response each


def test_answers_lean_with_potential(universe):
    metrics = universe["metrics"]
    potential = dict(
        zip(
            *(
                metrics.filter(pc.equal(metrics["metric"], "potential"))[c].to_pylist()
                for c in ("customer_id", "value")
            ),
            strict=True,
        )
    )
    stage = {
        row["customer_id"]: row["answer"]
        for row in universe["responses"].to_pylist()
        if row["question"] == "adoption_stage"
    }
    median = {
        code: np.median([potential[c] for c, answer in stage.items() if answer == code])
        for code in ("aware", "advocate")
    }
    assert median["advocate"] > 2 * median["aware"]


def test_multiple_choice_answers_are_distinct_codes_joined_by_bars(universe):
    responses = universe["responses"]
    tests = responses.filter(pc.equal(responses["question"], "biomarker_tests"))[
        "answer"
    ].to_pylist()
    assert any("|" in answer for answer in tests)
    assert all(
        answer.split("|") == sorted(answer.split("|"), key=["ngs", "pcr", "ihc"].index)
        for answer in tests
    )


def test_conditions_are_answered_in_dependency_order(questionnaire):
    reordered = attrs.evolve(questionnaire, items=tuple(reversed(questionnaire.items)))
    order = [item.id for item in dependency_order(reordered.items)]
    assert order.index("uses_biomarkers") < order.index("biomarker_tests") < order.index("notes")
    batches = generate(500, questionnaire=reordered)
    assert tables(batches)["responses"].num_rows > 0


def test_circular_conditions_are_refused(questionnaire):
    first, second = questionnaire.items[:2]
    circular = [
        attrs.evolve(first, enable_when=(EnableWhen(second.id, "exists", True),)),
        attrs.evolve(second, enable_when=(EnableWhen(first.id, "exists", True),)),
    ]
    with pytest.raises(ValueError, match="cycle"):
        dependency_order(circular)
