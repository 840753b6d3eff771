"""UK identifiers: the GMC reference number for doctors, ODS codes for organisations.

**GMC** reference numbers are the General Medical Council's register
numbers: 7 digits, with no check digit (the register, not arithmetic, says
whether one exists).

**ODS** codes are the NHS Organisation Data Service's codes: 3 characters for
trusts and commissioning bodies (``RTH``, ``00Q``), 5 for trust sites
(``RTH01``) and pharmacies (``FA123``), 6 for GP practices (a letter and
five digits, ``A81001``). Upper-case letters and digits; no check digit.
"""

from harmonia import IdentifierScheme

GMC = IdentifierScheme(
    name="GMC",
    country="GB",
    pattern=r"\d{7}",
    description="GMC reference number of a doctor: 7 digits",
)

ODS = IdentifierScheme(
    name="ODS",
    country="GB",
    pattern=r"[A-Z0-9]{3}(?:[A-Z0-9]{2,3})?",
    description="ODS code of an NHS organisation: 3, 5 or 6 upper-case letters and digits "
    "(trust RTH, site RTH01, GP practice A81001)",
)
