"""French national identifiers: RPPS for health professionals, FINESS for organisations.

RPPS (Répertoire partagé des professionnels de santé) numbers have 11 digits,
start with 1 and end with a Luhn check digit: pattern and checksum say it all,
and the core checks a whole load vectorized.

FINESS (Fichier national des établissements sanitaires et sociaux) numbers
have 9 characters: the département (2 characters), 6 digits and a Luhn check
digit. Overseas départements use digits too (971..., 974...), but Corsica
keeps its letters (2A, 2B) and the Luhn algorithm is defined on digits only.
Rather than drop Corsican hospitals or accept any check digit everywhere, the
scheme has no declared checksum and a ``validate`` function instead: Luhn for
digit-only numbers, the format alone for 2A/2B numbers. It runs once per
distinct value, which HCO universes (tens of thousands) afford easily.
"""

from stdnum import luhn
from stdnum.exceptions import ValidationError

from harmonia import IdentifierScheme, InvalidIdentifier


def validate_finess(value: str) -> str:
    """Check a FINESS number already matching the pattern; return it upper-cased.

    Digit-only numbers must pass Luhn. Corsican numbers (2A, 2B) have no
    published rule to turn their letters into digits, so only their format is
    checked.
    """
    value = value.upper()
    if value.isdigit():
        try:
            luhn.validate(value)
        except ValidationError:
            raise InvalidIdentifier(f"FINESS {value!r} fails its check digit (Luhn)") from None
    return value


RPPS = IdentifierScheme(
    name="RPPS",
    country="FR",
    pattern=r"1\d{10}",
    checksum="luhn",
    description="RPPS number of a health professional: 11 digits starting with 1, "
    "the last a Luhn check digit (the national health identifier without its leading 8)",
)

FINESS = IdentifierScheme(
    name="FINESS",
    country="FR",
    pattern=r"(?:\d{2}|2[ABab])\d{7}",
    validate=validate_finess,
    description="FINESS number of a healthcare organisation: 9 characters, the département "
    "(2 digits, or 2A/2B for Corsica) then 7 digits, the last a Luhn check digit "
    "(Corsican numbers: format only)",
)
