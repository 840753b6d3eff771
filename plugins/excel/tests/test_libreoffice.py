"""The workbooks open cleanly in LibreOffice (run when ``soffice`` is installed).

``soffice --headless --convert-to`` must open each workbook and write what
it holds; a rep workbook saved again by LibreOffice (as a rep on LibreOffice
would) must still load back, its hidden sheet and drop-downs intact.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pyarrow as pa
from openpyxl import load_workbook

from harmonia import CycleInfo, SinkRequest
from harmonia_excel.metadata import SHEET
from harmonia_excel.sink import write_xlsx

CSV_UTF8 = "csv:Text - txt - csv (StarCalc):44,34,76"


def test_the_rep_workbook_and_a_target_list_convert_to_csv(territory_workbook, convert, tmp_path):
    table = pa.table({"harmonia_id": [1, 2], "segment": ["grow", "champion"], "cost": [1.5, 2.0]})
    cycle = CycleInfo(id=1, country="FR", therapy_area="oncology", period="2027-H1")
    (targets,) = write_xlsx(SinkRequest("target_list", table, cycle, tmp_path / "out"))
    workbook_csv, targets_csv = convert(CSV_UTF8, territory_workbook, Path(targets))
    rows = list(csv.reader(workbook_csv.open(encoding="utf-8")))
    assert rows[0][5] == "Votre activité"
    assert rows[1][:5] == ["ID client", "Nom", "Spécialité", "Ville", "Date du profilage"]
    assert rows[2][7] == "Cancer du poumon"
    assert [row[0] for row in rows[3:]] == ["C4", "C2", "C1", "C3"]
    assert rows[3][1] == "=Paul Bernard"  # text, not a formula
    lines = targets_csv.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "harmonia_id,segment,cost" and len(lines) == 3


def test_a_workbook_saved_by_libreoffice_loads_back(
    territory_workbook, convert, fill, load, tmp_path
):
    filled = fill(
        territory_workbook,
        {
            "C1": {
                "answered_at": dt.date(2026, 11, 2),
                "patients_per_month": 80,
                ("tumour_types", "breast"): "Oui",
                "novel_therapy_adoption": "Je fais partie des premiers à l'utiliser et je "
                "partage mon expérience avec mes confrères",
                "biomarker_testing": "Au cas par cas, lorsque le résultat peut modifier le "
                "traitement",
                "clinical_trials": "Non",
                "what_matters_most": "Une aide pour sélectionner les patients qui en "
                "bénéficient le plus",
                "support_priority": "Des données en vie réelle sur des patients comparables "
                "aux miens",
            }
        },
        out=tmp_path / "filled" / "FR-T001.xlsx",
    )
    (resaved,) = convert("xlsx:Calc MS Excel 2007 XML", filled)
    book = load_workbook(resaved)
    assert book[SHEET].sheet_state == "hidden"
    assert len(book["Profilage"].data_validations.dataValidation) >= 20
    (result,) = load(resaved, system="csv")
    assert (result.rows_read, result.rows_quarantined) == (7, 0), result.reasons
