"""The fix-and-reload loop (issue 17, point 1), as a user types it: load files with
defects, export the quarantine, fix the export, load it again; every row is accounted
for, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import query, write

from harmonia.plugin.catalog import Catalog

CUSTOMERS = """\
customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory;id_scheme;id_value
C01;NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;T1;TINY;10000016
C02;NL;DOC;Bram;Jansen;cardiology;1012;Amsterdam;T1;;
C03;NL;HCP;Cor
C04;NL;HCP;Dirk;Smit;cardiology;1013;Den Haag; Zuid;T1;;;call first
;NL;HCP;Eva;Mulder;cardiology;1014;Utrecht;T1;;
"""

METRICS = """\
customer_id;therapy_area;metric;period;value
C01;cardiology;trx;2027-Q1;1,5
C01;cardiology;trx;2027-Q2;abc
C02;cardiology;trx;2027-Q1;2,5
"""


@pytest.fixture
def cli(harmonia_cli: Callable, tiny: Catalog, database_url: str) -> Callable:
    """The CLI on a fresh store (SQLite, then PostgreSQL)."""
    return lambda *args: harmonia_cli("--database", database_url, *args)


def open_entries(cli: Callable) -> list[dict]:
    result = cli("quarantine", "list", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def read_export(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def write_export(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter=";")
        writer.writeheader()
        writer.writerows(rows)


def test_load_export_fix_reload_accounts_for_every_row(
    cli: Callable, database_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    write(data / "customers.csv", CUSTOMERS)
    write(data / "metrics.csv", METRICS)
    first = cli("load", str(data), "--country", "NL", "--json")
    assert first.exit_code == 0, first.output
    counts = [(r["kind"], r["rows_read"], r["rows_quarantined"]) for r in json.loads(first.stdout)]
    assert counts == [("customers", 5, 4), ("metrics", 3, 2)]

    # The export is in the market's conventions (';'), lines that could not be
    # read keep their text, their columns filled in from it as far as it goes.
    out = tmp_path / "fix"
    exported = cli("quarantine", "export", "--out", str(out))
    assert exported.exit_code == 0, exported.output
    assert (out / "customers.csv").read_text().startswith("quarantine_id;customer_id;")
    customers = {row["customer_id"]: row for row in read_export(out / "customers.csv")}
    assert set(customers) == {"C02", "C03", "C04", ""}
    assert customers["C03"]["original_line"] == "C03;NL;HCP;Cor"
    assert (customers["C03"]["first_name"], customers["C03"]["last_name"]) == ("Cor", "")
    assert "4 fields where the header has 11" in customers["C03"]["reasons"]
    assert customers["C04"]["original_line"] == (
        "C04;NL;HCP;Dirk;Smit;cardiology;1013;Den Haag; Zuid;T1;;;call first"
    )
    assert "13 fields where the header has 11" in customers["C04"]["reasons"]
    assert customers["C02"]["original_line"] == "" and customers["C02"]["type"] == "DOC"
    metrics = read_export(out / "metrics.csv")
    assert [(m["customer_id"], m["value"]) for m in metrics] == [("C01", "abc"), ("C02", "2,5")]

    # Loading the export unchanged loads nothing, loses nothing and keeps each
    # row quarantined once: a filled-in line waits for a person to check it.
    again = cli("load", str(out), "--country", "NL", "--json")
    assert again.exit_code == 0, again.output
    assert [r["rows_loaded"] for r in json.loads(again.stdout)] == [0, 0]
    entries = open_entries(cli)
    assert len(entries) == 6
    held = {e["record"].get("customer_id"): e for e in entries if e["kind"] == "customers"}
    assert held["C03"]["record"]["original_line"] == "C03;NL;HCP;Cor"
    assert "then empty original_line" in held["C03"]["reasons"][0]

    # The user fixes every row in the export and loads it again.
    cli("quarantine", "export", "--out", str(out))
    fixed = []
    for row in read_export(out / "customers.csv"):
        if row["customer_id"] == "C02":
            row["type"] = "HCP"
        elif row["customer_id"] == "C03":
            row |= {"last_name": "Visser", "specialty": "cardiology", "original_line": ""}
        elif row["customer_id"] == "C04":
            row |= {
                "city": "Den Haag Zuid",
                "territory": "T1",
                "id_scheme": "",
                "original_line": "",
            }
        else:
            row["customer_id"] = "C05"
        fixed.append(row)
    write_export(out / "customers.csv", fixed)
    metrics = read_export(out / "metrics.csv")
    for row in metrics:
        row["value"] = row["value"].replace("abc", "3,25")
    write_export(out / "metrics.csv", metrics)
    final = cli("load", str(out), "--country", "NL", "--json")
    assert final.exit_code == 0, final.output
    loaded = [
        (r["kind"], r["rows_loaded"], r["rows_quarantined"]) for r in json.loads(final.stdout)
    ]
    assert loaded == [("customers", 4, 0), ("metrics", 2, 0)]
    assert open_entries(cli) == []

    stored = query(
        database_url,
        "SELECT x.source_id, c.last_name, c.city FROM customer c "
        "JOIN crosswalk x ON x.customer_id = c.id ORDER BY x.source_id",
    )
    assert [(r["source_id"], r["last_name"], r["city"]) for r in stored] == [
        ("C01", "de Vries", "Amsterdam"),
        ("C02", "Jansen", "Amsterdam"),
        ("C03", "Visser", None),
        ("C04", "Smit", "Den Haag Zuid"),
        ("C05", "Mulder", "Utrecht"),
    ]
    # Every entry ever quarantined is resolved, by the load that fixed it or replaced it.
    every = json.loads(cli("quarantine", "list", "--all", "--json").stdout)
    assert every and all(entry["resolved_by_batch"] for entry in every)
