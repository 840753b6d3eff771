"""FHIR R4 QuestionnaireResponse export and import, through the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import harmonia_oncology
from harmonia.fhir import bundle_rows, read_responses, responses_bundle
from harmonia.fhir import extensions as ext
from harmonia.store import Database

CUSTOMERS = """customer_id,country,type,first_name,last_name,territory
C1,FR,HCP,Claire,Leroy,FR-T001
C2,FR,HCP,Pierre,Durand,FR-T001
C3,FR,HCO,,Institut Curie,FR-T002
"""

#: Every item type, skip logic, a multiple choice, a respondent who is the customer, a time.
RESPONSES = """customer_id,questionnaire,version,respondent,answered_at,question,answer
C1,oncology-profile,2,FR-T001-R1,2026-10-05,patients_per_month,120
C1,oncology-profile,2,FR-T001-R1,2026-10-05,immunotherapy_share,12.5
C1,oncology-profile,2,FR-T001-R1,2026-10-05,tumour_types,lung|breast|other
C1,oncology-profile,2,FR-T001-R1,2026-10-05,novel_therapy_adoption,early
C1,oncology-profile,2,FR-T001-R1,2026-10-05,biomarker_testing,broad_panel
C1,oncology-profile,2,FR-T001-R1,2026-10-05,clinical_trials,true
C1,oncology-profile,2,FR-T001-R1,2026-10-05,trial_role,principal_investigator
C1,oncology-profile,2,FR-T001-R1,2026-10-05,guideline_adherence,4
C1,oncology-profile,2,FR-T001-R1,2026-10-05,last_congress,2026-06-02
C1,oncology-profile,2,FR-T001-R1,2026-10-05,what_matters_most,outcome_evidence
C1,oncology-profile,2,FR-T001-R1,2026-10-05,support_priority,trial_updates
C1,oncology-profile,2,FR-T001-R1,2026-10-05,preferred_channel,webinar
C1,oncology-profile,2,FR-T001-R1,2026-10-05,comment,"Prefers mornings, ""never"" Fridays"
C2,oncology-profile,1,self,2026-03-02T14:05:00,patients_per_month,40
C2,oncology-profile,1,self,2026-03-02T14:05:00,tumour_types,skin
C2,oncology-profile,1,self,2026-03-02T14:05:00,novel_therapy_adoption,wait
C2,oncology-profile,1,self,2026-03-02T14:05:00,biomarker_testing,rarely
C2,oncology-profile,1,self,2026-03-02T14:05:00,clinical_trials,false
C2,oncology-profile,1,self,2026-03-02T14:05:00,what_matters_most,toxicity_support
C3,oncology-profile,2,,2026-09-30,patients_per_month,900
C3,oncology-profile,2,,2026-09-30,tumour_types,haematological
C3,oncology-profile,2,,2026-09-30,novel_therapy_adoption,routine
C3,oncology-profile,2,,2026-09-30,biomarker_testing,guideline_tests
C3,oncology-profile,2,,2026-09-30,clinical_trials,false
C3,oncology-profile,2,,2026-09-30,what_matters_most,care_pathway
C3,oncology-profile,2,,2026-09-30,support_priority,care_services
"""

STORED = """
    SELECT cw.source_id, r.questionnaire, r.version, r.respondent, r.answered_at, a.question,
           a.value
    FROM response r JOIN answer a ON a.response_id = r.id
    JOIN crosswalk cw ON cw.customer_id = r.customer_id
    ORDER BY 1, 2, 3, 4, 5, 6, 7
"""


@pytest.fixture
def oncology(register_pack, with_fhir_source):
    register_pack(harmonia_oncology, name="oncology")
    return with_fhir_source.catalog()


def load_market(url: str, plugins, directory: Path, load, query) -> str:
    """Load the customers and responses above from CSV (system csv) into ``url``."""
    (directory / "customers.csv").write_text(CUSTOMERS)
    (directory / "responses.csv").write_text(RESPONSES)
    results = load(url, plugins, directory / "customers.csv", directory / "responses.csv")
    assert [r.rows_quarantined for r in results] == [0, 0], query(
        url, "SELECT reasons FROM quarantine"
    )
    return url


@pytest.fixture
def loaded(tmp_path, oncology, harmonia_database, load, query) -> str:
    """A SQLite database with the customers and responses above."""
    return load_market(harmonia_database, oncology, tmp_path, load, query)


def test_responses_round_trip_through_fhir_and_the_database(
    loaded, oncology, tmp_path, load, query
):
    database_url = loaded
    before = query(database_url, STORED)
    database = Database(database_url)
    bundle = responses_bundle(read_responses(database, "oncology-profile"), oncology.questionnaires)
    database.engine.dispose()
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle, ensure_ascii=False))
    # Into a store that has the customers only.
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    Database(fresh).upgrade()
    load(fresh, oncology, tmp_path / "customers.csv")
    assert query(fresh, STORED) == []
    (result,) = load(fresh, oncology, path, system="csv")
    assert (result.source, result.rows_read, result.rows_quarantined) == ("fhir", 26, 0)
    assert len(before) == 28 and query(fresh, STORED) == before  # options one a row


def test_stored_responses_are_read_alike_on_every_database(database_url):
    """The export's query, on SQLite and PostgreSQL (records written through the ORM,
    responses and answers through the facts store: Parquet on SQLite, tables on PostgreSQL)."""
    from harmonia.compute import duckdb_connection
    from harmonia.store.bulk import BulkConnection
    from harmonia.store.facts import facts_of
    from harmonia.store.models import Crosswalk, Customer, LoadBatch

    database = Database(database_url)
    with database.session() as session:
        batches = [
            LoadBatch(source=s, system=s, kind="responses", location="-", status="loaded")
            for s in ("crm", "fhir")
        ]
        session.add_all(batches)
        session.flush()
        crm, fhir = (batch.id for batch in batches)
        rows = [
            [
                Customer(id=1, country="FR", type="HCP", last_name="A", territory="T1",
                         first_batch_id=crm, batch_id=crm),
                Customer(id=2, country="FR", type="HCO", last_name="B", territory="T2",
                         first_batch_id=crm, batch_id=crm),
            ],
            [
                Crosswalk(system="crm", source_id="K1", customer_id=1, batch_id=crm),
                Crosswalk(system="crm", source_id="K2", customer_id=2, batch_id=crm),
                Crosswalk(system="fhir", source_id="F1", customer_id=1, batch_id=fhir),
            ],
        ]  # fmt: skip
        for rows_of_a_level in rows:  # parents first: the models declare no relationships
            session.add_all(rows_of_a_level)
            session.flush()
        session.commit()
    facts = {
        crm: (
            "SELECT 1 AS id, 1 AS customer_id, 'q' AS questionnaire, '1' AS version, "
            f"'' AS respondent, '2026-01-02T00:00:00' AS answered_at, {crm} AS batch_id",
            "SELECT * FROM (VALUES (1, 'a', 'x'), (1, 'a', 'y')) t(response_id, question, value)",
        ),
        fhir: (
            "SELECT 2 AS id, 2 AS customer_id, 'q' AS questionnaire, '2' AS version, "
            f"'r' AS respondent, '2026-01-03T10:00:00' AS answered_at, {fhir} AS batch_id",
            "SELECT 2 AS response_id, 'b' AS question, '1' AS value",
        ),
    }
    duck = duckdb_connection()
    with BulkConnection(database) as bulk:
        for batch, (response, answers) in facts.items():
            facts_of(database).write(bulk, duck, "response", batch, response, new=True)
            facts_of(database).write(bulk, duck, "answer", batch, answers, new=True)
    duck.close()
    every = read_responses(database, "q")
    assert [(r.customer, r.system, r.answers) for r in every] == [
        ("K1", "crm", {"a": ("x", "y")}),
    ]  # K2's response came with system fhir, which does not know it
    by_crm = read_responses(database, "q", system="crm", customers=["K2"])
    assert [(r.customer, r.customer_type, r.respondent) for r in by_crm] == [("K2", "HCO", "r")]
    assert [r.customer for r in read_responses(database, "q", territory="T1", system="fhir")] == [
        "F1"
    ]
    database.engine.dispose()


def test_export_is_valid_typed_fhir(loaded, oncology):
    stored = read_responses(Database(loaded), "oncology-profile", customers=["C1", "C2"])
    bundle = responses_bundle(stored, dict(oncology.questionnaires))
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    by_customer = {e["resource"]["subject"]["identifier"]["value"]: e for e in bundle["entry"]}
    assert sorted(by_customer) == ["C1", "C2"]
    c1 = by_customer["C1"]["resource"]
    assert by_customer["C1"]["fullUrl"] == f"urn:uuid:{c1['id']}"
    assert c1["questionnaire"] == ext.QUESTIONNAIRE_BASE + "oncology-profile|2"
    assert c1["subject"]["identifier"]["system"] == ext.SOURCE_SYSTEM_BASE + "csv"
    assert c1["subject"]["display"] == "Claire Leroy"
    assert c1["author"]["identifier"]["value"] == "FR-T001-R1"
    assert c1["authored"] == "2026-10-05"
    answers = {item["linkId"]: item["answer"] for group in c1["item"] for item in group["item"]}
    assert [group["linkId"] for group in c1["item"]] == ["practice", "behaviour", "needs"]
    assert answers["patients_per_month"] == [{"valueInteger": 120}]
    assert answers["immunotherapy_share"] == [{"valueDecimal": 12.5}]
    assert [a["valueCoding"]["code"] for a in answers["tumour_types"]] == [
        "lung",
        "breast",
        "other",
    ]
    assert answers["tumour_types"][0]["valueCoding"]["display"] == "Lung cancer"
    assert answers["clinical_trials"] == [{"valueBoolean": True}]
    assert answers["guideline_adherence"] == [{"valueInteger": 4}]
    assert answers["last_congress"] == [{"valueDate": "2026-06-02"}]
    c2 = by_customer["C2"]["resource"]
    assert c2["source"] == c2["subject"] and "author" not in c2  # the customer answered
    assert c2["authored"] == "2026-03-02T14:05:00Z"
    again = responses_bundle(stored, dict(oncology.questionnaires))
    assert again == bundle  # stable ids: an export twice is the same document


def test_a_bad_bundle_is_quarantined_with_its_reasons(
    oncology, harmonia_database, tmp_path, load, query
):
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    load(harmonia_database, oncology, tmp_path / "customers.csv")
    answers = [
        ("patients_per_month", {"valueInteger": 5000}),
        ("tumour_types", {"valueCoding": {"code": "lung"}}),
        ("novel_therapy_adoption", {"valueCoding": {"code": "sometimes"}}),
        ("no_such_item", {"valueString": "?"}),
    ]
    bundle = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": ext.QUESTIONNAIRE_BASE + "oncology-profile|2",
        "status": "completed",
        "subject": {"identifier": {"value": "C1"}},
        "authored": "2026-10-05",
        "item": [{"linkId": link, "answer": [answer]} for link, answer in answers],
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bundle))
    (result,) = load(harmonia_database, oncology, path, system="csv")
    assert result.rows_read == 4 and result.rows_quarantined >= 3
    reasons = " ".join(r for (r,) in query(harmonia_database, "SELECT reasons FROM quarantine"))
    assert "'5000' to patients_per_month" in reasons
    assert "'sometimes' is not an option of novel_therapy_adoption" in reasons
    assert "'no_such_item' is not an item" in reasons


def test_bundle_rows_reads_nested_items_respondents_and_times(oncology_versions):
    resources = [
        {
            "resourceType": "QuestionnaireResponse",
            "questionnaire": "Questionnaire/oncology-profile",
            "status": "amended",
            "subject": {"reference": "Practitioner/C7"},
            "source": {"reference": "Practitioner/C7"},
            "authored": "2026-10-05T23:30:00-02:00",
            "item": [
                {
                    "linkId": "behaviour",
                    "item": [
                        {
                            "linkId": "clinical_trials",
                            "answer": [
                                {
                                    "valueBoolean": True,
                                    "item": [
                                        {
                                            "linkId": "trial_role",
                                            "answer": [{"valueCoding": {"code": "referrer"}}],
                                        }
                                    ],
                                }
                            ],
                        }
                    ],
                },
                {"linkId": "immunotherapy_share", "answer": [{"valueDecimal": 2.125}]},
                {"linkId": "unanswered"},
            ],
        },
        {"resourceType": "QuestionnaireResponse", "status": "entered-in-error", "item": []},
        {"resourceType": "Patient"},
    ]
    document = {"resourceType": "Bundle", "entry": [{"resource": r} for r in resources]}
    read = bundle_rows(document, installed=oncology_versions)
    assert read.skipped == 1
    assert [(r["question"], r["answer"]) for r in read.rows] == [
        ("clinical_trials", "true"),
        ("trial_role", "referrer"),
        ("immunotherapy_share", "2.1250"),
    ]
    first = read.rows[0]
    assert first["customer_id"] == "C7" and first["respondent"] == "self"
    assert (first["questionnaire"], first["version"]) == ("oncology-profile", "2")
    assert first["answered_at"] == "2026-10-06T01:30:00"  # UTC, as exports write it


def test_the_export_command_writes_a_bundle(loaded, harmonia_cli, tmp_path: Path):
    out = tmp_path / "c1.json"
    result = harmonia_cli(
        "questionnaire", "export", "oncology-profile", "--responses", "--customer", "C1",
        "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    bundle = json.loads(out.read_text())
    assert [e["resource"]["subject"]["identifier"]["value"] for e in bundle["entry"]] == ["C1"]
    territory = harmonia_cli(
        "questionnaire", "export", "oncology-profile", "--responses", "--territory", "FR-T002"
    )
    (entry,) = json.loads(territory.output)["entry"]
    assert entry["resource"]["subject"]["type"] == "Organization"
