"""harmonia-gb: the United Kingdom's choices among the global options, and its identifiers.

The pack declares the country profile ``GB`` (``country.toml``; it names the
built-in ``strict`` refinement policy) and the identifier schemes ``GMC``
(doctors) and ``ODS`` (NHS organisations), in :mod:`harmonia_gb.identifiers`.
"""

from importlib.resources import files

from harmonia import CountryProfile, hookimpl, load_definitions
from harmonia_gb.identifiers import GMC, ODS

_DATA = files(__package__)


@hookimpl
def harmonia_country_profiles():
    """The UK country profile ``GB``."""
    return load_definitions(CountryProfile, _DATA / "country.toml")


@hookimpl
def harmonia_identifier_schemes():
    """GMC (HCP) and ODS (HCO)."""
    return [GMC, ODS]
