"""The UK pack: profile with pull-through, GMC reference numbers and ODS codes.

The GMC numbers are made up; the ODS codes are public organisation codes.
"""

import json

import pytest

import harmonia_gb
from harmonia import InvalidIdentifier
from harmonia_gb.identifiers import GMC, ODS


@pytest.fixture
def catalog(harmonia_plugins, register_pack):
    register_pack(harmonia_gb)
    return harmonia_plugins.catalog()


def test_profile_fits_the_catalogue_and_pulls_through(catalog):
    profile = catalog.country_profiles["GB"]
    assert catalog.warnings == ()
    assert catalog.option_catalogue.check(profile) == []
    assert (profile.pull_through.enabled, profile.pull_through.threshold) == (True, 0.1)
    assert profile.language == "en"
    assert catalog.refinement_policies[profile.refinement_policy].name == "strict"


@pytest.mark.parametrize("value", ["1234567", "7000001", "0123456"])
def test_gmc_accepts_seven_digits(value):
    assert GMC.check(value) == value


@pytest.mark.parametrize("value", ["123456", "12345678", "G123456", "GMC1234567"])
def test_gmc_rejects_anything_else(value):
    with pytest.raises(InvalidIdentifier):
        GMC.check(value)


@pytest.mark.parametrize("value", ["RTH", "00Q", "RTH01", "FA123", "A81001", "W95010"])
def test_ods_accepts_trusts_sites_and_practices(value):
    assert ODS.check(value) == value


@pytest.mark.parametrize("value", ["RT", "RTH0", "A810011", "RTH_01"])
def test_ods_rejects_other_lengths(value):
    with pytest.raises(InvalidIdentifier):
        ODS.check(value)


def test_a_load_quarantines_bad_identifiers(harmonia_cli, register_pack, tmp_path):
    register_pack(harmonia_gb)
    path = tmp_path / "customers.csv"
    path.write_text(
        "customer_id,country,type,last_name,specialty,id_scheme,id_value\n"
        "G1,GB,HCP,Evans,medical_oncology,GMC,1234567\n"
        "G2,GB,HCP,Jones,medical_oncology,GMC,123456\n"
        "G3,GB,HCO,Oxford University Hospitals,hospital,ODS,RTH\n"
        "G4,GB,HCO,Somewhere,hospital,ODS,RTH0\n"
        "G5,FR,HCP,Martin,medical_oncology,GMC,7654321\n",
        encoding="utf-8",
    )
    result = harmonia_cli("load", str(path), "--country", "GB")
    assert result.exit_code == 0, result.output
    rejected = {
        row["record"]["customer_id"]: " ".join(row["reasons"])
        for row in json.loads(harmonia_cli("quarantine", "list", "--json").output)
    }
    assert set(rejected) == {"G2", "G4", "G5"}
    assert "GMC '123456' is not valid" in rejected["G2"]
    assert "ODS 'RTH0' is not valid" in rejected["G4"]
    assert "not the country of this load" in rejected["G5"]
