"""The veeva-accounts source: an account extract into customers, identifiers and crosswalk."""

from __future__ import annotations

import shutil

import attrs
import pytest

from harmonia import InputError
from harmonia.testing import query_store


def _load(app, path, **options):
    jobs = app.loads.plan(source="veeva-accounts", options={"path": str(path), **options})
    return app.loads.run(jobs)


def test_accounts_become_customers_with_their_veeva_ids(app, extract):
    results = _load(app, extract)
    assert sum(r.rows_quarantined for r in results) == 4
    customers = {c["source_id"]: c for c in _customers(app)}
    assert sorted(customers) == [
        "0010000000000001AAA",
        "0010000000000002AAA",
        "0010000000000003AAA",
    ]
    hospital, ada, grace = (customers[f"001000000000000{i}AAA"] for i in (1, 2, 3))
    assert (hospital["type"], hospital["specialty"], hospital["last_name"]) == (
        "HCO",
        "hospital",
        "Mercy General Hospital",
    )
    # No address of her own: she practises at her primary parent, the hospital.
    assert (ada["type"], ada["specialty"], ada["city"], ada["country"]) == (
        "HCP",
        "medical_oncology",
        "Boston",
        "US",
    )
    assert ada["territory"] == "US-T01"
    assert (ada["id_scheme"], ada["id_value"]) == ("NPI", "1234567893")
    # The primary address wins over an older one.
    assert (grace["city"], grace["postal_code"]) == ("Somerville", "02143")


def test_missing_parents_and_duplicate_ids_are_quarantined_with_reasons(app, extract):
    _load(app, extract)
    rows = app.loads.quarantined()
    reasons = sorted(reason for row in rows for reason in row.reasons)
    # An account without an Id is refused too, and does not hide the missing parent.
    assert len(rows) == 4
    assert any("duplicate customer_id '0010000000000003AAA'" in r for r in reasons)
    assert any(
        "primary parent 001MISSING00000AAA (Primary_Parent_vod__c) is not in the account extract"
        in r
        for r in reasons
    )
    assert any(
        "parent account 001GONE000000000AAA (Parent_Account_vod__c) is not in the account" in r
        for r in reasons
    )
    locations = {row.location.rsplit("/", 1)[-1] for row in rows}
    assert locations == {"Account.csv", "Child_Account_vod__c.csv"}


def test_affiliations_are_stored_between_harmonia_ids(app, extract, harmonia_database):
    results = _load(app, extract)
    primary, children = [r for r in results if r.kind == "affiliations"]
    # Ada's primary parent (Account.csv), then the same pair and an orphan (Child_Account).
    assert primary.location.endswith("Account.csv") and primary.rows_new == 1
    assert (children.rows_unchanged, children.rows_quarantined) == (1, 1)
    ids = {c["source_id"]: c["id"] for c in _customers(app)}
    stored = query_store(harmonia_database, "SELECT customer_id, parent_id FROM affiliation")
    hospital, ada = ids["0010000000000001AAA"], ids["0010000000000002AAA"]
    assert [(row["customer_id"], row["parent_id"]) for row in stored] == [(ada, hospital)]


def test_loading_the_extract_again_changes_nothing(app, extract, harmonia_database):
    _load(app, extract)
    again = _load(app, extract)
    assert sum(r.rows_new for r in again) == 0
    assert sum(r.rows_unchanged for r in again if r.kind == "affiliations") == 2
    assert len(query_store(harmonia_database, "SELECT * FROM affiliation")) == 1


def test_an_extract_without_addresses_or_affiliations_loads_with_the_default_country(
    app, extract, tmp_path, harmonia_database
):
    shutil.copy(extract / "Account.csv", tmp_path / "Account.csv")
    _load(app, tmp_path / "Account.csv", country="US")
    customers = {c["source_id"]: c for c in _customers(app)}
    assert customers["0010000000000001AAA"]["country"] == "US"
    # The parent is still in the extract; only its address is not.
    assert customers["0010000000000002AAA"]["city"] is None
    # Without Child_Account_vod__c, the primary parent is still an affiliation.
    assert len(query_store(harmonia_database, "SELECT * FROM affiliation")) == 1


def test_identifier_fields_must_be_api_names_and_schemes_are_taken_as_written(
    app, extract, harmonia_database
):
    with pytest.raises(InputError, match=r"'NPI\"x' is not a Salesforce API name"):
        _load(app, extract, identifiers='NPI"x=NPI')
    # A quote in a scheme or a country is text, not the end of the SQL string: the
    # rows reach the checks, which refuse both by name (a quote in a value shown
    # in a message is doubled, as every load message shows it).
    _load(app, extract, identifiers="NPI_vod__c=N'PI", country="U'S")
    reasons = " ".join(
        row["reasons"] for row in query_store(harmonia_database, "SELECT reasons FROM quarantine")
    )
    assert "identifier scheme 'N''PI' is not installed" in reasons
    assert "country 'U''S' is not an ISO 3166" in reasons


def test_a_folder_without_account_csv_is_a_clear_error(app, tmp_path):
    with pytest.raises(InputError, match=r"no Account\.csv in"):
        _load(app, tmp_path)


def _customers(app):
    """The stored customers with their Veeva id and national identifier (through the app)."""
    return [
        {
            **attrs.asdict(customer, recurse=False),
            "id_scheme": customer.identifiers[0][0] if customer.identifiers else None,
            "id_value": customer.identifiers[0][1] if customer.identifiers else None,
        }
        for customer in app.customers.known_by("veeva")
    ]
