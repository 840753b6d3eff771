"""Oversized and odd files (issue 17, point 7): one huge field quarantines its row, with
its line, and the rest loads; a file holding only a byte-order mark is empty. Through
the CLI as a user types it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from harmonia.files.reading import MAX_LINE_BYTES
from harmonia.plugin.catalog import Catalog

HEADER = "customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory\n"


def row(customer: str, first_name: str = "Anna") -> str:
    return f"{customer};NL;HCP;{first_name};de Vries;cardiology;1011;Amsterdam;T1\n"


@pytest.mark.parametrize("at", [2, 4], ids=["first-row", "further-down"])
def test_a_huge_field_quarantines_its_row_and_the_rest_loads(
    harmonia_cli: Callable, tiny: Catalog, tmp_path: Path, at: int
) -> None:
    rows = [row(f"C{n:02d}") for n in range(1, 6)]
    rows[at - 2] = row(f"C{at - 1:02d}", "x" * (MAX_LINE_BYTES + 1000))  # line `at`
    path = tmp_path / "customers.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    loaded = harmonia_cli("load", str(path), "--json")
    assert loaded.exit_code == 0, loaded.output[:2000]
    (result,) = json.loads(loaded.stdout)
    assert (result["rows_read"], result["rows_loaded"], result["rows_quarantined"]) == (5, 4, 1)
    (entry,) = json.loads(harmonia_cli("quarantine", "list", "--json").stdout)
    assert entry["row"] == at
    assert "field too large: the line holds 2.0 MB, more than the 2 MB" in " ".join(
        entry["reasons"]
    )
    assert entry["record"]["customer_id"] == f"C{at - 1:02d}"  # which customer, from the line


@pytest.mark.parametrize(
    ("content", "encoding"),
    [(b"\xef\xbb\xbf", "utf-8"), (b"\xef\xbb\xbf\r\n", "utf-8"), (b"\xff\xfe", "utf-16")],
    ids=["utf8", "utf8-newline", "utf16"],
)
def test_a_file_holding_only_a_byte_order_mark_is_empty(
    harmonia_cli: Callable, tiny: Catalog, tmp_path: Path, content: bytes, encoding: str
) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(content)
    refused = harmonia_cli("load", str(path), "--encoding", encoding)
    assert refused.exit_code == 1 and isinstance(refused.exception, SystemExit)
    assert "the file is empty: not even a header row" in refused.output
    assert "column0" not in refused.output
