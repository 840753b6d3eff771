"""Fixtures for the synthetic-universe tests: a questionnaire and identifier schemes."""

from __future__ import annotations

from typing import Any

import pytest
from stdnum import luhn

from harmonia import IdentifierScheme, InvalidIdentifier, Questionnaire
from harmonia.testing import definition

#: A small oncology profiling questionnaire covering every item type and skip rule.
QUESTIONNAIRE: dict[str, Any] = {
    "id": "onco-profile",
    "therapy_area": "oncology",
    "version": "2",
    "languages": ["en"],
    "title": {"en": "Oncology profile"},
    "items": [
        {
            "id": "adoption_stage",
            "type": "single",
            "required": True,
            "text": {"en": "How do you use targeted therapies?"},
            "options": [
                {"code": "aware", "text": {"en": "Aware"}, "score": 1},
                {"code": "trial", "text": {"en": "Trying"}, "score": 2},
                {"code": "regular", "text": {"en": "Regular"}, "score": 3},
                {"code": "advocate", "text": {"en": "Advocate"}, "score": 4},
            ],
        },
        {
            "id": "uses_biomarkers",
            "type": "boolean",
            "required": True,
            "text": {"en": "Do you test biomarkers?"},
        },
        {
            "id": "biomarker_tests",
            "type": "multiple",
            "text": {"en": "Which tests?"},
            "options": [
                {"code": "ngs", "text": {"en": "NGS"}, "score": 3},
                {"code": "pcr", "text": {"en": "PCR"}, "score": 2},
                {"code": "ihc", "text": {"en": "IHC"}, "score": 1},
            ],
            "enable_when": [{"item": "uses_biomarkers", "operator": "=", "answer": True}],
        },
        {
            "id": "patients_per_month",
            "type": "integer",
            "required": True,
            "min": 0,
            "max": 200,
            "text": {"en": "Patients per month"},
        },
        {
            "id": "share_immunotherapy",
            "type": "decimal",
            "min": 0,
            "max": 100,
            "text": {"en": "Share on immunotherapy (%)"},
        },
        {
            "id": "outcome_focus",
            "type": "scale",
            "required": True,
            "min": 1,
            "max": 5,
            "text": {"en": "Outcomes matter more than efficiency"},
        },
        {
            "id": "trial_site",
            "type": "single",
            "text": {"en": "Are you a clinical trial site?"},
            "options": [
                {"code": "yes", "text": {"en": "Yes"}},
                {"code": "no", "text": {"en": "No"}},
            ],
        },
        {
            "id": "trial_count",
            "type": "integer",
            "required": True,
            "min": 1,
            "max": 20,
            "text": {"en": "How many trials?"},
            "enable_when": [{"item": "trial_site", "operator": "=", "answer": "yes"}],
        },
        {
            "id": "last_congress",
            "type": "date",
            "text": {"en": "Last congress attended"},
            "enable_behavior": "any",
            "enable_when": [
                {"item": "patients_per_month", "operator": ">", "answer": 120},
                {"item": "outcome_focus", "operator": ">=", "answer": 4},
            ],
        },
        {
            "id": "efficiency_need",
            "type": "single",
            "text": {"en": "Main need"},
            "options": [
                {"code": "outcomes", "text": {"en": "Outcomes"}, "score": 2},
                {"code": "efficiency", "text": {"en": "Efficiency"}, "score": 1},
            ],
            "enable_when": [{"item": "adoption_stage", "operator": "!=", "answer": "aware"}],
        },
        {
            "id": "notes",
            "type": "text",
            "text": {"en": "Anything else?"},
            "enable_when": [{"item": "biomarker_tests", "operator": "exists", "answer": True}],
        },
    ],
    "dimensions": [
        {
            "name": "adoption",
            "items": ["adoption_stage"],
            "bands": [
                {"level": "early", "min": 1, "max": 2},
                {"level": "established", "min": 3, "max": 4},
            ],
        }
    ],
}


@pytest.fixture(scope="session")
def questionnaire() -> Questionnaire:
    return definition(Questionnaire, QUESTIONNAIRE, where="test questionnaire")


def validate_finess(value: str) -> str:
    """Like the French pack's: Luhn for digit-only numbers, format only for Corsica."""
    if value.isdigit() and not luhn.is_valid(value):
        raise InvalidIdentifier(f"FINESS {value!r} fails its check digit (Luhn)")
    return value.upper()


@pytest.fixture(scope="session")
def rpps() -> IdentifierScheme:
    return IdentifierScheme(
        name="RPPS",
        country="FR",
        description="11 digits from 1, Luhn",
        pattern=r"1\d{10}",
        checksum="luhn",
    )


@pytest.fixture(scope="session")
def finess() -> IdentifierScheme:
    return IdentifierScheme(
        name="FINESS",
        country="FR",
        description="9 characters, Luhn for digits",
        pattern=r"(?:\d{2}|2[ABab])\d{7}",
        validate=validate_finess,
    )


@pytest.fixture(scope="session")
def npi() -> IdentifierScheme:
    return IdentifierScheme(
        name="NPI",
        country="US",
        description="10 digits, Luhn over 80840 + value",
        pattern=r"\d{10}",
        checksum="luhn",
        prefix="80840",
    )
