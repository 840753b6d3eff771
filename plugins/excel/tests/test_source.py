"""The ``xlsx`` data source: canonical sheets through the normal loader."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from openpyxl import Workbook

from harmonia import InputError, SourceRequest
from harmonia.testing import query_store
from harmonia_excel.source import read_xlsx

CUSTOMERS = [
    [
        "Customer ID",
        "Country",
        "Type",
        "First name",
        "Last name",
        "Specialty",
        "Territory",
        "Notes",
    ],
    ["X1", "FR", "HCP", "Anne", "Petit", "medical_oncology", "FR-T001", "keep"],
    [None, None, None, None, None, None, None, None],  # an empty row, as spreadsheets have
    ["X2", "FR", "HCP", "Marc", "Roux", "pulmonology", "FR-T001", None],
    ["X3", "FR", "XYZ", "Bad", "Type", None, None, None],
]
METRICS = [
    ["customer_id", "therapy_area", "metric", "period", "value"],
    ["X1", "oncology", "potential", "2026", 1234.125],  # three decimals: not thousands
    ["X2", "oncology", "potential", 2026, 2000],
    ["X2", "oncology", "trx", "2026-Q1", "12,5"],  # typed as text, in French
]
RESPONSES = [
    ["customer_id", "questionnaire", "version", "respondent", "answered_at", "question", "answer"],
    ["X1", "oncology-profile", 2, "rep1", dt.datetime(2026, 10, 1), "patients_per_month", 12],
]


def workbook(path, **sheets):
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def rows(url: str, sql: str) -> list[tuple]:
    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def test_named_sheets_load_like_the_csv_files(tmp_path, load, harmonia_database):
    # Sheets in the "wrong" order: customers must still load first.
    path = workbook(
        tmp_path / "data.xlsx", responses=RESPONSES, Metrics=METRICS, customers=CUSTOMERS
    )
    results = load(path)
    assert [(r.kind, r.rows_read, r.rows_loaded) for r in results] == [
        ("customers", 3, 2),
        ("metrics", 3, 3),
        ("responses", 1, 0),  # a partial response: its required items are missing
    ]
    assert results[0].ignored_columns == ("notes",)
    assert results[0].location.endswith("data.xlsx [customers]")
    stored = query_store(
        harmonia_database, "SELECT metric, period, value FROM metric ORDER BY 1, 3"
    )
    assert [tuple(row.values()) for row in stored] == [
        ("potential", "2026", 1234.125), ("potential", "2026", 2000.0), ("trx", "2026-Q1", 12.5)
    ]  # fmt: skip
    (quarantined,) = rows(harmonia_database, "SELECT row_number, reasons FROM quarantine "
                          "WHERE kind = 'customers'")  # fmt: skip
    assert quarantined[0] == 5 and "not HCP or HCO" in quarantined[1]


def test_a_single_sheet_is_recognized_by_its_header(tmp_path):
    path = workbook(tmp_path / "export.xlsx", Sheet1=METRICS)
    (batch,) = read_xlsx(SourceRequest({"path": str(path)}))
    assert batch.kind == "metrics" and batch.table.num_rows == 3
    assert batch.table.column("value").to_pylist() == ["1234.1250", "2000", "12,5"]
    assert batch.table.column("_row").to_pylist() == [2, 3, 4]


def test_a_month_that_excel_turned_into_a_date_is_read_as_the_month(tmp_path):
    metrics = [METRICS[0], ["X1", "oncology", "trx", dt.datetime(2026, 5, 1), 3]]
    path = workbook(tmp_path / "export.xlsx", Sheet1=metrics)
    (batch,) = read_xlsx(SourceRequest({"path": str(path)}))
    assert batch.table.column("period").to_pylist() == ["2026-05"]


def test_what_cannot_be_read_is_an_input_error(tmp_path):
    not_xlsx = tmp_path / "data.xlsx"
    not_xlsx.write_text("customer_id,country\n")
    with pytest.raises(InputError, match="cannot read this file as an Excel workbook"):
        list(read_xlsx(SourceRequest({"path": str(not_xlsx)})))
    unknown = workbook(tmp_path / "other.xlsx", Sheet1=[["a", "b"], [1, 2]])
    with pytest.raises(InputError, match="cannot tell what this file holds"):
        list(read_xlsx(SourceRequest({"path": str(unknown)})))
    with pytest.raises(InputError, match="no such file"):
        list(read_xlsx(SourceRequest({"path": str(tmp_path / "missing.xlsx")})))
