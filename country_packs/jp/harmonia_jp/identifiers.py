"""Japanese identifiers: medical institution codes for facilities, register numbers for physicians.

**MIC** (医療機関コード, the insurance medical institution code), 10 digits
as printed on prescriptions and claims since 2010: the prefecture (2 digits,
01 Hokkaidō ... 47 Okinawa), the fee schedule (1 medical, 3 dental, 4
pharmacy), the county/city number (2), the institution number (4) and a
check digit. The check digit is modulus 10 with weights 2 and 1 (Luhn)
computed over all nine digits before it, prefecture and fee schedule
included, so the core checks it as ``checksum = "luhn"``.

**ISEKI** (医籍登録番号), the number under which the Ministry of Health
registered a physician: a serial number (no check digit), written without
leading zeros.

The physician codes of Japanese pharma's reference database (Ultmarc's DCF
施設コード and 個人コード) are a vendor's ids, not national ones: load them
as the ``customer_id`` of a source system named for them (``--system dcf``),
and the crosswalk keeps them next to harmonia's ids.
"""

from harmonia import IdentifierScheme

MIC = IdentifierScheme(
    name="MIC",
    country="JP",
    pattern=r"(?:0[1-9]|[1-3]\d|4[0-7])[134]\d{7}",
    checksum="luhn",
    description="医療機関コード (medical institution code): 10 digits, the prefecture (01-47), "
    "the fee schedule (1 medical, 3 dental, 4 pharmacy), six digits and a Luhn check digit",
)

ISEKI = IdentifierScheme(
    name="ISEKI",
    country="JP",
    pattern=r"[1-9]\d{0,6}",
    description="医籍登録番号 (physician register number): a serial number of up to 7 digits, "
    "without leading zeros",
)
