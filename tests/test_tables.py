"""Tables that show what matters (issue 17, point 6), at 80 columns as a user's terminal
or a pipe has them: key columns are never cut, the load summary shows every reason with
its values, a very wide header is one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import write

from harmonia.cli.render import table
from harmonia.plugin.catalog import Catalog

HEADER = "customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory"


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    """An 80-column terminal (or a pipe, which rich takes as one), for this test only.

    Why not COLUMNS: rich fixes a console's width from COLUMNS when it is made, and
    the CLI's console is made once per process; this sets the made one's own width
    and puts back whatever it had.
    """
    from harmonia.cli import render

    console = render.stdout._console_now()
    monkeypatch.setattr(console, "_width", 80)


def test_key_columns_are_whole_at_80_columns_and_the_summary_shows_every_reason(
    harmonia_cli: Callable, tiny: Catalog, tmp_path: Path, narrow: None
) -> None:
    lines = [HEADER] + [
        f"FR0000{n:06d};NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;T1" for n in range(14)
    ]
    lines += [
        "FR0000999001;NL;DOC;Bram;Jansen;cardiology;1012;Amsterdam;T1",
        "FR0000999002;NL;VET;Cor;Bakker;cardiology;1013;Amsterdam;T1",
        "FR0000999003;NL;VE'T;Dirk;O'Brien;cardiology;1014;Amsterdam;T1",
    ]
    path = write(tmp_path / "customers_from_the_crm_export.csv", "\n".join(lines) + "\n")
    loaded = harmonia_cli("load", str(path))
    assert loaded.exit_code == 0, loaded.output
    # Every reason, alike ones together with the values they held; none masked away.
    said = " ".join(loaded.output.split())
    assert "3 x type '…' is not HCP or HCO: 'DOC' (1), 'VE''T' (1), 'VET' (1)" in said
    listed = harmonia_cli("quarantine", "list")
    assert listed.exit_code == 0, listed.output
    assert all(len(line) <= 80 for line in listed.output.splitlines())
    for line_number in (16, 17, 18):
        assert f"customers_from_the_crm_export.csv:{line_number}" in listed.output
    assert "…" not in listed.output.replace("'…'", "")  # nothing cut short


def test_a_table_whose_key_columns_cannot_fit_becomes_a_list() -> None:
    from rich.console import Console

    rows = [(1234567, "customers_from_the_crm_export.csv:15", "FR000012345678", 5842720.25)]
    columns = ["batch", "where", "customer", "amount"]
    console = Console(width=40, record=True)
    console.print(table("rows", columns, rows))
    text = console.export_text()
    assert "   where: customers_from_the_crm_export.csv:15" in text.replace("\n", "")
    assert "  amount: 5,842,720.25" in text and "customer: FR000012345678" in text
    wide = Console(width=120, record=True)
    wide.print(table("rows", columns, rows))
    shown = wide.export_text()
    assert (
        "┃     batch ┃ where" in shown
        and "│ 1,234,567 │ customers_from_the_crm_export.csv:15 │" in shown
    )


def test_a_header_of_thousands_of_ignored_columns_is_one_line(
    harmonia_cli: Callable, tiny: Catalog, tmp_path: Path, narrow: None
) -> None:
    extra = [f"extra_column_{n}" for n in range(3000)]
    path = write(
        tmp_path / "customers.csv",
        ";".join([HEADER, *extra]) + "\n" + "C01;NL;HCP;A;B;cardiology;1;A;T1" + ";" * 3000 + "\n",
    )
    loaded = harmonia_cli("load", str(path))
    assert loaded.exit_code == 0, loaded.output
    about = [line for line in loaded.output.splitlines() if "extra_column" in line]
    assert len(about) == 1, about
    assert "ignored 3,000 columns (extra_column_0, " in about[0]
    assert "and 2,995 more); --json lists them all" in about[0]


def test_a_header_of_200_000_columns_loads_and_is_one_line(
    harmonia_cli: Callable, tiny: Catalog, tmp_path: Path, narrow: None
) -> None:
    """DuckDB alone runs out of memory on such a header (a buffer per column): the
    file is read through a copy of the columns a record kind can use."""
    extra = [f"x{n}" for n in range(200_000)]
    rows = ["C01;NL;HCP;A;B;cardiology;1;A;T1", "C02;NL;DOC;A;B;cardiology;1;A;T1"]
    path = write(
        tmp_path / "customers.csv",
        ";".join([HEADER, *extra]) + "\n" + "".join(row + ";" * 200_000 + "\n" for row in rows),
    )
    loaded = harmonia_cli("load", str(path), "--json")
    assert loaded.exit_code == 0, loaded.output
    (result,) = json.loads(loaded.stdout)
    assert len(result["ignored_columns"]) == 200_000
    assert result["rows_loaded"] == 1 and result["rows_quarantined"] == 1
    listed = harmonia_cli("quarantine", "list", "--json")
    (row,) = json.loads(listed.stdout)
    assert row["row"] == 3 and row["record"]["customer_id"] == "C02", row  # its own line


def test_reasons_alike_but_for_their_row_numbers_are_one_line_with_their_count(
    harmonia_cli: Callable, tiny: Catalog, tmp_path: Path, narrow: None
) -> None:
    import tiny_market

    customers = harmonia_cli("load", str(tiny_market.DATA / "h1" / "customers.csv"), "-c", "NL")
    assert customers.exit_code == 0, customers.output
    rows = ["C01;cardiology;potential;2026;80", "C02;cardiology;potential;2026;70"]
    lines = ["customer_id;therapy_area;metric;period;value", *rows, *rows]
    path = write(tmp_path / "metrics.csv", "\n".join(lines) + "\n")
    loaded = harmonia_cli("load", str(path), "-c", "NL")
    assert loaded.exit_code == 0, loaded.output
    said = " ".join(loaded.output.split())
    assert "2 x duplicate of row … (same customer, therapy area, metric and period)" in said, said
    assert "(1), (1)" not in said and ": (1)" not in said
