"""Ingest: real files in every market convention, into real databases, with the quarantine.

Every test here runs on SQLite and on the PostgreSQL test server (the
``database_url`` fixture). The checks that depend on the file reader run
twice more: reading a file whole, and streaming it in chunks of three rows,
so that row numbers and duplicates are right across chunk boundaries.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tiny_market
from helpers import count_rows, load, quarantined, query, write

from harmonia.plugin.catalog import Catalog

CUSTOMERS_HEADER = (
    "customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory;"
    "id_scheme;id_value"
)


@pytest.fixture(params=["whole", "streamed"])
def reading(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Read files whole, or stream them and load in chunks of three rows."""
    if request.param == "streamed":
        monkeypatch.setattr("harmonia.files.reading.STREAM_ABOVE_BYTES", 0)
        monkeypatch.setattr("harmonia.ingest.loader.CHUNK_ROWS", 3)
    return request.param


def metric_values(url: str) -> dict[tuple[str, str, str], float]:
    rows = query(
        url,
        "SELECT x.source_id, m.metric, m.period, m.value FROM metric m "
        "JOIN crosswalk x ON x.customer_id = m.customer_id",
    )
    return {(r["source_id"], r["metric"], r["period"]): r["value"] for r in rows}


def customers_file(tmp_path: Path, *rows: str, name: str = "customers.csv") -> Path:
    return write(tmp_path / name, "\n".join([CUSTOMERS_HEADER, *rows]) + "\n")


def good_customers(tmp_path: Path) -> Path:
    return customers_file(
        tmp_path,
        "C01;NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;T1;TINY;10000016",
        "C02;NL;HCP;Bram;Jansen;cardiology;1012;Amsterdam;T1;TINY;10000024",
    )


def load_nl_metrics(url: str, tiny: Catalog, tmp_path: Path, *rows: str) -> Any:
    """Load the good customers, then these metrics rows (``;`` file) in the Dutch market."""
    load(url, tiny, good_customers(tmp_path), country="NL")
    header = "customer_id;therapy_area;metric;period;value"
    metrics = write(tmp_path / "metrics.csv", "\n".join([header, *rows]) + "\n")
    (result,) = load(url, tiny, metrics, country="NL")
    return result


# --- conventions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cells",
    [
        pytest.param(
            [("C01", "potential", "2026", "1.234,5", 1234.5),
             ("C01", "trx", "2027-Q1", "2,25", 2.25),
             ("C02", "trx", "2027-Q1", "-0,5", -0.5),
             ("C02", "calls", "2027-05", "1 000", 1000.0)],
            id="the market's convention",
        ),
        pytest.param(  # 2.55 shows the column writes points as decimals: 2.500 is 2.5
            [("C01", "potential", "2026", "2.55", 2.55),
             ("C01", "trx", "2027-Q1", "2.500", 2.5),
             ("C02", "trx", "2027-Q1", "0.125", 0.125),
             ("C02", "calls", "2027-05", "1,5", 1.5)],
            id="a column written with decimal points",
        ),
    ],
)  # fmt: skip
def test_numbers_in_a_decimal_comma_market(
    database_url: str, tiny: Catalog, tmp_path: Path, cells: list[tuple]
) -> None:
    rows = [
        f"{customer};cardiology;{metric};{period};{text}"
        for customer, metric, period, text, _ in cells
    ]
    result = load_nl_metrics(database_url, tiny, tmp_path, *rows)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 4, 0)
    assert metric_values(database_url) == {cell[:3]: cell[4] for cell in cells}


def test_rows_read_are_rows_loaded_plus_rows_quarantined_even_for_repeated_rejects(
    database_url: str, tiny: Catalog, tmp_path: Path
) -> None:
    """Identical rejected rows share a quarantine entry but each is counted; a row
    rejected for its own reasons does not make the valid row after it a duplicate."""
    result = load_nl_metrics(
        database_url,
        tiny,
        tmp_path,
        "GHOST;cardiology;trx;2027-Q1;12",
        "GHOST;cardiology;trx;2027-Q1;12",
        "C01;cardiology;trx;2027-Q1;abc",
        "C01;cardiology;trx;2027-Q1;7",
    )
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 1, 3)
    assert metric_values(database_url) == {("C01", "trx", "2027-Q1"): 7.0}


def test_a_semicolon_file_without_a_country_is_read_with_decimal_commas(
    database_url: str, tiny: Catalog, tmp_path: Path
) -> None:
    load(database_url, tiny, good_customers(tmp_path))
    metrics = write(
        tmp_path / "metrics.csv",
        "customer_id;therapy_area;metric;period;value\nC01;cardiology;trx;2027-Q1;2,5\n",
    )
    (result,) = load(database_url, tiny, metrics)
    assert result.rows_quarantined == 0
    assert metric_values(database_url) == {("C01", "trx", "2027-Q1"): 2.5}


def test_a_byte_order_mark_and_spreadsheet_headers_are_understood(
    database_url: str, tiny: Catalog, tmp_path: Path
) -> None:
    load(database_url, tiny, good_customers(tmp_path))
    metrics = tmp_path / "metrics.csv"
    metrics.write_bytes(
        b"\xef\xbb\xbfCustomer ID;Therapy Area;Metric;Period;Value\r\n"
        b"C01;cardiology;trx;2027-Q1;3,5\r\n"
    )
    (result,) = load(database_url, tiny, metrics, country="NL")
    assert (result.kind, result.rows_loaded, result.rows_quarantined) == ("metrics", 1, 0)
    assert metric_values(database_url) == {("C01", "trx", "2027-Q1"): 3.5}


def test_commas_and_decimal_points_with_thousands_separators(
    database_url: str, tiny: Catalog, tmp_path: Path
) -> None:
    customers = write(
        tmp_path / "customers.csv",
        """
        customer_id,country,type,last_name,specialty
        C01,nl,hcp,de Vries,cardiology
        C02,NL,HCO,"Ziekenhuis Oost, locatie Noord",cardiology
        """,
    )
    metrics = write(
        tmp_path / "metrics.csv",
        """
        customer_id,therapy_area,metric,period,value,comment
        C01,Cardiology,Potential,2026,"1,234.5",from the vendor
        C02,cardiology,trx,2027-q1,0.25,
        """,
    )
    results = load(database_url, tiny, customers, metrics)
    assert [(r.kind, r.rows_loaded, r.rows_quarantined) for r in results] == [
        ("customers", 2, 0),
        ("metrics", 2, 0),
    ]
    assert results[1].ignored_columns == ("comment",)
    assert metric_values(database_url) == {
        ("C01", "potential", "2026"): 1234.5,
        ("C02", "trx", "2027-Q1"): 0.25,
    }
    stored = query(database_url, "SELECT country, type, last_name FROM customer ORDER BY id")
    assert stored == [
        {"country": "NL", "type": "HCP", "last_name": "de Vries"},
        {"country": "NL", "type": "HCO", "last_name": "Ziekenhuis Oost, locatie Noord"},
    ]


def test_parquet_files_with_typed_columns(database_url: str, tiny: Catalog, tmp_path: Path) -> None:
    pq.write_table(
        pa.table(
            {
                "customer_id": ["C01", "C02"],
                "country": ["NL", "NL"],
                "type": ["HCP", "HCP"],
                "specialty": ["cardiology", "cardiology"],
                "id_scheme": ["TINY", None],
                "id_value": ["10000016", None],
            }
        ),
        tmp_path / "customers.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "customer_id": ["C01", "C02", "C02"],
                "therapy_area": ["cardiology"] * 3,
                "metric": ["potential", "trx", "trx"],
                "period": ["2026", "2027-Q1", "2027-Q2"],
                "value": pa.array([1.234, 1234.5, 12], pa.float64()),
            }
        ),
        tmp_path / "metrics.parquet",
    )
    # A typed double is a number already: the market's decimal comma must not re-read it.
    results = load(database_url, tiny, tmp_path, country="NL")
    assert [(r.kind, r.rows_loaded) for r in results] == [("customers", 2), ("metrics", 3)]
    assert metric_values(database_url) == {
        ("C01", "potential", "2026"): 1.234,
        ("C02", "trx", "2027-Q1"): 1234.5,
        ("C02", "trx", "2027-Q2"): 12.0,
    }


# --- every rejection ends in the quarantine, with its reasons and its row ------------------------

TINY_RULE = "8 digits, the last a Luhn check digit"


def test_every_customer_rejection_is_quarantined_with_its_reasons_and_row(
    database_url: str, tiny: Catalog, tmp_path: Path, reading: str
) -> None:
    path = customers_file(
        tmp_path,
        "C01;NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;T1;TINY;10000016",  # row 2
        ";NL;HCP;No;Id;cardiology;;;;;",  # 3
        "C03;XX;HCP;Cor;Bakker;cardiology;;;;;",  # 4
        "C04;BE;HCP;Daan;Visser;cardiology;;;;;",  # 5
        "C05;NL;DOC;Eva;Smit;cardiology;;;;;",  # 6
        "C06;NL;HCP;Fenna;Meijer;cardiology;;;;NPI;1234567893",  # 7
        "C07;NL;HCP;Gijs;de Boer;cardiology;;;;TINY;10000017",  # 8
        "C08;NL;HCP;Hanna;Mulder;cardiology;;;;TINY;1000008",  # 9
        "C01;NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;T1;;",  # 10
        "C10;NL;HCP;Joost;Bos;cardiology;;;;TINY;1000-0016",  # 11
        "C11;NL;HCP;Kees;Dekker;cardiology;;;;TINY;",  # 12
        "C12;nl;hco;;Ziekenhuis;cardiology;;;;tiny;1000 0024",  # 13
        ";;;;;;;;;;",  # 14
    )
    (result,) = load(database_url, tiny, path, country="NL")
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (13, 2, 11)
    rows = [(row["row_number"], row["reasons"]) for row in quarantined(database_url)]
    assert rows == [
        (3, ["customer_id is empty"]),
        (
            4,
            [
                "country 'XX' is not an ISO 3166 alpha-2 code such as FR or US",
                "country 'XX' is not the country of this load (NL)",
            ],
        ),
        (5, ["country 'BE' is not the country of this load (NL)"]),
        (6, ["type 'DOC' is not HCP or HCO"]),
        (7, ["identifier scheme 'NPI' is not installed (installed: TINY)"]),
        (8, [f"TINY '10000017' is not valid ({TINY_RULE})"]),
        (9, [f"TINY '1000008' is not valid ({TINY_RULE})"]),
        (10, ["duplicate customer_id 'C01', first given at row 2"]),
        (11, ["identifier 'TINY 10000016' is also given at row 2"]),
        (12, ["id_scheme and id_value go together: give both or neither"]),
        (
            14,
            [
                "customer_id is empty",
                "country is empty",
                "type is empty: write HCP or HCO",
            ],
        ),
    ]
    stored = query(database_url, "SELECT c.country, c.type, i.scheme, i.value FROM customer c "
                   "LEFT JOIN identifier i ON i.customer_id = c.id ORDER BY c.id")  # fmt: skip
    assert stored == [
        {"country": "NL", "type": "HCP", "scheme": "TINY", "value": "10000016"},
        {"country": "NL", "type": "HCO", "scheme": "TINY", "value": "10000024"},
    ]
    record = quarantined(database_url)[5]["record"]
    assert record["customer_id"] == "C07" and record["id_value"] == "10000017"  # kept whole


def test_an_identifier_of_another_country_is_refused(
    database_url: str, tiny: Catalog, tmp_path: Path
) -> None:
    path = customers_file(tmp_path, "B01;BE;HCP;Lotte;Peeters;cardiology;;;;TINY;10000016")
    (result,) = load(database_url, tiny, path)
    assert result.rows_quarantined == 1
    assert quarantined(database_url)[0]["reasons"] == [
        "TINY is a NL identifier but the customer's country is 'BE'"
    ]


def test_a_schemes_python_validator_checks_its_identifiers_at_load(
    database_url: str,
    register_pack: Callable[..., Any],
    harmonia_plugins: Any,
    tmp_path: Path,
) -> None:
    from harmonia import IdentifierScheme, InvalidIdentifier
    from harmonia.testing import module_pack

    def even(value: str) -> str:
        if int(value) % 2:
            raise InvalidIdentifier("an EVEN number is even")
        return value

    scheme = IdentifierScheme(
        name="EVEN", country="NL", pattern=r"\d{4}", description="4 digits", validate=even
    )
    register_pack(tiny_market, name="tiny", version="1.0")
    register_pack(module_pack("even", harmonia_identifier_schemes=lambda: [scheme]))
    path = customers_file(
        tmp_path,
        "C01;NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;T1;EVEN;1234",
        "C02;NL;HCP;Bram;Jansen;cardiology;1012;Amsterdam;T1;EVEN;1235",
    )
    (result,) = load(database_url, harmonia_plugins.catalog(), path)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    assert quarantined(database_url)[0]["reasons"] == ["an EVEN number is even"]


def test_every_metric_rejection_is_quarantined_with_its_reasons_and_row(
    database_url: str, tiny: Catalog, tmp_path: Path, reading: str
) -> None:
    load(database_url, tiny, good_customers(tmp_path), country="NL")
    path = write(
        tmp_path / "metrics.csv",
        """
        customer_id;therapy_area;metric;period;value
        C01;cardiology;trx;2027-Q1;1,5
        C99;cardiology;trx;2027-Q1;1
        C01;cardiology;trx;2027-13;1
        C01;cardiology;trx;2027-Q5;1
        C01;cardiology;calls;2027-Q1;abc
        C01;cardiology;potential;2026;
        C01;cardiology;trx;2027-q1;2
        C01;Cardio Logy;trx;2027-Q1;1
        C01;cardiology;2x;2027-Q1;1
        C02;cardiology;trx;2027-Q1;2;extra
        ;cardiology;trx;;1
        C02;cardiology;trx;2027-Q2;4,5
        """,
    )
    (result,) = load(database_url, tiny, path, country="NL")
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (12, 2, 10)
    rows = [(row["row_number"], row["reasons"]) for row in quarantined(database_url)]
    unreadable = [(n, r) for n, r in rows if r[0].startswith("unreadable line")]
    assert unreadable == [
        (
            11,
            [
                "unreadable line: 6 fields where the header has 5 "
                "(does a value hold ';'? put it in double quotes)"
            ],
        )
    ]
    assert [(n, r) for n, r in rows if n != 11] == [
        (
            3,
            [
                "customer_id 'C99' is not a customer of system csv: "
                "load it in a customers file first"
            ],
        ),
        (4, ["period '2027-13' is not a period: write 2027, 2027-H1, 2027-Q3 or 2027-05"]),
        (5, ["period '2027-Q5' is not a period: write 2027, 2027-H1, 2027-Q3 or 2027-05"]),
        (6, ["value 'abc' is not a number (this file is read with a decimal comma)"]),
        (7, ["value is empty"]),
        (8, ["duplicate of row 2 (same customer, therapy area, metric and period)"]),
        (9, ["therapy_area 'cardio logy' is not an id (lower case letters, digits, - _ .)"]),
        (10, ["metric '2x' is not a name (lower case letters, digits and _)"]),
        (12, ["customer_id is empty", "period is empty"]),
    ]
    assert metric_values(database_url) == {
        ("C01", "trx", "2027-Q1"): 1.5,
        ("C02", "trx", "2027-Q2"): 4.5,
    }


def test_a_short_line_is_one_quarantined_row_and_the_rows_after_it_keep_their_numbers(
    database_url: str, tiny: Catalog, tmp_path: Path
) -> None:
    load(database_url, tiny, good_customers(tmp_path), country="NL")
    path = write(
        tmp_path / "metrics.csv",
        """
        customer_id;therapy_area;metric;period;value
        C01;cardiology;trx;2027-Q1;1
        C02;cardiology
        C02;cardiology;trx;2027-Q1;x
        """,
    )
    (result,) = load(database_url, tiny, path, country="NL")
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (3, 1, 2)
    assert [(r["row_number"], r["reasons"][0][:16]) for r in quarantined(database_url)] == [
        (3, "unreadable line:"),
        (4, "value 'x' is not"),
    ]


def test_a_semicolon_file_with_a_broken_line_is_still_read_with_decimal_commas(
    database_url: str, tiny: Catalog, tmp_path: Path
) -> None:
    load(database_url, tiny, good_customers(tmp_path))
    path = write(
        tmp_path / "metrics.csv",
        """
        customer_id;therapy_area;metric;period;value
        C01;cardiology;trx;2027-Q1;1,5
        C02;cardiology;trx;2027-Q1;2;extra
        C02;cardiology;trx;2027-Q2;4,5
        """,
    )
    (result,) = load(database_url, tiny, path)
    assert (result.rows_loaded, result.rows_quarantined) == (2, 1)
    assert metric_values(database_url) == {
        ("C01", "trx", "2027-Q1"): 1.5,
        ("C02", "trx", "2027-Q2"): 4.5,
    }


def test_response_rejections_are_quarantined_with_their_reasons(
    database_url: str, tiny: Catalog, tmp_path: Path
) -> None:
    # Questionnaire validation has its own tests (tests/questionnaires); here
    # each kind of bad row must reach the quarantine at its row, with its reason.
    load(database_url, tiny, good_customers(tmp_path), country="NL")
    path = write(
        tmp_path / "responses.csv",
        """
        customer_id;questionnaire;version;respondent;answered_at;question;answer
        C01;tiny-profile;1;rep1;2026-05-10;usage;lots
        C01;tiny-profile;9;rep1;2026-05-10;usage;lots
        C02;tiny-profile;1;rep1;someday;usage;lots
        C01;tiny-profile;1;rep1;2026-05-10;colour;blue
        C02;tiny-profile;1;rep1;2026-05-11;usage;always
        C02;tiny-profile;1;rep1;2026-05-12;usage;
        """,
    )
    (result,) = load(database_url, tiny, path, country="NL")
    assert result.rows_read == result.rows_loaded + result.rows_quarantined == 6
    reasons = {row["row_number"]: row["reasons"] for row in quarantined(database_url)}
    expected = {
        3: "questionnaire 'tiny-profile' version '9' is not installed (installed: tiny-profile 1)",
        4: "answered_at 'someday' is not a date (write YYYY-MM-DD)",
        5: "question 'colour' is not an item of tiny-profile version 1",
        6: "answer 'always' is not an option of usage (options: none some lots)",
        7: "answer is empty",
    }
    assert set(reasons) >= set(expected)
    for row, reason in expected.items():
        assert reason in reasons[row], row
    assert 2 not in reasons


def test_rows_read_are_rows_loaded_plus_rows_quarantined_in_every_load_batch(
    database_url: str, tiny: Catalog
) -> None:
    results = load(database_url, tiny, tiny_market.DATA / "h1", country="NL")
    batches = query(
        database_url, "SELECT rows_read, rows_loaded, rows_quarantined, status FROM load_batch"
    )
    assert len(batches) == len(results) == 3
    for batch in batches:
        assert batch["rows_read"] == batch["rows_loaded"] + batch["rows_quarantined"] > 0
        assert batch["status"] == "loaded"
    assert [r.rows_read for r in results] == [10, 38, 6]


# --- loading again ------------------------------------------------------------------------------


def test_loading_the_same_files_twice_duplicates_nothing(
    database_url: str, tiny: Catalog, tmp_path: Path
) -> None:
    bad = write(
        tmp_path / "bad" / "metrics.csv",
        "customer_id;therapy_area;metric;period;value\nC01;cardiology;trx;2027-13;1\n"
        "C99;cardiology;trx;2027-Q1;1\n",
    )
    load(database_url, tiny, tiny_market.DATA / "h1", bad, country="NL")
    first = count_rows(database_url)
    again = load(database_url, tiny, tiny_market.DATA / "h1", bad, country="NL")
    assert count_rows(database_url) == first
    assert first["customer"] == 10 and first["metric"] == 38 and first["quarantine"] == 2
    assert [(r.rows_read, r.rows_loaded, r.rows_quarantined) for r in again] == [
        (10, 10, 0),
        (38, 38, 0),
        (2, 0, 2),
        (6, 6, 0),
    ]
    assert [(r.rows_new, r.rows_updated, r.rows_unchanged) for r in again] == [
        (0, 0, 10),
        (0, 0, 38),
        (0, 0, 0),
        (0, 0, 6),
    ]
    # Files whose content was loaded last and nothing they depend on changed
    # since are skipped (customers, responses); the others are loaded and
    # recorded, and their facts are not repeated.
    assert [r.skipped for r in again] == [True, False, False, True]
    batches = count_rows(database_url, ["load_batch"])["load_batch"]
    assert batches == 6
    skips = query(database_url, "SELECT subject FROM audit_event WHERE action = 'load.skipped'")
    assert len(skips) == 2


def test_a_first_customers_load_leaves_the_schema_the_models_declare(
    database_url: str, tiny: Catalog
) -> None:
    """The loader builds the indexes of the tables a first load fills after its rows."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from harmonia.store import Database
    from harmonia.store.models import metadata

    (result,) = load(database_url, tiny, tiny_market.DATA / "h1" / "customers.csv", country="NL")
    assert result.rows_new == 10
    with Database(database_url).engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    assert query(database_url, "SELECT customer_id FROM identifier WHERE value = '10000016'") == [
        {"customer_id": 1}
    ]


def test_a_load_counts_rows_new_updated_and_unchanged_and_rewrites_only_what_changed(
    database_url: str, tiny: Catalog, tmp_path: Path, reading: str
) -> None:
    """The monthly extract loaded again: a data steward sees what moved, and a
    response whose answers are the stored ones is left as it was."""
    h1 = tiny_market.DATA / "h1"
    first = load(database_url, tiny, h1, country="NL")
    assert [(r.rows_new, r.rows_updated, r.rows_unchanged) for r in first] == [
        (10, 0, 0),
        (38, 0, 0),
        (6, 0, 0),
    ]
    edits = {
        "customers.csv": {
            "C01;NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;": "C01;NL;HCP;Anna;de Vries;cardiology;2011;Haarlem;",
            "C02;NL;HCP;Bram;Jansen;cardiology;1012;Amsterdam;T1;TINY;10000024": "C02;NL;HCP;Bram;Jansen;cardiology;1012;Amsterdam;T1;TINY;20000014",
            "C03;NL;HCP;Cor;Bakker;cardiology;3011;Rotterdam;T1;TINY;10000032": "C03;NL;HCP;Cor;Bakker;cardiology;3011;Delft;T1;TINY;20000022",
        },
        "metrics.csv": {"C01;cardiology;potential;2026;80": "C01;cardiology;potential;2026;85"},
        "responses.csv": {
            "C02;tiny-profile;1;rep1;2026-06-01;usage;some": "C02;tiny-profile;1;rep1;2026-06-01;usage;lots"
        },
    }
    added = {
        "customers.csv": "C11;NL;HCP;Karel;Smit;cardiology;1013;Amsterdam;T1;TINY;20000030\n",
        "metrics.csv": "C11;cardiology;potential;2026;10\n",
        "responses.csv": "",
    }
    for name, replacements in edits.items():
        text = (h1 / name).read_text()
        for old, new in replacements.items():
            assert old in text
            text = text.replace(old, new)
        write(tmp_path / "next" / name, text + added[name])
    stored_before = query(database_url, "SELECT id, batch_id FROM response ORDER BY id")
    second = load(database_url, tiny, tmp_path / "next", country="NL")
    assert [(r.kind, r.rows_new, r.rows_updated, r.rows_unchanged) for r in second] == [
        ("customers", 1, 3, 7),  # C03's new city and identifier are one update
        ("metrics", 1, 1, 37),
        ("responses", 0, 1, 5),
    ]
    responses_batch = second[-1].batch_id
    rewritten = {
        row["id"]
        for row in query(
            database_url, f"SELECT id FROM response WHERE batch_id = {responses_batch}"
        )
    }
    assert len(rewritten) == 1 and len(stored_before) == 6
    answers = query(
        database_url,
        "SELECT x.source_id, a.value FROM answer a JOIN response r ON r.id = a.response_id "
        "JOIN crosswalk x ON x.customer_id = r.customer_id ORDER BY x.source_id",
    )
    assert {row["source_id"]: row["value"] for row in answers}["C02"] == "lots"
    assert len(answers) == 6


def test_a_customer_rows_versions_are_the_states_later_batches_replaced(
    database_url: str, tiny: Catalog, tmp_path: Path
) -> None:
    """What ``--as-of`` reads a changed customer back from: each state a change
    replaced, under the batch that gave it. The current state is the row, so a
    first load, and a customer never changed, have no version."""
    (first,) = load(database_url, tiny, good_customers(tmp_path), country="NL")
    versions = (
        "SELECT id, batch_id, country, city, specialty FROM customer_version ORDER BY batch_id"
    )
    assert query(database_url, versions) == []
    moved = customers_file(
        tmp_path, "C01;NL;HCP;;de Vries;cardiology;2011;Haarlem;T1;TINY;10000016"
    )
    (second,) = load(database_url, tiny, moved, country="NL")
    assert second.rows_updated == 1
    c01 = {
        row["id"] for row in query(database_url, "SELECT id FROM customer WHERE city = 'Haarlem'")
    }
    assert query(database_url, versions) == [
        {
            "id": min(c01),
            "batch_id": first.batch_id,
            "country": "NL",
            "city": "Amsterdam",
            "specialty": "cardiology",
        }
    ]
    retrained = customers_file(
        tmp_path, "C01;BE;HCP;Anna;de Vries;general_practice;2011;Haarlem;T1;;"
    )
    load(database_url, tiny, retrained)
    assert query(database_url, versions)[1:] == [
        {
            "id": min(c01),
            "batch_id": second.batch_id,
            "country": "NL",
            "city": "Haarlem",
            "specialty": "cardiology",
        }
    ]
    assert query(
        database_url, "SELECT first_name, country FROM customer WHERE city = 'Haarlem'"
    ) == [{"first_name": "Anna", "country": "BE"}]


def test_a_changed_value_replaces_the_stored_one(
    database_url: str, tiny: Catalog, tmp_path: Path
) -> None:
    load(database_url, tiny, good_customers(tmp_path), country="NL")
    header = "customer_id;therapy_area;metric;period;value\n"
    load(database_url, tiny, write(tmp_path / "m.csv", header + "C01;cardiology;trx;2027-Q1;1\n"))
    load(database_url, tiny, write(tmp_path / "m.csv", header + "C01;cardiology;trx;2027-Q1;7\n"))
    assert metric_values(database_url) == {("C01", "trx", "2027-Q1"): 7.0}


def test_a_quarantined_row_that_later_loads_is_marked_resolved(
    database_url: str, tiny: Catalog, tmp_path: Path
) -> None:
    metrics = write(
        tmp_path / "metrics.csv",
        "customer_id;therapy_area;metric;period;value\nC01;cardiology;trx;2027-Q1;1\n",
    )
    load(database_url, tiny, metrics, country="NL")
    assert [row["resolved_batch_id"] for row in quarantined(database_url)] == [None]
    load(database_url, tiny, good_customers(tmp_path), country="NL")
    (result,) = load(database_url, tiny, metrics, country="NL")
    assert result.rows_loaded == 1
    assert [row["resolved_batch_id"] for row in quarantined(database_url)] == [result.batch_id]


def test_a_quarantined_row_fixed_and_loaded_again_is_marked_resolved(
    database_url: str, tiny: Catalog, tmp_path: Path
) -> None:
    """Fixing a key column makes a new row: the exported quarantine_id ties it to the old one."""
    load(database_url, tiny, good_customers(tmp_path), country="NL")
    header = "customer_id;therapy_area;metric;period;value\n"
    load(database_url, tiny, write(tmp_path / "m.csv", header + "C01;cardiology;trx;2027-13;1\n"))
    (entry,) = quarantined(database_url)
    fixed_file = write(
        tmp_path / "fixed.csv",
        "quarantine_id;" + header + f"{entry['id']};C01;cardiology;trx;2027-12;1\n",
    )
    (fixed,) = load(database_url, tiny, fixed_file)
    assert fixed.rows_loaded == 1
    assert [row["resolved_batch_id"] for row in quarantined(database_url)] == [fixed.batch_id]


def test_reloading_a_file_with_the_same_bad_row_keeps_it_quarantined(
    database_url: str, tiny: Catalog, tmp_path: Path
) -> None:
    load(database_url, tiny, good_customers(tmp_path), country="NL")
    bad = "customer_id;therapy_area;metric;period;value\nC01;cardiology;trx;2027-13;1\n"
    load(database_url, tiny, write(tmp_path / "m.csv", bad))
    load(database_url, tiny, write(tmp_path / "m.csv", bad))
    assert [row["resolved_batch_id"] for row in quarantined(database_url)] == [None]


# --- refreshes: rows given again as they were ----------------------------------------------


#: Four customers with identifiers of the scheme EVEN (:func:`_counting_catalog`).
EVEN_ROWS = (
    "C01;NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;T1;EVEN;1234",
    "C02;NL;HCP;Bram;Jansen;cardiology;1012;Amsterdam;T1;EVEN;1236",
    "C03;NL;HCP;Cor;Bakker;cardiology;3011;Rotterdam;T1;EVEN;1238",
    "C04;NL;HCP;Dirk;Visser;cardiology;3012;Rotterdam;T1;EVEN;1240",
)


def _counting_catalog(
    register_pack: Callable[..., Any], harmonia_plugins: Any, seen: list[str]
) -> Catalog:
    """The tiny market with a scheme EVEN whose validator notes in ``seen`` every
    value it checks: which rows were checked in full."""
    from harmonia import IdentifierScheme
    from harmonia.testing import module_pack

    def counted(value: str) -> str:
        seen.append(value)
        return value

    scheme = IdentifierScheme(
        name="EVEN", country="NL", pattern=r"\d{4}", description="4 digits", validate=counted
    )
    register_pack(tiny_market, name="tiny", version="1.0")
    register_pack(module_pack("even", harmonia_identifier_schemes=lambda: [scheme]))
    return harmonia_plugins.catalog()


def test_a_refresh_checks_and_merges_only_the_rows_that_changed(
    database_url: str,
    register_pack: Callable[..., Any],
    harmonia_plugins: Any,
    tmp_path: Path,
    reading: str,
) -> None:
    """A row hashing as its record's last row is passed over: not checked (the
    scheme's validator never sees it), not merged, counted unchanged."""
    seen: list[str] = []
    catalog = _counting_catalog(register_pack, harmonia_plugins, seen)
    rows = list(EVEN_ROWS)
    load(database_url, catalog, customers_file(tmp_path, *rows), country="NL")
    assert sorted(seen) == ["1234", "1236", "1238", "1240"]
    seen.clear()
    rows[2] = rows[2].replace("Rotterdam", "Delft")
    refresh = customers_file(tmp_path, *rows, "C05;NL;HCP;Eva;Smit;cardiology;;;;EVEN;1242")
    (result,) = load(database_url, catalog, refresh, country="NL")
    assert sorted(seen) == ["1238", "1242"]  # the changed row and the new one
    assert (result.rows_new, result.rows_updated, result.rows_unchanged) == (1, 1, 3)
    hashes = query(database_url, "SELECT source_id, row_hash FROM crosswalk ORDER BY source_id")
    assert [row["source_id"] for row in hashes] == ["C01", "C02", "C03", "C04", "C05"]
    assert all(row["row_hash"] is not None for row in hashes)
    assert query(database_url, "SELECT city FROM customer ORDER BY id") == [
        {"city": city} for city in ("Amsterdam", "Amsterdam", "Delft", "Rotterdam", None)
    ]


def test_rows_hashed_under_other_merge_rules_are_checked_and_merged_in_full(
    database_url: str,
    register_pack: Callable[..., Any],
    harmonia_plugins: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The merge rules' source salts the row hash: after a change to how a row
    merges (a new commit of a dev install, same version), the same file is
    checked and merged again row by row, not passed over as unchanged."""
    from harmonia.ingest import customers

    seen: list[str] = []
    catalog = _counting_catalog(register_pack, harmonia_plugins, seen)
    # The rows in another order each time: a file loaded before is skipped whole.
    load(database_url, catalog, customers_file(tmp_path, *EVEN_ROWS), country="NL")
    seen.clear()
    load(database_url, catalog, customers_file(tmp_path, *EVEN_ROWS[::-1]), country="NL")
    assert seen == []  # same rules: every row passed over
    monkeypatch.setattr(customers, "_merge_rules_digest", lambda: "other merge rules")
    refresh = customers_file(tmp_path, *EVEN_ROWS[1:], EVEN_ROWS[0])
    (result,) = load(database_url, catalog, refresh, country="NL")
    assert sorted(seen) == ["1234", "1236", "1238", "1240"]
    assert (result.rows_new, result.rows_updated, result.rows_unchanged) == (0, 0, 4)


def test_a_row_passed_over_still_counts_for_the_loads_repeats(
    database_url: str, tiny: Catalog, tmp_path: Path, reading: str
) -> None:
    """An unchanged row is still the first of its key: a later row repeating its id
    is a duplicate; and a row repeating an earlier row's identifier is one too."""
    load(database_url, tiny, good_customers(tmp_path), country="NL")
    refresh = customers_file(
        tmp_path,
        "C09;NL;HCP;Bram;Jansen;cardiology;1012;Amsterdam;T1;TINY;10000024",
        "C01;NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;T1;TINY;10000016",
        "C02;NL;HCP;Bram;Jansen;cardiology;1012;Amsterdam;T1;TINY;10000024",
        "C01;NL;HCP;Anna;de Vries;cardiology;2011;Haarlem;T1;TINY;10000016",
    )
    (result,) = load(database_url, tiny, refresh, country="NL")
    assert (result.rows_new, result.rows_updated, result.rows_unchanged) == (0, 0, 1)
    reasons = {row["row_number"]: row["reasons"] for row in quarantined(database_url)}
    assert reasons == {  # rows are lines: the header is line 1
        2: ["identifier 'TINY 10000024' already belongs to another customer_id of this system"],
        4: ["identifier 'TINY 10000024' is also given at row 2"],
        5: ["duplicate customer_id 'C01', first given at row 3"],
    }
    assert query(database_url, "SELECT city FROM customer ORDER BY id") == [
        {"city": "Amsterdam"},
        {"city": "Amsterdam"},
    ]


def test_a_row_unchanged_since_another_system_changed_its_customer_is_merged_again(
    database_url: str, tiny: Catalog, tmp_path: Path
) -> None:
    """The last row loaded gives a customer's values: the CRM's row, the same as
    before, takes back the name a vendor's row changed."""
    load(database_url, tiny, good_customers(tmp_path), country="NL", system="crm")
    vendor = customers_file(
        tmp_path, "V-777;NL;HCP;A.;de Vries;cardiology;;;;TINY;10000016", name="vendor.csv"
    )
    load(database_url, tiny, vendor, country="NL", system="vendor")
    first_name = "SELECT first_name FROM customer WHERE id = 1"
    assert query(database_url, first_name) == [{"first_name": "A."}]
    crm = customers_file(
        tmp_path,
        "C01;NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;T1;TINY;10000016",
        "C02;NL;HCP;Bram;Jansen;cardiology;1012;Haarlem;T1;TINY;10000024",
        name="crm.csv",
    )
    (result,) = load(database_url, tiny, crm, country="NL", system="crm")
    assert (result.rows_new, result.rows_updated, result.rows_unchanged) == (0, 2, 0)
    assert query(database_url, first_name) == [{"first_name": "Anna"}]


def test_a_row_given_again_as_it_was_before_it_was_quarantined_resolves_it(
    database_url: str, tiny: Catalog, tmp_path: Path
) -> None:
    """A record's bad row is quarantined; its good row again (unchanged since it was
    stored) loads, unchanged, and resolves the entry, as any row with its key does."""
    good = "C01;NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;T1;TINY;10000016"
    load(database_url, tiny, customers_file(tmp_path, good), country="NL")
    bad = good.replace(";NL;HCP;", ";NL;VET;")
    (rejected,) = load(database_url, tiny, customers_file(tmp_path, bad), country="NL")
    assert rejected.rows_quarantined == 1
    (again,) = load(database_url, tiny, customers_file(tmp_path, bad), country="NL")
    assert (again.rows_quarantined, again.rows_unchanged) == (1, 0)
    extra = "C02;NL;HCP;Bram;Jansen;cardiology;1012;Amsterdam;T1;TINY;10000024"
    (fixed,) = load(database_url, tiny, customers_file(tmp_path, good, extra), country="NL")
    assert (fixed.rows_new, fixed.rows_updated, fixed.rows_unchanged) == (1, 0, 1)
    assert [row["resolved_batch_id"] for row in quarantined(database_url)] == [fixed.batch_id]


# --- identity --------------------------------------------------------------------------------


def test_the_same_physician_from_two_systems_is_one_customer(
    database_url: str, tiny: Catalog, tmp_path: Path
) -> None:
    crm = good_customers(tmp_path)
    vendor = customers_file(
        tmp_path,
        "V-777;NL;HCP;A.;de Vries;cardiology;1011;Amsterdam;;TINY;1000 0016",
        "V-888;NL;HCP;Fleur;Kok;cardiology;1013;Amsterdam;;;",
        name="vendor.csv",
    )
    load(database_url, tiny, crm, country="NL", system="crm")
    (linked,) = load(database_url, tiny, vendor, country="NL", system="vendor")
    (again,) = load(database_url, tiny, vendor, country="NL", system="vendor")
    # V-777 is C01, linked and renamed: one update; V-888 is new.
    assert (linked.rows_new, linked.rows_updated, linked.rows_unchanged) == (1, 1, 0)
    assert (again.rows_new, again.rows_updated, again.rows_unchanged) == (0, 0, 2)
    rows = query(database_url, "SELECT system, source_id, customer_id FROM crosswalk")
    ids = {(row["system"], row["source_id"]): row["customer_id"] for row in rows}
    assert len(ids) == 4 and count_rows(database_url, ["customer"]) == {"customer": 3}
    assert ids["vendor", "V-777"] == ids["crm", "C01"]  # matched through TINY 10000016
    assert ids["vendor", "V-888"] not in (ids["crm", "C01"], ids["crm", "C02"])
    first = query(
        database_url, f"SELECT first_name, territory FROM customer WHERE id = {ids['crm', 'C01']}"
    )
    assert first == [{"first_name": "A.", "territory": "T1"}]  # updated, blanks kept
    metrics = write(
        tmp_path / "vendor-metrics.csv",
        "customer_id;therapy_area;metric;period;value\nV-777;cardiology;potential;2026;80\n",
    )
    (result,) = load(database_url, tiny, metrics, country="NL", system="vendor")
    assert result.rows_loaded == 1
    assert query(database_url, "SELECT customer_id, value FROM metric") == [
        {"customer_id": ids["crm", "C01"], "value": 80.0}
    ]


def test_an_identifier_already_known_under_another_id_of_the_same_system_is_refused(
    database_url: str, tiny: Catalog, tmp_path: Path
) -> None:
    load(database_url, tiny, good_customers(tmp_path), country="NL", system="crm")
    again = customers_file(
        tmp_path, "C99;NL;HCP;Anna;de Vries;cardiology;;;;TINY;10000016", name="again.csv"
    )
    (result,) = load(database_url, tiny, again, country="NL", system="crm")
    assert result.rows_quarantined == 1
    (reason,) = quarantined(database_url)[0]["reasons"]
    assert "identifier 'TINY 10000016'" in reason and "another customer" in reason
    assert count_rows(database_url, ["customer"]) == {"customer": 2}


# --- affiliations ---------------------------------------------------------------------------------


def test_affiliations_are_stored_between_known_customers_and_bad_ones_quarantined(
    database_url: str, tiny: Catalog, tmp_path: Path
) -> None:
    customers = customers_file(
        tmp_path,
        "C01;NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;T1;TINY;10000016",
        "C02;NL;HCP;Bram;Jansen;cardiology;1012;Amsterdam;T1;TINY;10000024",
        "H01;NL;HCO;;Amsterdam UMC;hospital;1105;Amsterdam;T1;;",
    )
    load(database_url, tiny, customers, country="NL")
    rows = ["C01;H01", "C02;H01", "C02;H99", "C01;C01", "C01;H01", "C09;H01", ";H01"]
    path = write(tmp_path / "affiliations.csv", "\n".join(["customer_id;parent_id", *rows]) + "\n")
    (result,) = load(database_url, tiny, path, country="NL")
    assert (result.kind, result.rows_new, result.rows_quarantined) == ("affiliations", 2, 5)
    ids = {r["source_id"]: r["customer_id"] for r in query(database_url, "SELECT * FROM crosswalk")}
    stored = query(database_url, "SELECT customer_id, parent_id FROM affiliation")
    assert sorted((r["customer_id"], r["parent_id"]) for r in stored) == sorted(
        [(ids["C01"], ids["H01"]), (ids["C02"], ids["H01"])]
    )
    reasons = [reason for row in quarantined(database_url) for reason in row["reasons"]]
    assert any("parent_id 'H99' is not a customer of system csv" in r for r in reasons)
    assert any("customer 'C01' is given as its own parent" in r for r in reasons)
    assert any("duplicate of row 2 (same customer and parent)" in r for r in reasons)
    assert any("customer_id 'C09' is not a customer of system csv" in r for r in reasons)
    assert any("customer_id is empty" in r for r in reasons)
    (again,) = load(database_url, tiny, path, country="NL")
    assert (again.rows_new, again.rows_unchanged) == (0, 2)


def test_a_childs_affiliations_are_replaced_by_what_its_system_gives_now(
    database_url: str, tiny: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harmonia.ingest.fieldforce import ReplacingMerger

    rows = [
        "C01;NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;T1;TINY;10000016",
        "C02;NL;HCP;Bram;Jansen;cardiology;1012;Amsterdam;T1;TINY;10000024",
        "H01;NL;HCO;;Amsterdam UMC;hospital;1105;Amsterdam;T1;TINY;10000032",
        "H02;NL;HCO;;OLVG;hospital;1091;Amsterdam;T1;TINY;10000040",
    ]
    # Two systems know the same customers (matched by their identifiers).
    for system in ("crm", "vendor"):
        load(database_url, tiny, customers_file(tmp_path, *rows), country="NL", system=system)
    ids = {r["source_id"]: r["customer_id"] for r in query(database_url, "SELECT * FROM crosswalk")}

    def affiliations(name: str, *pairs: str, system: str) -> Any:
        path = write(tmp_path / name, "\n".join(["customer_id;parent_id", *pairs]) + "\n")
        (result,) = load(database_url, tiny, path, country="NL", system=system)
        return result

    def stored() -> set[tuple[str, str]]:
        names = {harmonia: source for source, harmonia in ids.items()}
        pairs = query(database_url, "SELECT customer_id, parent_id FROM affiliation")
        return {(names[r["customer_id"]], names[r["parent_id"]]) for r in pairs}

    affiliations("first.csv", "C01;H01", "C02;H01", system="crm")
    affiliations("other.csv", "C01;H01", system="vendor")
    read = []
    real_read = ReplacingMerger._read_stored

    def counting(merger: Any, name: str, sql: str, types: dict[str, str]) -> None:
        real_read(merger, name, sql, types)
        read.append(merger.duck.sql(f"SELECT count(*) FROM {name}").fetchall()[0][0])

    monkeypatch.setattr(ReplacingMerger, "_read_stored", counting)
    # C01 moved to H02 in the CRM: its CRM pair to H01 goes, C02 (not in the file) keeps
    # its pair, and the vendor's C01 -> H01 stays (another system's word).
    result = affiliations("moved.csv", "C01;H02", system="crm")
    assert read == [1]  # the stored pairs of C01 only, not the table
    assert (result.rows_new, result.rows_quarantined) == (1, 0)
    assert stored() == {("C01", "H02"), ("C02", "H01"), ("C01", "H01")}
    affiliations("moved.csv", "C01;H02", system="vendor")
    assert stored() == {("C01", "H02"), ("C02", "H01")}


def test_batches_of_one_load_add_to_each_others_affiliations(
    database_url: str, tiny: Catalog, tmp_path: Path
) -> None:
    from harmonia import Batch, DataSource
    from harmonia.ingest import Loader
    from harmonia.store import Database

    load(database_url, tiny, good_customers(tmp_path), country="NL", system="crm")
    hospitals = customers_file(
        tmp_path, "H01;NL;HCO;;UMC;hospital;1105;Amsterdam;T1;;", "H02;NL;HCO;;OLVG;;;;T1;;"
    )
    load(database_url, tiny, hospitals, country="NL", system="crm")

    def extract(*batches: list[tuple[str, str]]) -> DataSource:
        """A source yielding each list of (child, parent) as one batch, as Veeva does."""
        return DataSource(
            name="extract",
            description="affiliations in several batches",
            kinds={"affiliations"},
            family="rep",
            read=lambda request: [
                Batch(
                    "affiliations",
                    pa.table({"customer_id": [c for c, _ in b], "parent_id": [p for _, p in b]}),
                    f"part{number}",
                )
                for number, b in enumerate(batches)
            ],
        )

    def parents_of_c01() -> set[str]:
        rows = query(
            database_url,
            "SELECT x.source_id FROM affiliation a JOIN crosswalk x ON x.customer_id = a.parent_id "
            "JOIN crosswalk c ON c.customer_id = a.customer_id WHERE c.source_id = 'C01'",
        )
        return {row["source_id"] for row in rows}

    loader = Loader(Database(database_url), tiny, system="crm")
    list(loader.run(extract([("C01", "H01")], [("C01", "H02")]), {}))
    assert parents_of_c01() == {"H01", "H02"}  # the second batch adds to the first
    list(loader.run(extract([("C01", "H02")]), {}))
    assert parents_of_c01() == {"H02"}  # the next load replaces them


# --- the CLI around the quarantine --------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_a_file_in_a_legacy_encoding_is_refused_whole_or_read_in_its_encoding(
    harmonia_cli: Callable, harmonia_database: str, tiny: Catalog, tmp_path: Path, encoding: str
) -> None:
    path = tmp_path / "customers.csv"
    row = "C01;NL;HCP;Zoë;Lefèvre-Cœur;cardiology;1011;Amsterdam;T1;;"
    if encoding == "latin-1":
        row = row.replace("Cœur", "Coeur")  # Latin-1 has no œ; cp1252 does
    path.write_bytes(f"{CUSTOMERS_HEADER}\n{row}\n".encode(encoding))
    refused = harmonia_cli("load", str(path), "--country", "NL")
    assert refused.exit_code == 1 and "is not UTF-8 (line 2" in refused.output
    assert "--encoding cp1252" in refused.output
    loaded = harmonia_cli("load", str(path), "--country", "NL", "--encoding", encoding, "--json")
    assert loaded.exit_code == 0, loaded.output
    assert json.loads(loaded.stdout)[0]["rows_loaded"] == 1
    (stored,) = query(harmonia_database, "SELECT first_name, last_name FROM customer")
    assert (stored["first_name"], stored["last_name"]) == ("Zoë", row.split(";")[4])


def test_a_bad_byte_late_in_a_big_file_is_refused_naming_its_line(
    harmonia_cli: Callable, tiny: Catalog, tmp_path: Path
) -> None:
    """The whole file is checked, not its head: 9 MB of good rows, then a cp1252 'ë'."""
    row = "C{:06d};NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;T1;;\n"
    rows = 9 * 2**20 // len(row.format(0))
    good = "".join(row.format(n) for n in range(rows)).encode()
    path = tmp_path / "customers.csv"
    path.write_bytes(
        f"{CUSTOMERS_HEADER}\n".encode() + good + "C999999;NL;HCP;Zoë\n".encode("cp1252")
    )
    refused = harmonia_cli("load", str(path), "--country", "NL")
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert f"is not UTF-8 (line {rows + 2} holds byte 0xeb)" in refused.output
    # Read as cp1252, a file that is UTF-8 after its first 8 MB is refused too.
    path.write_bytes(f"{CUSTOMERS_HEADER}\n".encode() + good + "C999999;NL;HCP;Zoë\n".encode())
    refused = harmonia_cli("load", str(path), "--country", "NL", "--encoding", "cp1252")
    assert refused.exit_code == 1
    assert f"is UTF-8, not cp1252 (line {rows + 2} holds 'ë'" in refused.output


def test_the_utf8_check_reads_characters_split_across_its_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harmonia.errors import InputError
    from harmonia.files import reading

    monkeypatch.setattr(reading, "UTF8_CHUNK_BYTES", 7)  # every 'œ' and '日' straddles some
    path = tmp_path / "names.csv"
    lines = ["name", "Lefèvre-Cœur", "日本橋", "Zoë"]
    path.write_bytes("\n".join(lines).encode() + b"\n")
    reading._check_utf8(path)  # valid: no chunk boundary is taken for a bad byte
    path.write_bytes("\n".join(lines).encode() + b"\nbad\xff\n")
    with pytest.raises(InputError, match=r"line 5 holds byte 0xff"):
        reading._check_utf8(path)
    path.write_bytes("\n".join(lines).encode()[:-1])  # the last character cut short
    with pytest.raises(InputError, match=r"line 4 holds byte 0xc3"):
        reading._check_utf8(path)


def test_a_utf8_file_with_a_legacy_fallback_is_decoded_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Deciding "UTF-8 or the market's legacy encoding" and refusing a bad file
    # take one pass over it: at a million customers each pass costs about a second.
    from harmonia.files import reading

    scans = []
    scan = reading._scan_utf8
    monkeypatch.setattr(reading, "_scan_utf8", lambda path: scans.append(path) or scan(path))
    path = tmp_path / "customers.csv"
    path.write_text("customer_id;country;type\nC1;FR;HCP\n", encoding="utf-8")
    (batch,) = reading.read_csv(path, fallback_encoding="cp1252")
    assert batch.table.num_rows == 1
    assert scans == [path]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty: not even a header row"),
        (b"\n\n", "the file is empty: not even a header row"),
        (b"customer_id;country\n", "cannot tell what this file holds from its header"),
    ],
)
def test_a_file_without_a_usable_header_is_refused_with_a_message(
    harmonia_cli: Callable, tiny: Catalog, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "extract.csv"
    path.write_bytes(content)
    refused = harmonia_cli("load", str(path), "--country", "NL")
    assert refused.exit_code == 1 and message in refused.output
    assert "Traceback" not in refused.output


@pytest.fixture
def loaded_with_rejections(harmonia_cli: Callable, tiny: Catalog, tmp_path: Path) -> Path:
    """Customers with two rejected rows, loaded through ``harmonia load``."""
    path = customers_file(
        tmp_path,
        "C01;NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;T1;TINY;10000016",
        "C02;NL;DOC;Bram;Jansen;cardiology;1012;Amsterdam;T1;;",
        "C03;NL;HCP;Cor;Bakker;cardiology;;;;TINY;10000017",
    )
    result = harmonia_cli("load", str(path), "--country", "NL")
    assert result.exit_code == 0, result.output
    return path


def test_load_prints_a_summary_with_the_commonest_reasons(
    harmonia_cli: Callable, tiny: Catalog, tmp_path: Path, wide_terminal: None
) -> None:
    path = customers_file(
        tmp_path,
        "C01;NL;HCP;Anna;de Vries;cardiology;;;;TINY;10000016",
        "C02;NL;DOC;Bram;Jansen;cardiology;;;;;",
        "C03;NL;VET;Cor;Bakker;cardiology;;;;;",
    )
    result = harmonia_cli("load", str(path), "--country", "NL")
    assert result.exit_code == 0, result.output
    assert "customers.csv" in result.output and "customers" in result.output
    assert "2 x type '…' is not HCP or HCO" in result.output
    assert "harmonia quarantine list" in result.output


def test_load_json_gives_the_counts_per_file(harmonia_cli: Callable, tiny: Catalog) -> None:
    import json

    result = harmonia_cli("load", str(tiny_market.DATA / "h1"), "--country", "NL", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [(s["kind"], s["rows_read"], s["rows_loaded"]) for s in summary] == [
        ("customers", 10, 10),
        ("metrics", 38, 38),
        ("responses", 6, 6),
    ]


def test_quarantine_list_json(harmonia_cli: Callable, loaded_with_rejections: Path) -> None:
    import json

    result = harmonia_cli("quarantine", "list", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [(r["row"], r["kind"], r["reasons"]) for r in rows] == [
        (3, "customers", ["type 'DOC' is not HCP or HCO"]),
        (4, "customers", [f"TINY '10000017' is not valid ({TINY_RULE})"]),
    ]
    assert rows[0]["record"]["customer_id"] == "C02"
    assert rows[0]["location"] == str(loaded_with_rejections)
    assert rows[0]["resolved_by_batch"] is None
    assert harmonia_cli("quarantine", "list", "--json", "--kind", "metrics").stdout.strip() == "[]"


def test_quarantine_list_shows_where_and_why(
    harmonia_cli: Callable, loaded_with_rejections: Path, wide_terminal: None
) -> None:
    result = harmonia_cli("quarantine", "list")
    assert "customers.csv:3" in result.output and "type 'DOC' is not HCP or HCO" in result.output
    assert "customers.csv:4" in result.output


def test_quarantine_export_writes_rows_to_fix_and_load_again(
    harmonia_cli: Callable, loaded_with_rejections: Path, tmp_path: Path
) -> None:
    out = tmp_path / "fix"
    result = harmonia_cli("quarantine", "export", "--out", str(out))
    assert result.exit_code == 0
    exported = (out / "customers.csv").read_text().splitlines()
    assert exported[0] == (  # in the market's conventions: NL writes ';'
        "quarantine_id;customer_id;country;type;first_name;last_name;specialty;postal_code;city;"
        "territory;id_scheme;id_value;address;phone;email;objection;reasons"
    )
    assert exported[1].split(";", 1)[1].startswith("C02;NL;DOC;Bram;Jansen;cardiology")
    assert exported[1].endswith("type 'DOC' is not HCP or HCO")
    fixed = (
        (out / "customers.csv").read_text().replace("DOC", "HCP").replace("10000017", "10000032")
    )
    (out / "customers.csv").write_text(fixed)
    reload = harmonia_cli("load", str(out / "customers.csv"), "--country", "NL", "--json")
    assert reload.exit_code == 0, reload.output
    assert harmonia_cli("quarantine", "list", "--json").stdout.strip() == "[]"
