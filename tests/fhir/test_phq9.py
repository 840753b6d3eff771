"""PHQ-9, a published instrument not written for harmonia: imported from FHIR, scored for real.

The questionnaire is the LOINC PHQ-9 form (44249-1) as FHIR R4, with its
scores in the ordinalValue extension. It is imported with a dimension spec
(``harmonia questionnaire import``), shipped by a small pack as the TOML the
import wrote, answered by FHIR QuestionnaireResponses loaded through the
``fhir`` source, and scored by a cycle: every total and severity level below
is the published scoring of the answers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harmonia import CountryProfile, EngagementStrategy, Questionnaire, RuleSet, load_definitions
from harmonia.testing import module_pack

FIXTURES = Path(__file__).parent / "fixtures"
LOINC = "http://loinc.org"
#: LOINC answers of the nine items, by score.
FREQUENCY = ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]

#: Customer -> the nine item scores (None: not answered) and the expected total and level.
CASES: dict[str, tuple[list[int | None], float | None, str | None]] = {
    "P1": ([0] * 9, 0, "minimal"),
    "P2": ([1, 1, 1, 1, 0, 0, 0, 0, 0], 4, "minimal"),
    "P3": ([1, 1, 1, 1, 1, 0, 0, 0, 0], 5, "mild"),
    "P4": ([2, 2, 2, 2, 2, 0, 0, 0, 0], 10, "moderate"),
    "P5": ([3, 3, 3, 2, 2, 1, 1, 0, 0], 15, "moderately_severe"),
    "P6": ([3, 3, 3, 3, 3, 2, 2, 1, 0], 20, "severe"),
    "P7": ([3] * 9, 27, "severe"),
    # Item 9 is optional in the form, but the total needs all nine: unknown, not 8.
    "P8": ([1, 1, 1, 1, 1, 1, 1, 1, None], None, None),
}


def response(phq9: dict[str, Any], customer: str, scores: list[int | None], **extra: Any) -> dict:
    """A QuestionnaireResponse as a FHIR form filler writes it (LOINC codes, nine items)."""
    links = [item["linkId"] for item in phq9["item"][:9]]
    items = [
        {
            "linkId": link,
            "answer": [{"valueCoding": {"system": LOINC, "code": FREQUENCY[score]}}],
        }
        for link, score in zip(links, scores, strict=True)
        if score is not None
    ]
    items.append(
        {"linkId": "/69722-7", "answer": [{"valueCoding": {"system": LOINC, "code": "LA6573-5"}}]}
    )
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "http://loinc.org/q/44249-1",
        "status": "completed",
        "subject": {"identifier": {"system": "https://example.org/patients", "value": customer}},
        "authored": "2026-11-15T10:30:00+01:00",
        "item": items,
        **extra,
    }


@pytest.fixture
def market(tmp_path, harmonia_cli, register_pack, with_fhir_source, phq9, phq9_spec_file):
    """Import PHQ-9, install a pack shipping it, load customers and FHIR responses."""
    imported = tmp_path / "questionnaires"
    result = harmonia_cli(
        "questionnaire", "import", str(FIXTURES / "phq-9.json"),
        "--dimensions", str(phq9_spec_file), "--out", str(imported),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (imported / "phq-9-v1.toml").is_file()
    data = FIXTURES / "psychiatry"
    pack = module_pack(
        "psychiatry",
        harmonia_questionnaires=lambda: load_definitions(Questionnaire, imported),
        harmonia_country_profiles=lambda: load_definitions(CountryProfile, data / "country.toml"),
        harmonia_segmentation_rules=lambda: load_definitions(RuleSet, data / "rules.toml"),
        harmonia_engagement_strategies=lambda: load_definitions(
            EngagementStrategy, data / "strategies.toml"
        ),
    )
    register_pack(pack, name="psychiatry")
    customers = ["customer_id,country,type,first_name,last_name"]
    customers += [f"{c},GB,HCP,Alex,Case{c}" for c in [*CASES, "P9"]]
    (tmp_path / "customers.csv").write_text("\n".join(customers) + "\n")
    entries = [response(phq9, customer, scores) for customer, (scores, _, _) in CASES.items()]
    entries.append(response(phq9, "P9", [0] * 9))
    entries[-1]["item"][0]["answer"][0]["valueCoding"]["code"] = "LA0000-0"  # not an option
    entries.append(response(phq9, "P1", [3] * 9, status="entered-in-error"))
    bundle = {"resourceType": "Bundle", "type": "collection"}
    bundle["entry"] = [{"resource": entry} for entry in entries]
    (tmp_path / "responses.json").write_text(json.dumps(bundle))
    return tmp_path


def test_phq9_scores_through_a_cycle(market, harmonia_cli, harmonia_database, query):
    loaded = harmonia_cli("load", str(market / "customers.csv"), "--country", "GB")
    assert loaded.exit_code == 0, loaded.output
    loaded = harmonia_cli(
        "load", str(market / "responses.json"), "--country", "GB", "--system", "csv",
        "--option", "questionnaire=phq-9", "--json",
    )  # fmt: skip
    assert loaded.exit_code == 0, loaded.output
    (result,) = json.loads(loaded.output)
    # Ten items of eight responses (P8 has nine), P9's ten: one bad answer quarantined.
    assert result["rows_read"] == 7 * 10 + 9 + 10
    quarantined = query(harmonia_database, "SELECT record, reasons FROM quarantine")
    assert result["rows_quarantined"] == len(quarantined) >= 1, result
    assert any("'LA0000-0' is not an option" in reasons for _, reasons in quarantined)
    run = harmonia_cli(
        "cycle", "run", "--country", "GB", "--therapy-area", "psychiatry",
        "--period", "2027-H1", "--out", str(market / "out"),
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    rows = query(
        harmonia_database,
        "SELECT cw.source_id, a.inputs, a.segment FROM assignment a "
        "JOIN crosswalk cw ON cw.customer_id = a.customer_id",
    )
    scored = {source_id: (json.loads(inputs), segment) for source_id, inputs, segment in rows}
    for customer, (_, total, level) in CASES.items():
        inputs, segment = scored[customer]
        assert inputs["phq9_total"] == total, customer
        assert inputs["severity"] == level, customer
        expected = "priority" if level in ("moderately_severe", "severe") else "standard"
        assert segment == expected, customer


def test_the_imported_definition_is_what_the_pack_ships(market):
    (phq9,) = load_definitions(Questionnaire, market / "questionnaires")
    (dimension,) = phq9.dimensions
    assert (dimension.method, dimension.missing) == ("sum", "unknown")
    assert [dimension.level(score) for score in (0, 4, 5, 9, 10, 14, 15, 19, 20, 27)] == [
        "minimal", "minimal", "mild", "mild", "moderate", "moderate",
        "moderately_severe", "moderately_severe", "severe", "severe",
    ]  # fmt: skip
