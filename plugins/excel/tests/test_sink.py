"""The ``xlsx`` output sink: a target list as a formatted workbook."""

from __future__ import annotations

import pyarrow as pa
import pytest
from openpyxl import load_workbook

from harmonia import CycleInfo, SinkRequest
from harmonia_excel.sink import write_xlsx

TARGETS = pa.table(
    {
        "harmonia_id": pa.array([1230, 45], pa.int64()),
        "source_id": ["C0001230", "C0000045"],
        "last_name": ["=Dupont", "Müller"],
        "segment": ["champion", "grow"],
        "contacts": pa.array([19, 1200], pa.int64()),
        "cost": [2756.0, 1234567.5],
    }
)


def request(tmp_path, table=TARGETS, **options) -> SinkRequest:
    cycle = CycleInfo(id=3, country="FR", therapy_area="oncology", period="2027-H1")
    return SinkRequest("target_list", table, cycle, tmp_path, options=options)


def test_a_target_list_is_a_formatted_workbook(tmp_path):
    (path,) = write_xlsx(request(tmp_path))
    assert path.endswith("FR-oncology-2027-H1-cycle3-target_list.xlsx")
    sheet = load_workbook(path)["target_list"]
    assert [cell.value for cell in sheet[1]] == TARGETS.column_names
    assert sheet["A1"].font.bold and sheet["A1"].fill.fgColor.rgb.endswith("1F4E79")
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:F3"
    assert (sheet["A2"].value, sheet["A2"].number_format) == (1230, "0")  # an id: no separator
    assert sheet["E3"].number_format == "#,##0"
    assert (sheet["F3"].value, sheet["F3"].number_format) == (1234567.5, "#,##0.00")
    assert sheet["C2"].value == "=Dupont" and sheet["C2"].data_type == "s"  # never a formula
    assert sheet.column_dimensions["B"].width == len("source_id") + 3  # fits the header


def test_the_file_name_and_an_empty_output(tmp_path):
    (path,) = write_xlsx(request(tmp_path, TARGETS.slice(0, 0), name="targets"))
    assert path.endswith("targets-target_list.xlsx")
    sheet = load_workbook(path)["target_list"]
    assert sheet.max_row == 1


def test_an_output_longer_than_a_sheet_continues_on_the_next(tmp_path, monkeypatch):
    from harmonia_excel import sink

    monkeypatch.setattr(sink, "MAX_ROWS", 2)  # one data row per sheet
    (path,) = write_xlsx(request(tmp_path))
    assert load_workbook(path).sheetnames == ["target_list", "target_list (2)"]


@pytest.mark.parametrize("kind", ["segment_summary", "assignments"])
def test_every_output_kind_is_accepted(kind):
    import harmonia_excel

    (sink,) = harmonia_excel.harmonia_output_sinks()
    assert kind in sink.accepts


def test_a_cycle_writes_its_outputs_through_the_sink(market, catalog, harmonia_cli):
    result = harmonia_cli(
        "cycle", "run", "--country", "FR", "--therapy-area", "oncology", "--period", "2027-H1",
        "--sink", "xlsx:name=cycle", "--output", "assignments", "--out", str(market / "out"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    sheet = load_workbook(market / "out" / "cycle-assignments.xlsx")["assignments"]
    assert sheet.max_row == 1 + 5  # every customer of the market has an assignment
    assert "segment" in [cell.value for cell in sheet[1]]
