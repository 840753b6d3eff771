"""The refinement round trip: a territory's workbook written, filled in, read back."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import field_market
import pytest
import tiny_market
from openpyxl import load_workbook

import harmonia_excel
from harmonia_excel.refinement import allowed_moves


@pytest.fixture
def field_cli(
    harmonia_cli: Callable[..., Any],
    register_pack: Callable[..., Any],
    tmp_path: Path,
) -> tuple[Callable[..., Any], str]:
    """The Belgian field market loaded and a cycle open for feedback: (cli, cycle id)."""
    for pack, name in ((tiny_market, "tiny"), (field_market, "field"), (harmonia_excel, "excel")):
        register_pack(pack, name=name)
    field_market.write_field_force(tmp_path / "force")
    assert (
        harmonia_cli(
            "load", str(field_market.write_universe(tmp_path / "data")), "-c", "BE"
        ).exit_code
        == 0
    )
    assert harmonia_cli("load", str(tmp_path / "force"), "-c", "BE").exit_code == 0
    ran = harmonia_cli(
        "cycle", "run", "-c", "BE", "-t", "cardiology", "-p", "2027-H1", "--out",
        str(tmp_path / "out"), "--json",
    )  # fmt: skip
    cycle = str(json.loads(ran.output)["cycle"]["id"])
    assert harmonia_cli("cycle", "open-feedback", cycle).exit_code == 0
    return harmonia_cli, cycle


def test_moves_offered_are_the_ones_the_policy_allows() -> None:
    order = ["champion", "grow", "develop", "maintain", "monitor"]
    assert allowed_moves(order, "champion", "adjacent") == ["champion", "grow"]
    assert allowed_moves(order, "develop", "adjacent") == ["grow", "develop", "maintain"]
    assert allowed_moves(order, "develop", "any") == order


def test_a_workbook_round_trip_becomes_checked_requests(
    field_cli: tuple[Callable[..., Any], str], tmp_path: Path
) -> None:
    cli, cycle = field_cli
    path = tmp_path / "T1.xlsx"
    written = cli("refinement", "workbook", cycle, "--territory", "T1", "--out", str(path))
    assert written.exit_code == 0, written.output
    workbook = load_workbook(path)
    sheet = workbook["Refinement"]
    headers = [cell.value for cell in sheet[1]]
    assert headers == [
        "Customer ID", "Name", "Specialty", "City", "Segment (proposed)", "Segment (yours)",
        "Tier (proposed)", "Tier (yours)", "Calls (proposed)", "Calls (yours)", "Reason",
        "Comment",
    ]  # fmt: skip
    rows = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert set(rows) == {"C01", "C02", "C03", "C04"}  # C05 is aligned to T2 for 2027-H1
    assert rows["C01"][4:6] == ("champion", "champion")
    assert rows["C01"][8:10] == (6, 6)  # a champion's calls this half-year, as numbers
    # Each segment cell offers the moves from its own value; a goal takes a number.
    offered = {}
    (whole,) = [c for c in sheet.data_validations.dataValidation if c.type == "whole"]
    assert (whole.operator, whole.formula1, str(whole.sqref)) == (
        "greaterThanOrEqual",
        "0",
        "J2:J5",
    )
    for check in sheet.data_validations.dataValidation:
        if check.type != "list":
            continue
        sheet_name, cells = check.formula1.lstrip("=").split("!")
        values = [c.value for (c,) in workbook[sheet_name][cells.replace("$", "")]]
        for cell_range in check.sqref.ranges:
            offered[cell_range.coord] = values
    number = {
        row[0]: index
        for index, row in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2)
    }
    assert offered[f"F{number['C01']}"] == ["champion", "grow"]
    assert offered[f"F{number['C03']}"] == ["grow", "develop", "maintain"]
    assert offered["K2:K5"] == ["new information", "access", "data error"]
    # The rep fills it in: one step down with access, a forbidden jump, an edited id.
    sheet.cell(number["C01"], 6).value = "grow"
    sheet.cell(number["C01"], 11).value = "access"
    sheet.cell(number["C02"], 6).value = "monitor"
    sheet.cell(number["C02"], 11).value = "data error"
    sheet.cell(number["C03"], 1).value = "C99"
    sheet.cell(number["C03"], 8).value = "B"
    sheet.cell(number["C03"], 11).value = "data error"
    sheet.cell(number["C04"], 10).value = 2  # one call more
    sheet.cell(number["C04"], 11).value = "new information"
    workbook.save(path)
    refused = cli("refinement", "submit", str(path), "--as", "tom")
    assert refused.exit_code == 1 and "territory T1, which is not tom's" in refused.output
    submitted = cli("refinement", "submit", str(path), "--as", "rita", "--json")
    assert submitted.exit_code == 0, submitted.output
    outcome = {r["_row"]: (r["status"], r["rule"]) for r in json.loads(submitted.output)}
    assert outcome == {
        number["C01"]: ("accepted", "auto:access-step-down"),
        number["C02"]: ("rejected", "policy.moves"),
        number["C03"]: ("rejected", "workbook.customer_id"),
        number["C04"]: ("pending", "manager"),
    }
    goal = [r for r in json.loads(submitted.output) if r["action"] == "goal"]
    assert [(r["old_value"], r["new_value"]) for r in goal] == [("1", "2")]
    listed = cli("refinement", "list", cycle, "--json")
    assert len(json.loads(listed.output)) == 4  # every row kept, whatever its outcome
    # A workbook of an earlier round is stale once a re-run took the round over.
    ran = cli("cycle", "run", "-c", "BE", "-t", "cardiology", "-p", "2027-H1", "--json",
              "--out", str(tmp_path / "out"))  # fmt: skip
    rerun = str(json.loads(ran.output)["cycle"]["id"])
    assert cli("cycle", "carry-over", cycle, rerun).exit_code == 0
    stale = cli("refinement", "submit", str(path), "--as", "rita")
    assert stale.exit_code == 1 and "superseded" in stale.output


def test_libreoffice_opens_a_refinement_workbook(
    field_cli: tuple[Callable[..., Any], str], convert: Callable[..., list[Path]], tmp_path: Path
) -> None:
    cli, cycle = field_cli
    folder = tmp_path / "books"
    written = cli("refinement", "workbook", cycle, "--out", str(folder), "--jobs", "2")
    assert written.exit_code == 0, written.output
    books = sorted(folder.glob("*.xlsx"))
    assert [b.name for b in books] == [f"refinement-{cycle}-T1.xlsx", f"refinement-{cycle}-T2.xlsx"]
    converted = convert("csv:Text - txt - csv (StarCalc):44,34,76", books[1])
    rows = list(csv.reader(converted[0].open(encoding="utf-8")))
    assert rows[0][0] == "Customer ID" and len(rows) == 7  # T2: C05 to C10


def test_rows_are_read_by_customer_id_whatever_their_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harmonia_excel import refinement

    monkeypatch.setattr(refinement, "allowed_moves", lambda values, current, moves: list(values))
    rows = [
        {"harmonia_id": i, "source_id": f"C0{i}", "last_name": f"N{i}", "segment": "grow"}
        for i in (1, 2, 3)
    ]
    meta = refinement.RefinementWorkbook(7, "T1", "2027-01-04T09:00:00+00:00", "crm", ("segment",))
    path = refinement.write_workbook(
        rows, tmp_path / "T1.xlsx", meta=meta, orders={"segment": ["champion", "grow"]},
        moves="any", reasons=["access"], language="en",
    )  # fmt: skip
    workbook = load_workbook(path)
    sheet = workbook["Refinement"]
    # The rep sorts the sheet (C03, C02, C01), asks for C01, and pastes C02 twice.
    values = [list(row) for row in sheet.iter_rows(min_row=2, values_only=True)][::-1]
    values[2][5], values[2][6] = "champion", "access"  # C01, now on row 4
    values.append(list(values[1]))  # C02 again, on row 5
    values[3][5], values[3][6] = "champion", "access"
    for number, row in enumerate(values, start=2):
        for column, value in enumerate(row, start=1):
            sheet.cell(number, column).value = value
    workbook.save(path)
    read_meta, requests = refinement.read_workbook(path)
    assert read_meta == meta
    asked = [(r["_row"], r["customer_id"], r["new_value"], r["refusal_rule"]) for r in requests]
    assert asked == [(4, 1, "champion", None), (5, 2, "champion", "workbook.customer_id")]
    assert "customer id C02 is on two rows" in requests[1]["refusal_message"]
    # An id the workbook was not written with is refused for the customer of that row.
    sheet.cell(3, 1).value, sheet.cell(3, 6).value = "C99", "champion"
    workbook.save(path)
    requests = refinement.read_workbook(path)[1]
    refused = [r for r in requests if r["refusal_rule"]]
    assert [(r["_row"], r["customer_id"]) for r in refused] == [(3, 2)]
    assert (
        "customer id C99 is not one this workbook was written for"
        in (refused[0]["refusal_message"])
    )


def _proposal(territories: dict[str, list[tuple[int, str, str]]]) -> Any:
    """A proposal as ``app.refinement.proposal`` gives it: (id, segment, tier) per territory."""
    import pyarrow as pa

    rows = [
        {"territory": territory, "harmonia_id": i, "system": f"crm-{territory}",
         "source_id": f"C{i:03d}", "first_name": "Ana", "last_name": f"N{i}",
         "specialty": "cardiology", "city": "Gent", "segment": segment, "tier": tier}
        for territory, customers in sorted(territories.items())
        for i, segment, tier in customers
    ]  # fmt: skip
    return pa.Table.from_pylist(rows)


ORDERS = {"segment": ["champion", "grow", "develop"], "tier": ["1", "2", "3"]}


def test_every_territory_is_written_from_one_proposal_in_parallel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harmonia_excel import refinement

    monkeypatch.setattr(refinement, "allowed_moves", lambda values, current, moves: list(values))
    proposal = _proposal(
        {
            "T1": [(1, "grow", "1"), (2, "champion", "2")],
            "T2": [(3, "develop", "3")],
            "T3": [(4, "grow", "2"), (5, "grow", "2"), (6, "develop", "1")],
        }
    )
    meta = refinement.RefinementWorkbook(
        9, "", "2027-01-04T09:00:00+00:00", "", ("segment", "tier")
    )
    written = {}
    for jobs in (1, 2):
        written[jobs] = refinement.write_workbooks(
            proposal, lambda name, jobs=jobs: tmp_path / str(jobs) / f"{name}.xlsx", meta=meta,
            orders=ORDERS, moves="any", reasons=["access"], language="en", jobs=jobs,
        )  # fmt: skip
    assert [p.name for p in written[1]] == [p.name for p in written[2]] == [
        "T1.xlsx", "T2.xlsx", "T3.xlsx"
    ]  # fmt: skip
    for one, two in zip(written[1], written[2], strict=True):
        read_meta, requests = refinement.read_workbook(two)
        territory = one.stem
        assert read_meta == refinement.RefinementWorkbook(
            9, territory, meta.opened_at, f"crm-{territory}", ("segment", "tier")
        )
        assert requests == []  # nothing changed, nothing asked
        sheets = [load_workbook(path)["Refinement"] for path in (one, two)]
        values = [list(sheet.iter_rows(values_only=True)) for sheet in sheets]
        assert values[0] == values[1]
    t3 = list(load_workbook(written[2][2])["Refinement"].iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in t3] == ["C004", "C005", "C006"]


def test_a_worker_is_sent_its_own_rows_not_the_whole_proposal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What goes to a worker is pickled: an Arrow slice would carry its parent's
    buffers whole (every batch the size of the universe), a batch must weigh in
    proportion to its rows."""
    import concurrent.futures
    import pickle

    from harmonia_excel import refinement

    sent: list[tuple[int, int]] = []

    class Inline:
        """The pool's side of the pipe: pickles what it is given, writes nothing."""

        def __init__(self, **_: Any) -> None: ...

        def __enter__(self) -> Inline:
            return self

        def __exit__(self, *_: Any) -> None: ...

        def submit(self, fn: Callable[..., Any], part: Any, *args: Any) -> Any:
            sent.append((part.num_rows, len(pickle.dumps((part, *args)))))
            future: concurrent.futures.Future[list[Path]] = concurrent.futures.Future()
            future.set_result([])
            return future

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Inline)
    proposal = _proposal(
        {f"T{t:02d}": [(t * 1000 + i, "grow", "1") for i in range(500)] for t in range(40)}
    )
    meta = refinement.RefinementWorkbook(9, "", "2027-01-04T09:00:00+00:00", "", ("segment",))
    refinement.write_workbooks(
        proposal, lambda name: tmp_path / f"{name}.xlsx", meta=meta, orders=ORDERS,
        moves="any", reasons=["access"], language="en", jobs=8,
    )  # fmt: skip
    whole = len(pickle.dumps(proposal))
    assert sum(rows for rows, _ in sent) == proposal.num_rows and len(sent) > 8
    for rows, size in sent:
        assert size < 2 * whole * rows / proposal.num_rows + 10_000


def test_the_workbook_keeps_its_dropdowns_language_and_hidden_protected_sheets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harmonia_excel import refinement

    monkeypatch.setattr(
        refinement, "allowed_moves", lambda values, current, moves: [v for v in values if v != "1"]
    )
    proposal = _proposal({"T1": [(1, "grow", "2"), (2, "grow", "3"), (3, "develop", "2")]})
    meta = refinement.RefinementWorkbook(
        9, "", "2027-01-04T09:00:00+00:00", "", ("segment", "tier")
    )
    (path,) = refinement.write_workbooks(
        proposal, lambda name: tmp_path / f"{name}.xlsx", meta=meta, orders=ORDERS,
        moves="adjacent", reasons=["accès", "erreur de données"], language="fr",
    )  # fmt: skip
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["Affinage", "_lists", "_harmonia_refinement"]
    assert workbook["_lists"].sheet_state == "hidden"
    assert workbook["_harmonia_refinement"].sheet_state == "veryHidden"
    assert workbook["_lists"].protection.sheet and workbook["_harmonia_refinement"].protection.sheet
    sheet = workbook["Affinage"]
    assert [c.value for c in sheet[1]][4:] == [
        "Segment (proposé)", "Segment (votre choix)", "Niveau (proposé)", "Niveau (votre choix)",
        "Motif", "Commentaire",
    ]  # fmt: skip
    assert sheet["A1"].comment.text.startswith("Ne pas modifier")
    offered = {}
    for check in sheet.data_validations.dataValidation:
        assert check.type == "list" and check.showErrorMessage
        assert (check.errorTitle, check.error) == (
            "Non autorisé", "Choisissez un des changements que la politique permet."
        )  # fmt: skip
        name, cells = check.formula1.lstrip("=").split("!")
        values = [c.value for (c,) in workbook[name][cells.replace("$", "")]]
        offered[str(check.sqref)] = values
    assert offered == {
        "I2:I4": ["accès", "erreur de données"],
        "F2:F3": ["champion", "grow", "develop"],
        "F4": ["champion", "grow", "develop"],
        "H2 H4": ["2", "3"],
        "H3": ["2", "3"],
    }
    assert sheet["E2"].fill.fgColor.rgb.endswith("F2F2F2")  # the proposal is greyed
    assert sheet.freeze_panes == "C2" and sheet.auto_filter.ref == "A1:J4"


def test_a_number_typed_in_a_cell_reads_as_the_rep_sees_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harmonia_excel import refinement

    monkeypatch.setattr(refinement, "allowed_moves", lambda values, current, moves: list(values))
    meta = refinement.RefinementWorkbook(9, "", "2027-01-04T09:00:00+00:00", "", ("tier",))
    (path,) = refinement.write_workbooks(
        _proposal({"T1": [(1, "grow", "2"), (2, "grow", "3")]}),
        lambda name: tmp_path / f"{name}.xlsx", meta=meta, orders=ORDERS, moves="any",
        reasons=["access"], language="en",
    )  # fmt: skip
    workbook = load_workbook(path)
    sheet = workbook["Refinement"]
    sheet["F2"], sheet["G2"] = 1, "access"  # typed as numbers, not picked from the list
    sheet["F3"] = 3  # the proposal, typed again: no change
    workbook.save(path)
    requests = refinement.read_workbook(path)[1]
    assert [(r["customer_id"], r["action"], r["new_value"]) for r in requests] == [(1, "tier", "1")]


def test_a_file_that_is_not_a_refinement_workbook_is_one_clear_error(tmp_path: Path) -> None:
    from openpyxl import Workbook

    from harmonia import InputError
    from harmonia_excel.refinement import read_workbook

    text = tmp_path / "notes.xlsx"
    text.write_text("not a workbook", encoding="utf-8")
    with pytest.raises(InputError, match="cannot read this workbook"):
        read_workbook(text)
    other = tmp_path / "other.xlsx"
    Workbook().save(other)
    with pytest.raises(InputError, match="its hidden sheet is missing"):
        read_workbook(other)


def test_workbooks_submitted_together_are_all_checked_before_any_is_stored(
    field_cli: tuple[Callable[..., Any], str], tmp_path: Path
) -> None:
    cli, cycle = field_cli
    folder = tmp_path / "books"
    assert cli("refinement", "workbook", cycle, "--out", str(folder)).exit_code == 0
    t1, t2 = sorted(folder.glob("*.xlsx"))
    for path, reason in ((t1, "access"), (t2, "data error")):
        workbook = load_workbook(path)
        sheet = workbook["Refinement"]
        proposed = sheet.cell(2, 5).value
        order = ["champion", "grow", "develop", "maintain", "monitor"]
        at = order.index(proposed)
        sheet.cell(2, 6).value = order[at + 1 if at + 1 < len(order) else at - 1]
        sheet.cell(2, 9).value = reason
        workbook.save(path)
    refused = cli("refinement", "submit", str(t1), str(t2), "--as", "rita", "--jobs", "2")
    assert refused.exit_code == 1
    assert f"{t2}: this workbook is for territory T2, which is not rita's" in refused.output
    assert json.loads(cli("refinement", "list", cycle, "--json").output) == []  # T1's not kept
    submitted = cli("refinement", "submit", str(t1), str(t2), "--as", "dora")
    assert submitted.exit_code == 0, submitted.output
    lines = [line for line in submitted.output.splitlines() if not line.startswith("  ")]
    assert [line.split(": ")[0] for line in lines] == [str(t1), str(t2)]
    for line in lines:  # each file's own outcome, not the running total
        assert re.fullmatch(r".*: 1 changes \(1 (accepted|pending|rejected)\)", line), line
    assert len(json.loads(cli("refinement", "list", cycle, "--json").output)) == 2


def test_a_workbook_that_cannot_be_written_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harmonia import InputError
    from harmonia_excel import refinement

    monkeypatch.setattr(refinement, "allowed_moves", lambda values, current, moves: list(values))
    (tmp_path / "notes.txt").write_text("a file, not a folder", encoding="utf-8")
    meta = refinement.RefinementWorkbook(9, "", "2027-01-04T09:00:00+00:00", "", ("tier",))
    with pytest.raises(InputError, match=r"notes.txt/T1.xlsx: cannot write this workbook"):
        refinement.write_workbooks(
            _proposal({"T1": [(1, "grow", "2")]}),
            lambda name: tmp_path / "notes.txt" / f"{name}.xlsx", meta=meta, orders=ORDERS,
            moves="any", reasons=["access"], language="en",
        )  # fmt: skip


def test_workbooks_read_side_by_side_as_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harmonia import InputError
    from harmonia_excel import refinement

    monkeypatch.setattr(refinement, "allowed_moves", lambda values, current, moves: list(values))
    meta = refinement.RefinementWorkbook(9, "", "2027-01-04T09:00:00+00:00", "", ("segment",))
    paths = refinement.write_workbooks(
        _proposal({f"T{t}": [(t * 10 + i, "grow", "1") for i in range(3)] for t in range(5)}),
        lambda name: tmp_path / f"{name}.xlsx", meta=meta, orders=ORDERS, moves="any",
        reasons=["access"], language="en",
    )  # fmt: skip
    workbook = load_workbook(paths[3])
    workbook["Refinement"]["F3"], workbook["Refinement"]["G3"] = "champion", "access"
    workbook.save(paths[3])
    one_by_one = [refinement.read_workbook(path) for path in paths]
    assert refinement.read_workbooks(paths, jobs=2) == one_by_one
    assert [len(requests) for _, requests in one_by_one] == [0, 0, 0, 1, 0]
    broken = tmp_path / "broken.xlsx"
    broken.write_text("not a workbook", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken.xlsx: cannot read this workbook"):
        refinement.read_workbooks([*paths[:2], broken, *paths[2:]], jobs=2)
