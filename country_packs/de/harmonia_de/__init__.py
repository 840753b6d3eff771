"""harmonia-de: Germany's choices among the global options, and its identifiers.

The pack declares the country profile ``DE`` (``country.toml``), the
refinement policy ``de-standard`` it names (``policies.toml``, reasons in
German) and the identifier schemes ``LANR`` (physicians, with the KBV check
digit and the specialty group) and ``BSNR`` (practices), defined in
:mod:`harmonia_de.identifiers`.
"""

from importlib.resources import files

from harmonia import CountryProfile, RefinementPolicy, hookimpl, load_definitions
from harmonia_de.identifiers import BSNR, LANR

_DATA = files(__package__)


@hookimpl
def harmonia_country_profiles():
    """The German country profile ``DE``."""
    return load_definitions(CountryProfile, _DATA / "country.toml")


@hookimpl
def harmonia_refinement_policies():
    """The German refinement policy ``de-standard``."""
    return load_definitions(RefinementPolicy, _DATA / "policies.toml")


@hookimpl
def harmonia_identifier_schemes():
    """LANR (HCP) and BSNR (HCO)."""
    return [LANR, BSNR]
