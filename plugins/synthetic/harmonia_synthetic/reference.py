"""Small embedded reference lists: names, places, specialties, file conventions.

Everything here is plain Python data, so importing it costs nothing. The lists
are deliberately short: they make a universe that *looks* like a market (names
with accents, postal codes that match their city, a specialty mix that fits the
therapy area), not a census.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- people ---------------------------------------------------------------------

FRENCH_FIRST_NAMES = (
    "Marie", "Jean", "Nathalie", "Philippe", "Isabelle", "Pierre", "Sophie", "Michel",
    "Catherine", "Alain", "Sandrine", "François", "Valérie", "Nicolas", "Christine",
    "Julien", "Céline", "Laurent", "Hélène", "Stéphane", "Camille", "Thomas", "Aurélie",
    "Benoît", "Émilie", "Olivier", "Claire", "Guillaume", "Anne", "Jérôme",
)  # fmt: skip

FRENCH_LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
    "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David",
    "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "André", "Lefebvre",
    "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez", "Legrand",
    "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel",
    "Nicolas",
)  # fmt: skip

ENGLISH_FIRST_NAMES = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
    "David", "Elizabeth", "William", "Susan", "Richard", "Jessica", "Joseph", "Sarah",
    "Thomas", "Karen", "Charles", "Emily", "Daniel", "Nancy", "Matthew", "Lisa",
    "Anthony", "Margaret", "Mark", "Sandra", "Andrew", "Ashley",
)  # fmt: skip

ENGLISH_LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
    "Anderson", "Taylor", "Moore", "Jackson", "White", "Harris", "Clark", "Lewis",
    "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker",
    "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter", "Phillips",
    "Evans", "Turner", "Parker", "Collins", "Edwards", "Stewart", "O'Brien",
)  # fmt: skip

#: Organisation names around a city (``{}``), by language.
HCO_TEMPLATES = {
    "fr": (
        "Centre Hospitalier de {}", "CHU de {}", "Clinique du Parc, {}",
        "Institut de Cancérologie de {}", "Polyclinique de {}", "Centre de Santé de {}",
    ),
    "en": (
        "{} General Hospital", "{} University Hospital", "{} Cancer Centre",
        "{} Medical Group", "St Mary's Hospital, {}", "{} Community Clinic",
    ),
}  # fmt: skip

#: Short free-text answers, by language.
PHRASES = {
    "fr": (
        "RAS", "Besoin de données en vie réelle", "Accès au traitement difficile",
        "Intéressé par les études cliniques", "Souhaite plus de formation",
        "Délais de remboursement", "Très satisfait du suivi",
    ),
    "en": (
        "Nothing to add", "Wants more real-world evidence", "Access to treatment is difficult",
        "Interested in clinical trials", "Asks for more training", "Reimbursement delays",
        "Very satisfied with the support",
    ),
}  # fmt: skip


def language(country: str) -> str:
    """The language of names and phrases: French for France, English elsewhere."""
    return "fr" if country == "FR" else "en"


# --- places ------------------------------------------------------------------------

#: (postal code, city, weight): big cities carry more practices.
CITIES: dict[str, tuple[tuple[str, str, float], ...]] = {
    "FR": (
        ("75013", "Paris", 9), ("75015", "Paris", 8), ("75010", "Paris", 6),
        ("69003", "Lyon", 6), ("13005", "Marseille", 6), ("31059", "Toulouse", 4),
        ("06000", "Nice", 3), ("44093", "Nantes", 3), ("67000", "Strasbourg", 3),
        ("34295", "Montpellier", 3), ("33076", "Bordeaux", 4), ("59037", "Lille", 4),
        ("35033", "Rennes", 2), ("51100", "Reims", 1.5), ("42055", "Saint-Étienne", 1.5),
        ("83000", "Toulon", 1.5), ("38043", "Grenoble", 2), ("21079", "Dijon", 1.5),
        ("49933", "Angers", 1), ("63003", "Clermont-Ferrand", 1.5),
    ),
    "DE": (
        ("10117", "Berlin", 9), ("20095", "Hamburg", 6), ("80331", "München", 6),
        ("50667", "Köln", 4), ("60311", "Frankfurt am Main", 4), ("70173", "Stuttgart", 3),
        ("40213", "Düsseldorf", 3), ("04109", "Leipzig", 2), ("44135", "Dortmund", 2),
        ("45127", "Essen", 2), ("28195", "Bremen", 2), ("01067", "Dresden", 2),
        ("30159", "Hannover", 2), ("90403", "Nürnberg", 2), ("69117", "Heidelberg", 1),
    ),
    "ES": (
        ("28001", "Madrid", 9), ("08001", "Barcelona", 8), ("46001", "Valencia", 4),
        ("41001", "Sevilla", 4), ("50001", "Zaragoza", 2), ("29001", "Málaga", 3),
        ("30001", "Murcia", 2), ("07001", "Palma", 2), ("48001", "Bilbao", 2),
        ("03001", "Alicante", 2), ("47001", "Valladolid", 1.5), ("15001", "A Coruña", 1.5),
    ),
    "IT": (
        ("00118", "Roma", 9), ("20121", "Milano", 8), ("80121", "Napoli", 5),
        ("10121", "Torino", 4), ("90121", "Palermo", 3), ("16121", "Genova", 3),
        ("40121", "Bologna", 3), ("50121", "Firenze", 3), ("70121", "Bari", 2),
        ("95121", "Catania", 2), ("30121", "Venezia", 2), ("37121", "Verona", 2),
    ),
    "GB": (
        ("SW1A 2AA", "London", 9), ("EC1A 1BB", "London", 7), ("M1 1AE", "Manchester", 5),
        ("B1 1BB", "Birmingham", 5), ("LS1 4AP", "Leeds", 3), ("G1 1XQ", "Glasgow", 3),
        ("L1 8JQ", "Liverpool", 3), ("EH1 1YZ", "Edinburgh", 3), ("BS1 4DJ", "Bristol", 2),
        ("S1 2HE", "Sheffield", 2), ("NE1 7RU", "Newcastle upon Tyne", 2),
        ("CF10 1EP", "Cardiff", 2), ("OX1 2JD", "Oxford", 1), ("CB2 1TN", "Cambridge", 1),
    ),
    "US": (
        ("10016", "New York", 9), ("90033", "Los Angeles", 7), ("60611", "Chicago", 5),
        ("77030", "Houston", 5), ("85006", "Phoenix", 3), ("19104", "Philadelphia", 3),
        ("78229", "San Antonio", 2), ("92103", "San Diego", 2), ("75390", "Dallas", 3),
        ("02115", "Boston", 4), ("98195", "Seattle", 3), ("33136", "Miami", 3),
        ("30322", "Atlanta", 3), ("55905", "Rochester", 1), ("44195", "Cleveland", 2),
        ("37232", "Nashville", 2),
    ),
}  # fmt: skip

#: For countries without a list: invented places, plausible enough for a demo.
GENERIC_CITIES = (
    ("1000", "Capital City", 9), ("2000", "Northport", 5), ("3000", "Riverton", 4),
    ("4000", "Eastbridge", 3), ("5000", "Southvale", 3), ("6000", "Westfield", 2),
    ("7000", "Lakeside", 2), ("8000", "Hillcrest", 1.5), ("9000", "Harbourtown", 1.5),
)  # fmt: skip


def cities(country: str) -> tuple[tuple[str, str, float], ...]:
    return CITIES.get(country, GENERIC_CITIES)


# --- specialties -------------------------------------------------------------------


@dataclass(frozen=True)
class Specialty:
    """A specialty (or an organisation kind) and how it behaves in a therapy area.

    ``share`` is its weight in the universe, ``potential`` the median yearly
    potential of one customer, ``prescribes`` the log-odds that a customer of
    average adoption prescribes in the therapy area at all.
    """

    code: str
    share: float
    potential: float
    prescribes: float


@dataclass(frozen=True)
class TherapyAreaMix:
    """Who is in the universe of a therapy area: HCP specialties and HCO kinds."""

    hcp: tuple[Specialty, ...]
    hco: tuple[Specialty, ...]
    #: Share of prescriptions that are new prescriptions (``nrx``: starts and
    #: switches); 0 where the therapy area's data has no such metric.
    nrx_share: float = 0.0


_HOSPITALS = (
    Specialty("hospital", 0.55, 40_000, -9.0),
    Specialty("private_clinic", 0.35, 15_000, -9.0),
    Specialty("group_practice", 0.10, 4_000, -9.0),
)

THERAPY_AREAS: dict[str, TherapyAreaMix] = {
    "oncology": TherapyAreaMix(
        hcp=(
            Specialty("medical_oncology", 0.22, 2_500, 2.0),
            Specialty("haematology", 0.12, 2_000, 1.5),
            Specialty("radiation_oncology", 0.08, 900, 0.0),
            Specialty("gynaecology", 0.05, 1_100, 1.0),
            Specialty("pulmonology", 0.13, 500, 0.0),
            Specialty("urology", 0.12, 450, 0.0),
            Specialty("general_practice", 0.28, 40, -2.5),
        ),
        hco=(
            Specialty("hospital", 0.50, 40_000, -9.0),
            Specialty("cancer_centre", 0.20, 60_000, -9.0),
            Specialty("private_clinic", 0.30, 15_000, -9.0),
        ),
    ),
    # Primary care: general practitioners are most of the universe and most of
    # the prescriptions; new prescriptions are about a fifth of the total.
    "diabetes": TherapyAreaMix(
        hcp=(
            Specialty("general_practice", 0.70, 120, 1.0),
            Specialty("internal_medicine", 0.12, 180, 1.0),
            Specialty("endocrinology", 0.04, 600, 2.0),
            Specialty("diabetology", 0.04, 700, 2.0),
            Specialty("cardiology", 0.06, 80, -0.5),
            Specialty("nephrology", 0.04, 90, -0.5),
        ),
        hco=_HOSPITALS,
        nrx_share=0.2,
    ),
    "cardiology": TherapyAreaMix(
        hcp=(
            Specialty("cardiology", 0.30, 1_500, 1.5),
            Specialty("internal_medicine", 0.15, 600, 0.5),
            Specialty("nephrology", 0.05, 500, 0.0),
            Specialty("endocrinology", 0.05, 400, 0.0),
            Specialty("general_practice", 0.45, 250, 0.0),
        ),
        hco=_HOSPITALS,
    ),
    "immunology": TherapyAreaMix(
        hcp=(
            Specialty("rheumatology", 0.25, 1_800, 1.5),
            Specialty("dermatology", 0.25, 1_200, 1.0),
            Specialty("gastroenterology", 0.20, 1_500, 1.0),
            Specialty("internal_medicine", 0.10, 400, 0.0),
            Specialty("general_practice", 0.20, 50, -2.5),
        ),
        hco=_HOSPITALS,
    ),
    "respiratory": TherapyAreaMix(
        hcp=(
            Specialty("pulmonology", 0.30, 1_200, 1.5),
            Specialty("allergology", 0.10, 500, 0.5),
            Specialty("paediatrics", 0.10, 300, 0.0),
            Specialty("general_practice", 0.50, 200, 0.0),
        ),
        hco=_HOSPITALS,
    ),
}

#: Therapy areas without their own mix: mostly primary care with some specialists.
GENERIC_MIX = TherapyAreaMix(
    hcp=(
        Specialty("specialist", 0.35, 1_200, 1.0),
        Specialty("internal_medicine", 0.15, 500, 0.0),
        Specialty("general_practice", 0.50, 150, -0.5),
    ),
    hco=_HOSPITALS,
)


def therapy_area_mix(therapy_area: str) -> TherapyAreaMix:
    return THERAPY_AREAS.get(therapy_area, GENERIC_MIX)


# --- files -----------------------------------------------------------------------

#: Countries whose spreadsheets write 1234,57: their files use ``;`` and ``,``.
DECIMAL_COMMA_COUNTRIES = frozenset({
    "AR", "AT", "BE", "BG", "BR", "CL", "CO", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR",
    "HR", "HU", "ID", "IS", "IT", "LT", "LU", "LV", "NL", "NO", "PL", "PT", "RO", "RS", "RU",
    "SE", "SI", "SK", "TR", "UA", "VN",
})  # fmt: skip


def csv_conventions(country: str) -> tuple[str, str]:
    """``(delimiter, decimal)`` a market's spreadsheet opens without a wizard."""
    return (";", ",") if country in DECIMAL_COMMA_COUNTRIES else (",", ".")
