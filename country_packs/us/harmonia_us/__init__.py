"""harmonia-us: the United States' choices among the global options, and the NPI.

The pack declares the country profile ``US`` (``country.toml``) and the
identifier scheme ``NPI`` (:mod:`harmonia_us.identifiers`). Field refinement
is opted out, so the pack names no refinement policy.
"""

from importlib.resources import files

from harmonia import CountryProfile, hookimpl, load_definitions
from harmonia_us.identifiers import NPI

_DATA = files(__package__)


@hookimpl
def harmonia_country_profiles():
    """The US country profile ``US``."""
    return load_definitions(CountryProfile, _DATA / "country.toml")


@hookimpl
def harmonia_identifier_schemes():
    """NPI (HCPs and HCOs)."""
    return [NPI]
