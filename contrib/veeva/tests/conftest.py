"""The Veeva pack's tests: a throwaway NPI scheme, so they need no country pack."""

from __future__ import annotations

from pathlib import Path

import pytest

from harmonia import Harmonia, IdentifierScheme
from harmonia.testing import module_pack

#: A small Veeva account extract with a missing parent, an orphan affiliation and a duplicate id.
EXTRACT = Path(__file__).parent / "data" / "extract"

NPI = IdentifierScheme(
    name="NPI",
    country="US",
    pattern=r"\d{10}",
    checksum="luhn",
    prefix="80840",
    description="10 digits, Luhn over 80840 and the number",
)


@pytest.fixture
def app(harmonia_database, register_pack, harmonia_plugins) -> Harmonia:
    import harmonia_veeva

    register_pack(harmonia_veeva, name="veeva")
    register_pack(module_pack("npi", harmonia_identifier_schemes=lambda: [NPI]), name="npi")
    return Harmonia(harmonia_database, harmonia_plugins.catalog(), actor="test")


@pytest.fixture
def extract() -> Path:
    return EXTRACT
