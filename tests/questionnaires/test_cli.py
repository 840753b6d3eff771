"""``harmonia questionnaire list | show | validate`` and the coverage table of ``cycle run``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qhelpers import customers

ONCOLOGY = Path(__file__).parents[2] / "therapy_areas/oncology/harmonia_oncology/questionnaires"


@pytest.mark.parametrize(
    "command",
    [
        ["questionnaire"],
        ["questionnaire", "list"],
        ["questionnaire", "show"],
        ["questionnaire", "validate"],
    ],
)
def test_help(harmonia_cli, command):
    result = harmonia_cli(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_list(oncology, harmonia_cli):
    result = harmonia_cli("questionnaire", "list", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert [(q["id"], q["version"]) for q in found] == [
        ("oncology-profile", "1"),
        ("oncology-profile", "2"),
    ]
    assert found[1]["languages"] == ["en", "fr", "de"]
    assert found[1]["dimensions"] == ["adoption", "need", "scientific_engagement"]
    assert found[1]["pack"] == "oncology" and found[1]["previous"] == "1"
    table = harmonia_cli("questionnaire", "list", "--therapy-area", "oncology").output
    assert "oncology" in table and "en, fr, de" in table


def test_list_without_questionnaires(harmonia_cli):
    result = harmonia_cli("questionnaire", "list")
    assert result.exit_code == 0 and "No questionnaires installed" in result.output


def test_show_in_a_language(oncology, harmonia_cli):
    wide = {"COLUMNS": "300"}  # one line per table row, whatever the terminal
    result = harmonia_cli("questionnaire", "show", "oncology-profile", "--language", "fr", env=wide)
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "Questionnaire de profil des professionnels de santé en oncologie" in output
    assert "clinical_trials = true" in output  # skip logic of trial_role
    assert "dimension need" in output
    assert "answers to version 1: not comparable" in output


def test_show_as_json(oncology, harmonia_cli):
    result = harmonia_cli("questionnaire", "show", "oncology-profile", "--version", "1", "--json")
    data = json.loads(result.output)
    assert data["version"] == "1" and len(data["items"]) == 12
    assert data["comparability"]["need"]["1"]["comparable"] is False


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["nope"], "no questionnaire 'nope' is installed"),
        (["oncology-profile", "--version", "9"], "has no version '9'"),
        (["oncology-profile", "--language", "es"], "is not written in 'es'"),
    ],
)
def test_show_errors(oncology, harmonia_cli, arguments, message):
    result = harmonia_cli("questionnaire", "show", *arguments)
    assert result.exit_code == 1 and message in result.output


def test_validate_good_files(harmonia_cli):
    files = sorted(str(path) for path in ONCOLOGY.glob("*.toml"))
    result = harmonia_cli("questionnaire", "validate", *files)
    assert result.exit_code == 0, result.output
    assert result.output.count("ok ") == 2


def test_validate_reports_every_problem_with_its_path(harmonia_cli, tmp_path):
    text = (ONCOLOGY / "oncology-profile-v2.toml").read_text(encoding="utf-8")
    text = text.replace('text.de = "Welche Tumorentitäten behandeln Sie regelmäßig?"\n', "")
    text = text.replace(
        '{ level = "balanced", min = -0.5 }', '{ level = "balanced", min = -0.5, max = 0 }'
    )
    text = text.replace("[previous.items]\n", '[previous.items]\nrenamed = "ghost"\n')
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    good = ONCOLOGY / "oncology-profile-v1.toml"
    result = harmonia_cli("questionnaire", "validate", "--json", str(good), str(bad))
    assert result.exit_code == 1
    verdicts = json.loads(result.output)
    assert verdicts["ok"] is False and verdicts["files"][0]["ok"] is True
    paths = {problem["path"] for problem in verdicts["files"][1]["problems"]}
    assert paths == {"items[2].text", "dimensions[1].bands", "previous.items.renamed"}
    table = harmonia_cli("questionnaire", "validate", str(bad))
    assert table.exit_code == 1 and "3 problems in" in table.output


def test_validate_checks_the_mapping_against_the_previous_version(harmonia_cli, tmp_path):
    text = (ONCOLOGY / "oncology-profile-v2.toml").read_text(encoding="utf-8")
    text = text.replace('comment = "comment"\n', 'comment = "comment"\nsupport_priority = "gone"\n')
    newer = tmp_path / "v2.toml"
    newer.write_text(text, encoding="utf-8")
    result = harmonia_cli(
        "questionnaire",
        "validate",
        "--json",
        str(ONCOLOGY / "oncology-profile-v1.toml"),
        str(newer),
    )
    (problem,) = json.loads(result.output)["files"][1]["problems"]
    assert problem["path"] == "previous.items.support_priority"
    assert "'gone' is not an item of version 1" in problem["message"]


def test_cycle_run_shows_and_stores_the_profile_coverage(oncology, load, harmonia_cli, tmp_path):
    load(oncology, "customers", customers(3))
    answers = {
        "patients_per_month": "10",
        "tumour_types": "lung",
        "novel_therapy_adoption": "early",
        "biomarker_testing": "rarely",
        "clinical_trials": "false",
        "what_matters_most": "care_pathway",
        "support_priority": "care_services",
    }
    rows = [
        ("C0001", "oncology-profile", "2", "R1", "2026-10-01", q, a) for q, a in answers.items()
    ]
    load(oncology, "responses", rows)
    run = ["cycle", "run", "-c", "FR", "-t", "oncology", "-p", "2027-H1", "--out", str(tmp_path)]
    result = harmonia_cli(*run)
    assert result.exit_code == 0, result.output
    assert "profile coverage (oncology-profile) of 3 customers" in result.output
    as_json = json.loads(harmonia_cli(*run, "--json").stdout)
    adoption = as_json["profile_coverage"][0]
    assert (adoption["dimension"], adoption["scored"], adoption["unanswered"]) == ("adoption", 1, 2)
    shown = harmonia_cli("cycle", "show", "1")
    assert shown.exit_code == 0 and "profile coverage" in shown.output
    stored = json.loads(harmonia_cli("cycle", "show", "1", "--json").output)
    assert stored["summary"]["profile_coverage"][1]["dimension"] == "need"
