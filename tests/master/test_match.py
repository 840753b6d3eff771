"""Matching across sources: splink's pairs, thresholds, the review queue and its workbook.

The vendor knows three of the tiny market's customers without the CRM's ids:
V02 is C02 with a typo (Janssen), V14 is C04 recorded as a GP (the grey
zone: Daan and Visser are common in so small a market), V13 claims C03's name with another TINY number.
"""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
import tiny_market
from helpers import load, query, tiny_catalog, write

VENDOR = """
customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory;id_scheme;id_value;phone;email
V02;NL;HCP;Bram;Janssen;cardiology;1012;Amsterdam;T1;;;;
V13;NL;HCP;Cor;Bakker;cardiology;3011;Rotterdam;T1;TINY;10000115;;
V14;NL;HCP;Daan;Visser;general_practice;3012;Rotterdam;T1;;;;
V15;NL;HCP;Wim;Hendriks;cardiology;7511;Enschede;T2;;;+31 6 1234 5678;wim@example.nl
"""


@pytest.fixture
def market(harmonia_cli, tiny, database_url: str, tmp_path: Path):
    """The tiny market and the vendor file, loaded into SQLite, then PostgreSQL."""
    catalog = tiny_catalog()
    load(database_url, catalog, tiny_market.DATA / "h1", country="NL")
    write(tmp_path / "vendor" / "customers.csv", VENDOR)
    load(database_url, catalog, tmp_path / "vendor", country="NL", system="vendor")
    ids = {
        r["source_id"]: r["customer_id"]
        for r in query(database_url, "SELECT source_id, customer_id FROM crosswalk")
    }

    def run(*args: str):
        result = harmonia_cli("--database", database_url, "master", *args)
        assert "Traceback" not in result.output
        return result

    return run, database_url, ids


def pairs(url: str) -> dict[tuple[int, int], str]:
    rows = query(url, "SELECT left_id, right_id, status FROM match_pair")
    return {(r["left_id"], r["right_id"]): r["status"] for r in rows}


def test_match_merges_the_sure_pairs_queues_the_grey_zone_and_refuses_conflicts(market) -> None:
    run, url, ids = market
    result = run("match", "--country", "NL", "--merge", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["customers"] == 14 and found["conflicting"] == 1
    assert found["prior"] == 1 / 14 and found["prior_from"].startswith("1/N: 0 pairs with")
    assert found["merged"] == 1
    assert pairs(url) == {
        (ids["C02"], ids["V02"]): "merged",
        (ids["C04"], ids["V14"]): "review",
    }
    redirects = query(url, "SELECT merged_id, survivor_id FROM customer_redirect")
    assert redirects == [{"merged_id": ids["V02"], "survivor_id": ids["C02"]}]

    again = json.loads(run("match", "--country", "NL", "--json").output)
    assert again["to_merge"] == 0 and again["to_review"] == 1  # decided pairs stay decided


def test_the_review_queue_round_trips_through_a_workbook(market, tmp_path: Path) -> None:
    run, url, ids = market
    assert run("match", "--country", "NL").exit_code == 0
    listed = json.loads(run("review", "list", "--json").output)
    assert [(p["left"]["id"], p["right"]["id"]) for p in listed] == [(ids["C04"], ids["V14"])]
    assert listed[0]["left"]["last_name"] == listed[0]["right"]["last_name"] == "Visser"

    book_path = tmp_path / "review.xlsx"
    assert run("review", "export", str(book_path)).exit_code == 0
    book = openpyxl.load_workbook(book_path)
    sheet = book["review"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["pair", "probability", "decision"]
    sheet.cell(row=2, column=3, value="maybe")
    book.save(book_path)
    refused = run("review", "import", str(book_path))
    assert refused.exit_code == 1
    assert "row 2: decision 'maybe' is not accept or reject" in refused.output
    assert pairs(url)[(ids["C04"], ids["V14"])] == "review"  # nothing applied

    sheet.cell(row=2, column=3, value="accept")
    book.save(book_path)
    assert run("review", "import", str(book_path)).exit_code == 0
    assert pairs(url)[(ids["C04"], ids["V14"])] == "merged"
    twice = run("review", "import", str(book_path))
    assert twice.exit_code == 1 and "is not pending (it is merged)" in twice.output


def test_a_rejected_pair_is_never_proposed_again(market) -> None:
    run, url, ids = market
    run("match", "--country", "NL")
    [pair] = json.loads(run("review", "list", "--json").output)
    assert run("review", "reject", str(pair["pair_id"])).exit_code == 0
    again = json.loads(run("match", "--country", "NL", "--json").output)
    assert again["to_review"] == 0
    assert pairs(url)[(ids["C04"], ids["V14"])] == "rejected"
    unknown = run("review", "accept", "999")
    assert unknown.exit_code == 1 and "pair 999: no such pair" in unknown.output


def test_quality_counts_sources_duplicates_and_conflicts_and_merges_have_golden_records(
    market,
) -> None:
    run, _, ids = market
    run("match", "--country", "NL", "--merge")
    report = json.loads(run("quality", "--country", "NL", "--json").output)
    sources = {r["system"]: r for r in report["sources"]}
    assert (sources["csv"]["records"], sources["vendor"]["records"]) == (10, 4)
    assert sources["csv"]["identifier"] == 0.9 and sources["vendor"]["phone"] == 0.25
    assert report["duplicates"] == [
        {"country": "NL", "to_review": 1, "pairs_merged": 1, "rejected": 0, "customers_merged": 1}
    ]
    conflicts = {c["attribute"]: c["conflicting"] for c in report["conflicts"]}
    assert conflicts["last_name"] == 1 and conflicts["first_name"] == 0  # Jansen, Janssen
    # Which load gave each disagreeing value, and whether the golden record kept it.
    given = {
        c["system"]: (c["values_given"], c["kept"])
        for c in report["conflict_sources"]
        if c["attribute"] == "last_name"
    }
    assert given == {"csv": (1, 0), "vendor": (1, 1)}
    assert {c["attribute"] for c in report["conflict_sources"]} == {"last_name"}
    shown = run("quality", "--country", "NL")
    assert shown.exit_code == 0 and "Conflicts between sources" in shown.output
    assert "Who gave the disagreeing values" in shown.output

    golden = {
        v["attribute"]: v for v in json.loads(run("golden", str(ids["C02"]), "--json").output)
    }
    assert golden["last_name"]["value"] == "Janssen"  # NL keeps the latest load's value
    assert (
        golden["last_name"]["system"] == "vendor" and golden["last_name"]["rule"] == "most_recent"
    )
    never = run("golden", str(ids["C05"]))
    assert "never merged" in never.output


def test_the_report_has_a_customer_master_section(market) -> None:
    from types import SimpleNamespace

    from harmonia.report.sections import SECTIONS, customer_master
    from harmonia.store import Database

    run, url, _ = market
    run("match", "--country", "NL", "--merge")
    context = SimpleNamespace(database=Database(url), cycle=SimpleNamespace(country="NL"))
    html = str(customer_master(context))
    assert "vendor" in html and "1 customers merged into another" in html
    assert "last_name" in html  # the conflicts table
    assert "customer-master" in [section.name for section in SECTIONS]


def test_a_customer_is_merged_with_one_customer_of_another_system_the_likelier(
    harmonia_cli, tiny, database_url: str, tmp_path: Path
) -> None:
    # Two vendor records claim Joost Bos (who has no TINY number): two people, as their
    # numbers say. Without the one-to-one rule the three form one group holding two
    # numbers and nothing is merged; with it Joost is merged with the likelier one, and
    # the other pair waits for a steward.
    catalog = tiny_catalog()
    load(database_url, catalog, tiny_market.DATA / "h1", country="NL")
    write(
        tmp_path / "vendor" / "customers.csv",
        "customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory;"
        "id_scheme;id_value\n"
        "V30;NL;HCP;Joost;Bos;general_practice;9712;Groningen;T2;TINY;10000123\n"
        "V31;NL;HCP;Joos;Bos;general_practice;9712;Groningen;T2;TINY;10000131\n",
    )
    load(database_url, catalog, tmp_path / "vendor", country="NL", system="vendor")
    ids = {
        r["source_id"]: r["customer_id"]
        for r in query(database_url, "SELECT source_id, customer_id FROM crosswalk")
    }
    result = harmonia_cli(
        "--database", database_url, "master", "match", "--country", "NL", "--merge", "--json"
    )
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert (found["conflicting"], found["outranked"], found["merged"]) == (1, 1, 1)
    rows = query(database_url, "SELECT right_id, probability, status FROM match_pair")
    assert {r["right_id"] for r in rows} == {ids["V30"], ids["V31"]}
    merged, reviewed = sorted(rows, key=lambda r: r["status"])
    assert (merged["status"], reviewed["status"]) == ("merged", "review")
    assert merged["probability"] > reviewed["probability"] >= 0.99  # both above the threshold
    # Joost and Joost say more than Joost and Joos, however frequent Joost is here.
    assert merged["right_id"] == ids["V30"]


HEADER = "customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory;address;phone;email\n"


def loaded(url: str, tmp_path: Path, files: dict[str, str]) -> dict[str, int]:
    """The tiny market, then each system's rows; the customer of each source id."""
    catalog = tiny_catalog()
    load(url, catalog, tiny_market.DATA / "h1", country="NL")
    for system, rows in files.items():
        write(tmp_path / system / "customers.csv", HEADER + rows)
        load(url, catalog, tmp_path / system, country="NL", system=system)
    return {r["source_id"]: r["customer_id"] for r in query(url, "SELECT * FROM crosswalk")}


def matched(harmonia_cli, url: str, tmp_path: Path, files: dict[str, str]) -> tuple[dict, dict]:
    """:func:`loaded`, then ``master match --merge``; (its result, ids)."""
    ids = loaded(url, tmp_path, files)
    result = harmonia_cli("--database", url, "master", "match", "-c", "NL", "--merge", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output), ids


def survivors(url: str, ids: dict[str, int]) -> dict[str, int]:
    redirects = {
        r["merged_id"]: r["survivor_id"] for r in query(url, "SELECT * FROM customer_redirect")
    }
    return {source: redirects.get(customer, customer) for source, customer in ids.items()}


def test_one_system_s_duplicates_of_one_person_all_merge(
    harmonia_cli, tiny, database_url: str, tmp_path: Path
) -> None:
    # Dedupe inside one system is not one to one: three records of Piet in a workbook.
    found, ids = matched(
        harmonia_cli,
        database_url,
        tmp_path,
        {
            "workbook": "W1;NL;HCP;Piet;Pieters;oncology;4811;Breda;T1;Markt 1;+31 76 111 2222;piet@zorg.nl\n"
            "W2;NL;HCP;Piet;Pieters;oncology;4811;Breda;T1;Markt 1;+31 76 111 2222;piet@zorg.nl\n"
            "W3;NL;HCP;Pieet;Pieters;oncology;4811;Breda;T1;Markt 1;+31 76 111 2222;piet@zorg.nl\n"
        },
    )
    print(query(database_url, "SELECT left_id, right_id, probability, status FROM match_pair"))
    assert found["outranked"] == 0 and found["merged"] == 2
    one = survivors(database_url, ids)
    assert one["W1"] == one["W2"] == one["W3"]


def test_a_duplicate_in_one_system_does_not_outrank_its_twin(
    harmonia_cli, tiny, database_url: str, tmp_path: Path
) -> None:
    # The CRM knows Piet twice (old and current practice); the vendor once, with the old
    # practice's phone and the current e-mail. Both vendor pairs are sure; the CRM's two
    # records are a pair themselves (grey zone), so neither outranks the other: all three
    # become one customer.
    found, ids = matched(
        harmonia_cli,
        database_url,
        tmp_path,
        {
            "crm": "A1;NL;HCP;Piet;Pieters;oncology;4811;Breda;T1;Markt 1;+31 76 111 2222;\n"
            "A2;NL;HCP;Piet;Pieters;oncology;4811;Breda;T1;Haven 9;;piet@zorg.nl\n",
            "vendor": "B1;NL;HCP;Piet;Pieters;oncology;4811;Breda;T1;;+31 76 111 2222;piet@zorg.nl\n",
        },
    )
    print(query(database_url, "SELECT left_id, right_id, probability, status FROM match_pair"))
    assert found["outranked"] == 0
    one = survivors(database_url, ids)
    assert one["A1"] == one["A2"] == one["B1"]


def test_a_record_as_close_to_two_namesakes_of_one_system_is_reviewed(
    tiny, database_url: str, tmp_path: Path
) -> None:
    # Two Piet Pieters of the CRM at two practices; the vendor's has only name and
    # specialty: exactly as likely one as the other, so neither is merged (with
    # thresholds low enough that each pair alone would be).
    from harmonia.master.matching import match
    from harmonia.store import Database

    ids = loaded(
        database_url,
        tmp_path,
        {
            "crm": "A1;NL;HCP;Piet;Pieters;oncology;4811;Breda;T1;Markt 1;+31 76 111 2222;\n"
            "A2;NL;HCP;Piet;Pieters;oncology;9712;Groningen;T2;Haven 9;+31 50 333 4444;\n",
            "vendor": "B1;NL;HCP;Piet;Pieters;oncology;;;T1;;;\n",
        },
    )
    found = match(
        Database(database_url),
        "NL",
        review_threshold=0.7,  # A1 and A2 (0.64) are not a pair
        merge_threshold=0.85,
        apply=True,
        actor="test",
    )
    rows = query(database_url, "SELECT right_id, probability, status FROM match_pair")
    assert [r["right_id"] for r in rows] == [ids["B1"], ids["B1"]]
    assert rows[0]["probability"] == rows[1]["probability"] >= 0.85
    assert {r["status"] for r in rows} == {"review"}
    assert (found.outranked, found.merged) == (2, 0)


def _known_twice(count: int) -> dict[str, str]:
    """``count`` people the CRM and the vendor both know at their practice, half of
    them with one e-mail address, and as many the CRM alone knows."""
    crm, vendor = [], []
    for n in range(count):
        practice = f"cardiology;{1000 + n};Utrecht;T1;Straat {n};"
        mail = f"p{n}@praktijk.nl"
        crm.append(f"K{n};NL;HCP;Anna{n:03d};De Wit{n:03d};{practice};{mail}")
        vendor.append(f"W{n};NL;HCP;Anna{n:03d};De Wit{n:03d};{practice};{'' if n % 2 else mail}")
        crm.append(f"L{n};NL;HCP;Eva{n:03d};Smit{n:03d};cardiology;{5000 + n};Delft;T1;;;")
    return {"crm2": "\n".join(crm) + "\n", "vendor": "\n".join(vendor) + "\n"}


def test_a_second_match_keeps_the_prior_and_merges_nothing_new(
    harmonia_cli, tiny, database_url: str, tmp_path: Path
) -> None:
    # The first run merges the sure pairs the prior is estimated from; the second,
    # without new data, must not fall back to 1/N (several times too high) and merge
    # pairs the first did not: the prior is counted on every record, merged ones too.
    first, _ = matched(harmonia_cli, database_url, tmp_path, _known_twice(120))
    assert first["prior_from"].startswith("estimated") and first["merged"] == 120
    again = harmonia_cli(
        "--database", database_url, "master", "match", "-c", "NL", "--merge", "--json"
    )
    second = json.loads(again.output)
    assert second["prior"] == pytest.approx(first["prior"]) and second["merged"] == 0
    assert second["prior_from"] == first["prior_from"]
    # Each run says in the audit trail which prior and thresholds it merged by.
    runs = query(database_url, "SELECT details FROM audit_event WHERE action = 'master.match'")
    assert [json.loads(r["details"])["prior"] for r in runs] == [first["prior"], second["prior"]]


def test_without_an_estimated_prior_nothing_under_0_9_is_merged(
    tiny, database_url: str, tmp_path: Path
) -> None:
    # No sure pair to estimate the prior from: 1/N, several times too high, so a
    # calibrated merge threshold (0.5) would merge pairs the model rates far lower
    # (two Piet Pieters of one CRM at two practices, 0.64); they are reviewed
    # instead, and the run says so.
    from harmonia.master.matching import UNCALIBRATED_MERGE, match
    from harmonia.store import Database

    ids = loaded(
        database_url,
        tmp_path,
        {
            "crm": "A1;NL;HCP;Piet;Pieters;oncology;4811;Breda;T1;Markt 1;+31 76 111 2222;\n"
            "A2;NL;HCP;Piet;Pieters;oncology;9712;Groningen;T2;Haven 9;+31 50 333 4444;\n",
        },
    )
    found = match(
        Database(database_url),
        "NL",
        review_threshold=0.2,
        merge_threshold=0.5,
        apply=True,
        actor="test",
    )
    assert found.prior_from.startswith("1/N") and "not calibrated" in found.prior_from
    [pair] = query(database_url, "SELECT left_id, right_id, probability, status FROM match_pair")
    assert (pair["left_id"], pair["right_id"]) == (ids["A1"], ids["A2"])
    assert 0.5 <= pair["probability"] < UNCALIBRATED_MERGE and pair["status"] == "review"
    assert found.merged == 0


def test_a_pair_queued_for_review_stays_in_review(market) -> None:
    # A later run (a lowered threshold, another prior) scores the queued pair above
    # the merge threshold: it waits for its steward all the same.
    from harmonia.master.matching import match
    from harmonia.store import Database

    run, url, ids = market
    run("match", "--country", "NL")
    queued = pairs(url)
    assert queued[(ids["C04"], ids["V14"])] == "review"
    [probability] = [
        r["probability"]
        for r in query(url, "SELECT left_id, probability FROM match_pair")
        if r["left_id"] == ids["C04"]
    ]
    found = match(
        Database(url),
        "NL",
        review_threshold=0.5,
        merge_threshold=probability - 0.001,
        apply=True,
        actor="test",
    )
    assert found.merged == 1  # the pair merged before, none more
    assert pairs(url)[(ids["C04"], ids["V14"])] == "review"
