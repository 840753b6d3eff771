"""Merging customers: redirects, history, exact unmerge, and the mistakes it refuses.

The tiny market's C02 (Bram Jansen, identifier TINY 10000024) also arrives
from a vendor as V02 with a typo and no identifier, and a potential the CRM
also has; V11 is a vendor-only customer with trx. Merging V02 into C02 keeps
both ids and every source id; the cycle sees one customer with the vendor's
facts where the CRM has none, the CRM's where both have one.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from helpers import load, query, tiny_catalog, write
from sqlalchemy import text

from harmonia.engine.cycle import run_cycle
from harmonia.engine.explain import explain_assignment
from harmonia.errors import ConfigError, NotFoundError
from harmonia.master.merging import history, merge, unmerge
from harmonia.store import Database

VENDOR_CUSTOMERS = """
customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory;id_scheme;id_value;email
V02;NL;HCP;Bram;Janssen;cardiology;1012;Amsterdam;T1;;;bram@example.nl
V11;NL;HCP;Karel;Dijkstra;cardiology;1013;Amsterdam;T1;;;
V12;NL;HCP;Lies;Kok;cardiology;1014;Amsterdam;T1;TINY;10000107;
"""
VENDOR_METRICS = """
customer_id;therapy_area;metric;period;value
V02;cardiology;potential;2026;75
V02;cardiology;trx;2027-Q1;5
V11;cardiology;potential;2026;60
"""

#: Tables a merge must leave as they were, and an unmerge must restore.
RESTORED = {
    "customer": "SELECT * FROM customer ORDER BY id",
    "crosswalk": "SELECT system, source_id, customer_id FROM crosswalk ORDER BY system, source_id",
    "identifier": "SELECT scheme, value, customer_id FROM identifier ORDER BY scheme, value",
    "metric": "SELECT * FROM metric ORDER BY therapy_area, metric, customer_id, period",
    "redirect": "SELECT * FROM customer_redirect ORDER BY merged_id",
    "objection": "SELECT customer_id FROM objection ORDER BY customer_id",
}


@pytest.fixture
def two_sources(universe: str, tmp_path: Path) -> str:
    catalog = tiny_catalog()
    write(tmp_path / "vendor" / "customers.csv", VENDOR_CUSTOMERS)
    write(tmp_path / "vendor" / "metrics.csv", VENDOR_METRICS)
    load(universe, catalog, tmp_path / "vendor", country="NL", system="vendor")
    return universe


def ids(url: str) -> dict[str, int]:
    rows = query(url, "SELECT source_id, customer_id FROM crosswalk")
    return {row["source_id"]: row["customer_id"] for row in rows}


def snapshot(url: str) -> dict[str, list]:
    return {name: query(url, sql) for name, sql in RESTORED.items()}


def cycle(url: str, tmp_path: Path, engine: str) -> int:
    result = run_cycle(
        Database(url),
        tiny_catalog(),
        country="NL",
        therapy_area="cardiology",
        period="2027-H1",
        engine=engine,
        directory=tmp_path / engine,
    )
    return result.cycle.id


@pytest.mark.parametrize("engine", ["duckdb", "database"])
def test_a_merged_customer_is_one_customer_in_the_next_cycle(
    two_sources: str, tmp_path: Path, engine: str
) -> None:
    known = ids(two_sources)
    before = cycle(two_sources, tmp_path / "before", engine)
    merge(Database(two_sources), known["C02"], known["V02"], actor="steward")
    merge(Database(two_sources), known["C09"], known["V11"], actor="steward")

    after = cycle(two_sources, tmp_path / "after", engine)
    assigned = {
        row["customer_id"]: json.loads(row["inputs"])
        for row in query(two_sources, f"SELECT * FROM assignment WHERE cycle_id = {after}")
    }
    assert known["V02"] not in assigned and known["V11"] not in assigned
    assert assigned[known["C02"]]["potential"] == 70.0  # both have one: the survivor's wins
    assert assigned[known["C09"]]["potential"] == 60.0  # only the vendor has one: it counts
    counted = query(two_sources, f"SELECT COUNT(*) AS n FROM assignment WHERE cycle_id = {before}")
    assert counted[0]["n"] == len(assigned) + 2
    database = Database(two_sources)
    # The vendor's id still names the customer, in the cycle before and after the merge.
    assert explain_assignment(database, after, "V02").customer.id == known["C02"]
    assert explain_assignment(database, before, "V02").customer.id == known["V02"]


def test_unmerge_restores_both_customers_exactly(two_sources: str) -> None:
    known = ids(two_sources)
    database = Database(two_sources)
    before = snapshot(two_sources)
    merge(database, known["C02"], known["V02"], actor="steward", reason="same RPPS")
    merged = snapshot(two_sources)
    # Nothing of either customer moved: only the redirect is new.
    assert {k: v for k, v in merged.items() if k != "redirect"} == {
        k: v for k, v in before.items() if k != "redirect"
    }
    assert merged["redirect"] == [
        {"merged_id": known["V02"], "survivor_id": known["C02"], "merge_id": 1}
    ]
    unmerge(database, known["V02"], actor="steward")
    assert snapshot(two_sources) == before
    [record] = history(database, known["C02"])
    assert record.undone_by == "steward" and record.reason == "same RPPS"


def test_a_chain_of_merges_resolves_in_one_step_and_unwinds_in_order(two_sources: str) -> None:
    known = ids(two_sources)
    database = Database(two_sources)
    before = snapshot(two_sources)
    merge(database, known["V11"], known["V02"], actor="a")
    result = merge(database, known["C02"], known["V11"], actor="a")
    assert result.redirected == (known["V02"],)
    redirects = {r["merged_id"]: r["survivor_id"] for r in query(two_sources, RESTORED["redirect"])}
    assert redirects == {known["V02"]: known["C02"], known["V11"]: known["C02"]}
    with pytest.raises(ConfigError, match=r"unmerge .* first"):
        unmerge(database, known["V02"], actor="a")
    unmerge(database, known["V11"], actor="a")
    unmerge(database, known["V02"], actor="a")
    assert snapshot(two_sources) == before


def test_merge_and_unmerge_mistakes_are_clear_and_change_nothing(two_sources: str) -> None:
    known = ids(two_sources)
    database = Database(two_sources)
    merge(database, known["C02"], known["V02"], actor="a")
    state = snapshot(two_sources)
    with pytest.raises(ConfigError, match="already merged into"):
        merge(database, known["C03"], known["V02"], actor="a")
    with pytest.raises(ConfigError, match=f"use {known['C02']} as the survivor"):
        merge(database, known["V02"], known["V11"], actor="a")
    with pytest.raises(ConfigError, match="different national identifiers"):
        merge(database, known["C03"], known["V12"], actor="a")  # TINY 10000032 vs 10000107
    with pytest.raises(ConfigError, match="into itself"):
        merge(database, known["C03"], known["C03"], actor="a")
    with pytest.raises(NotFoundError, match="no customer with harmonia id 999"):
        merge(database, known["C03"], 999, actor="a")
    with pytest.raises(NotFoundError, match="not merged into another"):
        unmerge(database, known["C03"], actor="a")
    assert snapshot(two_sources) == state


def test_master_commands(cli_database, tmp_path: Path) -> None:
    invoke, url = cli_database
    known = ids(url)
    result = invoke("master", "merge", str(known["C02"]), str(known["V02"]), "--reason", "dup")
    assert result.exit_code == 0, result.output
    assert f"Merged {known['V02']} into {known['C02']}" in result.output
    again = invoke("master", "merge", str(known["C03"]), str(known["V02"]))
    assert again.exit_code == 1 and "already merged into" in again.output
    assert "Traceback" not in again.output
    shown = invoke("master", "history", str(known["C02"]), "--json")
    assert '"reason": "dup"' in shown.output
    assert invoke("master", "unmerge", str(known["V02"])).exit_code == 0
    never = invoke("master", "unmerge", str(known["V02"]))
    assert never.exit_code == 1 and "not merged into another" in never.output


@pytest.fixture
def cli_database(harmonia_cli, tiny, harmonia_database: str, tmp_path: Path):
    import tiny_market

    catalog = tiny_catalog()
    load(harmonia_database, catalog, tiny_market.DATA / "h1", country="NL")
    write(tmp_path / "vendor" / "customers.csv", VENDOR_CUSTOMERS)
    load(harmonia_database, catalog, tmp_path / "vendor", country="NL", system="vendor")
    return (lambda *args: harmonia_cli("--database", harmonia_database, *args)), harmonia_database


def test_the_golden_record_follows_the_survivorship_rules_with_source_and_batch(
    two_sources: str,
) -> None:
    from harmonia.definitions import Survivorship
    from harmonia.master.golden import compute, golden_record

    known = ids(two_sources)
    database = Database(two_sources)
    merge(database, known["C02"], known["V02"], actor="steward")
    batches = {
        r["system"]: r["id"]
        for r in query(two_sources, "SELECT id, system FROM load_batch WHERE kind = 'customers'")
    }
    vendor_first = Survivorship(source_priority=("vendor", "csv"), default="source_priority")
    assert compute(database, vendor_first, country="NL") == 7  # every filled attribute
    golden = {v["attribute"]: v for v in golden_record(database, known["C02"])}
    assert golden["last_name"]["value"] == "Janssen"
    assert (golden["last_name"]["system"], golden["last_name"]["batch_id"]) == (
        "vendor",
        batches["vendor"],
    )
    crm_first = Survivorship(source_priority=("csv", "vendor"), default="source_priority")
    compute(database, crm_first, country="NL")
    golden = {v["attribute"]: v for v in golden_record(database, known["C02"])}
    assert golden["last_name"]["value"] == "Jansen" and golden["last_name"]["system"] == "csv"
    # Never blank over filled: only the vendor has an e-mail.
    assert golden["email"]["value"] == "bram@example.nl" and golden["email"]["system"] == "vendor"
    latest = Survivorship(default="most_recent")
    compute(database, latest, country="NL")
    assert {v["system"] for v in golden_record(database, known["C02"])} == {"vendor"}
    unmerge(database, known["V02"], actor="steward")
    compute(database, latest, customer_ids=[known["C02"]])
    assert golden_record(database, known["C02"]) == []  # no longer merged: no golden record


def test_a_new_identifier_conflicting_through_a_merged_id_is_quarantined(
    two_sources: str, tmp_path: Path
) -> None:
    from helpers import quarantined

    known = ids(two_sources)
    merge(Database(two_sources), known["C02"], known["V02"], actor="steward")
    before = snapshot(two_sources)
    # The vendor now gives V02 an identifier: not the one C02 (the same person) has.
    write(
        tmp_path / "again" / "customers.csv",
        "customer_id;country;type;first_name;last_name;id_scheme;id_value\n"
        "V02;NL;HCP;Bram;Janssen;TINY;10000115\n"
        "V11;NL;HCP;Karel;Dijkstra;TINY;10000024\n",  # C02's: one person, not two
    )
    load(two_sources, tiny_catalog(), tmp_path / "again", country="NL", system="vendor")
    [refused] = [row for row in quarantined(two_sources) if row["record"]["customer_id"] == "V02"]
    assert refused["reasons"] == [
        f"identifier 'TINY 10000115' conflicts with 'TINY 10000024' of customer {known['C02']}, "
        f"merged with customer {known['V02']}: one person has one TINY identifier; correct the "
        "source, or unmerge them if they are two people"
    ]
    [other] = [row for row in quarantined(two_sources) if row["record"]["customer_id"] == "V11"]
    assert other["reasons"] == [
        f"identifier 'TINY 10000024' belongs to another customer (harmonia id {known['C02']})"
    ]
    assert snapshot(two_sources)["identifier"] == before["identifier"]


def test_a_merged_persons_own_identifier_through_the_merged_id_is_no_conflict(
    two_sources: str, tmp_path: Path
) -> None:
    from helpers import quarantined

    known = ids(two_sources)
    merge(Database(two_sources), known["C02"], known["V02"], actor="steward")
    write(
        tmp_path / "again" / "customers.csv",
        "customer_id;country;type;first_name;last_name;id_scheme;id_value\n"
        "V02;NL;HCP;Bram;Janssen;TINY;10000024\n",  # C02's, and V02 is C02
    )
    [result] = load(two_sources, tiny_catalog(), tmp_path / "again", country="NL", system="vendor")
    assert result.rows_quarantined == 0 and not quarantined(two_sources)
    assert ids(two_sources)["V02"] == known["V02"]


@pytest.mark.parametrize("engine", ["duckdb", "database"])
def test_a_customer_merged_since_the_last_cycle_is_pulled_through_from_its_old_id(
    universe: str, tmp_path: Path, engine: str
) -> None:
    def run(period: str) -> dict[int, dict]:
        result = run_cycle(Database(universe), tiny_catalog(), country="NL",
                           therapy_area="cardiology", period=period, engine=engine,
                           directory=tmp_path / period)  # fmt: skip
        rows = query(universe, f"SELECT * FROM assignment WHERE cycle_id = {result.cycle.id}")
        return {row["customer_id"]: row for row in rows}

    first = run("2027-H1")
    # A new record of C05 (pulled through in 2027-H2 when nothing is merged) survives
    # it: C05's id, which the last cycle assigned, now redirects to it.
    write(
        tmp_path / "vendor" / "customers.csv",
        "customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory\n"
        "V20;NL;HCP;Eva;Smit;cardiology;2511;Den Haag;T1\n",
    )
    load(universe, tiny_catalog(), tmp_path / "vendor", country="NL", system="vendor")
    known = ids(universe)
    merge(Database(universe), known["V20"], known["C05"], actor="steward")
    second = run("2027-H2")
    assert known["C05"] not in second
    assert second[known["V20"]]["origin"] == "pulled-through"
    assert second[known["V20"]]["final_segment"] == first[known["C05"]]["final_segment"]
    # The explanation agrees: kept from the last cycle, where C05's id held it.
    cycle_id = second[known["V20"]]["cycle_id"]
    explained = explain_assignment(Database(universe), cycle_id, "V20", system="vendor")
    assert explained.pull_through is not None and explained.pull_through.carried


def test_review_decisions_are_read_and_rejected_in_one_statement_each(universe: str) -> None:
    from sqlalchemy import event

    from harmonia.master.review import decide
    from harmonia.store.models import MatchPair

    known = sorted(ids(universe).values())
    database = Database(universe)
    with database.session() as session:
        for left, right in itertools.pairwise(known[:7]):
            session.add(MatchPair(left_id=left, right_id=right, country="NL",
                                  method="probabilistic", probability=0.9))  # fmt: skip
        session.commit()
    pairs = [row["id"] for row in query(universe, "SELECT id FROM match_pair ORDER BY id")]
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    def statements_to_reject(chosen: list[int]) -> int:
        statements.clear()
        event.listen(database.engine, "before_cursor_execute", count)
        try:
            decide(database, [(pair, "reject") for pair in chosen], actor="steward")
        finally:
            event.remove(database.engine, "before_cursor_execute", count)
        return len(statements)

    one, five = statements_to_reject(pairs[:1]), statements_to_reject(pairs[1:])
    assert one == five  # not one statement per pair
    assert {r["status"] for r in query(universe, "SELECT status FROM match_pair")} == {"rejected"}


def test_identifiers_of_ids_merged_before_still_refuse_a_merge(two_sources: str) -> None:
    # V12 (TINY 10000107) merged into Joost (C10, no number): Joost now has V12's number,
    # so neither a hand merge nor an accepted pair may join him with C03 (10000032).
    from harmonia.master.merging import merge_pairs

    known = ids(two_sources)
    database = Database(two_sources)
    merge(database, known["C10"], known["V12"], actor="a")
    with pytest.raises(ConfigError, match="different national identifiers"):
        merge(database, known["C03"], known["C10"], actor="a")
    with database.session() as session:
        session.connection().execute(
            text(
                "INSERT INTO match_pair (left_id, right_id, country, method, probability, "
                "evidence, status, found_at) VALUES (:l, :r, 'NL', 'probabilistic', 0.999, "
                "'{}', 'accepted', CURRENT_TIMESTAMP)"
            ),
            {"l": known["C03"], "r": known["C10"]},
        )
        session.commit()
    assert merge_pairs(database, country="NL", actor="a") == 0
    assert query(two_sources, "SELECT status FROM match_pair") == [{"status": "review"}]
