"""Merging customers: redirects, history, exact unmerge, and the mistakes it refuses.

The tiny market's C02 (Bram Jansen, identifier TINY 10000024) also arrives
from a vendor as V02 with a typo and no identifier, and a potential the CRM
also has; V11 is a vendor-only customer with trx. Merging V02 into C02 keeps
both ids and every source id; the cycle sees one customer with the vendor's
facts where the CRM has none, the CRM's where both have one.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import time
from pathlib import Path

import pyarrow as pa
import pytest
from helpers import load, query, tiny_catalog, write
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from harmonia.engine.cycle import run_cycle
from harmonia.engine.explain import explain_assignment
from harmonia.errors import ConfigError, NotFoundError
from harmonia.master.merging import history, merge, unmerge
from harmonia.master.review import decide
from harmonia.store import Database
from harmonia.store.bulk import BulkConnection

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


def test_two_customers_of_one_system_sharing_an_identifier_are_refused_and_nothing_lost(
    two_sources: str, tmp_path: Path
) -> None:
    """Issue 14's bad input "two people sharing an identifier": a new CRM customer
    claims C01's national identifier; the row waits in quarantine, C01 and the
    crosswalk stay as they were."""
    from helpers import quarantined

    before = snapshot(two_sources)
    write(
        tmp_path / "crm" / "customers.csv",
        "customer_id;country;type;first_name;last_name;id_scheme;id_value\n"
        "C77;NL;HCP;Anne;de Vries;TINY;10000016\n",  # C01's identifier
    )
    [result] = load(two_sources, tiny_catalog(), tmp_path / "crm", country="NL")
    assert (result.rows_loaded, result.rows_quarantined) == (0, 1)
    [refused] = [row for row in quarantined(two_sources) if row["record"]["customer_id"] == "C77"]
    assert refused["reasons"] == [
        "identifier 'TINY 10000016' already belongs to another customer_id of this system"
    ]
    assert refused["record"]["last_name"] == "de Vries"  # nothing lost: fix it and load again
    assert snapshot(two_sources) == before


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


# --- accepted review pairs: merged together, set-based, chains checked as a whole ---------
# C03 carries TINY 10000032 and V12 TINY 10000107: a chain C03 - V11 - V12 would make one
# person with two identifiers.


def _pairs(url: str, *sides: tuple[int, int]) -> list[int]:
    from harmonia.store.models import MatchPair

    database = Database(url)
    with database.session() as session:
        made = [
            MatchPair(
                left_id=min(a, b),
                right_id=max(a, b),
                country="NL",
                method="probabilistic",
                probability=0.9,
            )
            for a, b in sides
        ]
        session.add_all(made)
        session.commit()
        return [pair.id for pair in made]


def _new_customers(database: Database, n: int) -> list[int]:
    """``n`` Dutch customers without identifiers (their records empty), written in bulk."""
    with BulkConnection(database) as bulk:
        start = bulk.next_id("customer")
        batch = int(bulk.scalar("SELECT MIN(id) FROM load_batch"))
        people = list(range(start, start + n))
        bulk.append(
            "customer",
            pa.table(
                {
                    "id": people,
                    "country": ["NL"] * n,
                    "type": ["HCP"] * n,
                    "first_batch_id": [batch] * n,
                    "batch_id": [batch] * n,
                }
            ),
        )
        bulk.sync_sequence("customer")
    return people


def _redirects(url: str) -> dict[int, int]:
    rows = query(url, "SELECT merged_id, survivor_id FROM customer_redirect")
    return {r["merged_id"]: r["survivor_id"] for r in rows}


def test_a_chain_accepted_together_is_one_person_under_its_lowest_id(two_sources: str) -> None:
    known = ids(two_sources)
    c02, v02, v11 = known["C02"], known["V02"], known["V11"]
    chain = _pairs(two_sources, (c02, v02), (v02, v11))
    result = decide(Database(two_sources), [(p, "accept") for p in chain], actor="steward")
    survivor = min(c02, v02, v11)
    assert _redirects(two_sources) == {i: survivor for i in (c02, v02, v11) if i != survivor}
    assert result.survivors == (survivor,) and len(result.merges) == 2
    rows = query(two_sources, f"SELECT status, merge_id FROM match_pair WHERE id IN {tuple(chain)}")
    assert {r["status"] for r in rows} == {"merged"}
    assert {r["merge_id"] for r in rows} == set(result.merges)
    reasons = query(two_sources, "SELECT reason, pair_id FROM customer_merge ORDER BY id")
    assert {r["reason"] for r in reasons} <= {f"review pair {p}" for p in chain}
    audited = query(two_sources, "SELECT subject FROM audit_event WHERE action = 'master.merge'")
    assert len(audited) == 2
    for merged in sorted(set(_redirects(two_sources)), reverse=True):
        unmerge(Database(two_sources), merged, actor="steward")
    assert _redirects(two_sources) == {}


def test_a_pair_naming_an_id_merged_before_joins_its_person(two_sources: str) -> None:
    known = ids(two_sources)
    [first] = _pairs(two_sources, (known["C02"], known["V02"]))
    decide(Database(two_sources), [(first, "accept")], actor="steward")
    [later] = _pairs(two_sources, (known["V02"], known["V11"]))
    decide(Database(two_sources), [(later, "accept")], actor="steward")
    survivor = min(known["C02"], known["V02"])
    assert _redirects(two_sources)[known["V11"]] == survivor
    [same] = _pairs(two_sources, (known["C02"], known["V11"]))
    with pytest.raises(ConfigError, match="are already one"):
        decide(Database(two_sources), [(same, "accept")], actor="steward")


def test_a_chain_joining_two_identifiers_refuses_every_decision(two_sources: str) -> None:
    known = ids(two_sources)
    torn = _pairs(two_sources, (known["C03"], known["V11"]), (known["V11"], known["V12"]))
    [other] = _pairs(two_sources, (known["C02"], known["V02"]))
    before = query(two_sources, "SELECT id, status FROM match_pair ORDER BY id")
    decisions = [(p, "accept") for p in torn] + [(other, "reject")]
    with pytest.raises(ConfigError) as refused:
        decide(Database(two_sources), decisions, actor="steward")
    message = str(refused.value)
    assert f"pairs {torn[0]}, {torn[1]} would make one person" in message
    assert "10000032 and 10000107" in message and "nothing was decided" in message
    assert query(two_sources, "SELECT id, status FROM match_pair ORDER BY id") == before
    assert _redirects(two_sources) == {}


def test_accepting_pairs_takes_as_many_statements_for_one_as_for_many(universe: str) -> None:
    from sqlalchemy import event

    database = Database(universe)
    pairs = _pairs(universe, *itertools.pairwise(_new_customers(database, 7)))
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    def statements_to_accept(chosen: list[int]) -> int:
        statements.clear()
        event.listen(database.engine, "before_cursor_execute", count)
        try:
            decide(database, [(pair, "accept") for pair in chosen], actor="steward")
        finally:
            event.remove(database.engine, "before_cursor_execute", count)
        return len(statements)

    assert statements_to_accept(pairs[:1]) == statements_to_accept(pairs[2:])
    assert len(set(_redirects(universe).values())) == 2  # (0-1) and the chain 2..6


@pytest.mark.slow
def test_twenty_thousand_accepted_pairs_merge_at_once(universe: str) -> None:
    """10,000 chains of three customers (A-B, B-C): 20,000 pairs, 20,000 merges."""
    database = Database(universe)
    n = 30_000
    people = _new_customers(database, n)
    with BulkConnection(database) as bulk:
        lefts = [p for i in range(0, n, 3) for p in (people[i], people[i + 1])]
        rights = [p for i in range(0, n, 3) for p in (people[i + 1], people[i + 2])]
        bulk.append(
            "match_pair",
            pa.table(
                {
                    "left_id": lefts,
                    "right_id": rights,
                    "country": ["NL"] * len(lefts),
                    "method": ["probabilistic"] * len(lefts),
                    "probability": [0.9] * len(lefts),
                    "evidence": ["{}"] * len(lefts),
                    "status": ["review"] * len(lefts),
                    "found_at": pa.array([dt.datetime(2026, 12, 7)] * len(lefts)),
                }
            ),
        )
    pairs = [r["id"] for r in query(universe, "SELECT id FROM match_pair ORDER BY id")]
    assert len(pairs) == 20_000
    started = time.perf_counter()
    result = decide(database, [(p, "accept") for p in pairs], actor="steward")
    took = time.perf_counter() - started
    print(f"accepted {len(pairs)} pairs in {took:.1f} s")
    assert len(result.merges) == 20_000 and len(result.survivors) == 10_000
    redirects = _redirects(universe)
    assert len(redirects) == 20_000
    assert all(redirects[people[i + 2]] == people[i] for i in range(0, n, 3))
    statuses = query(universe, "SELECT status, COUNT(*) AS n FROM match_pair GROUP BY status")
    assert statuses == [{"status": "merged", "n": 20_000}]


# --- the merged-id resolver's SQL -------------------------------------------------------


def _one_redirect_join(table: str, columns: list[str], key: list[str]) -> str:
    """The resolver before it read a fact table as two parts (16a552c): the reference."""
    kept = ", ".join(f"fact.{column}" for column in columns)
    duplicate = ""
    if key:
        same = " AND ".join(f"own.{column} = fact.{column}" for column in key)
        duplicate = (
            f" WHERE redirect.survivor_id IS NULL OR NOT EXISTS (SELECT 1 FROM {table} own "
            f"WHERE own.customer_id = redirect.survivor_id AND {same})"
        )
    return (
        f"(SELECT CAST(COALESCE(redirect.survivor_id, fact.customer_id) AS BIGINT) "
        f"AS customer_id, {kept} FROM {table} fact LEFT JOIN customer_redirect redirect "
        f"ON redirect.merged_id = fact.customer_id{duplicate})"
    )


#: Ids merged into another (one redirect per merged id), and facts of any id or none.
CUSTOMER_IDS = st.integers(1, 8)
REDIRECTS = st.dictionaries(CUSTOMER_IDS, CUSTOMER_IDS, max_size=5).map(
    lambda pairs: {merged: survivor for merged, survivor in pairs.items() if merged != survivor}
)
FACTS = st.lists(
    st.tuples(st.none() | CUSTOMER_IDS, st.sampled_from(["2026", "2027-Q1"]), st.integers(0, 9)),
    max_size=14,
)


@settings(max_examples=200, deadline=None)
@given(REDIRECTS, FACTS, st.booleans())
def test_the_two_part_resolver_reads_the_facts_the_one_join_read(
    redirects: dict[int, int], facts: list[tuple[int | None, str, int]], keyed: bool
) -> None:
    """Review5 finding 9: reading a fact table as two parts (ids never merged, merged
    ids under their survivor) gives the rows of the old single redirect join, row for
    row, with a key (the survivor's own fact wins) and without, NULL ids included."""
    import duckdb

    from harmonia.store.identity import resolved_facts

    duck = duckdb.connect()
    try:
        duck.execute("CREATE TABLE customer_redirect (merged_id BIGINT, survivor_id BIGINT)")
        duck.execute("CREATE TABLE metric (customer_id BIGINT, period TEXT, value BIGINT)")
        if redirects:
            duck.executemany("INSERT INTO customer_redirect VALUES (?, ?)", list(redirects.items()))
        if facts:
            duck.executemany("INSERT INTO metric VALUES (?, ?, ?)", facts)
        key = ["period"] if keyed else []
        columns = ["period", "value"]
        read = [
            sorted(duck.execute(f"SELECT * FROM {sql}").fetchall(), key=repr)
            for sql in (
                resolved_facts("metric", columns, key),
                _one_redirect_join("metric", columns, key),
            )
        ]
    finally:
        duck.close()
    assert read[0] == read[1]
