"""contrib/veeva end to end: a Veeva account extract in, a cycle, Veeva load files out.

The customers come from Veeva (system ``veeva``), the metrics from a vendor
file keyed by the same Veeva ids; the cycle's target list then goes back to
Veeva as load files that reference the accounts by their Salesforce Id.
"""

from __future__ import annotations

import csv
from pathlib import Path

import tiny_market
from helpers import write

import harmonia_veeva


def test_veeva_accounts_in_and_load_files_out(harmonia_cli, register_pack, tmp_path):
    register_pack(tiny_market, name="tiny")
    register_pack(harmonia_veeva, name="veeva")
    extract = tmp_path / "extract"
    accounts = ["Id,FirstName,LastName,IsPersonAccount,Specialty_1_vod__c,Territory_vod__c"]
    accounts += [f"001V{i},Ann{i},Smit,true,Cardiology,;NL-T{1 + i % 2};" for i in range(8)]
    addresses = ["Account_vod__c,City_vod__c,Zip_vod__c,Country_vod__c,Primary_vod__c"]
    addresses += [f"001V{i},Utrecht,3511,NL,true" for i in range(8)]
    write(extract / "Account.csv", "\n".join(accounts) + "\n")
    write(extract / "Address_vod__c.csv", "\n".join(addresses) + "\n")
    metrics = ["customer_id;therapy_area;metric;period;value"]
    metrics += [f"001V{i};cardiology;potential;2026;{10 * (i + 1)}" for i in range(8)]
    metrics += [f"001V{i};cardiology;trx;2027-Q1;{i}" for i in range(8)]
    write(tmp_path / "metrics.csv", "\n".join(metrics) + "\n")

    loaded = harmonia_cli("load", "--source", "veeva-accounts", "--option", f"path={extract}")
    assert loaded.exit_code == 0, loaded.output
    loaded = harmonia_cli("load", str(tmp_path / "metrics.csv"), "--system", "veeva", "-c", "NL")
    assert loaded.exit_code == 0, loaded.output
    out = tmp_path / "out"
    result = harmonia_cli(
        "cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H1",
        "--sink", "veeva", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (folder,) = out.glob("*-veeva")
    with (folder / "TSF_vod__c.csv").open(encoding="utf-8") as file:
        targets = list(csv.DictReader(file))
    assert targets and all(row["Account_vod__c"].startswith("001V") for row in targets)
    assert {row["Territory_vod__c"] for row in targets} <= {"NL-T1", "NL-T2"}
    assert not (folder / "unmatched.csv").exists()
    assert (folder / "MC_Cycle_Plan_Channel_vod__c.csv").stat().st_size > 0
    assert Path(folder / "load-order.txt").read_text().splitlines()[0] == (
        "Account_Territory_Loader_vod__c.csv"
    )
