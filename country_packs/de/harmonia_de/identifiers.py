"""German identifiers of office-based care: LANR for physicians, BSNR for practices.

Both are issued by the Kassenärztliche Vereinigungen under the KBV's directive
on physician and practice numbers (Richtlinie nach § 75 Abs. 7 SGB V).

**LANR** (lebenslange Arztnummer), 9 digits: a six-digit number that is the
physician's for life, a check digit, and the two-digit specialty group
(Arztgruppenschlüssel, Anlage 2 of the directive) under which the physician
bills. The check digit: digits 1 to 6 are multiplied by 4, 9, 4, 9, 4, 9,
the products summed, and the check digit is 10 minus the sum's last digit
(0 when that is 10): the core's ``weighted-mod10`` checksum. A physician in
two specialty groups has two LANRs sharing their first seven digits.

The specialty group must agree with the customer's specialty: a LANR ending
in 27 (Innere Medizin, Hämatologie und Onkologie) on a customer recorded as
a urologist is a data error, quarantined. :data:`SPECIALTY_GROUPS` lists, for
the specialties harmonia's packs use, the groups a physician of that
specialty bills under; a specialty not listed is not checked.

**BSNR** (Betriebsstättennummer), 9 digits: the KV region (2 digits, see
:data:`KV_REGIONS`) and seven digits the KV assigns; no check digit.
"""

from harmonia import IdentifierScheme

#: Arztgruppenschlüssel (Anlage 2) each customer specialty may carry. Family
#: doctors bill as 01 (Allgemeinmedizin), 02 (praktischer Arzt) or 03
#: (hausärztlicher Internist); internists in specialist care by their focus.
#:
#: Sources, checked 2026-12: that digits 8-9 of the LANR are the
#: Arztgruppenschlüssel of Anlage 2 ("Versorgungsbereich sowie die
#: Facharztgruppe differenziert nach Schwerpunkten") is § 2 (1) of the KBV's
#: Arztnummern-Richtlinie (https://www.kbv.de/media/sp/Arztnummern_Richtlinie.pdf,
#: as quoted by the KBV's MIO pages, hub.kbv.de), and the GKV-Spitzenverband's
#: GKV-HIS glossary takes the Fachgruppe from them the same way
#: (https://gkv-heilmittel.de/fuer_vertragsaerzte/erlaeuterungen/glossar/glossar_1.jsp);
#: the check digit's weights 4 and 9 are in the same directive (Anlage 1) and
#: on de.wikipedia.org/wiki/Lebenslange_Arztnummer. The codes themselves are
#: the KBV key table S_BAR2_ARZTNRFACHGRUPPE (FHIR:
#: https://fhir.kbv.de/CodeSystem/KBV_CS_SFHIR_BAR2_ARZTNRFACHGRUPPE); public
#: FHIR examples coded with it confirm 01 Allgemeinmedizin, but the table
#: could not be read code by code here: a market analyst should compare this
#: mapping with the current S_BAR2_ARZTNRFACHGRUPPE before relying on a
#: refusal, and a specialty left out is simply not checked.
SPECIALTY_GROUPS: dict[str, tuple[str, ...]] = {
    "general_practice": ("01", "02", "03"),
    "internal_medicine": ("03", "23"),
    "anaesthesiology": ("04",),
    "ophthalmology": ("05",),
    "surgery": ("06", "07", "08"),
    "orthopaedics": ("10",),
    "gynaecology": ("15", "16", "17"),
    "ent": ("19",),
    "dermatology": ("21",),
    "angiology": ("24",),
    "endocrinology": ("25",),
    "diabetology": ("01", "03", "23", "25"),
    "gastroenterology": ("26",),
    "medical_oncology": ("27",),
    "haematology": ("27",),
    "cardiology": ("28",),
    "nephrology": ("29",),
    "pulmonology": ("30",),
    "rheumatology": ("31",),
    "paediatrics": ("34", "35", "46"),
    "neurology": ("51", "53"),
    "psychiatry": ("51", "58"),
    "radiology": ("62",),
    "urology": ("67",),
}

#: The first two digits of a BSNR: the Kassenärztliche Vereinigung (region).
KV_REGIONS: dict[str, str] = {
    "01": "Schleswig-Holstein",
    "02": "Hamburg",
    "03": "Bremen",
    "17": "Niedersachsen",
    "20": "Westfalen-Lippe",
    "38": "Nordrhein",
    "46": "Hessen",
    "51": "Rheinland-Pfalz",
    "52": "Baden-Württemberg",
    "71": "Bayern",
    "72": "Berlin",
    "73": "Saarland",
    "78": "Mecklenburg-Vorpommern",
    "83": "Brandenburg",
    "88": "Sachsen-Anhalt",
    "93": "Thüringen",
    "98": "Sachsen",
}

LANR = IdentifierScheme(
    name="LANR",
    country="DE",
    pattern=r"\d{9}",
    checksum="weighted-mod10",
    weights=(4, 9, 4, 9, 4, 9),
    specialty_digits=(8, 9),
    specialty_groups=SPECIALTY_GROUPS,
    description="lebenslange Arztnummer: 9 digits, a six-digit number, its check digit "
    "(weights 4 and 9, KBV rule) and the two-digit specialty group (Arztgruppenschlüssel)",
)

BSNR = IdentifierScheme(
    name="BSNR",
    country="DE",
    pattern="(?:" + "|".join(sorted(KV_REGIONS)) + r")\d{7}",
    description="Betriebsstättennummer of a practice: 9 digits, the KV region (01 "
    "Schleswig-Holstein ... 98 Sachsen) then seven digits",
)
