"""RPPS and FINESS accept well-formed numbers and reject bad formats and check digits.

The valid RPPS numbers are made up (10 digits + their computed Luhn digit):
real RPPS numbers identify people. FINESS numbers identify establishments and
are public; 750712184 is the AP-HP legal entity.
"""

import pytest

from harmonia import InvalidIdentifier
from harmonia_fr.identifiers import FINESS, RPPS


@pytest.mark.parametrize("value", ["10000000009", "10001234565", "10123456781", "10998877665"])
def test_rpps_accepts_valid_numbers(value):
    assert RPPS.check(value) == value


def test_rpps_accepts_spaced_input():
    assert RPPS.check("100 0123 4565") == "10001234565"


@pytest.mark.parametrize(
    "value",
    [
        "10001234566",  # check digit off by one
        "10001234556",  # two adjacent digits swapped
        "1000123456",  # 10 digits
        "810001234565",  # the national health identifier ('8' + RPPS), not an RPPS number
        "20001234565",  # does not start with 1
        "1000123456A",
    ],
)
def test_rpps_rejects_invalid_numbers(value):
    with pytest.raises(InvalidIdentifier):
        RPPS.check(value)


@pytest.mark.parametrize("value", ["750712184", "750000010", "130001233", "970400008", "050000124"])
def test_finess_accepts_valid_numbers(value):
    assert FINESS.check(value) == value


def test_finess_accepts_corsican_numbers_on_format():
    assert FINESS.check("2A0000012") == "2A0000012"
    assert FINESS.check("2b 000 0034") == "2B0000034"


@pytest.mark.parametrize(
    "value",
    [
        "750712185",  # check digit off by one
        "750721184",  # two adjacent digits swapped
        "75071218",  # 8 characters
        "7507121840",  # 10 characters
        "2C0000012",  # not a Corsican département
        "AB0000012",
    ],
)
def test_finess_rejects_invalid_numbers(value):
    with pytest.raises(InvalidIdentifier):
        FINESS.check(value)
