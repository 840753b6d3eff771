"""The Maltese pack: a data-poor market's profile inside the global catalogue."""

import pytest

import harmonia_mt


@pytest.fixture
def catalog(harmonia_plugins, register_pack):
    register_pack(harmonia_mt)
    return harmonia_plugins.catalog()


def test_profile_fits_the_catalogue_with_rep_and_local_data_only(catalog):
    profile = catalog.country_profiles["MT"]
    assert catalog.warnings == ()
    assert catalog.option_catalogue.check(profile) == []
    assert set(profile.data_sources) == {"rep", "local"}
    assert profile.identifier_schemes == ()
    assert profile.field_refinement == "opt-in"
    assert catalog.refinement_policies[profile.refinement_policy].name == "standard"


# --- a whole cycle from the reps' workbooks ------------------------------------------

#: The reps' customer list, as they keep it in Excel.
CUSTOMERS = [
    ("M1", "Maria", "Borg", "medical_oncology", "Msida"),
    ("M2", "Joseph", "Camilleri", "haematology", "Birkirkara"),
    ("M3", "Anna", "Vella", "medical_oncology", "Sliema"),
    ("M4", "Paul", "Farrugia", "urology", "Qormi"),
    ("M5", "Rita", "Zammit", "general_practice", "Rabat"),
]

HEADER = [
    "Customer ID",
    "Country",
    "Type",
    "First name",
    "Last name",
    "Specialty",
    "City",
    "Territory",
]

#: What a rep answers for every profiled customer (codes are understood like texts).
ANSWERS = {
    "patients_per_month": 80,
    ("tumour_types", "lung"): "Yes",
    "biomarker_testing": "broad_panel",
    "clinical_trials": "No",
    "what_matters_most": "outcome_evidence",
    "support_priority": "peer_exchange",
}


def write_customer_workbook(path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "customers"
    sheet.append(HEADER)
    for customer_id, first, last, specialty, city in CUSTOMERS:
        sheet.append([customer_id, "MT", "HCP", first, last, specialty, city, "MT-1"])
    workbook.save(path)


def fill_profiling_workbook(path, adoption):
    """Fill the rep workbook as the rep would, through its column map."""
    import datetime as dt

    from openpyxl import load_workbook

    from harmonia_excel.metadata import WorkbookMeta

    workbook = load_workbook(path)
    meta = WorkbookMeta.read(workbook)
    sheet = workbook[meta.sheet]
    letters = {
        (c.option and (c.item, c.option)) or c.item or c.role: c.letter for c in meta.columns
    }
    rows = {sheet[f"A{row}"].value: row for row in range(meta.first_row, sheet.max_row + 1)}
    for customer, stage in adoption.items():
        values = ANSWERS | {"answered_at": dt.date(2027, 2, 1), "novel_therapy_adoption": stage}
        for key, value in values.items():
            sheet[f"{letters[key]}{rows[customer]}"] = value
    workbook.save(path)


def test_a_full_cycle_runs_from_rep_workbooks_alone(harmonia_cli, register_pack, tmp_path):
    import csv

    import harmonia_excel
    import harmonia_oncology

    for module in (harmonia_mt, harmonia_oncology, harmonia_excel):
        register_pack(module)
    customers = tmp_path / "customers.xlsx"
    write_customer_workbook(customers)
    result = harmonia_cli("load", str(customers), "--country", "MT")
    assert result.exit_code == 0, result.output

    profiling = tmp_path / "MT-1.xlsx"
    result = harmonia_cli(
        "questionnaire", "workbook", "-t", "oncology", "-c", "MT", "--territory", "MT-1",
        "--out", str(profiling),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "in 'en'" in result.output
    fill_profiling_workbook(
        profiling, {"M1": "early", "M2": "routine", "M3": "wait", "M4": "selected"}
    )
    result = harmonia_cli("load", str(profiling), "--country", "MT", "--system", "xlsx")
    assert result.exit_code == 0, result.output

    out = tmp_path / "out"
    result = harmonia_cli(
        "cycle", "run", "-c", "MT", "-t", "oncology", "-p", "2027-H1", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    (target_list,) = out.glob("*target_list.csv")
    with target_list.open(encoding="utf-8") as handle:
        targets = {row["source_id"]: row for row in csv.DictReader(handle)}
    # Every profiled specialist is targeted, from answers alone (no figures:
    # potential takes the lowest decile); the family doctor is not a target.
    assert set(targets) == {"M1", "M2", "M3", "M4"}
    assert {row["needs"] for row in targets.values()} == {"outcomes_focused"}
    assert all(row["source_system"] == "xlsx" for row in targets.values())
