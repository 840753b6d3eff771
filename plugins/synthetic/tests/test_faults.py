"""error_rate: bad rows at about that rate, of every kind, and none at 0."""

from __future__ import annotations

import pyarrow as pa
import pytest
from synthetic_checks import bad_rows, tables

from harmonia_synthetic import generate
from harmonia_synthetic.faults import invalid_answer


@pytest.fixture(scope="module")
def schemes(rpps, finess):
    return {scheme.name: scheme for scheme in (rpps, finess)}


def universe(questionnaire, schemes, error_rate):
    batches = generate(
        4_000,
        seed=5,
        questionnaire=questionnaire,
        identifier_schemes=list(schemes.values()),
        coverage=0.5,
        error_rate=error_rate,
    )
    return tables(batches)


def test_no_bad_rows_by_default(questionnaire, schemes):
    found = universe(questionnaire, schemes, 0.0)
    assert bad_rows(found, country="FR", schemes=schemes, questionnaire=questionnaire) == {
        "customers": 0,
        "metrics": 0,
        "responses": 0,
    }
    assert found["metrics"].schema.field("value").type == pa.float64()


def test_bad_rows_at_about_the_rate(questionnaire, schemes):
    found = universe(questionnaire, schemes, 0.05)
    counts = bad_rows(found, country="FR", schemes=schemes, questionnaire=questionnaire)
    for kind, count in counts.items():
        share = count / found[kind].num_rows
        assert 0.035 < share < 0.065, (kind, share)
    assert found["metrics"].schema.field("value").type == pa.string()


def test_every_kind_of_fault_occurs(questionnaire, schemes):
    found = universe(questionnaire, schemes, 0.1)
    customers, metrics = (found[kind].to_pylist() for kind in ("customers", "metrics"))
    assert {"XX", "ZZ", "FRA"} <= {row["country"] for row in customers}
    assert any(row["period"] == "2027-Q5" for row in metrics)
    assert any(row["value"] == "#VALUE!" for row in metrics)
    known = {row["customer_id"] for row in customers}
    assert any(row["customer_id"] not in known for row in metrics)
    responses = found["responses"].to_pylist()
    assert any(row["answer"] == "not_offered" for row in responses)
    assert any(row["customer_id"] not in known for row in responses)


def test_faults_leave_the_clean_rows_alone(questionnaire, schemes):
    clean = universe(questionnaire, schemes, 0.0)["customers"]
    spoiled = universe(questionnaire, schemes, 0.05)["customers"]
    same = sum(a == b for a, b in zip(clean.to_pylist(), spoiled.to_pylist(), strict=True))
    assert 0.93 < same / clean.num_rows < 0.97


def test_invalid_answers_by_item_type(questionnaire):
    by_id = {item.id: invalid_answer(item) for item in questionnaire.items}
    assert by_id["adoption_stage"] == "not_offered"
    assert by_id["patients_per_month"] == "201"
    assert by_id["outcome_focus"] == "6"
    assert by_id["uses_biomarkers"] == "maybe"
    assert by_id["notes"] is None
