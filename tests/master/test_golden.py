"""Golden records pick among source records by each value's own source and batch.

The CRM (csv) loads C02 as Bram Jansen; the vendor then loads V02 as Bram
Janssen with an e-mail; then the CRM sends C02 again with a new postal code
only. The CRM's record's latest batch is then the third, but its last name
still came from the first: "most recent" must pick the vendor's Janssen, and
every golden value must name the batch that gave it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import load, query, tiny_catalog, write

from harmonia.definitions import Survivorship
from harmonia.master.golden import compute, golden_record
from harmonia.master.merging import merge
from harmonia.store import Database

VENDOR = """
customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory;id_scheme;id_value;email
V02;NL;HCP;Bram;Janssen;cardiology;1012;Amsterdam;T1;;;bram@example.nl
"""
CRM_AGAIN = """
customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory;id_scheme;id_value
C02;NL;HCP;Bram;Jansen;cardiology;1017;Amsterdam;T1;TINY;10000024
"""
CRM_SAME = """
customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory;id_scheme;id_value
C02;NL;HCP;Bram;;cardiology;1017;Amsterdam;T1;TINY;10000024
C01;NL;HCP;Anna;de Vries;cardiology;1011;Utrecht;T1;TINY;10000016
"""


@pytest.fixture
def three_loads(universe: str, tmp_path: Path) -> tuple[str, dict[str, int], dict[str, int]]:
    catalog = tiny_catalog()
    write(tmp_path / "vendor" / "customers.csv", VENDOR)
    load(universe, catalog, tmp_path / "vendor", country="NL", system="vendor")
    write(tmp_path / "crm" / "customers.csv", CRM_AGAIN)
    load(universe, catalog, tmp_path / "crm", country="NL")
    batches = [
        r["id"]
        for r in query(universe, "SELECT id FROM load_batch WHERE kind = 'customers' ORDER BY id")
    ]
    ids = {
        r["source_id"]: r["customer_id"]
        for r in query(universe, "SELECT source_id, customer_id FROM crosswalk")
    }
    merge(Database(universe), ids["C02"], ids["V02"], actor="steward")
    return universe, ids, dict(zip(("crm", "vendor", "crm_again"), batches, strict=True))


def _golden(url: str, ids: dict[str, int], survivorship: Survivorship) -> dict[str, tuple]:
    database = Database(url)
    compute(database, survivorship, country="NL")
    return {
        v["attribute"]: (v["value"], v["system"], v["batch_id"])
        for v in golden_record(database, ids["C02"])
    }


def test_each_golden_value_names_the_batch_that_gave_it(three_loads) -> None:
    url, ids, batch = three_loads
    latest = _golden(url, ids, Survivorship(default="most_recent"))
    # The CRM's name came from its first load, before the vendor's Janssen.
    assert latest["last_name"] == ("Janssen", "vendor", batch["vendor"])
    assert latest["postal_code"] == ("1017", "csv", batch["crm_again"])
    assert latest["email"] == ("bram@example.nl", "vendor", batch["vendor"])
    crm_first = Survivorship(source_priority=("csv", "vendor"), default="source_priority")
    trusted = _golden(url, ids, crm_first)
    assert trusted["last_name"] == ("Jansen", "csv", batch["crm"])
    assert trusted["postal_code"] == ("1017", "csv", batch["crm_again"])
    assert trusted["email"] == ("bram@example.nl", "vendor", batch["vendor"])  # never blank


def test_the_attribute_history_grows_with_changes_not_with_loads(three_loads, tmp_path) -> None:
    url, ids, batch = three_loads
    sql = (
        "SELECT batch_id, last_name, postal_code, city FROM customer_attribute_history "
        "WHERE system = 'csv' AND source_id = '{}' ORDER BY batch_id"
    )
    assert [tuple(r.values()) for r in query(url, sql.format("C02"))] == [
        (batch["crm"], "Jansen", "1012", "Amsterdam"),
        (batch["crm_again"], None, "1017", None),
    ]
    # The same values again, and a blank cell: nothing new for C02; C01's new city only.
    write(tmp_path / "same" / "customers.csv", CRM_SAME)
    load(url, tiny_catalog(), tmp_path / "same", country="NL")
    assert len(query(url, sql.format("C02"))) == 2
    assert [tuple(r.values()) for r in query(url, sql.format("C01"))][1][1:] == (
        None,
        None,
        "Utrecht",
    )
    # most_frequent counts source records agreeing; a tie goes to the value given last.
    frequent = _golden(url, ids, Survivorship(default="most_frequent"))
    assert frequent["first_name"] == ("Bram", "vendor", batch["vendor"])
    assert frequent["last_name"] == ("Janssen", "vendor", batch["vendor"])


def test_a_phone_given_again_after_a_junk_cell_is_recorded(universe: str, tmp_path: Path) -> None:
    """A cell of junk only ('-') gives no phone (NULL, never ''): the row keeps its
    phone, and the number given again after it is no new value of the record."""
    header = (
        "customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory;phone"
    )
    phones = ["020-1234567", "-", "020 1234567", "0209999999"]
    for n, phone in enumerate(phones):
        row = f"C01;NL;HCP;Anna;de Vries;cardiology;1011;Amsterdam;T1;{phone}"
        write(tmp_path / str(n) / "customers.csv", f"{header}\n{row}\n")
        load(universe, tiny_catalog(), tmp_path / str(n), country="NL")
    given = query(
        universe,
        "SELECT phone FROM customer_attribute_history WHERE system = 'csv' "
        "AND source_id = 'C01' AND phone IS NOT NULL ORDER BY batch_id",
    )
    assert [row["phone"] for row in given] == ["0201234567", "0209999999"]
    assert query(universe, "SELECT phone FROM customer WHERE id = 1") == [{"phone": "0209999999"}]
    versions = query(universe, "SELECT phone FROM customer_version WHERE id = 1 ORDER BY batch_id")
    assert "" not in [row["phone"] for row in versions]


def test_customer_show_gives_each_values_source_and_batch(harmonia_cli, tiny, three_loads) -> None:
    """(The CLI's fixture first: its fresh store has the path the universe is copied to.)"""
    import json

    url, ids, batch = three_loads

    def shown(source_id: str) -> dict[str, tuple]:
        result = harmonia_cli("--database", url, "customer", "show", source_id, "--json")
        assert result.exit_code == 0, result.output
        values = json.loads(result.stdout)["values"]
        return {v["attribute"]: (v["value"], v["system"], v["batch_id"], v["rule"]) for v in values}

    # Never merged: what its record holds, each value from the load that gave it.
    alone = shown("C01")
    assert alone["last_name"] == ("de Vries", "csv", batch["crm"], "latest")
    crm_first = Survivorship(source_priority=("csv", "vendor"), default="source_priority")
    _golden(url, ids, crm_first)
    merged = shown("V02")  # the merged id shows the survivor, with its golden record
    assert merged["last_name"] == ("Jansen", "csv", batch["crm"], "source_priority")
    assert merged["postal_code"] == ("1017", "csv", batch["crm_again"], "source_priority")
    text = harmonia_cli("--database", url, "customer", "show", "C02").output
    assert "golden values" in text and "Jansen" in text


VENDOR_CHANGED = """
customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory;id_scheme;id_value;email
V02;NL;HCP;Bram;Janssen;cardiology;1013;Amsterdam;T1;;;bram.janssen@example.nl
"""
#: A vendor record naming C01 by her national identifier: one harmonia id, no merge.
VENDOR_LINKED = """
customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory;id_scheme;id_value;email
V01;NL;HCP;Anna;de Vries-Bakker;cardiology;1011;Amsterdam;T1;TINY;10000016;anna@example.nl
"""


def _loaded(harmonia_cli, url: str, folder: Path, system: str) -> int:
    """Load ``folder`` as ``harmonia load`` does (the application's path); its batch."""
    result = harmonia_cli(
        "--database", url, "load", str(folder), "--country", "NL", "--system", system
    )
    assert result.exit_code == 0, result.output
    return query(url, "SELECT MAX(id) AS id FROM load_batch")[0]["id"]


def _values(url: str, customer_id: int) -> dict[str, tuple]:
    return {
        v["attribute"]: (v["value"], v["system"], v["batch_id"])
        for v in golden_record(Database(url), customer_id)
    }


def test_a_load_recomputes_the_golden_records_of_the_persons_it_touched(
    harmonia_cli, tiny, three_loads, tmp_path: Path
) -> None:
    url, ids, batch = three_loads
    _golden(url, ids, Survivorship(default="most_recent"))
    write(tmp_path / "changed" / "customers.csv", VENDOR_CHANGED)
    changed = _loaded(harmonia_cli, url, tmp_path / "changed", "vendor")
    # No recompute asked for: the load kept C02's golden record fresh.
    golden = _values(url, ids["C02"])
    assert golden["postal_code"] == ("1013", "vendor", changed)
    assert golden["email"] == ("bram.janssen@example.nl", "vendor", changed)
    assert golden["last_name"] == ("Janssen", "vendor", batch["vendor"])  # unchanged: same batch
    # A load touching no person with a golden record leaves every golden value as it is.
    before = query(url, "SELECT * FROM golden_value ORDER BY customer_id, attribute")
    write(
        tmp_path / "other" / "customers.csv",
        CRM_SAME.replace("C02;NL;HCP;Bram;;", "C03;NL;HCP;Cor;;"),
    )
    _loaded(harmonia_cli, url, tmp_path / "other", "csv")
    assert query(url, "SELECT * FROM golden_value ORDER BY customer_id, attribute") == before


def test_customers_linked_at_load_by_an_identifier_have_a_golden_record(
    harmonia_cli, tiny, universe: str, tmp_path: Path
) -> None:
    import json

    [crm] = query(universe, "SELECT batch_id FROM crosswalk WHERE source_id = 'C01'")
    crm = crm["batch_id"]
    write(tmp_path / "vendor" / "customers.csv", VENDOR_LINKED)
    vendor = _loaded(harmonia_cli, universe, tmp_path / "vendor", "vendor")
    [anna] = query(
        universe, "SELECT DISTINCT customer_id FROM crosswalk WHERE source_id IN ('C01', 'V01')"
    )
    anna_id = anna["customer_id"]
    assert query(universe, "SELECT COUNT(*) AS n FROM customer_redirect")[0]["n"] == 0
    golden = _values(universe, anna_id)
    assert golden["last_name"] == ("de Vries-Bakker", "vendor", vendor)
    assert golden["first_name"] == ("Anna", "vendor", vendor)  # most recent: the vendor's
    assert golden["specialty"] == ("cardiology", "vendor", vendor)
    assert golden["city"] == ("Amsterdam", "vendor", vendor)
    assert golden["email"] == ("anna@example.nl", "vendor", vendor)
    # Every reader agrees: customer show, master golden, the quality report.
    shown = harmonia_cli("--database", universe, "customer", "show", "C01", "--json")
    values = {v["attribute"]: v for v in json.loads(shown.stdout)["values"]}
    assert values["last_name"]["rule"] == "most_recent"
    assert values["last_name"]["value"] == "de Vries-Bakker"
    master = harmonia_cli("--database", universe, "master", "golden", str(anna_id), "--json")
    assert {v["attribute"]: v["value"] for v in json.loads(master.stdout)}["last_name"] == (
        "de Vries-Bakker"
    )
    report = harmonia_cli("--database", universe, "master", "quality", "--country", "NL", "--json")
    conflicts = {c["attribute"]: c for c in json.loads(report.stdout)["conflicts"]}
    assert conflicts["last_name"]["conflicting"] == 1
    kept = {
        c["system"]: (c["batch_id"], c["kept"])
        for c in json.loads(report.stdout)["conflict_sources"]
        if c["attribute"] == "last_name"
    }
    assert kept == {"csv": (crm, 0), "vendor": (vendor, 1)}
    # A country's recompute keeps it (it is not only the load's doing).
    compute(Database(universe), Survivorship(), country="NL")
    assert _values(universe, anna_id) == golden


def test_a_merge_by_command_gives_the_survivor_its_golden_record_at_once(
    harmonia_cli, tiny, universe: str, tmp_path: Path
) -> None:
    write(tmp_path / "vendor" / "customers.csv", VENDOR)
    vendor = _loaded(harmonia_cli, universe, tmp_path / "vendor", "vendor")
    ids = {r["source_id"]: r["customer_id"] for r in query(universe, "SELECT * FROM crosswalk")}
    assert not golden_record(Database(universe), ids["C02"])
    merged = harmonia_cli(
        "--database", universe, "master", "merge", str(ids["C02"]), str(ids["V02"])
    )
    assert merged.exit_code == 0, merged.output
    assert _values(universe, ids["C02"])["last_name"] == ("Janssen", "vendor", vendor)


def test_an_erasure_waits_for_a_loads_golden_refresh_and_leaves_nothing_of_the_person(
    harmonia_cli, tiny, universe: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL (read committed) an erasure's DELETE would miss the golden values a
    refresh running meanwhile inserts: both take the load lock."""
    import threading
    import time

    import harmonia.master.golden as golden
    from harmonia.master.privacy import erase

    write(tmp_path / "vendor" / "customers.csv", VENDOR_LINKED)
    _loaded(harmonia_cli, universe, tmp_path / "vendor", "vendor")
    [anna] = query(
        universe, "SELECT DISTINCT customer_id FROM crosswalk WHERE source_id IN ('C01', 'V01')"
    )
    anna_id = anna["customer_id"]
    assert _values(universe, anna_id)
    real = golden.persons_history
    erasures: list[threading.Thread] = []

    def erased_meanwhile(bulk, persons):  # the refresh deleted her old values, reads history
        erasure = threading.Thread(
            target=erase, args=(Database(universe), anna_id), kwargs={"actor": "dpo"}
        )
        erasures.append(erasure)
        erasure.start()
        time.sleep(2)  # the erasure's window (it waits for the lock, or races without it)
        return real(bulk, persons)

    monkeypatch.setattr(golden, "persons_history", erased_meanwhile)
    changed = VENDOR_LINKED.replace("anna@example.nl", "anna.new@example.nl")
    _loaded(
        harmonia_cli, universe, write(tmp_path / "changed" / "customers.csv", changed), "vendor"
    )
    [erasure] = erasures
    erasure.join(60)
    assert not erasure.is_alive()
    assert query(universe, f"SELECT * FROM golden_value WHERE customer_id = {anna_id}") == []


def test_golden_records_a_cut_short_refresh_owes_are_refreshed_by_the_next_load(
    harmonia_cli, tiny, universe: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harmonia.master.golden as golden

    write(tmp_path / "vendor" / "customers.csv", VENDOR_LINKED)
    real = golden.refresh

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(golden, "refresh", killed)
    cut = harmonia_cli(
        "--database",
        universe,
        "load",
        str(tmp_path / "vendor"),
        "--country",
        "NL",
        "--system",
        "vendor",
    )
    assert cut.exit_code != 0
    [anna] = query(
        universe, "SELECT DISTINCT customer_id FROM crosswalk WHERE source_id IN ('C01', 'V01')"
    )
    assert _values(universe, anna["customer_id"]) == {}
    monkeypatch.setattr(golden, "refresh", real)
    # The same file again: its batch is skipped, the refresh it owes is not.
    again = _loaded(harmonia_cli, universe, tmp_path / "vendor", "vendor")
    assert _values(universe, anna["customer_id"])["email"][0] == "anna@example.nl"
    assert query(universe, f"SELECT golden_owed FROM load_batch WHERE id = {again}")[0] in (
        {"golden_owed": 0},
        {"golden_owed": False},
    )
