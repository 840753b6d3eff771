"""The National Provider Identifier (NPI), the identifier of every US prescriber.

An NPI has 10 digits and starts with 1 (individuals and organisations alike
today; 2 is reserved for future use, so both are accepted). Its last digit is
a Luhn check digit computed over the prefix ``80840`` (the ISO 7812 card
issuer prefix of US health applications) followed by the first nine digits,
as CMS specifies. That is a declaration, not code: ``checksum = "luhn"`` with
``prefix = "80840"``, checked vectorized over a whole load.

State medical licence numbers are not modelled: their formats differ by
state board and carry no check digit; load them as a customer attribute of
your own source if you need them.
"""

from harmonia import IdentifierScheme

NPI = IdentifierScheme(
    name="NPI",
    country="US",
    # (?:1|2) rather than [12]: the synthetic generator reads literal
    # alternatives as a template and so fills NPIs in demo universes.
    pattern=r"(?:1|2)\d{9}",
    checksum="luhn",
    prefix="80840",
    description="National Provider Identifier: 10 digits starting with 1 or 2, the last a "
    "Luhn check digit over 80840 and the first nine digits",
)
