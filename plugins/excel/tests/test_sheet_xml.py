"""Sheet XML rendered column-wise, and workbooks written from a template."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from harmonia_excel import sheet_xml
from harmonia_excel.sheet_xml import Holes, Template

#: Text that XML or Excel treat specially, and what a reader must give back.
TRICKY = {
    "Ana": "Ana",
    " Ana ": " Ana ",  # edge spaces kept (xml:space="preserve")
    'O\'Brien & <Co> "x"': 'O\'Brien & <Co> "x"',
    "_x0041_": "_x0041_",  # not Excel's escape of "A"
    "a\x01b\x1fc": "abc",  # control characters dropped, as openpyxl's cells drop them
    "Zoë Ł": "Zoë Ł",
    "Zo\ufffee\uffff": "Zoe",  # not XML 1.0 either: dropped
    "a\rb\r\nc": "a\rb\r\nc",  # a raw CR would read back as LF
    "\u00a0T1": "\u00a0T1",  # a non-breaking space at the edge is kept too
}
#: How openpyxl reads text back: it undoes Excel's _xHHHH_ escape in shared strings
#: only (Excel and calamine in inline ones too); XlsxWriter's inline strings are
#: escaped the same.
OPENPYXL_READS = {
    "_x0041_": "_x005F_x0041_",
    "a\rb\r\nc": "a_x000D_b_x000D_\nc",
}


def assert_well_formed(path: Path) -> None:
    """Every XML part of the workbook parses with a strict parser (calamine, and so
    read_workbook, reads some XML that is not well-formed, and Excel does not)."""
    from xml.dom.minidom import parseString

    with zipfile.ZipFile(path) as package:
        for name in package.namelist():
            if name.endswith((".xml", ".rels")):
                parseString(package.read(name))


def test_tricky_text_reads_back_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harmonia_excel import refinement

    monkeypatch.setattr(refinement, "allowed_moves", lambda values, current, moves: list(values))
    rows = [
        {"territory": "T1", "harmonia_id": i, "system": "crm", "source_id": f"C{i}",
         "last_name": name, "city": name, "segment": "grow", "goal": i}
        for i, name in enumerate([*TRICKY, ""], start=1)
    ]  # fmt: skip
    meta = refinement.RefinementWorkbook(
        9, "", "2027-01-04T09:00:00+00:00", "", ("segment", "goal")
    )
    (path,) = refinement.write_workbooks(
        pa.Table.from_pylist(rows), lambda name: tmp_path / f"{name}.xlsx", meta=meta,
        orders={"segment": ["grow"]}, moves="any", reasons=["a & b"], language="en",
    )  # fmt: skip
    assert_well_formed(path)
    expected = [*TRICKY.values(), None]
    sheet = load_workbook(path)["Refinement"]
    openpyxl_reads = [OPENPYXL_READS.get(text, text) for text in expected]
    assert [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)] == openpyxl_reads
    assert [row[3] for row in sheet.iter_rows(min_row=2, values_only=True)] == openpyxl_reads
    assert [row[6] for row in sheet.iter_rows(min_row=2, values_only=True)] == list(
        range(1, len(rows) + 1)
    )  # numbers stay numbers
    with CalamineWorkbook.from_path(str(path)) as workbook:
        values = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
    assert [row[1] or None for row in values[1:]] == expected
    assert sheet["B7"].fill.fgColor.rgb.endswith("F2F2F2")  # an empty name: a grey blank
    assert refinement.read_workbook(path)[1] == []  # and nothing reads as changed


def test_one_cell_is_escaped_as_a_column_is() -> None:
    """The cells written one at a time (the hidden record's head) are escaped as
    the columns are, edge spaces and cut included."""
    values = [*TRICKY, "x" * 40_000]
    column = sheet_xml.text(pa.array(values)).xml.to_pylist()
    cells = [sheet_xml.text_cell("A1", value) for value in values]
    assert cells == [f'<c r="A1" t="inlineStr"><is><t{xml}</t></is></c>' for xml in column]
    assert len(sheet_xml.escape("x" * 40_000)) == sheet_xml.CELL_MAX


def test_text_over_excels_limit_is_cut_and_reads_back_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Excel holds at most 32,767 characters in a cell: longer text is cut, as
    XlsxWriter cut it, the same in the sheet and in the hidden record, so a cut
    id or name does not read back as a change."""
    from harmonia_excel import refinement

    monkeypatch.setattr(refinement, "allowed_moves", lambda values, current, moves: list(values))
    rows = [
        {"territory": "T1", "harmonia_id": 1, "system": "crm", "source_id": "S" * 40_000,
         "last_name": "L" * 40_000, "city": "Lyon", "segment": "grow", "goal": 1},
    ]  # fmt: skip
    meta = refinement.RefinementWorkbook(9, "", "2027-01-04T09:00:00+00:00", "", ("segment",))
    (path,) = refinement.write_workbooks(
        pa.Table.from_pylist(rows), lambda name: tmp_path / f"{name}.xlsx", meta=meta,
        orders={"segment": ["grow"]}, moves="any", reasons=["r"], language="en",
    )  # fmt: skip
    assert_well_formed(path)
    with CalamineWorkbook.from_path(str(path)) as workbook:
        values = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
    assert values[1][:2] == ["S" * sheet_xml.CELL_MAX, "L" * sheet_xml.CELL_MAX]
    assert refinement.read_workbook(path)[1] == []


def test_holes_are_cut_in_order_and_filled() -> None:
    holes = Holes.cut(b'<a x="1"/><b></b><c/>', r'<a x="[^"]*"/>', r"(?=</b>)")
    filled = b"".join(bytes(p) for p in holes.fill('<a x="2"/>', [b"<i/>", memoryview(b"<j/>")]))
    assert filled == b'<a x="2"/><b><i/><j/></b><c/>'
    with pytest.raises(ValueError, match="the template has no"):
        Holes.cut(b"<c/><a/>", "<c/>", "<c/>")
    with pytest.raises(ValueError, match="2 holes, 3 fillings"):
        list(holes.fill("", "", ""))


def test_a_workbook_from_a_template_is_a_valid_zip_with_its_own_parts(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("one.xml", "<one/>")
        package.writestr("two.xml", "<two/>" * 1000)
    template = Template.of(buffer.getvalue())
    out = tmp_path / "book.xlsx"
    template.write(out, {"one.xml": [b"<one>", memoryview(b"mine"), b"</one>"]})
    with zipfile.ZipFile(out) as package:
        assert package.testzip() is None  # every CRC right
        assert package.namelist() == ["one.xml", "two.xml"]
        assert package.read("one.xml") == b"<one>mine</one>"
        assert package.read("two.xml") == b"<two/>" * 1000


def test_the_rows_of_one_workbook_are_a_slice_of_the_rendered_buffer() -> None:
    rows = sheet_xml.row_numbers([2, 3, 2])
    xml = sheet_xml.rows_xml(rows, [sheet_xml.cells("A", rows, pa.array(["x", None, "z"]), 2)])
    assert bytes(sheet_xml.joined(xml, 1, 3)) == (
        b'<row r="3"><c r="A3" s="2"/></row>'
        b'<row r="2"><c r="A2" s="2" t="inlineStr"><is><t>z</t></is></c></row>'
    )
    assert bytes(sheet_xml.joined(xml.slice(1), 0, 1)) == b'<row r="3"><c r="A3" s="2"/></row>'


def test_a_workbook_saved_again_by_libreoffice_reads_back_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, convert: Callable[..., list[Path]]
) -> None:
    """LibreOffice reads the rendered sheets (inline strings, drop-downs, hidden
    record) as harmonia wrote them: saved again, the workbook asks nothing."""
    from harmonia_excel import refinement

    monkeypatch.setattr(refinement, "allowed_moves", lambda values, current, moves: list(values))
    # LibreOffice has its own escape rules, and keeps every end of line as LF.
    names = [name for name in TRICKY if name not in ("_x0041_", "a\rb\r\nc")]
    rows = [
        {"territory": "T1", "harmonia_id": i, "system": "crm", "source_id": f"C{i}",
         "last_name": name, "city": name, "segment": "grow", "goal": i}
        for i, name in enumerate(names, start=1)
    ]  # fmt: skip
    meta = refinement.RefinementWorkbook(
        9, "", "2027-01-04T09:00:00+00:00", "", ("segment", "goal")
    )
    (path,) = refinement.write_workbooks(
        pa.Table.from_pylist(rows), lambda name: tmp_path / "books" / f"{name}.xlsx", meta=meta,
        orders={"segment": ["champion", "grow"]}, moves="any", reasons=["a & b"], language="fr",
    )  # fmt: skip
    (resaved,) = convert("xlsx:Calc MS Excel 2007 XML", path)
    assert refinement.read_workbook(resaved) == refinement.read_workbook(path)
    sheets = []
    for book in (path, resaved):
        with CalamineWorkbook.from_path(str(book)) as workbook:
            sheets.append(
                [workbook.get_sheet_by_index(i).to_python(skip_empty_area=False) for i in (0, 2)]
            )
    assert sheets[0] == sheets[1]
    checks = load_workbook(resaved)["Affinage"].data_validations.dataValidation
    assert {str(check.sqref) for check in checks if check.type == "list"} == {
        f"F2:F{len(rows) + 1}",
        f"I2:I{len(rows) + 1}",
    }


def test_a_workbook_without_rows_is_its_header_and_record(tmp_path: Path) -> None:
    from harmonia_excel import refinement

    meta = refinement.RefinementWorkbook(9, "T1", "2027-01-04T09:00:00+00:00", "crm", ("tier",))
    path = refinement.write_workbook(
        [], tmp_path / "T1.xlsx", meta=meta, orders={"tier": ["1", "2"]}, moves="any",
        reasons=["access"], language="en",
    )  # fmt: skip
    assert refinement.read_workbook(path) == (meta, [])
    sheet = load_workbook(path)["Refinement"]
    assert [row for row in sheet.iter_rows(values_only=True)] == [
        ("Customer ID", "Name", "Specialty", "City", "Tier (proposed)", "Tier (yours)",
         "Reason", "Comment"),
    ]  # fmt: skip
    assert not sheet.data_validations.dataValidation
