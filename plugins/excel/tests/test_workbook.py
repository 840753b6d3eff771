"""``harmonia questionnaire workbook``: writing a rep workbook, and loading it back filled."""

from __future__ import annotations

import datetime as dt
import importlib
import sqlite3

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

import harmonia_excel
from harmonia.testing import query_store
from harmonia_excel.cli import workbook
from harmonia_excel.metadata import SHEET, WorkbookMeta

DATE = dt.date(2026, 11, 2)
#: A complete response as a French rep fills it in: option texts, Oui/Non, a code.
COMPLETE = {
    "answered_at": DATE,
    "patients_per_month": 120,
    ("tumour_types", "lung"): "Oui",
    "novel_therapy_adoption": "Je l'utilise couramment chez les patients éligibles dans les "
    "mois qui suivent",
    "biomarker_testing": "case_by_case",
    "clinical_trials": "Non",
    "what_matters_most": "Des outils pratiques qui font gagner du temps en consultation",
    "support_priority": "Des données en vie réelle sur des patients comparables aux miens",
}


def stored(url: str) -> list[tuple]:
    """Stored answers: (source id, version, respondent, answered_at, question, value)."""
    rows = query_store(
        url,
        "SELECT cw.source_id, r.version, r.respondent, r.answered_at, a.question, a.value "
        "FROM response r JOIN answer a ON a.response_id = r.id "
        "JOIN crosswalk cw ON cw.customer_id = r.customer_id ORDER BY 1, 5, 6",
    )
    return [tuple(row.values()) for row in rows]


def quarantined(url: str) -> list[str]:
    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return [reasons for (reasons,) in connection.execute("SELECT reasons FROM quarantine")]
    finally:
        connection.close()


# --- the command ----------------------------------------------------------------------


def test_help_explains_the_command():
    result = CliRunner().invoke(workbook, ["--help"])
    assert result.exit_code == 0
    for option in ("--therapy-area", "--country", "--territory", "--out", "--system"):
        assert option in result.output


def test_it_joins_the_questionnaire_group():
    records = harmonia_excel.harmonia_commands()
    assert [(r.group, r.name) for r in records] == [
        ("questionnaire", "workbook"),
        ("refinement", "workbook"),
        ("refinement", "submit"),
    ]
    record = records[0]
    module, _, attribute = record.path.partition(":")
    assert getattr(importlib.import_module(module), attribute) is workbook


def test_it_runs_through_the_harmonia_cli(harmonia_cli, catalog):
    result = harmonia_cli("questionnaire", "workbook", "--help")
    assert result.exit_code == 0, result.output


def test_only_one_type_of_customers(market, workbook_command):
    out = market / "hcp.xlsx"
    result = workbook_command(
        "--therapy-area", "oncology", "--country", "FR", "--territory", "FR-T001",
        "--type", "HCP", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    sheet = load_workbook(out)["Profilage"]
    assert [sheet.cell(row, 1).value for row in range(4, sheet.max_row + 1)] == ["C4", "C1", "C3"]


def test_unknown_territory_lists_the_known_ones(market, workbook_command):
    result = workbook_command(
        "--therapy-area", "oncology", "--country", "FR", "--territory", "FR-T404",
        "--out", str(market / "x.xlsx"),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "FR-T001, FR-T002" in result.output


# --- the workbook -----------------------------------------------------------------------


def test_the_workbook_is_in_french_with_one_row_per_customer(territory_workbook):
    workbook = load_workbook(territory_workbook)
    assert workbook.sheetnames == ["Profilage", "Mode d'emploi", SHEET]
    sheet = workbook["Profilage"]
    assert sheet.freeze_panes == "F4"
    assert [sheet.cell(2, c).value for c in range(1, 6)] == [
        "ID client", "Nom", "Spécialité", "Ville", "Date du profilage",
    ]  # fmt: skip
    ids = [sheet.cell(row, 1).value for row in range(4, sheet.max_row + 1)]
    assert ids == ["C4", "C2", "C1", "C3"]  # by name; FR-T002's customer is not there
    assert sheet["B4"].value == "=Paul Bernard" and sheet["B4"].data_type == "s"
    assert sheet["F1"].value == "Votre activité"
    assert sheet["F2"].value.startswith("Combien de patients") and sheet["F2"].value.endswith("*")
    assert sheet["F2"].comment.text.startswith("Comptez chaque patient")
    assert sheet["H3"].value == "Cancer du poumon"  # options under their question
    assert "Mode d'emploi" in workbook.sheetnames
    instructions = [row[0] for row in workbook["Mode d'emploi"].iter_rows(values_only=True)]
    assert instructions[-1].endswith("load FR-T001.xlsx --country FR --system csv")


def test_drop_downs_bounds_and_dates_are_validated(territory_workbook):
    workbook = load_workbook(territory_workbook)
    sheet = workbook["Profilage"]
    meta = WorkbookMeta.read(workbook)
    letters = {(c.item, c.option): c.letter for c in meta.columns}
    validations = {str(v.sqref).split(":")[0]: v for v in sheet.data_validations.dataValidation}
    patients = validations[f"{letters[('patients_per_month', '')]}4"]
    assert (patients.type, patients.operator, patients.formula1, patients.formula2) == (
        "whole", "between", "0", "1500",
    )  # fmt: skip
    adoption = validations[f"{letters[('novel_therapy_adoption', '')]}4"]
    assert adoption.type == "list" and adoption.formula1.startswith(f"'{SHEET}'!$D$")
    texts = [c.text for c in meta.choices_of("novel_therapy_adoption")]
    assert texts[0].startswith("J'attends les retours")
    scale = validations[f"{letters[('guideline_adherence', '')]}4"]
    assert scale.formula1 == '"1,2,3,4,5"'
    assert validations["E4"].type == "date"


def test_the_metadata_sheet_is_hidden_and_protected(territory_workbook):
    workbook = load_workbook(territory_workbook)
    sheet = workbook[SHEET]
    assert sheet.sheet_state == "hidden" and sheet.protection.sheet
    meta = WorkbookMeta.read(workbook)
    assert (meta.questionnaire, meta.version, meta.country, meta.language) == (
        "oncology-profile", "2", "FR", "fr",
    )  # fmt: skip
    assert (meta.system, meta.respondent, meta.territory) == ("csv", "FR-T001", "FR-T001")
    options = {c.option for c in meta.columns if c.item == "tumour_types"}
    assert "lung" in options and len(options) == 10


def test_the_language_follows_the_country_or_the_option(market, workbook_command):
    out = market / "de.xlsx"
    result = workbook_command(
        "--therapy-area", "oncology", "--country", "FR", "--territory", "FR-T001",
        "--language", "de-AT", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert load_workbook(out).sheetnames[0] == "Profilierung"
    out = market / "pt.xlsx"
    result = workbook_command(
        "--therapy-area", "oncology", "--country", "FR", "--territory", "FR-T001",
        "--language", "pt", "--out", str(out),
    )  # fmt: skip
    assert "no 'pt' texts" in result.output
    assert load_workbook(out).sheetnames[0] == "Profiling"


# --- back in ------------------------------------------------------------------------------


def test_a_filled_workbook_loads_back_as_responses(
    territory_workbook, fill, load, harmonia_database
):
    fill(
        territory_workbook,
        {
            "C1": {
                "answered_at": DATE,
                "patients_per_month": 120,
                "immunotherapy_share": 12.125,
                ("tumour_types", "lung"): "Oui",
                ("tumour_types", "breast"): "x",
                ("tumour_types", "skin"): "Non",
                "novel_therapy_adoption": "Je l'essaie chez quelques patients soigneusement "
                "sélectionnés",
                "biomarker_testing": "broad_panel",  # a code is understood too
                "clinical_trials": "Oui",
                "trial_role": "Investigateur principal",
                "guideline_adherence": 4,
                "last_congress": dt.date(2026, 6, 2),
                "what_matters_most": "De nouvelles données sur la survie et les résultats à "
                "long terme",
                "support_priority": "Des échanges entre pairs autour de cas complexes",
                "comment": "À revoir ; merci",
            },
        },
    )
    (result,) = load(territory_workbook, system="csv")
    assert (result.source, result.rows_read, result.rows_quarantined) == ("xlsx", 12, 0)
    answers = {(q, v) for _, _, _, _, q, v in stored(harmonia_database)}
    assert answers >= {
        ("patients_per_month", "120"),
        ("immunotherapy_share", "12.125"),
        ("tumour_types", "lung"),
        ("tumour_types", "breast"),
        ("novel_therapy_adoption", "selected"),
        ("biomarker_testing", "broad_panel"),
        ("clinical_trials", "true"),
        ("trial_role", "principal_investigator"),
        ("last_congress", "2026-06-02"),
        ("support_priority", "peer_exchange"),
        ("comment", "À revoir ; merci"),
    }
    (first,) = {row[:4] for row in stored(harmonia_database)}
    assert first == ("C1", "2", "FR-T001", "2026-11-02T00:00:00")


def test_wrong_answers_are_quarantined_with_their_reasons(
    territory_workbook, fill, load, harmonia_database
):
    fill(
        territory_workbook,
        {
            "C1": {"answered_at": DATE, "patients_per_month": 5000},
            "C3": {"answered_at": DATE, "novel_therapy_adoption": "Parfois"},
            "C2": {"patients_per_month": 10},  # no date
        },
    )
    (result,) = load(territory_workbook, system="csv")
    assert result.rows_read == 3 and result.rows_quarantined == 3
    reasons = " ".join(quarantined(harmonia_database))
    # Named as the rep saw them, the question's text, with its code.
    assert "'5000' to «Combien de patients atteints de cancer" in reasons
    assert "(patients/month) *» (patients_per_month) is above the maximum 1500" in reasons
    assert "'Parfois' is not an option of «Lorsqu'un nouveau traitement" in reasons
    assert "comment procédez-vous en général ? *» (novel_therapy_adoption)" in reasons
    # ... and the options as its drop-down list showed them, for that question only.
    assert (
        "(options: «J'attends les retours d'expérience en vie réelle et l'actualisation "
        "des recommandations avant de l'utiliser» (wait), «Je l'essaie chez quelques "
        "patients soigneusement sélectionnés» (selected), " in reasons
    )
    assert "(options: wait selected" not in reasons
    assert "answered_at is empty" in reasons
    # Each rejected answer is reported at its customer's row of the answer sheet.
    sheet = load_workbook(territory_workbook)["Profilage"]
    rows = {row[0].value: row[0].row for row in sheet.iter_rows(min_row=4) if row[0].value}
    connection = sqlite3.connect(harmonia_database.removeprefix("sqlite:///"))
    try:
        where = connection.execute(
            "SELECT location, row_number, json_extract(record, '$.customer_id') FROM quarantine"
        ).fetchall()
    finally:
        connection.close()
    assert {(row, customer) for _, row, customer in where} == {
        (rows[c], c) for c in ("C1", "C2", "C3")
    }
    assert all(location.endswith(".xlsx [Profilage]") for location, _, _ in where)


def test_moved_columns_and_untouched_rows_do_no_harm(
    territory_workbook, fill, load, harmonia_database
):
    fill(territory_workbook, {"C3": {**COMPLETE, "patients_per_month": 42}})
    workbook = load_workbook(territory_workbook)
    sheet = workbook["Profilage"]
    sheet.insert_cols(2)  # a rep's own column, moving every question right
    sheet["B2"] = "Mes notes"
    workbook.save(territory_workbook)
    (result,) = load(territory_workbook, system="csv")
    assert (result.rows_read, result.rows_quarantined) == (7, 0)
    assert result.ignored_columns == ("Mes notes",)
    assert [row[4:] for row in stored(harmonia_database)] == [
        ("biomarker_testing", "case_by_case"),
        ("clinical_trials", "false"),
        ("novel_therapy_adoption", "routine"),
        ("patients_per_month", "42"),
        ("support_priority", "real_world_data"),
        ("tumour_types", "lung"),
        ("what_matters_most", "time_saving_tools"),
    ]


def test_a_lost_customer_column_is_an_error_not_a_quarantine(territory_workbook, load):
    from harmonia import InputError

    workbook = load_workbook(territory_workbook)
    workbook["Profilage"]["A2"] = "Client"
    workbook.save(territory_workbook)
    with pytest.raises(InputError, match="the column 'ID client' is missing"):
        load(territory_workbook, system="csv")


def test_a_workbook_for_another_country_or_without_rep_data_is_refused(territory_workbook, catalog):
    import attrs

    from harmonia import ConfigError, SourceRequest
    from harmonia_excel.source import read_xlsx

    options = {"path": str(territory_workbook)}
    with pytest.raises(ConfigError, match="written for FR, not DE"):
        list(read_xlsx(SourceRequest(options, country="DE")))
    no_rep = attrs.evolve(catalog.country_profiles["FR"], data_sources=("external", "local"))
    with pytest.raises(ConfigError, match="a rep profiling workbook is rep data"):
        list(read_xlsx(SourceRequest(options, country="FR", profile=no_rep)))
