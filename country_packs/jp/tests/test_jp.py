"""The Japanese pack: profile in Japanese, medical institution codes, Shift_JIS files.

0110113719 is the medical institution code printed as the example of the
10-digit prescription format; the other codes are made up with their
computed check digits.
"""

import json

import pytest

import harmonia_jp
from harmonia import InvalidIdentifier
from harmonia_jp.identifiers import ISEKI, MIC


@pytest.fixture
def catalog(harmonia_plugins, register_pack):
    register_pack(harmonia_jp)
    return harmonia_plugins.catalog()


def test_profile_fits_the_catalogue_and_speaks_japanese(catalog):
    profile = catalog.country_profiles["JP"]
    assert catalog.warnings == ()
    assert catalog.option_catalogue.check(profile) == []
    assert (profile.name, profile.language) == ("日本", "ja")
    assert (profile.csv.encoding, profile.csv.fallback_encoding) == ("utf-8", "cp932")
    policy = catalog.refinement_policies[profile.refinement_policy]
    assert policy.name == "jp-standard"
    assert "訪問規制(アポイント制、面会制限)" in policy.reasons


@pytest.mark.parametrize("value", ["0110113719", "1310123458", "2711000121", "4740000106"])
def test_mic_accepts_valid_codes(value):
    assert MIC.check(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "0110113718",  # check digit
        "1310123485",  # two digits swapped
        "4810000106",  # prefecture 48 does not exist
        "1320123456",  # fee schedule 2 does not exist
        "011011371",  # 9 digits
    ],
)
def test_mic_rejects_invalid_codes(value):
    with pytest.raises(InvalidIdentifier):
        MIC.check(value)


def test_iseki_is_a_serial_number_without_leading_zeros():
    assert ISEKI.check("345678") == "345678"
    for value in ("0345678", "12345678", "A12345"):
        with pytest.raises(InvalidIdentifier):
            ISEKI.check(value)


CUSTOMERS = (
    "customer_id,country,type,last_name,first_name,specialty,city,id_scheme,id_value\n"
    "J1,JP,HCO,東京大学医学部附属病院,,hospital,東京都文京区,MIC,1310123458\n"
    "J2,JP,HCO,大阪府立病院,,hospital,大阪市,MIC,2711000122\n"
    "J3,JP,HCP,山田,太郎,medical_oncology,札幌市,ISEKI,345678\n"
)


@pytest.fixture
def loaded(harmonia_cli, register_pack):
    register_pack(harmonia_jp)

    def load(path, *options):
        result = harmonia_cli("load", str(path), "--country", "JP", *options)
        rejected = json.loads(harmonia_cli("quarantine", "list", "--json").output)
        return result, {row["record"]["customer_id"]: row["reasons"] for row in rejected}

    return load


@pytest.mark.parametrize("encoding", ["cp932", "utf-8", "utf-8-sig"])
def test_files_from_japanese_excel_load_in_shift_jis_or_utf8(loaded, tmp_path, encoding):
    path = tmp_path / "施設.csv"
    path.write_text(CUSTOMERS, encoding=encoding)
    result, rejected = loaded(path)
    assert result.exit_code == 0, result.output
    assert list(rejected) == ["J2"]
    assert "MIC '2711000122' is not valid" in rejected["J2"][0]


def test_kanji_survive_shift_jis(loaded, tmp_path, harmonia_database):
    import sqlalchemy

    path = tmp_path / "施設.csv"
    path.write_text(CUSTOMERS, encoding="cp932")
    loaded(path)
    engine = sqlalchemy.create_engine(harmonia_database)
    with engine.connect() as connection:
        names = set(connection.execute(sqlalchemy.text("SELECT last_name FROM customer")).scalars())
    assert {"東京大学医学部附属病院", "山田"} <= names


def test_a_shift_jis_file_read_as_utf8_is_refused(loaded, tmp_path):
    path = tmp_path / "施設.csv"
    path.write_text(CUSTOMERS, encoding="cp932")
    result, rejected = loaded(path, "--encoding", "utf-8")
    assert result.exit_code != 0
    assert "this file is not UTF-8" in result.output
    assert "Traceback" not in result.output
    assert rejected == {}


def test_a_utf8_file_read_as_shift_jis_is_refused(loaded, tmp_path):
    path = tmp_path / "施設.csv"
    path.write_text(CUSTOMERS, encoding="utf-8")
    result, rejected = loaded(path, "--encoding", "cp932")
    assert result.exit_code != 0
    assert "this file is UTF-8, not cp932" in result.output
    assert rejected == {}
