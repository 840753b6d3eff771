"""``harmonia questionnaire export | import`` through click's runner."""

from __future__ import annotations

import json
import tomllib

import pytest

import harmonia_oncology
from harmonia import Questionnaire, load_definitions
from harmonia.definitions import structure
from harmonia.fhir import from_fhir


@pytest.fixture
def cli(harmonia_cli, register_pack):
    register_pack(harmonia_oncology, name="oncology")
    return harmonia_cli


@pytest.mark.parametrize("command", ["export", "import"])
def test_help(cli, command):
    result = cli("questionnaire", command, "--help")
    assert result.exit_code == 0
    assert "FHIR" in result.output


def test_export_then_import_gives_back_the_installed_questionnaire(
    cli, tmp_path, oncology_versions
):
    for original in oncology_versions:
        path = tmp_path / f"v{original.version}.json"
        exported = cli(
            "questionnaire", "export", "oncology-profile", "--version", original.version,
            "--out", str(path),
        )  # fmt: skip
        assert exported.exit_code == 0, exported.output
        assert from_fhir(json.loads(path.read_text())).questionnaire == original
        imported = cli("questionnaire", "import", str(path), "--out", str(tmp_path / "pack"))
        assert imported.exit_code == 0, imported.output
        assert "oncology-profile version" in imported.output
    shipped = load_definitions(Questionnaire, tmp_path / "pack")
    assert sorted(shipped, key=lambda q: q.version) == oncology_versions


def test_export_to_stdout_and_as_toml(cli, oncology_versions):
    fhir = cli("questionnaire", "export", "oncology-profile")
    assert json.loads(fhir.output)["version"] == "2"
    toml = cli("questionnaire", "export", "oncology-profile", "--version", "1", "--format", "toml")
    assert structure(tomllib.loads(toml.output), Questionnaire, where="t") == oncology_versions[0]


def test_import_validates_and_reports_notes_as_json(cli, phq9_spec_file):
    from pathlib import Path

    phq9 = Path(__file__).parent / "fixtures" / "phq-9.json"
    result = cli(
        "questionnaire", "import", str(phq9), "--dimensions", str(phq9_spec_file), "--json"
    )
    assert result.exit_code == 0, result.output
    (summary,) = json.loads(result.output)
    assert summary["id"] == "phq-9" and summary["file"] is None
    assert summary["dimensions"] == ["depression_severity"]
    assert summary["items"] == 11
    assert summary["notes"]


def test_import_of_a_foreign_form_without_therapy_area_fails_clearly(cli, tmp_path):
    from pathlib import Path

    phq9 = Path(__file__).parent / "fixtures" / "phq-9.json"
    result = cli("questionnaire", "import", str(phq9))
    assert result.exit_code == 1
    assert "no therapy area" in result.output and "--therapy-area" in result.output
    assert cli("questionnaire", "import", str(phq9), "--therapy-area", "psychiatry").exit_code == 0


def test_import_refuses_what_is_not_a_questionnaire(cli, tmp_path):
    path = tmp_path / "patient.json"
    path.write_text('{"resourceType": "Patient"}')
    result = cli("questionnaire", "import", str(path))
    assert result.exit_code == 1
    assert "no FHIR Questionnaire in this file" in result.output
    path.write_text("{not json")
    assert "not valid JSON" in cli("questionnaire", "import", str(path)).output


def test_export_of_an_unknown_questionnaire_lists_what_is_installed(cli):
    result = cli("questionnaire", "export", "cardio-profile")
    assert result.exit_code == 1
    assert "oncology-profile" in result.output
