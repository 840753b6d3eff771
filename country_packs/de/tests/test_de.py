"""The German pack: profile, LANR (KBV check digit, specialty group) and BSNR, file encodings.

The valid LANRs are made up (six digits, their computed check digit, a
specialty group): real LANRs identify people. 999999900 is the KBV's pseudo
number, and passes the check like any other.
"""

import json

import pytest

import harmonia_de
from harmonia import InvalidIdentifier
from harmonia_de.identifiers import BSNR, LANR


@pytest.fixture
def catalog(harmonia_plugins, register_pack):
    register_pack(harmonia_de)
    return harmonia_plugins.catalog()


def test_profile_fits_the_catalogue_and_makes_the_german_choices(catalog):
    profile = catalog.country_profiles["DE"]
    assert catalog.warnings == ()
    assert catalog.option_catalogue.check(profile) == []
    assert (profile.language, profile.process_mode) == ("de", "field-involved")
    assert (profile.csv.delimiter, profile.csv.decimal) == (";", ",")
    assert (profile.csv.encoding, profile.csv.fallback_encoding) == ("utf-8", "cp1252")
    policy = catalog.refinement_policies[profile.refinement_policy]
    assert policy.name == "de-standard"
    assert any("Datenfehler" in reason for reason in policy.reasons)


@pytest.mark.parametrize("value", ["123456627", "123456601", "999999900", "000000067"])
def test_lanr_accepts_valid_numbers(value):
    assert LANR.check(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "123456727",  # check digit 7 instead of 6
        "213456627",  # first two digits swapped
        "12345662",  # 8 digits
        "1234566270",  # 10 digits
    ],
)
def test_lanr_rejects_invalid_numbers(value):
    with pytest.raises(InvalidIdentifier):
        LANR.check(value)


def test_lanr_specialty_group_must_agree_with_the_specialty():
    assert LANR.check("123456627", specialty="medical_oncology") == "123456627"
    assert LANR.check("123456601", specialty="general_practice") == "123456601"
    with pytest.raises(InvalidIdentifier, match=r"specialty group 27.*urology has group 67"):
        LANR.check("123456627", specialty="urology")
    # A specialty the table does not list is not checked.
    assert LANR.check("123456699", specialty="allergology") == "123456699"


@pytest.mark.parametrize("value", ["381234567", "721234560", "981000001"])
def test_bsnr_accepts_numbers_of_a_kv_region(value):
    assert BSNR.check(value) == value


@pytest.mark.parametrize("value", ["991234567", "38123456", "3812345678"])
def test_bsnr_rejects_other_numbers(value):
    with pytest.raises(InvalidIdentifier):
        BSNR.check(value)


CUSTOMERS = (
    "customer_id;country;type;last_name;specialty;id_scheme;id_value\n"
    "D1;DE;HCP;Müller;medical_oncology;LANR;123456627\n"
    "D2;DE;HCP;Schmidt;urology;LANR;223456227\n"
    "D3;DE;HCP;Weber;urology;LANR;123457667\n"
    "D4;DE;HCO;Praxis Köln-Süd;group_practice;BSNR;381234567\n"
    "D5;DE;HCO;Praxis Nord;group_practice;BSNR;991234567\n"
)


@pytest.fixture
def loaded(harmonia_cli, register_pack):
    register_pack(harmonia_de)

    def load(path, *options):
        result = harmonia_cli("load", str(path), "--country", "DE", *options)
        rejected = json.loads(harmonia_cli("quarantine", "list", "--json").output)
        return result, {row["record"]["customer_id"]: row["reasons"] for row in rejected}

    return load


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_excel_files_in_utf8_or_windows_1252_load_alike(loaded, tmp_path, encoding):
    path = tmp_path / "kunden.csv"
    path.write_text(CUSTOMERS, encoding=encoding)
    result, rejected = loaded(path)
    assert result.exit_code == 0, result.output
    assert set(rejected) == {"D2", "D3", "D5"}
    assert "carries specialty group 27" in rejected["D2"][0]
    assert "LANR '123457667' is not valid" in rejected["D3"][0]
    assert "BSNR '991234567' is not valid" in rejected["D5"][0]


def test_the_names_keep_their_umlauts_from_windows_1252(loaded, tmp_path, harmonia_database):
    import sqlalchemy

    path = tmp_path / "kunden.csv"
    path.write_text(CUSTOMERS, encoding="cp1252")
    loaded(path)
    engine = sqlalchemy.create_engine(harmonia_database)
    with engine.connect() as connection:
        names = set(connection.execute(sqlalchemy.text("SELECT last_name FROM customer")).scalars())
    assert {"Müller", "Praxis Köln-Süd"} <= names


def test_a_utf8_file_read_as_windows_1252_is_refused_not_garbled(loaded, tmp_path):
    path = tmp_path / "kunden.csv"
    path.write_text(CUSTOMERS, encoding="utf-8")
    result, rejected = loaded(path, "--encoding", "cp1252")
    assert result.exit_code != 0
    assert "this file is UTF-8, not cp1252" in result.output
    assert "Traceback" not in result.output
    assert rejected == {}


def test_a_windows_1252_file_read_as_utf8_is_refused(loaded, tmp_path):
    path = tmp_path / "kunden.csv"
    path.write_text(CUSTOMERS, encoding="cp1252")
    result, rejected = loaded(path, "--encoding", "utf-8")
    assert result.exit_code != 0
    assert "this file is not UTF-8" in result.output
    assert rejected == {}


def test_decimal_commas_of_german_excel(loaded, tmp_path, harmonia_cli):
    customers = tmp_path / "kunden.csv"
    customers.write_text(CUSTOMERS, encoding="utf-8")
    loaded(customers)
    metrics = tmp_path / "kennzahlen.csv"
    metrics.write_text(
        "customer_id;therapy_area;metric;period;value\n"
        "D1;oncology;potential;2027-H1;1.234,5\n"
        "D1;oncology;trx;2027-H1;12,75\n"
        "D1;oncology;nrx;2027-H1;zwölf\n",
        encoding="utf-8",
    )
    result, rejected = loaded(metrics)
    assert result.exit_code == 0, result.output
    assert rejected["D1"] == [
        "value 'zwölf' is not a number (this file is read with a decimal comma)"
    ]
