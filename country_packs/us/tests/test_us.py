"""The US pack: a data-driven profile inside the global catalogue, and the NPI.

1234567893 is the example NPI CMS publishes; the other valid numbers are made
up (nine digits and their computed check digit): real NPIs identify people.
"""

import json

import pytest

import harmonia_us
from harmonia import InvalidIdentifier
from harmonia_us.identifiers import NPI


@pytest.fixture
def catalog(harmonia_plugins, register_pack):
    register_pack(harmonia_us)
    return harmonia_plugins.catalog()


def test_profile_fits_the_catalogue_and_makes_the_us_choices(catalog):
    profile = catalog.country_profiles["US"]
    assert catalog.warnings == ()
    assert catalog.option_catalogue.check(profile) == []
    assert (profile.process_mode, profile.field_refinement) == ("data-driven", "opt-out")
    assert profile.refinement_policy is None
    assert set(profile.data_sources) == {"external", "local"}
    assert (profile.csv.delimiter, profile.csv.decimal, profile.language) == (",", ".", "en")
    assert catalog.identifier_schemes["NPI"].provenance.distribution == "test-harmonia_us"


@pytest.mark.parametrize("value", ["1234567893", "1000000004", "2987654326", "123-456-7893"])
def test_npi_accepts_valid_numbers(value):
    assert NPI.check(value) == value.replace("-", "")


@pytest.mark.parametrize(
    "value",
    [
        "1234567890",  # check digit wrong
        "1234567839",  # two digits swapped
        "3234567891",  # starts with 3
        "123456789",  # 9 digits
        "808401234567893",  # prefix written into the number
    ],
)
def test_npi_rejects_invalid_numbers(value):
    with pytest.raises(InvalidIdentifier):
        NPI.check(value)


def test_npi_luhn_includes_the_prefix():
    """Without 80840 the example NPI fails Luhn: the prefix is part of the check."""
    from stdnum import luhn

    assert not luhn.is_valid("1234567893")
    assert NPI.check("1234567893")


def test_a_load_quarantines_bad_npis_with_their_reasons(
    harmonia_cli, harmonia_plugins, register_pack, tmp_path
):
    register_pack(harmonia_us)
    path = tmp_path / "customers.csv"
    path.write_text(
        "customer_id,country,type,last_name,specialty,id_scheme,id_value\n"
        "U1,US,HCP,Smith,medical_oncology,NPI,1234567893\n"
        "U2,US,HCP,Jones,medical_oncology,NPI,1234567890\n"
        "U3,US,HCP,Brown,urology,NPI,1000000004\n",
        encoding="utf-8",
    )
    result = harmonia_cli("load", str(path), "--country", "US")
    assert result.exit_code == 0, result.output
    rejected = json.loads(harmonia_cli("quarantine", "list", "--json").output)
    assert [row["record"]["customer_id"] for row in rejected] == ["U2"]
    assert "NPI '1234567890' is not valid" in rejected[0]["reasons"][0]
